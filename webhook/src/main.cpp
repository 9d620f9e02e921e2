#include <iostream>

#include "nodeboot/webhook/app.hpp"

int main(int argc, char** argv) {
  return nodeboot::webhook::main(std::vector<std::string>(argv, argv + argc), std::cout, std::cerr);
}
