#pragma once

// Hand-built facts shared by verify's unit tests.

#include "nodeboot/plugin/verify/checks.hpp"

namespace nodeboot::plugin::verify::test {

// A node that passes the os check: Ready, Ubuntu 24.04, amd64, a 6.x kernel, no GPU facts.
inline NodeFacts ubuntu_node() {
  return {.name = "n1",
          .ready = true,
          .ready_detail = "",
          .os_image = "Ubuntu 24.04.1 LTS",
          .kernel = "6.8.0-45-generic",
          .arch = "amd64",
          .i915_allocatable = std::nullopt,
          .nfd_gpu = std::nullopt};
}

}  // namespace nodeboot::plugin::verify::test
