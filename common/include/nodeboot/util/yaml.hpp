#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace nodeboot {

// Renders a JSON document as block YAML (for `-o yaml`), keys in document order.
std::string to_yaml(const nlohmann::json& doc);

}  // namespace nodeboot
