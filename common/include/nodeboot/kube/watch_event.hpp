#pragma once
// One event of a watch (Client::watch): a header of its own because it holds a whole
// object, so it needs nlohmann/json.hpp, while client.hpp needs only json_fwd.hpp.
#include <string>

#include <nlohmann/json.hpp>

namespace nodeboot::kube {

enum class WatchEventType { added, modified, deleted, bookmark, error };

struct WatchEvent {
  WatchEventType type = WatchEventType::added;
  nlohmann::json object{};  // the object (for error: the Status)
  // metadata.resourceVersion of the object ("" for error events).
  std::string resource_version() const;
};

}  // namespace nodeboot::kube
