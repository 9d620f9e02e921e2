#pragma once

// A marooned pod's dedicated VM, as pure functions: bootstrap tokens, the node's
// join-info.yaml and cloud-init user-data, and its VirtualMachineInstance. One renderer for
// `kubectl nodeboot marooned vmi` and nodeboot-webhook's VM controller, so the command
// renders exactly what the controller creates.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::marooned {

// `n` characters of [a-z0-9] from OpenSSL's CSPRNG, without modulo bias (bytes >= 252,
// the largest multiple of 36 that fits in a byte, are drawn again).
std::string random_lowercase_alnum(std::size_t n);

// A kubeadm-style bootstrap token: id [a-z0-9]{6}, secret [a-z0-9]{16}.
struct BootstrapToken {
  std::string id;
  Secret secret;
  Secret token() const { return Secret(id + "." + secret.reveal()); }
};
BootstrapToken new_bootstrap_token();

// The kube-system Secret bootstrap-token-<id> (type bootstrap.kubernetes.io/token) that
// the API server's bootstrap authenticator accepts until `expires`.
// With `pod_id`, labelled maroonedpods.io/pod-uid=<pod_id> (found again at cleanup).
nlohmann::json bootstrap_token_secret(const BootstrapToken& token, std::chrono::system_clock::time_point expires,
                                      std::string_view extra_groups, std::string_view description,
                                      std::string_view pod_id = {});
// "bootstrap-token-<id>".
std::string bootstrap_token_secret_name(std::string_view token_id);

struct JoinInfo {
  std::string server_url;
  Secret token;
  std::string pod_uid;
  std::string taint_key;
  Secret credential;  // the pod's single-use join credential (nodeboot/marooned/join.hpp)
};

// /etc/marooned/join-info.yaml (holds the token and the join credential).
Secret join_info_yaml(const JoinInfo& info);
// #cloud-config user-data writing join-info.yaml (mode 0600) for nodeboot-agent join.
Secret cloud_init(const JoinInfo& info);

// Kubernetes quantities: CPU in millicores ("500m", "1", "1.5"), memory in bytes ("512Mi", "1G", "1e3").
Result<std::int64_t> cpu_millis(const nlohmann::json& quantity);
Result<std::int64_t> memory_bytes(const nlohmann::json& quantity);

// The pod's effective requests, as the scheduler counts them (PodRequests): the larger of
// the containers plus sidecars (init containers with restartPolicy Always) and each ordinary
// init container plus the sidecars started before it, plus spec.overhead (RuntimeClass).
struct Resources {
  std::int64_t cpu_millis = 0;
  std::int64_t memory_bytes = 0;
};
Result<Resources> pod_requests(const nlohmann::json& pod);

// The VirtualMachineInstance for a marooned pod from MaroonedPodsConfig `spec`: the node
// image as containerDisk (plus kernelBoot when enabled), CPU and memory = the pod's requests
// plus resourceOverhead, never below baseVMResources, user-data from Secret `userdata_secret`.
Result<nlohmann::json> render_vmi(const nlohmann::json& pod, const nlohmann::json& config_spec,
                                  std::string_view userdata_secret);

// Names derived from the marooned id.
std::string vmi_name(std::string_view pod_uid);
std::string userdata_secret_name(std::string_view pod_uid);

// The VM's record (names.hpp: maroon_userdata_key): Secret nodeboot-marooned/
// marooned-<id>-userdata holding the cloud-init `userdata` and the current bootstrap
// `token`, for attempt `attempt`, listing `token_ids` (every token issued for the pod).
// `marooned vmi --apply` and the VM controller both write it; the VMI is owned by it.
struct VmRecord {
  std::string id;
  Secret userdata;
  BootstrapToken token;
  int attempt = 1;
  std::vector<std::string> token_ids;
  bool failed_to_place = false;
};
nlohmann::json vm_record(const VmRecord& record, const nlohmann::json& pod);
// Reads one back (as the API returns it: `data` base64); an error names what is missing.
Result<VmRecord> read_vm_record(const nlohmann::json& secret);
// `vmi` with an ownerReference to the record (as stored: its uid), so that the garbage
// collector deletes the VMI with it.
nlohmann::json owned_by_record(nlohmann::json vmi, const nlohmann::json& record);

}  // namespace nodeboot::marooned
