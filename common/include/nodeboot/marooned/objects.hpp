#pragma once

// Reading marooned pods and their dedicated nodes (seed 004, DESIGN.md) from API objects:
// shared by the gate-release controller and `kubectl nodeboot marooned`, so both agree on
// when a node may take its pod.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace nodeboot::marooned {

// The pod's marooned id (annotation maroonedpods.io/pod-uid), "" when it has none.
std::string pod_id(const nlohmann::json& pod);
// Whether maroonedpods.io/gate is among the pod's scheduling gates.
bool gated(const nlohmann::json& pod);
// Succeeded or Failed: the pod will not run again, its node can go.
bool finished(const nlohmann::json& pod);
// The id a node joined for (label maroonedpods.io/pod-uid), "" when none.
std::string node_id(const nlohmann::json& node);

// The taint the dedicated node carries: <taint_key>/dedicated.
std::string dedicated_taint_key(std::string_view taint_key);

// Why `node` may not take the pod with marooned id `id` yet, or nullopt when it may: it
// carries the label for `id`, its Ready condition is True, it is not cordoned, and it
// has the taint <taint_key>/dedicated=<id>:NoSchedule (without it other pods could land
// there before ours).
std::optional<std::string> node_not_eligible(const nlohmann::json& node, std::string_view id,
                                             std::string_view taint_key);

// The RFC 6902 patch that removes the gate, guarded by a `test` of the whole gate list so
// it fails (422) if anyone changed the gates since `pod` was read. nullopt if not gated.
std::optional<nlohmann::json> gate_removal_patch(const nlohmann::json& pod);

}  // namespace nodeboot::marooned
