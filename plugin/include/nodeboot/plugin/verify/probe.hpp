#pragma once

// `verify --deep`: a short-lived privileged probe pod per node runs the node-bootstrap
// scripts' read-only `probe` mode, one container per check, for a fresh on-node answer.
//
// - Each pod is pinned with spec.nodeName (no scheduler), tolerates every taint, runs in the
//   host's PID namespace (the scripts nsenter into PID 1), restartPolicy Never, with an
//   activeDeadlineSeconds backstop and small requests and limits; it carries no ServiceAccount
//   token and no owner.
// - The scripts are this build's own bytes (compiled in from manifests/node-bootstrap), in
//   one ConfigMap per run that every pod mounts: the probe mode always matches this parser,
//   and --deep works whether or not (or in which version) the DaemonSets were applied.
// - Each container's result line is its termination message (terminationMessagePolicy
//   FallbackToLogsOnError: a crashing script leaves its last output instead). verify reads it
//   from the pod's status through a label-selected watch: no pods/log call, so no kubelet
//   log endpoint and no extra RBAC.
// - Everything a run creates carries its run id label; one deletecollection per kind removes
//   it at the end, on error, on timeout and on Ctrl-C.

#include <chrono>
#include <cstddef>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/plugin/verify/checks.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::verify {

struct ProbeOptions {
  // kube-system: where the bootstrap DaemonSets run privileged already, and which Pod
  // Security Admission leaves unrestricted on RKE2 and kubeadm clusters.
  std::string namespace_ = "kube-system";
  // The DaemonSets' image: nodes that ran them have it cached. --deep-image for mirrors.
  std::string image = "docker.io/library/ubuntu:24.04";
  std::chrono::milliseconds timeout = std::chrono::minutes(2);  // per pod, from its creation
  CheckSet checks{};                                            // iscsi / quicksync: one container each
  // Pod creations in flight at once: enough to start thousands of probes in seconds while
  // the API server's priority and fairness still sees a polite client.
  size_t parallel = 16;
};

// One `verify --deep` run: its id labels everything it creates.
struct ProbeRun {
  std::string id;  // 8 lowercase hex characters
  static ProbeRun create();
  std::string selector() const;                       // "nodeboot.io/verify-run=<id>"
  std::string configmap_name() const;                 // "nodeboot-verify-<id>"
  std::string pod_name(std::string_view node) const;  // "nodeboot-verify-<id>-<node>", shortened to fit
};

// The objects (pure; unit-tested).
nlohmann::json probe_configmap(const ProbeRun& run, const ProbeOptions& options);
nlohmann::json probe_pod(const ProbeRun& run, const ProbeOptions& options, std::string_view node);

// What a probe pod's current state says (pure; unit-tested). `done` once it can say no more
// (Succeeded, Failed, or stuck in a way waiting cannot fix); `detail` is the state a timeout
// reports ("pod Pending: container iscsi ImagePullBackOff: ...").
struct ProbeState {
  bool done = false;
  std::string detail;
  ProbeFacts facts;
};
ProbeState probe_state(const nlohmann::json& pod);

struct ProbeOutcome {
  std::unordered_map<std::string, ProbeFacts> by_node;  // every node asked about
  std::optional<Error> error;                           // the run could not go on (e.g. forbidden)
  bool interrupted = false;
  size_t pods_deleted = 0;
  std::optional<Error> cleanup_error;
};

// Called from the waiting thread a few times a second: nodes answered so far, of all.
using ProbeProgress = std::function<void(size_t answered, size_t total)>;

// Probes the `asked` nodes and always cleans up before returning, whatever happened. `stop` (Ctrl-C)
// ends the wait within about a second; the pods created until then are deleted.
ProbeOutcome run_probes(kube::Client& client, const ProbeRun& run, const ProbeOptions& options,
                        const std::vector<std::string>& asked, std::stop_token stop,
                        const ProbeProgress& progress = {});

}  // namespace nodeboot::plugin::verify
