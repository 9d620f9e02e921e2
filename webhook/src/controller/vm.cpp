#include "nodeboot/webhook/controller/vm.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/cli/flags.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/marooned/join.hpp"
#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/marooned/vmi.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/json_fields.hpp"
#include "nodeboot/webhook/controller/controller.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook::controller {
namespace {

using nlohmann::json;
namespace mr = nodeboot::marooned;

constexpr std::string_view vm_component = "nodeboot-vm-controller";
// Pods reconciled at once (each id on one worker at a time): a pod's VM takes four to six
// API calls one after another (token, record, VMI, condition, Event), and so does its
// cleanup; one worker cleaned up about 5 pods a second (500 in 101 s, session 27).
constexpr std::size_t vm_workers = 4;
const std::string marooned_ns(names::marooned_namespace);

std::string meta_string(const json& object, const char* key) { return string_field(field(object, "metadata"), key); }

std::string annotation(const json& object, std::string_view key) {
  return string_field(field(field(object, "metadata"), "annotations"), key);
}

std::string id_label(const json& object) {
  return string_field(field(field(object, "metadata"), "labels"), names::maroon_pod_uid);
}

const json* pod_condition(const json& pod) {
  const auto& conditions = field(field(pod, "status"), "conditions");
  if (!conditions.is_array()) return nullptr;
  for (const auto& c : conditions)
    if (string_field(c, "type") == names::maroon_vm_condition) return &c;
  return nullptr;
}

// The condition, unless the pod already says exactly that.
std::optional<VmCondition> unless_set(const json& pod, VmCondition c) {
  const json* now = pod_condition(pod);
  if (now && string_field(*now, "status") == c.status && string_field(*now, "reason") == c.reason &&
      string_field(*now, "message") == c.message)
    return std::nullopt;
  return c;
}

std::chrono::system_clock::time_point created_at(const json& object, std::chrono::system_clock::time_point fallback) {
  return parse_rfc3339(meta_string(object, "creationTimestamp")).value_or(fallback);
}

int vmi_attempt(const json& vmi) {
  try {
    return std::stoi(annotation(vmi, names::maroon_vm_attempt));
  } catch (const std::exception&) {
    return 1;  // rendered by hand (`marooned vmi --apply` without a record of ours)
  }
}

std::string of_attempts(int attempt, int max) { return std::to_string(attempt) + " of " + std::to_string(max); }

}  // namespace

Result<VmSettings> vm_settings(const json& spec) {
  VmSettings s;
  if (const auto& d = field(spec, "joinDeadline"); !d.is_null()) {
    if (!d.is_string()) return fail(ErrorKind::invalid_input, "spec.joinDeadline must be a duration such as 10m");
    auto parsed = parse_duration(d.get<std::string>(), "spec.joinDeadline");
    if (!parsed) return std::unexpected(parsed.error());
    if (*parsed < std::chrono::seconds(1))
      return fail(ErrorKind::invalid_input, "spec.joinDeadline must be at least 1s, e.g. 10m");
    s.join_deadline = std::chrono::duration_cast<std::chrono::seconds>(*parsed);
  }
  if (const auto& n = field(spec, "maxVMAttempts"); !n.is_null()) {
    if (!n.is_number_integer() || n.get<std::int64_t>() < 1 || n.get<std::int64_t>() > 100)
      return fail(ErrorKind::invalid_input, "spec.maxVMAttempts must be a whole number from 1 to 100");
    s.max_attempts = n.get<int>();
  }
  return s;
}

VmPlan plan_vm(const VmInputs& in) {
  VmPlan plan;
  if (in.conflict || in.id.empty()) return plan;
  auto& record = plan.record;
  if (in.record) {
    auto r = mr::read_vm_record(*in.record);
    if (!r) {
      plan.why = r.error().message;
      return plan;
    }
    record = std::move(*r);
  }
  const std::string record_owner = in.record ? annotation(*in.record, names::maroon_owner_pod_uid) : "";
  const auto vouched_nodes = [&](std::string_view owner) {
    std::vector<std::string> names;
    for (const auto& n : in.nodes)
      if (mr::vouched_id(n) == in.id && (owner.empty() || mr::owner_uid(n) == owner))
        names.push_back(meta_string(n, "name"));
    return names;
  };

  // The pod is gone or finished: everything made for it goes.
  if (!in.pod || mr::finished(*in.pod)) {
    const std::string owner = in.pod ? meta_string(*in.pod, "uid") : record_owner;
    plan.delete_nodes = vouched_nodes(owner);
    if (!in.record && !in.vmi && plan.delete_nodes.empty()) return plan;
    if (!in.leading) return {};
    plan.action = VmAction::clean_up;
    plan.why = in.pod ? "the pod finished" : "no live pod claims the id";
    return plan;
  }
  const json& pod = *in.pod;
  const std::string pod_uid = meta_string(pod, "uid");
  // A record made for another pod with this id (only past the webhook): not this pod's.
  if (in.record && !record_owner.empty() && record_owner != pod_uid) return plan;
  const bool gated = mr::gated(pod);
  const auto joined = vouched_nodes(pod_uid);
  const int max = in.settings.max_attempts;

  if (!record) {
    if (!gated || !in.leading) return plan;  // released before any record: a VM made by hand
    plan.action = VmAction::create_record;
    plan.attempt = 1;
    return plan;
  }
  if (record->failed_to_place) {
    // The pod says why since it was given up on (what stopped its last VM); the general word
    // only for a pod that does not say it yet.
    const json* said = pod_condition(pod);
    if (!said || string_field(*said, "reason") != "FailedToPlace")
      plan.condition = VmCondition{"False", "FailedToPlace",
                                   "no node joined after " + std::to_string(record->attempt) +
                                       " VMs; the pod stays gated. Delete it to try again",
                                   true};
    // Giving up was interrupted: its VM or node is still there.
    plan.delete_nodes = vouched_nodes(pod_uid);
    if (in.leading && (in.vmi || !plan.delete_nodes.empty())) plan.action = VmAction::give_up;
    return plan;
  }
  if (!in.vmi) {
    if (gated && in.leading) {
      plan.action = VmAction::create_vm;
      plan.attempt = record->attempt;
    }
    return plan;
  }
  const json& vmi = *in.vmi;
  if (!meta_string(vmi, "deletionTimestamp").empty()) return plan;  // its deletion event comes next
  const std::string vm = marooned_ns + "/" + meta_string(vmi, "name");
  const std::string phase = string_field(field(vmi, "status"), "phase");
  const bool ended = phase == "Failed" || phase == "Succeeded";
  const auto deadline = created_at(vmi, in.now) + in.settings.join_deadline;

  if (gated && vmi_attempt(vmi) < record->attempt) {
    // A replacement was recorded but the old VM is still there (a leader change between the
    // two): finish replacing it, without counting another attempt.
    if (!in.leading) return plan;
    plan.action = VmAction::recreate;
    plan.attempt = record->attempt;
    plan.delete_nodes = vouched_nodes(pod_uid);
    plan.why = "an earlier attempt's VM is still there";
    return plan;
  }
  if (gated && (ended || (joined.empty() && in.now >= deadline))) {
    const std::string what =
        ended ? "VM " + vm + " stopped (phase " + phase + ")"
              : "no node joined from VM " + vm + " within " + format_duration(in.settings.join_deadline);
    plan.delete_nodes = vouched_nodes(pod_uid);
    plan.why = what;
    if (record->attempt >= max) {
      plan.condition = {"False", "FailedToPlace",
                        what + "; that was attempt " + of_attempts(record->attempt, max) +
                            ": giving up, the pod stays gated. Delete it to try again",
                        true};
      if (in.leading) plan.action = VmAction::give_up;
    } else {
      plan.attempt = record->attempt + 1;
      plan.condition = {"False", ended ? "VMFailed" : "NodeJoinTimeout",
                        what + "; replacing it (attempt " + of_attempts(plan.attempt, max) + ")", true};
      if (in.leading) plan.action = VmAction::recreate;
    }
    return plan;
  }
  if (!joined.empty()) {
    plan.condition = unless_set(pod, {"True", "NodeJoined", "node " + joined.front() + " joined from VM " + vm});
    if (ended)  // the pod is bound to it: it cannot move, only be deleted
      plan.condition = unless_set(
          pod, {"False", "VMFailed", "VM " + vm + " stopped (phase " + phase + ") under the running pod", true});
    return plan;
  }
  if (!gated) return plan;  // released without a node of ours joining: nothing to wait for
  plan.action = VmAction::wait;
  plan.recheck_at = deadline;
  const std::string by = "; its node must join by " + format_rfc3339(deadline);
  plan.condition =
      phase == "Running"
          ? unless_set(pod, {"False", "VMRunning", "VM " + vm + " is running" + by})
          : unless_set(pod, {"False", "VMCreated",
                             "VM " + vm + " created (attempt " + of_attempts(record->attempt, max) + ")" + by});
  return plan;
}

VmController::VmController(const kube::RestConfig& config, VmOptions options)
    : options_(std::move(options)),
      rt_(
          config, options_.leader, std::string(vm_component), [this] { enqueue_all(); },
          [this](const std::string& id) { return reconcile(id); }, vm_workers) {
  const auto by_id = [this](const json& o) {
    if (auto id = id_label(o); !id.empty()) enqueue(id);
  };
  const auto logged = [](std::string what) {
    return [what = std::move(what)](const Error& e) { log_error("watching " + what, {{"error", e.message}}); };
  };
  // What this replica wrote stands in for the cache until the cache has it (or its deletion).
  const auto seen = [this, by_id](const json& o) {
    {
      std::lock_guard lock(mu_);
      written_.erase(meta_string(o, "name"));
    }
    by_id(o);
  };
  const kube::InformerHandlers labelled{
      .on_add = seen, .on_update = [seen](const json&, const json& o) { seen(o); }, .on_delete = seen};
  pods_ = &rt_.inform(kube::resources::pods, "",
                      kube::ListOptions{.label_selector = std::string(names::maroon_label) + "=true"},
                      {.on_add = [this](const json& p) { on_pod(p); },
                       .on_update = [this](const json&, const json& p) { on_pod(p); },
                       .on_delete = [this](const json& p) { on_pod_deleted(p); },
                       .on_error = logged("marooned pods")});
  // Nodes are indexed by the id they claim: a reconcile reads its own, not all of them.
  const auto node_seen = [this, by_id](const json& n, bool gone) {
    const auto id = id_label(n);
    if (id.empty()) return;
    {
      std::lock_guard lock(mu_);
      auto& names = nodes_by_id_[id];
      if (gone) {
        names.erase(meta_string(n, "name"));
        if (names.empty()) nodes_by_id_.erase(id);
      } else {
        names.insert(meta_string(n, "name"));
      }
    }
    by_id(n);
  };
  const kube::InformerHandlers nodes{.on_add = [node_seen](const json& n) { node_seen(n, false); },
                                     .on_update = [node_seen](const json&, const json& n) { node_seen(n, false); },
                                     .on_delete = [node_seen](const json& n) { node_seen(n, true); },
                                     .on_error = logged("marooned nodes")};
  nodes_ = &rt_.inform(kube::resources::nodes, "",
                       kube::ListOptions{.label_selector = std::string(names::maroon_pod_uid)}, nodes);
  auto vmis = labelled;
  vmis.on_error = [](const Error& e) {
    log_error("watching VirtualMachineInstances (is KubeVirt installed?); the VM controller waits for them",
              {{"error", e.message}});
  };
  vmis_ = &rt_.inform(kube::resources::virtualmachineinstances, marooned_ns,
                      kube::ListOptions{.label_selector = std::string(names::maroon_pod_uid)}, vmis);
  // The records and the join credentials (the gate-release controller's, read here too).
  auto secrets = labelled;
  secrets.on_error = logged("VM records and join credentials");
  secrets_ = &rt_.inform(kube::resources::secrets, marooned_ns,
                         kube::ListOptions{.label_selector = std::string(names::maroon_pod_uid)}, secrets);
  configs_ = &rt_.inform(kube::resources::maroonedpodsconfigs, "",
                         kube::ListOptions{.field_selector = "metadata.name=" + std::string(names::maroon_config_name)},
                         {.on_add = [this](const json&) { enqueue_all(); },
                          .on_update = [this](const json&, const json&) { enqueue_all(); },
                          .on_error = logged("MaroonedPodsConfig")});
}

VmController::~VmController() { stop(); }
void VmController::start() { rt_.start(); }
void VmController::stop() { rt_.stop(); }
bool VmController::synced() const { return rt_.synced(); }

void VmController::enqueue(const std::string& id) { rt_.add(id); }

void VmController::enqueue_all() {
  std::set<std::string> ids;
  for (const auto* informer : {pods_, nodes_, vmis_, secrets_})
    for (const auto& o : informer->list()) {
      const auto id = informer == pods_ ? mr::pod_id(o) : id_label(o);
      if (!id.empty()) ids.insert(id);
    }
  for (const auto& id : ids) enqueue(id);
}

void VmController::on_pod(const json& pod) {
  const auto id = mr::pod_id(pod);
  if (id.empty()) return;
  const auto key = meta_string(pod, "namespace") + "/" + meta_string(pod, "name");
  {
    std::lock_guard lock(mu_);
    pods_by_id_[id].insert(key);
    if (mr::gated(pod)) first_seen_.try_emplace(id, Clock::now());
  }
  enqueue(id);
}

void VmController::on_pod_deleted(const json& pod) {
  const auto id = mr::pod_id(pod);
  if (id.empty()) return;
  {
    std::lock_guard lock(mu_);
    auto it = pods_by_id_.find(id);
    if (it != pods_by_id_.end()) {
      it->second.erase(meta_string(pod, "namespace") + "/" + meta_string(pod, "name"));
      if (it->second.empty()) pods_by_id_.erase(it);
    }
    first_seen_.erase(id);
  }
  enqueue(id);
}

std::optional<json> VmController::cached(const kube::Informer& informer, const std::string& name) const {
  {
    std::lock_guard lock(mu_);
    if (const auto it = written_.find(name); it != written_.end()) return it->second;
  }
  return informer.get(marooned_ns, name);
}

void VmController::wrote(const std::string& name, std::optional<json> object) {
  std::lock_guard lock(mu_);
  written_[name] = std::move(object);
}

json VmController::config_spec() const {
  auto config = configs_->get("", names::maroon_config_name);
  return config ? config->value("spec", json::object()) : json::object();
}

VmInputs VmController::gather(const std::string& id) {
  VmInputs in;
  in.id = id;
  std::set<std::string> keys, node_names;
  {
    std::lock_guard lock(mu_);
    if (auto it = pods_by_id_.find(id); it != pods_by_id_.end()) keys = it->second;
    if (auto it = nodes_by_id_.find(id); it != nodes_by_id_.end()) node_names = it->second;
  }
  std::vector<json> live;
  for (const auto& key : keys) {
    const auto slash = key.find('/');
    if (auto pod = pods_->get(key.substr(0, slash), key.substr(slash + 1)); pod && mr::pod_id(*pod) == id)
      live.push_back(std::move(*pod));
  }
  in.conflict = live.size() > 1;
  if (live.size() == 1) in.pod = std::move(live.front());
  in.record = cached(*secrets_, mr::userdata_secret_name(id));
  in.vmi = cached(*vmis_, mr::vmi_name(id));
  for (const auto& name : node_names)
    if (auto node = nodes_->get("", name); node && mr::node_id(*node) == id) in.nodes.push_back(std::move(*node));
  in.now = std::chrono::system_clock::now();
  in.leading = rt_.leading();
  return in;
}

bool VmController::reconcile(const std::string& id) {
  auto in = gather(id);
  const auto spec = config_spec();
  auto settings = vm_settings(spec);
  if (!settings) {
    log_error("MaroonedPodsConfig default", {{"error", settings.error().message}});
    return false;
  }
  in.settings = *settings;
  // create_record runs straight on into create_vm with the record it wrote.
  for (int round = 0; round < 3; ++round) {
    auto plan = plan_vm(in);
    if (in.pod && plan.condition && in.leading && !set_condition(*in.pod, *plan.condition)) return false;
    switch (plan.action) {
      case VmAction::nothing:
        if (!plan.why.empty()) log_error("VM record unreadable", {{"podUID", id}, {"error", plan.why}});
        return true;
      case VmAction::wait:
        rt_.add_at(id, WorkQueue::Clock::now() +
                           std::chrono::duration_cast<WorkQueue::Clock::duration>(
                               std::max(plan.recheck_at - in.now, std::chrono::system_clock::duration::zero())) +
                           std::chrono::seconds(1));
        return true;
      case VmAction::create_record: {
        auto written = create_record(in, plan, spec);
        if (!written) return false;
        if (!*written) return true;  // written by another replica meanwhile: its event comes
        in.record = std::move(*written);
        break;
      }
      case VmAction::create_vm:
        return create_vm(in, plan, spec);
      case VmAction::recreate:
      case VmAction::give_up:
        return replace(in, plan, spec);
      case VmAction::clean_up:
        return clean_up(in, plan);
    }
  }
  return true;
}

bool VmController::failed(const std::string& id, const std::string& what, const Error& e) {
  log_error(what + " failed", {{"podUID", id}, {"error", e.message}});
  std::lock_guard lock(mu_);
  ++api_errors_;
  return false;
}

namespace {

// The pod's join credential: the gate-release controller's issue (create, or read what is there).
Result<Secret> credential_for(kube::Client& client, const std::string& id, const json& pod,
                              const std::optional<json>& cached) {
  const auto name = mr::join_secret_name(id);
  if (cached && mr::credential_owner_uid(*cached) == meta_string(pod, "uid")) return mr::credential_of(*cached);
  auto created =
      client.create(kube::resources::secrets, marooned_ns, mr::join_secret(id, pod, mr::new_join_credential()));
  if (!created && !kube::is_already_exists(created.error())) return std::unexpected(created.error());
  auto secret = created ? std::move(*created) : client.get(kube::resources::secrets, marooned_ns, name);
  if (!secret) return std::unexpected(secret.error());
  if (mr::credential_owner_uid(*secret) != meta_string(pod, "uid"))
    return fail(ErrorKind::conflict, "the join credential Secret " + name + " was issued for another pod");
  return mr::credential_of(*secret);
}

std::string taint_key_of(const json& spec) {
  const auto key = string_field(spec, "nodeTaintKey");
  return key.empty() ? std::string(names::maroon_default_taint_key) : key;
}

}  // namespace

bool VmController::new_attempt(const VmInputs& in, const json& spec, int attempt, mr::VmRecord& r) {
  auto credential =
      credential_for(rt_.client(), in.id, *in.pod, secrets_->get(marooned_ns, mr::join_secret_name(in.id)));
  if (!credential) return failed(in.id, "issuing the join credential", credential.error());
  r.id = in.id;
  r.attempt = attempt;
  r.token = mr::new_bootstrap_token();
  r.token_ids.push_back(r.token.id);
  r.userdata =
      mr::cloud_init({options_.server_url, r.token.token(), in.id, taint_key_of(spec), std::move(*credential)});
  return true;
}

std::optional<std::optional<json>> VmController::create_record(const VmInputs& in, const VmPlan& plan,
                                                               const json& spec) {
  mr::VmRecord r;
  if (!new_attempt(in, spec, plan.attempt, r)) return std::nullopt;
  auto created = rt_.client().create(kube::resources::secrets, marooned_ns, mr::vm_record(r, *in.pod));
  if (!created) {
    if (kube::is_already_exists(created.error())) return std::optional<json>();
    failed(in.id, "writing the VM record", created.error());
    return std::nullopt;
  }
  log_info("VM record written", {{"podUID", in.id}, {"attempt", std::to_string(plan.attempt)}});
  wrote(mr::userdata_secret_name(in.id), *created);
  return std::optional<json>(std::move(*created));
}

bool VmController::create_vm(const VmInputs& in, const VmPlan& plan, const json& spec) {
  const auto& record = plan.record;  // set with in.record (plan_vm)
  // The token lives as long as the node may take to join (and a minute for clock skew).
  if (!record->token.id.empty()) {
    const auto expires = std::chrono::system_clock::now() + in.settings.join_deadline + std::chrono::minutes(1);
    auto token =
        rt_.client().create(kube::resources::secrets, "kube-system",
                            mr::bootstrap_token_secret(record->token, expires, names::maroon_token_groups,
                                                       "nodeboot: join token for marooned pod " + in.id, in.id));
    if (!token && !kube::is_already_exists(token.error()))
      return failed(in.id, "creating the bootstrap token", token.error());
  }
  auto vmi = mr::render_vmi(*in.pod, spec, mr::userdata_secret_name(in.id));
  if (!vmi) {
    rt_.event(*in.pod, "VMNotRendered", vmi.error().message, "Warning");
    return failed(in.id, "rendering the VM", vmi.error());
  }
  (*vmi)["metadata"]["annotations"][std::string(names::maroon_vm_attempt)] = std::to_string(plan.attempt);
  auto created = rt_.client().create(kube::resources::virtualmachineinstances, marooned_ns,
                                     mr::owned_by_record(std::move(*vmi), *in.record));
  if (!created && !kube::is_already_exists(created.error())) return failed(in.id, "creating the VM", created.error());
  if (created) {
    wrote(mr::vmi_name(in.id), *created);
    log_info("VM created", {{"podUID", in.id},
                            {"vmi", marooned_ns + "/" + mr::vmi_name(in.id)},
                            {"attempt", std::to_string(plan.attempt)}});
    std::lock_guard lock(mu_);
    ++created_;
    if (auto it = first_seen_.find(in.id); it != first_seen_.end() && plan.attempt == 1)
      pod_to_vmi_.observe(std::chrono::duration<double>(Clock::now() - it->second).count());
  }
  return true;
}

bool VmController::replace(const VmInputs& in, VmPlan& plan, const json& spec) {
  auto& record = plan.record;  // set with in.record (plan_vm)
  const bool give_up = plan.action == VmAction::give_up;
  // The record first: it is what the next leader reads, so the attempt is counted once.
  if ((give_up && !record->failed_to_place) || (!give_up && plan.attempt > record->attempt)) {
    mr::VmRecord& next = *record;  // from here on, `record` is what was written
    if (give_up)
      next.failed_to_place = true;
    else if (!new_attempt(in, spec, plan.attempt, next))
      return false;
    auto body = mr::vm_record(next, *in.pod);
    body["metadata"]["resourceVersion"] = meta_string(*in.record, "resourceVersion");
    body["metadata"]["uid"] = meta_string(*in.record, "uid");
    auto updated = rt_.client().update(kube::resources::secrets, marooned_ns, body);
    if (!updated) {
      if (kube::is_conflict(updated.error()) || kube::is_not_found(updated.error()))
        return true;  // its event re-queues
      return failed(in.id, "updating the VM record", updated.error());
    }
    wrote(mr::userdata_secret_name(in.id), std::move(*updated));
    log_info(give_up ? "giving up on the pod's VM" : "replacing the pod's VM",
             {{"podUID", in.id}, {"why", plan.why}, {"attempt", std::to_string(plan.attempt)}});
    std::lock_guard lock(mu_);
    ++(give_up ? failed_to_place_ : replaced_);
  }
  if (!delete_nodes(plan.delete_nodes)) return false;
  if (in.vmi) {
    kube::DeleteOptions once;
    once.precondition_uid = meta_string(*in.vmi, "uid");
    auto r = rt_.client().remove(kube::resources::virtualmachineinstances, marooned_ns, mr::vmi_name(in.id), once);
    if (!r && !kube::is_not_found(r.error()) && !kube::is_conflict(r.error()))
      return failed(in.id, "deleting the VM", r.error());
    wrote(mr::vmi_name(in.id), std::nullopt);
  }
  // Every token the record lists but the next VM's: the replaced VM's, and one an earlier
  // replacement left behind when its leader stopped after writing the record.
  return delete_tokens(in.id, record->token_ids, give_up ? "" : record->token.id);
}

bool VmController::delete_tokens(const std::string& id, const std::vector<std::string>& token_ids,
                                 const std::string& keep) {
  for (const auto& token : token_ids) {
    if (token == keep) continue;
    auto r = rt_.client().remove(kube::resources::secrets, "kube-system", mr::bootstrap_token_secret_name(token));
    if (!r && !kube::is_not_found(r.error())) return failed(id, "deleting a bootstrap token", r.error());
  }
  return true;
}

bool VmController::delete_nodes(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    auto r = rt_.client().remove(kube::resources::nodes, "", name);
    if (!r && !kube::is_not_found(r.error())) {
      log_error("deleting the dedicated node failed", {{"node", name}, {"error", r.error().message}});
      std::lock_guard lock(mu_);
      ++api_errors_;
      return false;
    }
    log_info("dedicated node deleted", {{"node", name}});
  }
  return true;
}

bool VmController::clean_up(const VmInputs& in, const VmPlan& plan) {
  // The VM and its node first, the record last: until it is gone it remembers what to delete.
  if (in.vmi) {
    auto r = rt_.client().remove(kube::resources::virtualmachineinstances, marooned_ns, mr::vmi_name(in.id));
    if (!r && !kube::is_not_found(r.error())) return failed(in.id, "deleting the VM", r.error());
    wrote(mr::vmi_name(in.id), std::nullopt);
  }
  if (!delete_nodes(plan.delete_nodes)) return false;
  if (in.record) {
    if (plan.record && !delete_tokens(in.id, plan.record->token_ids, "")) return false;
    // The pod's unspent credential (the gate-release controller deletes it too; whoever is first).
    const auto owner = annotation(*in.record, names::maroon_owner_pod_uid);
    const auto credential = secrets_->get(marooned_ns, mr::join_secret_name(in.id));
    if (credential && mr::credential_owner_uid(*credential) == owner) {
      kube::DeleteOptions once;
      once.precondition_uid = meta_string(*credential, "uid");
      auto r = rt_.client().remove(kube::resources::secrets, marooned_ns, mr::join_secret_name(in.id), once);
      if (!r && !kube::is_not_found(r.error()) && !kube::is_conflict(r.error()))
        return failed(in.id, "deleting the join credential", r.error());
    }
    kube::DeleteOptions once;
    once.precondition_uid = meta_string(*in.record, "uid");
    auto r = rt_.client().remove(kube::resources::secrets, marooned_ns, mr::userdata_secret_name(in.id), once);
    if (!r && !kube::is_not_found(r.error()) && !kube::is_conflict(r.error()))
      return failed(in.id, "deleting the VM record", r.error());
    wrote(mr::userdata_secret_name(in.id), std::nullopt);
  }
  log_info("marooned pod's VM cleaned up", {{"podUID", in.id}, {"why", plan.why}});
  if (in.pod) rt_.event(*in.pod, "VMDeleted", "deleted the pod's VM, its node and its join token: " + plan.why);
  std::lock_guard lock(mu_);
  ++cleaned_;
  return true;
}

bool VmController::set_condition(const json& pod, const VmCondition& c) {
  const json* old = pod_condition(pod);
  const std::string since =
      old && string_field(*old, "status") == c.status && !string_field(*old, "lastTransitionTime").empty()
          ? string_field(*old, "lastTransitionTime")
          : rfc3339_now();
  const json patch = {{"status",
                       {{"conditions",
                         {{{"type", std::string(names::maroon_vm_condition)},
                           {"status", c.status},
                           {"reason", c.reason},
                           {"message", c.message},
                           {"lastTransitionTime", since}}}}}}};
  auto r = rt_.client().patch(kube::resources::pods, meta_string(pod, "namespace"), meta_string(pod, "name"),
                              kube::PatchType::strategic, patch, {}, "status");
  if (!r) {
    if (kube::is_not_found(r.error())) return true;
    return failed(mr::pod_id(pod), "setting the pod's VirtualMachine condition", r.error());
  }
  rt_.event(pod, c.reason, c.message, c.warning ? "Warning" : "Normal");
  return true;
}

std::string VmController::render_metrics() const {
  std::lock_guard lock(mu_);
  return rt_.render_metrics(
      "nodeboot_vm_controller", api_errors_,
      {{"nodeboot_marooned_vms_created_total", "counter", "VirtualMachineInstances this replica created.", created_},
       {"nodeboot_marooned_vms_replaced_total", "counter",
        "VMs replaced because they failed or their node missed the join deadline.", replaced_},
       {"nodeboot_marooned_failed_to_place_total", "counter", "Pods given up on after maxVMAttempts VMs.",
        failed_to_place_},
       {"nodeboot_marooned_vms_cleaned_total", "counter", "Pods whose VM, node, tokens and record were deleted.",
        cleaned_}},
      {"nodeboot_marooned_pod_to_vmi_seconds", "From the gated pod first seen to its first VM created.", pod_to_vmi_});
}

void add_vm_flags(cli::Flags& options) {
  options.add_options("VM controller")(
      "enable-vm-controller",
      "Run the VM controller: create each gated marooned pod's KubeVirt VirtualMachineInstance, replace a failed "
      "one, delete it with the pod (leader-elected)")(
      "marooned-server-url", "The API server URL the VMs' nodes join (default: the one this process talks to)",
      cli::value<std::string>());
}

Result<std::optional<VmOptions>> vm_options_from_flags(const cli::Parsed& parsed) {
  if (!parsed.count("enable-vm-controller")) return std::nullopt;
  auto leader = leader_from_flags(parsed, names::vm_controller_lease);
  if (!leader) return std::unexpected(leader.error());
  VmOptions o{.leader = std::move(*leader), .server_url = cli::value(parsed, "marooned-server-url")};
  if (!o.server_url.empty() && !o.server_url.starts_with("https://"))
    return fail(ErrorKind::invalid_input, "--marooned-server-url must be an https:// URL");
  return o;
}

std::unique_ptr<VmController> start_vm(VmOptions options, const kube::RestConfig& config) {
  if (options.server_url.empty()) options.server_url = config.server;
  auto controller = std::make_unique<VmController>(config, std::move(options));
  controller->start();
  return controller;
}

}  // namespace nodeboot::webhook::controller
