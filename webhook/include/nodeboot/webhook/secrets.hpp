#pragma once

#include <chrono>

#include "nodeboot/webhook/admission.hpp"

namespace nodeboot::webhook {

// /validate/secrets: CREATE and UPDATE of type nodeboot.io/bootstrap must satisfy the
// schema in nodeboot/bootstrap/schema.hpp; every problem in one denial, no value in it.
AdmissionResponse validate_secret(const AdmissionRequest& request,
                                  std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace nodeboot::webhook
