#pragma once

// The API contract from DESIGN.md: every label, annotation, Secret key and object name
// nodeboot reads or writes. Change only with a migration note.

#include <string_view>

namespace nodeboot::names {

inline constexpr std::string_view system_namespace = "nodeboot-system";
// Marooned pods' VMs, their user-data and join credentials: a namespace of their own, so
// that no tenant and no other nodeboot component (the in-place bootstrap agent reads
// Secrets in system_namespace) can read a join credential.
inline constexpr std::string_view marooned_namespace = "nodeboot-marooned";

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
// The boot the host was on when it wrote the state (its /proc/sys/kernel/random/boot_id,
// which the kubelet reports as status.nodeInfo.bootID): "Rebooting" from boot X is over
// only on a boot other than X, not on any boot since start.
inline constexpr std::string_view ann_boot_id = "nodeboot.io/boot-id";
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
inline constexpr std::string_view mcd_image = "mcd-image";
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
// The in-place bootstrap completion controller's Lease (nodeboot-webhook --enable-completion-controller).
inline constexpr std::string_view completion_controller_lease = "nodeboot-ipb-completion";
inline constexpr std::string_view join_info_path = "/etc/marooned/join-info.yaml";
// The VM controller's Lease (nodeboot-webhook --enable-vm-controller).
inline constexpr std::string_view vm_controller_lease = "nodeboot-vm-controller";
// A marooned pod's VM record: Secret nodeboot-marooned/marooned-<id>-userdata (key `userdata`,
// the cloud-init; key `token`, the current bootstrap token), label maroon_pod_uid=<id>,
// annotations maroon_owner_pod(_uid), the attempt, the bootstrap token ids issued for it
// (comma-separated) and, once given up, maroon_vm_state=FailedToPlace. The VMI is owned by it.
inline constexpr std::string_view maroon_userdata_key = "userdata";
inline constexpr std::string_view maroon_token_key = "token";
inline constexpr std::string_view maroon_vm_attempt = "maroonedpods.io/vm-attempt";
inline constexpr std::string_view maroon_bootstrap_tokens = "maroonedpods.io/bootstrap-tokens";
inline constexpr std::string_view maroon_vm_state = "maroonedpods.io/vm-state";
inline constexpr std::string_view maroon_failed_to_place = "FailedToPlace";
// The pod condition the VM controller keeps (pods/status): True once the VM's node joined.
inline constexpr std::string_view maroon_vm_condition = "maroonedpods.io/VirtualMachine";
// auth-extra-groups of a marooned node's bootstrap token: the k3s agent's node-token group.
inline constexpr std::string_view maroon_token_groups = "system:bootstrappers:k3s:default-node-token";
// A node's own labels prove nothing (a kubelet labels and taints itself). The controller
// vouches for a dedicated node by setting this label, under node-restriction.kubernetes.io/,
// which the NodeRestriction admission plugin forbids a kubelet to set on its Node, once the
// node proved with the pod's single-use join credential which pod it serves. Marooned pods
// select it (beside maroon_pod_uid) so their placement rests on what the controller vouched.
inline constexpr std::string_view maroon_vouched_label = "node-restriction.kubernetes.io/maroonedpods.io-pod-uid";
// On a vouched node (set by the controller): the owning pod's metadata.uid and namespace/name.
inline constexpr std::string_view maroon_owner_pod_uid = "maroonedpods.io/owner-pod-uid";
inline constexpr std::string_view maroon_owner_pod = "maroonedpods.io/owner-pod";
// On a joining node (set by nodeboot-agent join with the kubelet's credentials): the hex
// HMAC-SHA256 proof of the join credential for (id, node name); see marooned/join.hpp.
inline constexpr std::string_view maroon_join_proof = "maroonedpods.io/join-proof";
// The join credential: Secret nodeboot-marooned/marooned-join-<id>, this type, key `credential`
// (hex), label maroon_pod_uid=<id>. Issued by the controller per pod, deleted once a node joined.
inline constexpr std::string_view maroon_join_secret_type = "maroonedpods.io/join-credential";
inline constexpr std::string_view maroon_join_secret_prefix = "marooned-join-";
inline constexpr std::string_view maroon_join_credential_key = "credential";
// MaroonedPodsConfig spec.nodeAgentNamespaces default: namespaces whose pods may run on
// dedicated nodes (CNI, kube-proxy, node agents with a blanket toleration).
inline constexpr std::string_view maroon_default_node_agent_namespaces[] = {"kube-system", "nodeboot-system"};

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
