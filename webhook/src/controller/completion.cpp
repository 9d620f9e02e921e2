#include "nodeboot/webhook/controller/completion.hpp"

#include <nlohmann/json.hpp>

#include "nodeboot/cli/flags.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/plugin/ipb/node_ops.hpp"
#include "nodeboot/plugin/ipb/node_state.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/webhook/controller/controller.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook::controller {
namespace {

namespace ipb = plugin::ipb;
using nlohmann::json;

constexpr std::string_view completion_component = "nodeboot-completion-controller";

// What a node under bootstrap may say before it is back; Done and Failed need nobody.
bool in_flight(std::string_view state) {
  return state.empty() || state == "Pending" || state == "Validating" || state == "Downloading" ||
         state == "Applying" || state == "Rebooting" || state == "Joining";
}

// All the controller reads of a Node: 5,000 full Nodes would not fit the webhook's memory limit.
json trim_node(json node) {
  json meta = node["metadata"];
  json out = {
      {"metadata",
       {{"name", meta.value("name", "")},
        {"uid", meta.value("uid", "")},
        {"resourceVersion", meta.value("resourceVersion", "")},
        {"labels", meta.value("labels", json::object())},
        {"annotations", json::object()}}},
      {"spec", {{"unschedulable", node.value("/spec/unschedulable"_json_pointer, false)}}},
      {"status", {{"nodeInfo", {{"bootID", node.value("/status/nodeInfo/bootID"_json_pointer, std::string())}}}}}};
  const json annotations = meta.value("annotations", json::object());
  for (const auto& [k, v] : annotations.items())
    if (k.starts_with("nodeboot.io/")) out["metadata"]["annotations"][k] = v;
  json conditions = json::array();
  const json all_conditions = node.value("/status/conditions"_json_pointer, json::array());
  for (const auto& c : all_conditions)
    if (c.value("type", "") == "Ready") conditions.push_back({{"type", "Ready"}, {"status", c.value("status", "")}});
  out["status"]["conditions"] = std::move(conditions);
  return out;
}

std::string node_of_record(const json& record) {
  return record.value("/metadata/labels"_json_pointer, json::object()).value(std::string(names::node_label), "");
}

}  // namespace

CompletionPlan plan_completion(const json& record, const json& node, std::string_view schedule_label,
                               std::chrono::milliseconds progress_deadline, std::chrono::system_clock::time_point now) {
  const auto prior = ipb::prior_state_of_configmap(record);
  if (!prior) return {CompletionAction::none, "the prior-state record cannot be read", {}};
  const auto p = ipb::read_progress(node, schedule_label);
  // Done with the record still there: a finish that was cut short; running it again is safe.
  if (p.state == "Done") return {CompletionAction::finish, "a finish was interrupted; completing it", {}};
  if (!in_flight(p.state)) return {};  // Failed: the operator retries or aborts
  const std::string uid = node.value("/metadata/uid"_json_pointer, std::string());
  const bool re_registered = !prior->uid.empty() && !uid.empty() && uid != prior->uid;
  if (ipb::rebooted(p, *prior)) {
    if (p.state == "Rebooting" || p.state == "Joining")
      return {CompletionAction::finish, "Ready again on a new boot (bootID " + p.boot_id + ")", {}};
    if (re_registered && p.state.empty())
      return {CompletionAction::finish, "re-registered and Ready on a new boot (bootID " + p.boot_id + ")", {}};
  }
  // No state on the same Node: start was cut short before its label, or abort is under way
  // (it removes the annotations before the record). Neither is a stuck bootstrap.
  if (p.state.empty() && !re_registered) return {};
  // In flight: progress is what the agent last wrote, or the record's time before it wrote anything.
  const std::string& last = p.updated.empty() ? prior->recorded : p.updated;
  const auto since = parse_rfc3339(last);
  if (!since) return {};  // no time to measure from: nothing to decide on
  const auto deadline = *since + progress_deadline;
  if (now >= deadline)
    return {CompletionAction::fail_stuck,
            "no progress reported for " + format_duration(progress_deadline) +
                " (last: " + (p.state.empty() ? std::string("none") : p.state) + " at " + last +
                "); see `kubectl nodeboot status " + p.name + "`, then `kubectl nodeboot retry` or `abort`",
            {}};
  return {CompletionAction::recheck_later, "", deadline};
}

CompletionController::CompletionController(const kube::RestConfig& config, CompletionOptions options)
    : options_(std::move(options)),
      rt_(
          config, options_.leader, std::string(completion_component), [this] { enqueue_all(); },
          [this](const std::string& node) { return reconcile(node); }) {
  records_ = &rt_.inform(kube::resources::configmaps, std::string(names::system_namespace),
                         kube::ListOptions{.label_selector = std::string(names::node_label)},
                         {.on_add = [this](const json& r) { enqueue(node_of_record(r)); },
                          .on_update = [this](const json&, const json& r) { enqueue(node_of_record(r)); },
                          .on_delete =
                              [this](const json& r) {
                                std::lock_guard lock(mu_);
                                back_since_.erase(node_of_record(r));
                                finished_records_.erase(r.value("/metadata/uid"_json_pointer, std::string()));
                              },
                          .on_error =
                              [](const Error& e) {
                                log_error("watching prior-state records", {{"error", e.message}});
                              }});
  // Only nodes with a record matter; enqueue drops the rest at once (a cache lookup).
  nodes_ = &rt_.inform(kube::resources::nodes, "", kube::ListOptions{},
                       {.on_add = [this](const json& n) { enqueue(n["metadata"].value("name", "")); },
                        .on_update = [this](const json&, const json& n) { enqueue(n["metadata"].value("name", "")); },
                        .on_error =
                            [](const Error& e) {
                              log_error("watching nodes", {{"error", e.message}});
                            },
                        .transform = trim_node});
}

CompletionController::~CompletionController() { stop(); }

void CompletionController::start() { rt_.start(); }

void CompletionController::stop() { rt_.stop(); }

bool CompletionController::synced() const { return rt_.synced(); }

void CompletionController::enqueue(const std::string& node) {
  if (node.empty() || !rt_.leading()) return;
  if (!records_->get(names::system_namespace, ipb::record_name(node))) return;
  rt_.add(node);
}

void CompletionController::enqueue_all() {
  for (const auto& r : records_->list()) rt_.add(node_of_record(r));
}

bool CompletionController::reconcile(const std::string& name) {
  const auto record = records_->get(names::system_namespace, ipb::record_name(name));
  if (!record) return true;
  const auto node = nodes_->get("", name);
  if (!node) return true;  // deleted: its re-registration is a node event
  {
    // Our own finish, its record's deletion not in the cache yet: nothing to do.
    std::lock_guard lock(mu_);
    if (finished_records_.contains(record->value("/metadata/uid"_json_pointer, std::string()))) return true;
  }
  const auto now = std::chrono::system_clock::now();
  const auto plan = plan_completion(*record, *node, options_.schedule_label, options_.progress_deadline, now);
  switch (plan.action) {
    case CompletionAction::none:
      return true;
    case CompletionAction::recheck_later:
      rt_.add_at(name, Clock::now() + std::chrono::duration_cast<Clock::duration>(plan.recheck_at - now));
      return true;
    case CompletionAction::fail_stuck:
      return fail_stuck(*node, plan.why);
    case CompletionAction::finish: {
      {
        std::lock_guard lock(mu_);
        back_since_.try_emplace(name, Clock::now());
      }
      return finish(name, *node, *record, plan.why);
    }
  }
  return true;
}

bool CompletionController::finish(const std::string& name, const json& cached, const json& record,
                                  const std::string& why) {
  // The cached record says whether start asked to keep the Secret (finish_node reads the
  // record afresh for what it restores; a record gone meanwhile makes it a no-op).
  const auto prior = ipb::prior_state_of_configmap(record);
  if (!prior) return true;
  ipb::Context ctx{rt_.client(), options_.schedule_label};
  auto changes = ipb::finish_node(ctx, name, prior->keep_secret);
  if (!changes && changes.error().kind == ErrorKind::not_found) return true;  // finished by hand meanwhile
  if (!changes) {
    log_error("completing the node failed", {{"node", name}, {"error", changes.error().message}});
    std::lock_guard lock(mu_);
    ++api_errors_;
    return false;
  }
  {
    std::lock_guard lock(mu_);
    ++finished_;
    finished_records_.insert(record.value("/metadata/uid"_json_pointer, std::string()));
    if (auto it = back_since_.find(name); it != back_since_.end()) {
      back_to_restored_.observe(std::chrono::duration<double>(Clock::now() - it->second).count());
      back_since_.erase(it);
    }
  }
  log_info("in-place bootstrap completed", {{"node", name}, {"why", why}});
  rt_.event(
      cached, "BootstrapCompleted",
      why + "; labels, taints and cordon restored as recorded" +
          (prior->keep_secret ? std::string("; the bootstrap Secret is kept") : "; the bootstrap Secret deleted"));
  return true;
}

bool CompletionController::fail_stuck(const json& cached, const std::string& why) {
  const std::string name = cached["metadata"].value("name", "");
  // A merge patch carrying the resourceVersion judged is conditional on it: progress written
  // meanwhile wins over this verdict (409, and the node's event queues it again).
  json patch = {{"metadata",
                 {{"resourceVersion", cached["metadata"].value("resourceVersion", "")},
                  {"annotations",
                   {{std::string(names::ann_state), "Failed"},
                    {std::string(names::ann_reason), "NoProgress"},
                    {std::string(names::ann_message), why},
                    {std::string(names::ann_updated), rfc3339_now()}}}}}};
  // The schedule label goes with the verdict (as after an agent's own failure): a late pod
  // must not start the bootstrap behind the operator's back.
  if (cached.value("/metadata/labels"_json_pointer, json::object()).contains(options_.schedule_label))
    patch["metadata"]["labels"] = {{options_.schedule_label, nullptr}};
  auto r = rt_.client().patch(kube::resources::nodes, "", name, kube::PatchType::merge, patch);
  if (!r) {
    const auto& e = r.error();
    if (kube::is_invalid(e) || kube::is_conflict(e) || kube::is_not_found(e))
      return true;  // changed: its event re-queues
    log_error("marking a stuck node Failed failed", {{"node", name}, {"error", e.message}});
    std::lock_guard lock(mu_);
    ++api_errors_;
    return false;
  }
  {
    std::lock_guard lock(mu_);
    ++stuck_;
  }
  log_error("in-place bootstrap stuck", {{"node", name}, {"why", why}});
  rt_.event(cached, "BootstrapStuck", why, "Warning");
  return true;
}

std::string CompletionController::render_metrics() const {
  std::lock_guard lock(mu_);
  return rt_.render_metrics(
      "nodeboot_completion_controller", api_errors_,
      {{"nodeboot_ipb_completed_total", "counter", "Nodes this replica put back after their in-place bootstrap.",
        finished_},
       {"nodeboot_ipb_stuck_total", "counter", "Nodes this replica marked Failed for reporting no progress.", stuck_}},
      {"nodeboot_ipb_back_to_restored_seconds", "From the node event that showed it back to the node restored.",
       back_to_restored_});
}

void add_completion_flags(cli::Flags& options) {
  options.add_options("In-place bootstrap completion controller")(
      "enable-completion-controller",
      "Run the completion controller: put a node back (labels, taints, cordon, "
      "Done, Secret) once it is Ready on a new boot (leader-elected)")(
      "ipb-progress-deadline", "Mark a node Failed (NoProgress) when its agent reported nothing for this long",
      cli::value<std::string>().default_value("2h"));
}

Result<std::optional<CompletionOptions>> completion_options_from_flags(const cli::Parsed& parsed) {
  if (!parsed.count("enable-completion-controller")) return std::nullopt;
  auto leader = leader_from_flags(parsed, names::completion_controller_lease);
  if (!leader) return std::unexpected(leader.error());
  auto deadline = parse_duration(parsed["ipb-progress-deadline"].as<std::string>(), "--ipb-progress-deadline");
  if (!deadline) return std::unexpected(deadline.error());
  if (deadline->count() <= 0)
    return fail(ErrorKind::invalid_input, "--ipb-progress-deadline must be positive, e.g. 2h");
  return CompletionOptions{.leader = std::move(*leader),
                           .schedule_label = parsed["schedule-label"].as<std::string>(),
                           .progress_deadline = *deadline};
}

std::unique_ptr<CompletionController> start_completion(CompletionOptions options, const kube::RestConfig& config) {
  auto controller = std::make_unique<CompletionController>(config, std::move(options));
  controller->start();
  return controller;
}

}  // namespace nodeboot::webhook::controller
