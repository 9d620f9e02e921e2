#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace nodeboot::webhook {

// Entry point shared by the executable and the black-box tests; returns the exit code.
int main(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err);

}  // namespace nodeboot::webhook
