#pragma once

// Base64 as kubeconfig *-data fields and exec plugins use it (standard alphabet, padded).
// Private to common/src/kube.

#include <string>

#include "nodeboot/util/result.hpp"

namespace nodeboot::kube::detail {

std::string base64_encode(const std::string& in);
// Whitespace and line breaks are ignored (kubeconfigs written by hand wrap long values);
// `what` names the field in the error.
Result<std::string> base64_decode(const std::string& in, const std::string& what);

}  // namespace nodeboot::kube::detail
