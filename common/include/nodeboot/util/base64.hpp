#pragma once

// RFC 4648 base64 with padding: what Kubernetes uses for Secret `data` and for an
// AdmissionResponse `patch`.

#include <optional>
#include <string>
#include <string_view>

namespace nodeboot {

std::string base64_encode(std::string_view bytes);

// RFC 4648 base16 in lowercase (how tokens and MACs are written as text).
std::string base16_encode(std::string_view bytes);

// nullopt when `text` is not canonical padded base64 (as the API server's decoder requires).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace nodeboot
