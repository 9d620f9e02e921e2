#include <iostream>

#include "nodeboot/agent/app.hpp"

int main(int argc, char** argv) {
  return nodeboot::agent::main(std::vector<std::string>(argv, argv + argc), std::cout, std::cerr);
}
