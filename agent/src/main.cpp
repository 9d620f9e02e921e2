#include <iostream>

#include "nodeboot/agent/app.hpp"
#include "nodeboot/util/signals.hpp"

int main(int argc, char** argv) {
  const nodeboot::SignalThread signals;
  return nodeboot::agent::main(std::vector<std::string>(argv, argv + argc), std::cout, std::cerr);
}
