#include <iostream>

#include "nodeboot/util/signals.hpp"
#include "nodeboot/webhook/app.hpp"

int main(int argc, char** argv) {
  const nodeboot::SignalThread signals;
  return nodeboot::webhook::main(std::vector<std::string>(argv, argv + argc), std::cout, std::cerr);
}
