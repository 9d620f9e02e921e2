#pragma once

// Reading API objects' fields that may be absent. nlohmann's value() throws on a null or
// non-object parent (json.exception.type_error.306), which a missing `status` or
// `annotations` is; these never throw.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace nodeboot {

// object[key], or a null json when `object` is not an object or has no `key`.
const nlohmann::json& field(const nlohmann::json& object, std::string_view key);
// object[key] when it is a string, else "".
std::string string_field(const nlohmann::json& object, std::string_view key);

}  // namespace nodeboot
