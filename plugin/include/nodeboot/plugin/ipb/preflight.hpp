#pragma once

// What `start` asks the cluster before it touches any node, so that a refusal it could
// have foreseen leaves every node as it was (issue 17, items 4 and 5):
// - per run: the bootstrap DaemonSet (one GET), which must exist and select nodes by the
//   schedule label start will set, and RBAC (one batch of SelfSubjectAccessReviews, sent in
//   parallel);
// - per node, in start_node: a server-side dry run of the bootstrap Secret, which runs the
//   admission webhooks (see node_ops.hpp). The Secret's reader (Role, RoleBinding) is
//   asked for here, by SelfSubjectAccessReviews, and dry-run only by `start --dry-run=server`.
// The decisions are pure functions over API objects, unit-tested; check_start does the I/O.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::ipb {

// The DaemonSet that runs `nodeboot-agent bootstrap` (manifests/ipb).
struct DaemonSetRef {
  std::string ns, name;
  std::string str() const { return ns + "/" + name; }
};
inline constexpr std::string_view default_daemonset = "nodeboot-system/nodeboot-ipb";

// --daemonset: "NAMESPACE/NAME", or "none" (nullopt: the bootstrap runs some other way).
Result<std::optional<DaemonSetRef>> parse_daemonset_flag(std::string_view value);

// Why `daemonset` would never run on a node labelled `schedule_label`=true, naming both
// labels and the fix; nullopt when its nodeSelector asks for exactly that label and its
// agent's --schedule-label (the label it removes before the reboot), if given, agrees.
std::optional<std::string> schedule_label_problem(const nlohmann::json& daemonset, std::string_view daemonset_name,
                                                  std::string_view schedule_label);

// One permission start needs, and the step that needs it.
struct Access {
  std::string verb, resource, subresource, ns;
  std::string why;
  std::string group{};      // "" = core (nodes, pods, secrets, configmaps)
  std::string str() const;  // "create pods/eviction", "create roles.rbac.authorization.k8s.io in nodeboot-system"
};
// What start needs: the record, the cordon and label, the Secret and its reader (Role and
// RoleBinding; RBAC lets only someone who may get that Secret grant it, which `get secrets`
// below covers), undoing them, the drain.
std::vector<Access> start_access(bool drain, bool disable_eviction);
// The SelfSubjectAccessReview asking for `a`.
nlohmann::json access_review(const Access& a);

struct StartChecks {
  std::string schedule_label;
  std::optional<DaemonSetRef> daemonset;  // nullopt: --daemonset=none
  bool drain = false;
  bool disable_eviction = false;
};
// The per-run checks, every problem at once (invalid_input for a wrong --schedule-label or
// --daemonset, api for missing permissions).
Result<void> check_start(kube::Client& client, const StartChecks& checks);

}  // namespace nodeboot::plugin::ipb
