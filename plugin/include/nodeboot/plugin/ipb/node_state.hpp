#pragma once

// What an in-place bootstrap knows about one Node, as pure functions of Node objects:
// the progress the agent reports (annotations), the prior state `start` records before
// changing anything, and the patches that put the node back.
//
// Where the prior state lives: a ConfigMap nodeboot-system/nodeboot-<node> (label
// nodeboot.io/node, key prior-state.json). Not on the Node (a re-registered Node starts
// empty) and not in the bootstrap Secret: the record must exist BEFORE the cordon while
// the Secret comes after the drain (DESIGN.md's order), the record holds nothing secret
// (so `status` works for people who may not read Secrets), and abort may keep the Secret
// for inspection while the record goes. It also holds the bootID the node had, which is
// how completion ("Ready with a new bootID") is told from "not rebooted yet".

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace nodeboot::plugin::ipb {

// The annotations the agent writes, plus what the node itself says.
struct NodeProgress {
  std::string name;
  std::string state;  // nodeboot.io/state; "" when the node was never started
  int progress = 0;
  std::string reason;
  std::string message;
  std::string updated;  // RFC 3339
  std::string attempt;
  std::string boot_id;           // status.nodeInfo.bootID
  std::string reported_boot_id;  // nodeboot.io/boot-id: the boot the agent wrote the state on
  bool ready = false;            // condition Ready=True
  bool unschedulable = false;
  bool scheduled = false;  // carries the schedule label
};

NodeProgress read_progress(const nlohmann::json& node, std::string_view schedule_label);

struct PriorState {
  bool unschedulable = false;
  std::map<std::string, std::string> labels;
  nlohmann::json taints = nlohmann::json::array();  // without the cordon taint (it follows `unschedulable`)
  std::string boot_id;
  std::string uid;           // the Node's metadata.uid: a new one means the node re-registered
  std::string recorded;      // RFC 3339, for status
  bool keep_secret = false;  // start --keep-secret: completion leaves the bootstrap Secret
};

PriorState record_prior_state(const nlohmann::json& node, std::string now_rfc3339);
nlohmann::json to_json(const PriorState& prior);
std::optional<PriorState> prior_state_from_json(const nlohmann::json& doc);

// The ConfigMap holding `prior` for `node`, and the record read back from one.
nlohmann::json prior_state_configmap(std::string_view node, const PriorState& prior);
std::optional<PriorState> prior_state_of_configmap(const nlohmann::json& cm);
std::string record_name(std::string_view node);  // "nodeboot-<node>", in nodeboot-system

// How the node's agent reads its bootstrap Secret without its ServiceAccount holding any
// Secret permission (issue 14): a Role allowing `get` of that one Secret, bound to the node's
// own kubelet identity (User system:node:<node>; RBAC adds to the Node authorizer). Both
// are named after the Secret and labelled like it, in nodeboot-system.
inline constexpr std::string_view node_user_prefix = "system:node:";
nlohmann::json secret_reader_role(std::string_view node);
nlohmann::json secret_reader_binding(std::string_view node);
// Whether `existing` grants what `desired` does and nothing else (rules, or roleRef and
// subjects): a Role of that name that differs is not start's to overwrite.
bool same_grant(const nlohmann::json& existing, const nlohmann::json& desired);

// Mutates `node` (a full object from GET) back to `prior`: recorded labels with their
// values, the schedule label removed, recorded taints plus the ones the node lifecycle
// controller owns now (node.kubernetes.io/*), spec.unschedulable as it was. Labels added
// since (a kubelet on a new OS adds some) stay. Returns whether anything changed.
bool restore(nlohmann::json& node, const PriorState& prior, std::string_view schedule_label);

// Completion as DESIGN.md defines it: Ready again with a bootID other than the recorded one
// (and, while Rebooting, other than the one the agent said it was rebooting from).
bool rebooted(const NodeProgress& now, const PriorState& prior);

}  // namespace nodeboot::plugin::ipb
