#pragma once

// Reading marooned pods and their dedicated nodes (seed 004, DESIGN.md) from API objects:
// shared by the gate-release controller and `kubectl nodeboot marooned`, so both agree on
// when a node may take its pod.
//
// Trust: a pod's id is minted by the mutating webhook and guarded by the validating one; a
// node's own labels are the kubelet's word and prove nothing. A node serves a pod only once
// the controller vouched for it (maroon_vouched_label, which a kubelet cannot set on itself)
// after the node presented the pod's join credential (join.hpp), and recorded the owning
// pod's metadata.uid on it (maroon_owner_pod_uid).

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace nodeboot::marooned {

// Whether `s` has the form of a marooned id: a lowercase UUID (8-4-4-4-12 hex digits).
bool is_marooned_id(std::string_view s);

// The pod's marooned id: annotation maroonedpods.io/pod-uid when the pod's nodeSelector
// pins the same id (the webhook wrote both at CREATE; the guard keeps them), "" otherwise.
std::string pod_id(const nlohmann::json& pod);
// Whether maroonedpods.io/gate is among the pod's scheduling gates.
bool gated(const nlohmann::json& pod);
// Succeeded or Failed: the pod will not run again, its node can go.
bool finished(const nlohmann::json& pod);
// The id a node claims for itself (its own label maroonedpods.io/pod-uid), "" when none.
std::string node_id(const nlohmann::json& node);
// The id the controller vouched the node for (label maroon_vouched_label), "" when none.
std::string vouched_id(const nlohmann::json& node);
// metadata.uid of the pod the controller recorded as the node's owner, "" when none.
std::string owner_uid(const nlohmann::json& node);

// The taint the dedicated node carries: <taint_key>/dedicated.
std::string dedicated_taint_key(std::string_view taint_key);

// Why `node` may not take the pod (marooned id `id`, metadata.uid `pod_uid`) yet, or
// nullopt when it may: the controller vouched it for `id` and recorded `pod_uid` as its
// owner, its Ready condition is True, it is not cordoned, and it has the taint
// <taint_key>/dedicated=<id>:NoSchedule (without it other pods could land there first).
std::optional<std::string> node_not_eligible(const nlohmann::json& node, std::string_view id, std::string_view pod_uid,
                                             std::string_view taint_key);

// The RFC 6902 patch that removes the gate, guarded by a `test` of the whole gate list so
// it fails (422) if anyone changed the gates since `pod` was read. A pod created before
// the vouched label existed also gets its nodeSelector entry for it in the same patch
// (allowed while the pod is still gated). nullopt if not gated.
std::optional<nlohmann::json> gate_removal_patch(const nlohmann::json& pod);

// The JSON patch that vouches `node` for the pod: tests that the node still claims `id`,
// sets the vouched label and the owner annotations, and drops the spent join proof. The
// caller has checked the proof and that no other node is vouched for `id`.
nlohmann::json vouch_patch(const nlohmann::json& node, std::string_view id, const nlohmann::json& pod);

}  // namespace nodeboot::marooned
