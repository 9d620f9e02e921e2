#pragma once

// The API contract from DESIGN.md: every label, annotation, Secret key and object name
// nodeboot reads or writes. Change only with a migration note.

#include <string_view>

namespace nodeboot::names {

inline constexpr std::string_view system_namespace = "nodeboot-system";

// In-place bootstrap (seed 003).
inline constexpr std::string_view schedule_label = "nodeboot.io/ipb-schedule";
inline constexpr std::string_view bootstrap_secret_type = "nodeboot.io/bootstrap";
inline constexpr std::string_view bootstrap_secret_prefix = "nodeboot-";
inline constexpr std::string_view node_label = "nodeboot.io/node";
inline constexpr std::string_view ann_state = "nodeboot.io/state";
inline constexpr std::string_view ann_reason = "nodeboot.io/reason";
inline constexpr std::string_view ann_message = "nodeboot.io/message";
inline constexpr std::string_view ann_progress = "nodeboot.io/progress";
inline constexpr std::string_view ann_updated = "nodeboot.io/updated";
inline constexpr std::string_view ann_attempt = "nodeboot.io/attempt";
// The prior-state record: ConfigMap nodeboot-system/nodeboot-<node> (label node_label), this key.
inline constexpr std::string_view prior_state_key = "prior-state.json";
// managedFields owners of what the plugin and the agent write.
inline constexpr std::string_view plugin_field_manager = "kubectl-nodeboot";
inline constexpr std::string_view agent_field_manager = "nodeboot-agent";

// Keys of the bootstrap Secret (type bootstrap_secret_type); schema in nodeboot/bootstrap/.
namespace key {
inline constexpr std::string_view os = "os";
inline constexpr std::string_view ignition_url = "ignition-url";
inline constexpr std::string_view ignition_token = "ignition-token";
inline constexpr std::string_view ca_crt = "ca.crt";
inline constexpr std::string_view payload_url = "payload-url";
inline constexpr std::string_view payload_token = "payload-token";
inline constexpr std::string_view payload_sha256 = "payload-sha256";
inline constexpr std::string_view worker_id = "worker-id";
inline constexpr std::string_view cluster_id = "cluster-id";
inline constexpr std::string_view region = "region";
inline constexpr std::string_view mirrors = "mirrors";
inline constexpr std::string_view registry = "registry";
inline constexpr std::string_view report_url = "report-url";
inline constexpr std::string_view report_token = "report-token";
}  // namespace key

// Marooned pods (seed 004).
inline constexpr std::string_view maroon_label = "maroonedpods.io/maroon";
inline constexpr std::string_view maroon_pod_uid = "maroonedpods.io/pod-uid";
inline constexpr std::string_view maroon_gate = "maroonedpods.io/gate";
inline constexpr std::string_view maroon_default_taint_key = "maroonedpods.io";
inline constexpr std::string_view webhook_service_account = "nodeboot-webhook";
// Set by the gate-release controller on a dedicated node whose pod is gone or finished:
// the node is cordoned and waits for its VM to be deleted (KubeVirt's job).
inline constexpr std::string_view maroon_cleanup = "maroonedpods.io/cleanup";
inline constexpr std::string_view maroon_config_name = "default";  // the MaroonedPodsConfig both read
inline constexpr std::string_view gate_controller_lease = "nodeboot-gate-controller";
inline constexpr std::string_view join_info_path = "/etc/marooned/join-info.yaml";

// Node bootstrap (seeds 000/001): the seed DaemonSets keep their names in kube-system; each
// pod carries label app=<DaemonSet name>. The init container `bootstrap` leaves one JSON
// result line as its termination message (manifests/node-bootstrap/*-bootstrap.sh).
inline constexpr std::string_view bootstrap_namespace = "kube-system";
inline constexpr std::string_view iscsi_daemonset = "rke2-node-bootstrap-iscsi";
inline constexpr std::string_view gpu_daemonset = "rke2-node-bootstrap-gpu";
inline constexpr std::string_view bootstrap_app_label = "app";
inline constexpr std::string_view bootstrap_result_container = "bootstrap";
// Intel GPU device plugin's resource and Node Feature Discovery's Intel GPU label.
inline constexpr std::string_view intel_i915_resource = "gpu.intel.com/i915";
inline constexpr std::string_view nfd_intel_gpu_label = "intel.feature.node.kubernetes.io/gpu";
// `verify --deep`: its probe pods and their script ConfigMap carry app.kubernetes.io/name=
// nodeboot-verify-probe and the run's id, so one label-selected delete cleans a run up
// (and `-l app.kubernetes.io/name=nodeboot-verify-probe` finds what a killed run left).
inline constexpr std::string_view verify_probe_name_label = "app.kubernetes.io/name";
inline constexpr std::string_view verify_probe_name = "nodeboot-verify-probe";
inline constexpr std::string_view verify_run_label = "nodeboot.io/verify-run";

}  // namespace nodeboot::names
