#include "nodeboot/util/json_fields.hpp"

#include <nlohmann/json.hpp>

namespace nodeboot {

const nlohmann::json& field(const nlohmann::json& object, std::string_view key) {
  static const nlohmann::json null;
  if (!object.is_object()) return null;
  const auto it = object.find(key);
  return it == object.end() ? null : *it;
}

std::string string_field(const nlohmann::json& object, std::string_view key) {
  const auto& v = field(object, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace nodeboot
