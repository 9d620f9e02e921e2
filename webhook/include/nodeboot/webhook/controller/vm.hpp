#pragma once

// The VM controller (seed 004, "How It Works" step 1): gives each gated marooned pod its
// dedicated VM, and takes everything made for it away again once the pod is gone.
//
// For marooned id <id> (the pod's maroonedpods.io/pod-uid annotation, minted by the webhook)
// it owns, all labelled maroonedpods.io/pod-uid=<id>:
//   - the record, Secret nodeboot-marooned/marooned-<id>-userdata (marooned::vm_record): the
//     cloud-init that writes join-info.yaml (the bootstrap token and the pod's join
//     credential), the current token, the attempt, every bootstrap token id issued for the
//     pod, and FailedToPlace once it gave up;
//   - the VirtualMachineInstance nodeboot-marooned/marooned-<id>, rendered by
//     marooned::render_vmi (what `kubectl nodeboot marooned vmi` prints) and owned by the
//     record, so the garbage collector removes it with the record;
//   - one bootstrap token per attempt, kube-system/bootstrap-token-<token id>, valid for the
//     join deadline;
// and it deletes the Node vouched for the pod when the VM is replaced or the pod goes. The
// pod's join credential is the gate-release controller's (create-or-read, as it issues it).
//
// Names are fixed by the id, so a create that meets AlreadyExists has nothing left to do: a
// leader change in the middle creates no second VM. Everything is read from informers
// (marooned pods, nodes claiming an id, the VMIs and records in nodeboot-marooned, the
// MaroonedPodsConfig `default`) and keyed by id; a deleted pod is seen as a record, VMI or
// node with no live pod claiming its id, so nothing is lost across a restart and no
// finalizer is needed. Each step is a condition on the pod (maroonedpods.io/VirtualMachine,
// through pods/status) and an Event when it changes. A VMI that fails while the pod is
// gated, or whose node has not joined by the join deadline (from the VMI's creation), is
// replaced, up to maxVMAttempts; then the pod is FailedToPlace. Every replica keeps its
// caches warm, only the holder of the Lease nodeboot-vm-controller writes. Without
// KubeVirt's CRD its VMI cache never fills: it then never campaigns and says so in its log;
// the webhook's readiness does not wait for it.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/cli/flags_fwd.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/informer.hpp"
#include "nodeboot/marooned/vmi.hpp"
#include "nodeboot/util/result.hpp"
#include "nodeboot/webhook/controller/leader.hpp"
#include "nodeboot/webhook/controller/runtime.hpp"

namespace nodeboot::webhook::controller {

// From MaroonedPodsConfig `default` spec: joinDeadline (Go duration, default 10m),
// maxVMAttempts (default 3).
struct VmSettings {
  std::chrono::seconds join_deadline{std::chrono::minutes(10)};
  int max_attempts = 3;
};
Result<VmSettings> vm_settings(const nlohmann::json& config_spec);

enum class VmAction {
  nothing,        // not ours, not the leader's, or as it should be (a condition may still change)
  create_record,  // a gated pod without a record: its credential, a token, the record (attempt 1)
  create_vm,      // a record without a VMI: the record's token Secret, then the VMI it owns
  wait,           // the VM is up and its node has not joined: look again at `recheck_at`
  recreate,       // the VM failed or its node missed the deadline: a new attempt
  give_up,        // the same on the last attempt: the record says FailedToPlace, the VM goes
  clean_up,       // no live pod claims the id (or it finished): VMI, record, tokens, credential, node
};

// The pod condition maroonedpods.io/VirtualMachine; an Event with the same reason goes
// with each change (a Warning when `warning`).
struct VmCondition {
  std::string status;  // "True" once the node joined, else "False"
  std::string reason;  // VMCreated, VMRunning, NodeJoined, VMFailed, NodeJoinTimeout, FailedToPlace
  std::string message;
  bool warning = false;
};

struct VmInputs {
  std::string id;
  std::optional<nlohmann::json> pod;  // the live pod claiming `id`; nullopt: none does
  bool conflict = false;              // several live pods claim `id`: nothing is done (the gate warns)
  std::optional<nlohmann::json> record;
  std::optional<nlohmann::json> vmi;
  std::vector<nlohmann::json> nodes;  // cached nodes claiming `id`
  VmSettings settings;
  std::chrono::system_clock::time_point now;
  bool leading = false;
};

struct VmPlan {
  VmAction action = VmAction::nothing;
  int attempt = 0;                                     // create_record, create_vm: this attempt; recreate: the next one
  std::optional<VmCondition> condition;                // to set on the pod (only when it differs from the pod's)
  std::chrono::system_clock::time_point recheck_at{};  // wait: the join deadline
  std::vector<std::string> delete_nodes;               // recreate, give_up, clean_up: nodes vouched for the pod
  std::optional<marooned::VmRecord> record;            // the record as read (in.record decoded), for the steps
  std::string why;                                     // for the log
};

VmPlan plan_vm(const VmInputs& in);

struct VmOptions {
  LeaderOptions leader;
  std::string server_url;  // the API server URL the VMs' nodes join (join-info.yaml)
};

class VmController {
 public:
  VmController(const kube::RestConfig& config, VmOptions options);
  ~VmController();
  VmController(const VmController&) = delete;
  VmController& operator=(const VmController&) = delete;

  void start();
  void stop();  // releases the Lease
  bool synced() const;
  bool leading() const { return rt_.leading(); }
  std::string render_metrics() const;

 private:
  using Clock = std::chrono::steady_clock;
  void enqueue(const std::string& id);
  void enqueue_all();
  void on_pod(const nlohmann::json& pod);
  void on_pod_deleted(const nlohmann::json& pod);
  bool reconcile(const std::string& id);
  VmInputs gather(const std::string& id);
  nlohmann::json config_spec() const;
  // The informer's object, unless this replica wrote or deleted it since (until the
  // informer's own event for that name arrives): saves a create that meets AlreadyExists.
  std::optional<nlohmann::json> cached(const kube::Informer& informer, const std::string& name) const;
  void wrote(const std::string& name, std::optional<nlohmann::json> object);
  // The steps; each returns false to retry with backoff.
  // The record written (nullopt inside: another replica's was there first); nullopt: retry.
  // `spec`: MaroonedPodsConfig default's, read once per reconcile.
  std::optional<std::optional<nlohmann::json>> create_record(const VmInputs& in, const VmPlan& plan,
                                                             const nlohmann::json& spec);
  bool create_vm(const VmInputs& in, const VmPlan& plan, const nlohmann::json& spec);
  bool replace(const VmInputs& in, VmPlan& plan, const nlohmann::json& spec);  // plan.record: as written
  // A new attempt in `record`: the pod's credential, a new token (added to its ids), user-data.
  bool new_attempt(const VmInputs& in, const nlohmann::json& spec, int attempt, marooned::VmRecord& record);
  // Deletes each bootstrap token in `token_ids` but `keep` (gone already is fine).
  bool delete_tokens(const std::string& id, const std::vector<std::string>& token_ids, const std::string& keep);
  bool clean_up(const VmInputs& in, const VmPlan& plan);
  bool set_condition(const nlohmann::json& pod, const VmCondition& condition);
  bool delete_nodes(const std::vector<std::string>& names);
  bool failed(const std::string& id, const std::string& what, const Error& e);

  VmOptions options_;
  Runtime rt_;
  kube::Informer* pods_ = nullptr;  // owned by rt_
  kube::Informer* nodes_ = nullptr;
  kube::Informer* vmis_ = nullptr;
  kube::Informer* secrets_ = nullptr;  // VM records and join credentials
  kube::Informer* configs_ = nullptr;

  mutable std::mutex mu_;
  std::map<std::string, std::set<std::string>> pods_by_id_;       // id → live "ns/name" claiming it
  std::map<std::string, std::set<std::string>> nodes_by_id_;      // id → names of nodes claiming it
  std::map<std::string, std::optional<nlohmann::json>> written_;  // name → what this replica wrote (nullopt: deleted)
  std::map<std::string, Clock::time_point> first_seen_;           // id → when its gated pod was first seen
  Histogram pod_to_vmi_{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  std::uint64_t created_ = 0;
  std::uint64_t replaced_ = 0;
  std::uint64_t failed_to_place_ = 0;
  std::uint64_t cleaned_ = 0;
  std::uint64_t api_errors_ = 0;
};

// --enable-vm-controller and --marooned-server-url (the leader-election flags are the gate
// controller's: one set per replica).
void add_vm_flags(cli::Flags& options);
// Its options when --enable-vm-controller is given (nullopt otherwise). `server_url`: the
// webhook's own API server, the default for --marooned-server-url.
Result<std::optional<VmOptions>> vm_options_from_flags(const cli::Parsed& parsed);
std::unique_ptr<VmController> start_vm(VmOptions options, const kube::RestConfig& config);

}  // namespace nodeboot::webhook::controller
