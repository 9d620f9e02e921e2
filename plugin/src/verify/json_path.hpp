#pragma once

// Reading nested fields of API objects without exceptions: a missing or mistyped field is
// null / "" (verify judges what is there and names what is not).

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

namespace nodeboot::plugin::verify {

inline const nlohmann::json& at_path(const nlohmann::json& doc, std::initializer_list<const char*> keys) {
  static const nlohmann::json null;
  const nlohmann::json* cur = &doc;
  for (const char* k : keys) {
    if (!cur->is_object()) return null;
    auto it = cur->find(k);
    if (it == cur->end()) return null;
    cur = &*it;
  }
  return *cur;
}

inline std::string str(const nlohmann::json& doc, std::initializer_list<const char*> keys) {
  const nlohmann::json& v = at_path(doc, keys);
  return v.is_string() ? v.get<std::string>() : std::string();
}

}  // namespace nodeboot::plugin::verify
