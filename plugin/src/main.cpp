#include <iostream>

#include "nodeboot/plugin/app.hpp"
#include "nodeboot/util/signals.hpp"

int main(int argc, char** argv) {
  const nodeboot::SignalThread signals;
  nodeboot::plugin::Io io{std::cout, std::cerr};
  return nodeboot::plugin::main(std::vector<std::string>(argv, argv + argc), io);
}
