#include "nodeboot/webhook/controller/controller.hpp"

#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "nodeboot/cli/flags.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/marooned/join.hpp"
#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/random.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook::controller {
namespace {

constexpr std::string_view gate_component = "nodeboot-gate-controller";

std::string key_of(const nlohmann::json& object) {
  const auto& meta = object.at("metadata");
  return meta.value("namespace", "") + "/" + meta.value("name", "");
}

// Readiness of the webhook also waits for the controller's caches, so a replica that
// could not release gates is not put in front of the API server half-started.
class WithController final : public ClusterView {
 public:
  WithController(std::shared_ptr<ClusterView> inner, const GateController& gate)
      : inner_(std::move(inner)), gate_(gate) {}
  std::string taint_key() const override { return inner_->taint_key(); }
  bool node_agent_namespace(std::string_view ns) const override { return inner_->node_agent_namespace(ns); }
  bool dedicated_node(std::string_view name) const override { return inner_->dedicated_node(name); }
  Result<bool> bootstrap_secret_exists(std::string_view node) override { return inner_->bootstrap_secret_exists(node); }
  bool synced() const override { return inner_->synced() && gate_.synced(); }

 private:
  std::shared_ptr<ClusterView> inner_;
  const GateController& gate_;
};

std::string default_identity() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + random_hex(4);
}

std::string uid_of(const nlohmann::json& object) { return object["metadata"].value("uid", ""); }

}  // namespace

GateController::GateController(const kube::RestConfig& config, ControllerOptions options)
    : options_(std::move(options)),
      rt_(
          config, options_.leader, std::string(gate_component), [this] { enqueue_all(); },
          [this](const std::string& key) { return reconcile(key); }) {
  pods_ = &rt_.inform(kube::resources::pods, "",
                      kube::ListOptions{.label_selector = std::string(names::maroon_label) + "=true"},
                      {.on_add = [this](const nlohmann::json& p) { on_pod(p); },
                       .on_update = [this](const nlohmann::json&, const nlohmann::json& p) { on_pod(p); },
                       .on_delete = [this](const nlohmann::json& p) { on_pod_deleted(p); },
                       .on_error =
                           [](const Error& e) {
                             log_error("watching marooned pods", {{"error", e.message}});
                           }});
  nodes_ =
      &rt_.inform(kube::resources::nodes, "", kube::ListOptions{.label_selector = std::string(names::maroon_pod_uid)},
                  {.on_add = [this](const nlohmann::json& n) { on_node(n); },
                   .on_update = [this](const nlohmann::json&, const nlohmann::json& n) { on_node(n); },
                   .on_delete = [this](const nlohmann::json& n) { on_node_deleted(n); },
                   .on_error =
                       [](const Error& e) {
                         log_error("watching marooned nodes", {{"error", e.message}});
                       }});
}

GateController::~GateController() { stop(); }

void GateController::start() { rt_.start(); }

void GateController::stop() { rt_.stop(); }

bool GateController::synced() const { return rt_.synced(); }

void GateController::on_pod(const nlohmann::json& pod) {
  const auto key = key_of(pod);
  const auto id = marooned::pod_id(pod);
  const bool gated = marooned::gated(pod);
  std::vector<std::string> also;  // pods sharing the id: their conflict state changed too
  {
    std::lock_guard lock(mu_);
    if (!id.empty()) {
      auto& claimants = pods_by_id_[id];
      claimants.insert(key);
      id_by_pod_[key] = {id, uid_of(pod)};
      if (claimants.size() > 1) also.assign(claimants.begin(), claimants.end());
    }
    if (gated) {
      gated_.insert(key);
    } else {
      gated_.erase(key);
      released_uids_.erase(uid_of(pod));
    }
  }
  // Released and running pods need nothing until they finish or go.
  if (gated || marooned::finished(pod)) enqueue(key);
  for (const auto& k : also) enqueue(k);
}

void GateController::on_pod_deleted(const nlohmann::json& pod) {
  const auto key = key_of(pod);
  const auto id = marooned::pod_id(pod);
  {
    std::lock_guard lock(mu_);
    gated_.erase(key);
    told_.erase(uid_of(pod));
    released_uids_.erase(uid_of(pod));
    if (id.empty()) return;
    id_by_pod_[key] = {id, uid_of(pod)};
    if (auto it = pods_by_id_.find(id); it != pods_by_id_.end()) {
      it->second.erase(key);
      if (it->second.empty()) pods_by_id_.erase(it);
    }
    deleted_pods_.insert(key);
  }
  enqueue(key);
}

void GateController::on_node(const nlohmann::json& node) {
  const auto id = marooned::node_id(node);
  if (id.empty()) return;
  const auto name = node["metadata"].value("name", "");
  // A node is eligible for its vouched id only, measured against the pod the controller
  // recorded as its owner (the release latency metric starts here).
  const auto vouched = marooned::vouched_id(node);
  const bool eligible =
      !vouched.empty() && !marooned::node_not_eligible(node, vouched, marooned::owner_uid(node), options_.taint_key());
  std::vector<std::string> keys;
  {
    std::lock_guard lock(mu_);
    nodes_by_id_[id].insert(name);
    if (eligible)
      eligible_since_.try_emplace(id, Clock::now());
    else
      eligible_since_.erase(id);
    if (auto it = pods_by_id_.find(id); it != pods_by_id_.end()) keys.assign(it->second.begin(), it->second.end());
  }
  for (const auto& k : keys) enqueue(k);
}

void GateController::on_node_deleted(const nlohmann::json& node) {
  const auto id = marooned::node_id(node);
  std::lock_guard lock(mu_);
  if (auto it = nodes_by_id_.find(id); it != nodes_by_id_.end()) {
    it->second.erase(node["metadata"].value("name", ""));
    if (it->second.empty()) nodes_by_id_.erase(it);
  }
  eligible_since_.erase(id);
}

void GateController::enqueue(const std::string& key) {
  rt_.add(key);  // only while leading: a new leader queues everything it has cached
}

void GateController::enqueue_all() {
  std::vector<std::string> keys;
  for (const auto& pod : pods_->list())
    if (marooned::gated(pod) || marooned::finished(pod)) keys.push_back(key_of(pod));
  {
    std::lock_guard lock(mu_);
    keys.insert(keys.end(), deleted_pods_.begin(), deleted_pods_.end());
  }
  for (const auto& k : keys) enqueue(k);
}

std::vector<nlohmann::json> GateController::nodes_claiming(const std::string& id) const {
  std::set<std::string> names;
  {
    std::lock_guard lock(mu_);
    if (auto it = nodes_by_id_.find(id); it != nodes_by_id_.end()) names = it->second;
  }
  std::vector<nlohmann::json> out;
  for (const auto& n : names)
    if (auto node = nodes_->get("", n)) out.push_back(std::move(*node));
  return out;
}

namespace {

std::string name_of(const nlohmann::json& object) { return object["metadata"].value("name", ""); }

GatePlan step(GateAction action, std::string message = {}) {
  GatePlan plan;
  plan.action = action;
  plan.message = std::move(message);
  return plan;
}

std::string join_proof_of(const nlohmann::json& node) {
  return node["metadata"]
      .value("annotations", nlohmann::json::object())
      .value(std::string(names::maroon_join_proof), "");
}

// The pod is gone or finished: its unspent credential goes, and the node vouched for this
// very pod (by metadata.uid) is cordoned; a pod that claimed someone else's id touches
// nothing of theirs.
GatePlan plan_clean_up(const GateInputs& in) {
  if (!in.leading) return {};
  // Another live pod claims the id (a webhook bypass): whose node it is is unknowable.
  if (std::ranges::any_of(in.claimant_uids, [&](const std::string& uid) { return uid != in.pod_uid; })) return {};
  if (!in.credential.read) return step(GateAction::read_credential);
  auto plan = step(GateAction::clean_up);
  plan.delete_credential = in.credential.secret && marooned::credential_owner_uid(*in.credential.secret) == in.pod_uid;
  for (const auto& node : in.nodes) {
    if (marooned::vouched_id(node) != in.id || marooned::owner_uid(node) != in.pod_uid) continue;
    const bool cordoned = node["spec"].value("unschedulable", false);
    const auto& ann = node["metadata"].value("annotations", nlohmann::json::object());
    if (cordoned && ann.value(std::string(names::maroon_cleanup), "") == "true") continue;
    plan.cordon.push_back(name_of(node));
  }
  return plan;
}

// The gate comes off once the node vouched for the pod is eligible (nullptr: none is).
GatePlan plan_release(const nlohmann::json& pod, const GateInputs& in, const nlohmann::json* node,
                      std::vector<std::string> refusals = {}) {
  GatePlan plan;
  plan.refusals = std::move(refusals);
  if (in.released) return plan;
  plan.node_name = node != nullptr ? name_of(*node) : "";
  const std::optional<std::string> why =
      node != nullptr ? marooned::node_not_eligible(*node, in.id, in.pod_uid, in.taint_key)
                      : std::optional<std::string>("no node has joined with the pod's join credential");
  if (why) {
    plan.action = GateAction::wait;
    plan.message =
        "waiting for the dedicated node" + (plan.node_name.empty() ? "" : " " + plan.node_name) + ": " + *why;
    return plan;
  }
  auto patch = marooned::gate_removal_patch(pod);
  if (!patch) return plan;
  plan.action = GateAction::release;
  plan.patch = std::move(*patch);
  return plan;
}

}  // namespace

GatePlan plan_gate(const GateInputs& in) {
  if (!in.pod) return plan_clean_up(in);
  const auto& pod = *in.pod;
  if (in.id.empty()) return {};  // not (or no longer consistently) mutated by the webhook: not ours
  if (in.claimant_uids.size() > 1) {
    // Only a pod that bypassed the mutating webhook can share an id. Neither pod is
    // released or cleaned up for: which one owns the node is not ours to guess.
    return step(GateAction::conflict, std::to_string(in.claimant_uids.size()) + " live pods claim marooned id " +
                                          in.id +
                                          "; none of them is released and no node is vouched until only one remains");
  }
  if (marooned::finished(pod)) return plan_clean_up(in);
  if (!marooned::gated(pod)) return {};  // released and running: nothing until it finishes or goes
  for (const auto& n : in.nodes)
    if (marooned::vouched_id(n) == in.id) return plan_release(pod, in, &n);
  if (!in.leading) return plan_release(pod, in, nullptr);
  // No node vouched yet. Until one presents a proof, all there is to do is to make sure
  // the pod's credential exists (create first: the common case is a new pod).
  const bool proof_presented =
      std::ranges::any_of(in.nodes, [](const nlohmann::json& n) { return !join_proof_of(n).empty(); });
  if (!proof_presented) return in.issued ? plan_release(pod, in, nullptr) : step(GateAction::issue_credential);
  if (!in.credential.read) return step(GateAction::read_credential);
  if (!in.credential.secret) {
    // Proof presented but no credential: never issued, or spent on a node that is gone.
    std::vector<std::string> refusals;
    for (const auto& n : in.nodes)
      refusals.push_back("node " + name_of(n) + " claims marooned id " + in.id +
                         " but the pod has no unspent join credential");
    return plan_release(pod, in, nullptr, std::move(refusals));
  }
  const auto& secret = *in.credential.secret;
  if (marooned::credential_owner_uid(secret) != in.pod_uid)
    return plan_release(pod, in, nullptr,
                        {"the join credential Secret " + name_of(secret) + " was issued for another pod"});
  if (in.vouch_tried) return plan_release(pod, in, nullptr);
  auto credential = marooned::credential_of(secret);
  if (!credential) return step(GateAction::fail, credential.error().message);
  auto plan = step(GateAction::vouch);
  for (const auto& n : in.nodes) {
    const auto proof = join_proof_of(n);
    if (proof.empty()) continue;  // not presented yet: its annotation is a node event
    const auto name = name_of(n);
    plan.candidates.push_back(
        {n, marooned::proof_matches(*credential, in.id, name, proof)
                ? ""
                : "node " + name + " presented a join proof that does not match the pod's credential"});
  }
  return plan;
}

bool GateController::reconcile(const std::string& key) {
  const auto slash = key.find('/');
  GateInputs in;
  in.pod = pods_->get(key.substr(0, slash), key.substr(slash + 1));
  const bool deleted = !in.pod;
  {
    std::lock_guard lock(mu_);
    if (deleted) {
      if (!deleted_pods_.contains(key)) return true;
      in.id = id_by_pod_[key].id;
      in.pod_uid = id_by_pod_[key].uid;
    } else {
      in.id = marooned::pod_id(*in.pod);
      in.pod_uid = uid_of(*in.pod);
    }
    if (auto it = pods_by_id_.find(in.id); !in.id.empty() && it != pods_by_id_.end())
      for (const auto& k : it->second) in.claimant_uids.push_back(id_by_pod_[k].uid);
    in.issued = issued_.contains(in.id);
    in.released = released_uids_.contains(in.pod_uid);
  }
  if (in.id.empty()) return true;
  in.nodes = nodes_claiming(in.id);
  in.taint_key = options_.taint_key();
  in.leading = rt_.leading();
  if (!deleted) return run(std::move(in), "its pod " + key + " finished");
  const auto id = in.id;
  if (!run(std::move(in), "its pod " + key + " was deleted")) return false;
  std::lock_guard lock(mu_);
  deleted_pods_.erase(key);
  id_by_pod_.erase(key);
  issued_.erase(id);
  return true;
}

bool GateController::run(GateInputs in, const std::string& why) {
  const nlohmann::json none;
  // Each step that plans again settles what made it (a read, an issue, a vouch): a few rounds.
  for (int round = 0; round < 8; ++round) {
    const auto plan = plan_gate(in);
    const auto& pod = in.pod ? *in.pod : none;
    for (const auto& r : plan.refusals) warn_once(pod, "JoinRefused", r);
    switch (plan.action) {
      case GateAction::nothing:
        return true;
      case GateAction::conflict:
        warn_once(pod, "MaroonedIdConflict", plan.message);
        return true;
      case GateAction::read_credential: {
        auto secret =
            rt_.client().get(kube::resources::secrets, names::marooned_namespace, marooned::join_secret_name(in.id));
        if (!secret && !kube::is_not_found(secret.error())) {
          if (!in.pod || marooned::finished(*in.pod)) return false;  // cleaning up: retried without a log line
          return failed(in.id, secret.error().message);
        }
        in.credential = {.read = true,
                         .secret = secret ? std::optional<nlohmann::json>(std::move(*secret)) : std::nullopt};
        break;
      }
      case GateAction::issue_credential:
        if (!issue(pod, in)) return false;
        break;
      case GateAction::vouch:
        if (!vouch(pod, plan, in)) return false;
        break;
      case GateAction::wait: {
        bool first = false;
        {
          std::lock_guard lock(mu_);
          first = told_[in.pod_uid].insert("WaitingForNode").second;
        }
        if (first) event(pod, "WaitingForNode", plan.message);
        return true;  // the node's next event queues this pod again
      }
      case GateAction::release:
        return release(pod, in, plan);
      case GateAction::clean_up:
        return clean_up(in, plan, why);
      case GateAction::fail:
        return failed(in.id, plan.message);
    }
  }
  log_error("the gate plan did not settle", {{"podUID", in.id}});
  return false;
}

bool GateController::failed(const std::string& id, const std::string& message) {
  log_error("vouching for the dedicated node failed", {{"podUID", id}, {"error", message}});
  std::lock_guard lock(mu_);
  ++api_errors_;
  return false;
}

bool GateController::issue(const nlohmann::json& pod, GateInputs& in) {
  const auto secret_name = marooned::join_secret_name(in.id);
  auto created = rt_.client().create(kube::resources::secrets, names::marooned_namespace,
                                     marooned::join_secret(in.id, pod, marooned::new_join_credential()));
  if (!created && !kube::is_already_exists(created.error())) return failed(in.id, created.error().message);
  if (created) {
    log_info("join credential issued",
             {{"podUID", in.id}, {"secret", std::string(names::marooned_namespace) + "/" + secret_name}});
    event(pod, "JoinCredentialIssued",
          "issued the single-use join credential for the dedicated node (Secret " +
              std::string(names::marooned_namespace) + "/" + secret_name + ")");
  }
  std::lock_guard lock(mu_);
  issued_.insert(in.id);
  in.issued = true;
  return true;
}

bool GateController::vouch(const nlohmann::json& pod, const GatePlan& plan, GateInputs& in) {
  for (const auto& c : plan.candidates) {
    const auto name = name_of(c.node);
    if (!c.refusal.empty()) {
      log_error("join proof rejected", {{"node", name}, {"podUID", in.id}});
      warn_once(pod, "JoinRefused", c.refusal);
      continue;
    }
    auto patched = rt_.client().patch(kube::resources::nodes, "", name, kube::PatchType::json,
                                      marooned::vouch_patch(c.node, in.id, pod));
    if (!patched) {
      if (kube::is_invalid(patched.error()) || kube::is_not_found(patched.error()))
        continue;  // changed or gone meanwhile
      return failed(in.id, patched.error().message);
    }
    if (auto r = delete_credential(*in.credential.secret); !r)
      log_error("deleting the spent join credential failed",
                {{"secret", name_of(*in.credential.secret)}, {"error", r.error().message}});
    log_info("dedicated node vouched", {{"node", name}, {"podUID", in.id}});
    event(pod, "NodeVouched",
          "node " + name + " presented the pod's join credential; labelled " +
              std::string(names::maroon_vouched_label) + "=" + in.id);
    {
      std::lock_guard lock(mu_);
      ++vouched_;
    }
    for (auto& n : in.nodes)
      if (name_of(n) == name) n = std::move(*patched);
    return true;
  }
  in.vouch_tried = true;
  return true;
}

bool GateController::release(const nlohmann::json& pod, const GateInputs& in, const GatePlan& plan) {
  const auto& meta = pod["metadata"];
  const std::string ns = meta.value("namespace", "");
  const std::string name = meta.value("name", "");
  event(pod, "NodeReady", "dedicated node " + plan.node_name + " is Ready, schedulable and tainted for this pod");
  if (!rt_.leading()) return true;
  auto patched = rt_.client().patch(kube::resources::pods, ns, name, kube::PatchType::json, plan.patch);
  if (!patched) {
    const auto& e = patched.error();
    // The gate list changed (the `test` failed), or the pod is gone: the informer brings
    // the new version, which queues the pod again if there is still something to do.
    if (kube::is_invalid(e) || kube::is_conflict(e) || kube::is_not_found(e)) {
      log_debug("gate patch superseded", {{"pod", ns + "/" + name}, {"error", e.message}});
      return true;
    }
    log_error("removing the gate failed", {{"pod", ns + "/" + name}, {"error", e.message}});
    std::lock_guard lock(mu_);
    ++api_errors_;
    return false;
  }
  {
    std::lock_guard lock(mu_);
    ++released_;
    told_.erase(in.pod_uid);
    released_uids_.insert(in.pod_uid);
    if (auto it = eligible_since_.find(in.id); it != eligible_since_.end()) {
      ready_to_release_.observe(std::chrono::duration<double>(Clock::now() - it->second).count());
    }
  }
  log_info("gate removed", {{"pod", ns + "/" + name}, {"node", plan.node_name}, {"podUID", in.id}});
  event(pod, "GateRemoved",
        "removed scheduling gate " + std::string(names::maroon_gate) + "; the pod may now bind to " + plan.node_name);
  return true;
}

bool GateController::clean_up(const GateInputs& in, const GatePlan& plan, const std::string& why) {
  if (plan.delete_credential && !delete_credential(*in.credential.secret)) return false;
  // Deleting the VM behind the node is KubeVirt's job (or whoever created it); the mark
  // tells it, and the cordon keeps anything else off meanwhile.
  const nlohmann::json patch = {{"metadata", {{"annotations", {{std::string(names::maroon_cleanup), "true"}}}}},
                                {"spec", {{"unschedulable", true}}}};
  for (const auto& node_name : plan.cordon) {
    auto r = rt_.client().patch(kube::resources::nodes, "", node_name, kube::PatchType::merge, patch);
    if (!r && !kube::is_not_found(r.error())) {
      log_error("cordoning the dedicated node failed", {{"node", node_name}, {"error", r.error().message}});
      std::lock_guard lock(mu_);
      ++api_errors_;
      return false;
    }
    log_info("dedicated node cordoned and marked for cleanup", {{"node", node_name}, {"reason", why}});
    std::lock_guard lock(mu_);
    ++cleaned_;
  }
  return true;
}

Result<void> GateController::delete_credential(const nlohmann::json& secret) {
  // Only this incarnation: a credential re-issued meanwhile is not lost.
  kube::DeleteOptions once;
  once.precondition_uid = uid_of(secret);
  auto r = rt_.client().remove(kube::resources::secrets, names::marooned_namespace,
                               secret["metadata"].value("name", ""), once);
  if (!r && !kube::is_not_found(r.error()) && !kube::is_conflict(r.error())) return std::unexpected(r.error());
  return {};
}

void GateController::warn_once(const nlohmann::json& pod, const std::string& reason, const std::string& message) {
  {
    std::lock_guard lock(mu_);
    if (!told_[uid_of(pod)].insert(reason + ":" + message).second) return;
  }
  log_error(reason, {{"pod", key_of(pod)}, {"message", message}});
  event(pod, reason, message, "Warning");
}

void GateController::event(const nlohmann::json& pod, const std::string& reason, const std::string& message,
                           const char* type) {
  rt_.event(pod, reason, message, type);
}

std::string GateController::render_metrics() const {
  std::lock_guard lock(mu_);
  return rt_.render_metrics(
      "nodeboot_gate_controller", api_errors_,
      {{"nodeboot_marooned_gated_pods", "gauge", "Marooned pods still held by the gate.", gated_.size()},
       {"nodeboot_marooned_gates_removed_total", "counter", "Gates this replica removed.", released_},
       {"nodeboot_marooned_nodes_cleaned_total", "counter", "Dedicated nodes cordoned and marked for cleanup.",
        cleaned_},
       {"nodeboot_marooned_nodes_vouched_total", "counter",
        "Dedicated nodes vouched after presenting their pod's join credential.", vouched_}},
      {"nodeboot_marooned_node_ready_to_release_seconds",
       "From the node event that made it Ready, schedulable and tainted to the gate removed.", ready_to_release_});
}

void add_flags(cli::Flags& options) {
  options.add_options("Gate-release controller")(
      "enable-gate-controller",
      "Run the gate-release controller: remove a marooned pod's gate once its dedicated "
      "node is Ready (leader-elected; one replica acts)")(
      "leader-elect-namespace", "Namespace of the controller's Lease",
      cli::value<std::string>().default_value(std::string(names::system_namespace)))(
      "leader-elect-identity", "This replica's name in the Lease (default: host name and a random suffix)",
      cli::value<std::string>())("leader-elect-lease-duration",
                                 "Seconds a leader that stopped renewing keeps the Lease",
                                 cli::value<double>().default_value("15"))(
      "leader-elect-renew-deadline", "Seconds the leader keeps trying to renew before it stops acting",
      cli::value<double>().default_value("10"))("leader-elect-retry-period",
                                                "Seconds between attempts to take or renew the Lease",
                                                cli::value<double>().default_value("2"));
}

Result<LeaderOptions> leader_from_flags(const cli::Parsed& parsed, std::string_view lease) {
  const auto ms = [&](const char* flag) {
    return std::chrono::milliseconds(static_cast<long>(parsed[flag].as<double>() * 1000));
  };
  LeaderOptions leader{.namespace_ = parsed["leader-elect-namespace"].as<std::string>(),
                       .name = std::string(lease),
                       .identity = parsed.count("leader-elect-identity") != 0
                                       ? parsed["leader-elect-identity"].as<std::string>()
                                       : default_identity(),
                       .lease_duration = ms("leader-elect-lease-duration"),
                       .renew_deadline = ms("leader-elect-renew-deadline"),
                       .retry_period = ms("leader-elect-retry-period")};
  if (!(leader.retry_period.count() > 0 && leader.retry_period < leader.renew_deadline &&
        leader.renew_deadline < leader.lease_duration))
    return fail(ErrorKind::invalid_input,
                "leader election needs 0 < --leader-elect-retry-period < --leader-elect-renew-deadline < "
                "--leader-elect-lease-duration (the defaults are 2 < 10 < 15)");
  return leader;
}

Result<std::optional<LeaderOptions>> gate_leader_from_flags(const cli::Parsed& parsed) {
  if (parsed.count("enable-gate-controller") == 0) return std::nullopt;
  auto leader = leader_from_flags(parsed, names::gate_controller_lease);
  if (!leader) return std::unexpected(leader.error());
  return std::move(*leader);
}

std::unique_ptr<GateController> start_gate(LeaderOptions leader, const kube::RestConfig& config,
                                           std::shared_ptr<ClusterView>& cluster) {
  std::shared_ptr<ClusterView> inner = std::move(cluster);  // wrapped below
  auto gate = std::make_unique<GateController>(
      config, ControllerOptions{.leader = std::move(leader), .taint_key = [inner] { return inner->taint_key(); }});
  gate->start();
  cluster = std::make_shared<WithController>(inner, *gate);
  return gate;
}

}  // namespace nodeboot::webhook::controller
