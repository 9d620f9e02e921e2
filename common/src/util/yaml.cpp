#include "nodeboot/util/yaml.hpp"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

namespace nodeboot {
namespace {

void emit(YAML::Emitter& out, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [k, child] : v.items()) {
        out << YAML::Key << k << YAML::Value;
        emit(out, child);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& child : v) emit(out, child);
      out << YAML::EndSeq;
      break;
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      // The emitter quotes what is not a valid plain scalar; quote as well what YAML
      // would read back as another type ("true", "1", "null", "").
      bool ambiguous = s.empty() || s == "true" || s == "false" || s == "null" || s == "~" || s == "yes" || s == "no" ||
                       s.find_first_not_of("0123456789.-+eE") == std::string::npos;
      if (ambiguous) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case nlohmann::json::value_t::boolean:
      out << v.get<bool>();
      break;
    case nlohmann::json::value_t::null:
      out << YAML::Null;
      break;
    default:
      out << v.dump();  // numbers: JSON spelling is valid YAML
  }
}

}  // namespace

std::string to_yaml(const nlohmann::json& doc) {
  YAML::Emitter out;
  emit(out, doc);
  std::string s = out.c_str();
  if (!s.empty() && s.back() != '\n') s.push_back('\n');
  return s;
}

}  // namespace nodeboot
