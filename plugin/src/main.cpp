#include <iostream>

#include "nodeboot/plugin/app.hpp"

int main(int argc, char** argv) {
  nodeboot::plugin::Io io{std::cout, std::cerr};
  return nodeboot::plugin::main(std::vector<std::string>(argv, argv + argc), io);
}
