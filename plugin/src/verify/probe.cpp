#include "nodeboot/plugin/verify/probe.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "json_path.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/kube/watch_event.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/plugin/verify/scripts.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/random.hpp"

namespace nodeboot::plugin::verify {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view name_prefix = "nodeboot-verify-";
// A pod name is a DNS subdomain: at most 253 characters.
constexpr size_t max_pod_name = 253;
// How often the wait looks at Ctrl-C and the deadlines: a prompt stop, negligible work.
constexpr auto tick = std::chrono::milliseconds(200);
// Probe text kept in a reason: a script's last words, not its whole log.
constexpr size_t max_problem = 300;

struct Container {
  Check check;
  std::string_view script_file;
  std::string_view script;
  // The seeds' budgets for the same scripts (installer; gpu-bootstrap, as vainfo loads the
  // media driver): a probe does less than an install, so these are ample.
  const char *cpu_request, *cpu_limit, *memory_request, *memory_limit;
};

constexpr std::array<Container, 2> containers{{
    {Check::iscsi, "iscsi-bootstrap.sh", scripts::iscsi, "10m", "50m", "32Mi", "64Mi"},
    {Check::quicksync, "gpu-bootstrap.sh", scripts::gpu, "10m", "100m", "64Mi", "256Mi"},
}};

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

std::string hex8(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string last_words(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (auto nl = text.rfind('\n'); nl != std::string::npos) text = text.substr(nl + 1);
  if (text.size() > max_problem) text = "..." + text.substr(text.size() - max_problem);
  return text;
}

bool is_result_line(const std::string& text) {
  auto doc = json::parse(text, nullptr, false);
  return doc.is_object() && doc.contains("status");
}

// Waiting reasons the kubelet will not get past by itself within a probe's life.
bool hopeless(std::string_view reason) {
  return reason == "InvalidImageName" || reason == "ErrImageNeverPull" || reason == "CreateContainerConfigError" ||
         reason == "CreateContainerError";
}

}  // namespace

ProbeRun ProbeRun::create() { return {random_hex(4)}; }

std::string ProbeRun::selector() const { return std::string(names::verify_run_label) + "=" + id; }

std::string ProbeRun::configmap_name() const { return std::string(name_prefix) + id; }

std::string ProbeRun::pod_name(std::string_view node) const {
  std::string name = std::string(name_prefix) + id + "-" + std::string(node);
  if (name.size() <= max_pod_name) return name;
  // Too long (node names may have 253 characters): cut, then a hash of the whole node name
  // keeps two long names that share a prefix apart.
  std::string cut = name.substr(0, max_pod_name - 9);
  while (!cut.empty() && (cut.back() == '-' || cut.back() == '.')) cut.pop_back();
  return cut + "-" + hex8(fnv1a(node));
}

namespace {
json probe_labels(const ProbeRun& run) {
  return {{std::string(names::verify_probe_name_label), std::string(names::verify_probe_name)},
          {"app.kubernetes.io/managed-by", "kubectl-nodeboot"},
          {std::string(names::verify_run_label), run.id}};
}
}  // namespace

json probe_configmap(const ProbeRun& run, const ProbeOptions& options) {
  json data = json::object();
  for (const auto& c : containers)
    if (options.checks.has(c.check)) data[std::string(c.script_file)] = std::string(c.script);
  return {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", {{"name", run.configmap_name()}, {"namespace", options.namespace_}, {"labels", probe_labels(run)}}},
      {"data", data}};
}

json probe_pod(const ProbeRun& run, const ProbeOptions& options, std::string_view node) {
  json specs = json::array();
  for (const auto& c : containers) {
    if (!options.checks.has(c.check)) continue;
    specs.push_back({{"name", std::string(check_name(c.check))},
                     {"image", options.image},
                     {"imagePullPolicy", "IfNotPresent"},
                     {"command", {"/bin/bash", "/scripts/" + std::string(c.script_file), "probe"}},
                     // The script enters PID 1's namespaces, so systemctl, /proc/modules and vainfo see the host.
                     {"env", {{{"name", "NODEBOOT_IN_POD"}, {"value", "1"}}}},
                     {"securityContext", {{"privileged", true}}},
                     {"resources",
                      {{"requests", {{"cpu", c.cpu_request}, {"memory", c.memory_request}}},
                       {"limits", {{"cpu", c.cpu_limit}, {"memory", c.memory_limit}}}}},
                     {"terminationMessagePolicy", "FallbackToLogsOnError"},
                     {"volumeMounts", {{{"name", "scripts"}, {"mountPath", "/scripts"}, {"readOnly", true}}}}});
  }
  // The kubelet's own backstop should this process die before cleaning up: the pod cannot
  // outlive the wait for it (counted from its start on the node, so never sooner).
  const auto deadline = std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(options.timeout + std::chrono::milliseconds(999)).count());
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", run.pod_name(node)}, {"namespace", options.namespace_}, {"labels", probe_labels(run)}}},
      {"spec",
       {{"nodeName", std::string(node)},
        {"restartPolicy", "Never"},
        {"activeDeadlineSeconds", deadline},
        // Read-only scripts: nothing to wind down, and a stuck node should not hold the pod.
        {"terminationGracePeriodSeconds", 1},
        {"hostPID", true},
        // Like the DaemonSets: a node whose CNI is broken still gets its probe.
        {"hostNetwork", true},
        {"automountServiceAccountToken", false},
        {"enableServiceLinks", false},
        {"tolerations", {{{"operator", "Exists"}}}},
        {"containers", specs},
        {"volumes", {{{"name", "scripts"}, {"configMap", {{"name", run.configmap_name()}}}}}}}}};
}

ProbeState probe_state(const json& pod) {
  ProbeState st;
  st.facts.pod = str(pod, {"metadata", "name"});
  const std::string phase = str(pod, {"status", "phase"});
  st.detail = "pod " + (phase.empty() ? "Pending" : phase);
  std::string waiting;  // the first container that waits, and why
  bool hopeless_wait = false;
  bool any_status = false;
  const json& statuses = at_path(pod, {"status", "containerStatuses"});
  if (statuses.is_array())
    for (const auto& s : statuses) {
      any_status = true;
      const std::string name = s.value("name", "");
      for (const auto& c : containers) {
        if (name != check_name(c.check)) continue;
        const auto i = static_cast<size_t>(c.check);
        if (const json& t = at_path(s, {"state", "terminated"}); t.is_object()) {
          const std::string message = t.value("message", "");
          if (is_result_line(message)) {
            st.facts.result[i] = message;
          } else {
            st.facts.problem[i] = "exited " + std::to_string(t.value("exitCode", -1)) +
                                  (t.contains("reason") ? " (" + t.value("reason", "") + ")" : "") +
                                  (message.empty() ? " without a result" : ": " + last_words(message));
          }
        } else if (const json& w = at_path(s, {"state", "waiting"}); w.is_object() && waiting.empty()) {
          const std::string reason = w.value("reason", "");
          waiting = "container ";
          waiting += name;
          waiting += ' ';
          waiting += reason;
          if (auto m = w.value("message", ""); !m.empty()) waiting += ": " + last_words(m);
          hopeless_wait = hopeless(reason);
        }
      }
    }
  if (!waiting.empty()) {
    st.detail += ": " + waiting;
  } else if (phase.empty() || (phase == "Pending" && !any_status)) {
    st.detail += ": not started on the node yet (is its kubelet up?)";
  }
  if (phase == "Succeeded" || phase == "Failed") {
    st.done = true;
    bool any_container = false;
    for (const auto& c : containers) {
      const auto i = static_cast<size_t>(c.check);
      any_container = any_container || !st.facts.result[i].empty() || !st.facts.problem[i].empty();
    }
    // Rejected by the kubelet (OutOfcpu, NodeAffinity, ...) or stopped by its deadline before
    // any container ended: the pod's own reason is all there is.
    if (!any_container) {
      const std::string reason = str(pod, {"status", "reason"}), message = str(pod, {"status", "message"});
      st.facts.failure = "probe pod " + st.facts.pod + " " + phase + (reason.empty() ? "" : ": " + reason) +
                         (message.empty() ? "" : ": " + last_words(message));
    }
  } else if (hopeless_wait) {
    st.done = true;
    st.facts.failure = "probe pod " + st.facts.pod + " " + st.detail.substr(4);
  }
  return st;
}

namespace {

// The wait's shared state: one slot per node, guarded by one mutex.
struct Slot {
  Clock::time_point deadline{};
  bool created = false, done = false;
  std::string detail = "pod not created";
  ProbeFacts facts;
};

bool fatal_for_the_run(const Error& e) {
  // Every other pod would hit the same wall: no permission (RBAC, Pod Security Admission),
  // no namespace, no API server.
  return kube::is_forbidden(e) || kube::is_unauthorized(e) || kube::is_not_found(e) || e.kind == ErrorKind::transport;
}

// deletecollection, counting what it deleted. The answer lists every deleted object in
// full (thousands of pods at scale): only the items' count is kept, not their fields.
Result<size_t> delete_run(kube::Client& client, const kube::ResourceRef& ref, const std::string& ns,
                          const ProbeRun& run) {
  // Grace period 0: the probe changes nothing on the node, and a pod on an unreachable node
  // (the very ones that time out) would otherwise stay Terminating until its kubelet
  // returns; the kubelet still stops the containers when it sees the pod gone.
  auto resp = client.send(
      kube::delete_collection_request(ref, ns, {.label_selector = run.selector()}, {.grace_period_seconds = 0}));
  if (!resp) return std::unexpected(resp.error());
  if (resp->status < 200 || resp->status >= 300)
    return std::unexpected(kube::api_error(resp->status, resp->body, resp->retry_after));
  auto list = json::parse(
      resp->body,
      [](int depth, json::parse_event_t ev, json&) { return !(ev == json::parse_event_t::key && depth > 2); }, false);
  const json& items = at_path(list, {"items"});
  return items.is_array() ? items.size() : 0;
}

}  // namespace

ProbeOutcome run_probes(kube::Client& client, const ProbeRun& run, const ProbeOptions& options,
                        const std::vector<std::string>& asked, std::stop_token stop, const ProbeProgress& progress) {
  ProbeOutcome out;
  std::mutex m;
  std::condition_variable cv;
  std::unordered_map<std::string, Slot> slots;
  slots.reserve(asked.size());
  std::vector<std::string> nodes;  // each once, however often it was named
  for (const auto& n : asked)
    if (slots.try_emplace(n).second) {
      slots[n].facts.pod = run.pod_name(n);
      nodes.push_back(n);
    }
  size_t remaining = slots.size();
  std::optional<Error> run_error;
  const std::string ns = options.namespace_;

  auto finish = [&](Slot& slot, ProbeFacts facts) {  // under m
    if (slot.done) return;
    slot.done = true;
    slot.facts = std::move(facts);
    --remaining;
  };

  auto cm = client.create(kube::resources::configmaps, ns, probe_configmap(run, options));
  if (!cm)
    run_error = Error{cm.error().kind, "creating the probe scripts' ConfigMap in namespace " + ns + ": " +
                                           kube::kubectl_message(cm.error())};

  // One watch over the run's pods (a label selector), started before the first pod: a pod
  // that ends before the watch connects still arrives, as an ADDED event with its end state.
  std::stop_source watch_stop;
  std::jthread watcher;
  if (!run_error)
    watcher = std::jthread([&] {
      kube::WatchOptions wo{.label_selector = run.selector()};
      auto r = client.watch(kube::resources::pods, ns, wo,
                            [&](const kube::WatchEvent& ev) {
                              if (ev.type == kube::WatchEventType::bookmark) return true;
                              if (ev.type == kube::WatchEventType::error) return true;  // Client::watch acts on it
                              const std::string node = str(ev.object, {"spec", "nodeName"});
                              ProbeState st = probe_state(ev.object);
                              std::lock_guard lock(m);
                              auto it = slots.find(node);
                              if (it == slots.end() || it->second.done) return true;
                              Slot& slot = it->second;
                              slot.detail = st.detail;
                              if (ev.type == kube::WatchEventType::deleted && !st.done) {
                                st.facts.failure =
                                    "probe pod " + st.facts.pod + " was deleted before it finished (" + st.detail + ")";
                                st.done = true;
                              }
                              if (st.done) {
                                finish(slot, std::move(st.facts));
                                cv.notify_all();
                              }
                              return true;
                            },
                            {.stop = watch_stop.get_token(), .give_up_after = options.timeout});
      if (!r) {
        std::lock_guard lock(m);
        if (!run_error)
          run_error = Error{r.error().kind, "watching the probe pods: " + kube::kubectl_message(r.error())};
        cv.notify_all();
      }
    });

  // Creators: a bounded number of requests in flight, each node's deadline from its pod's creation.
  std::atomic<size_t> next{0};
  std::atomic<bool> abort_creating{false};
  std::vector<std::jthread> creators;
  if (!run_error)
    for (size_t w = 0; w < std::min(options.parallel, nodes.size()); ++w)
      creators.emplace_back([&] {
        for (size_t i; (i = next++) < nodes.size();) {
          if (abort_creating || stop.stop_requested()) return;
          const std::string& node = nodes[i];
          auto created = client.create(kube::resources::pods, ns, probe_pod(run, options, node));
          std::lock_guard lock(m);
          Slot& slot = slots[node];
          if (created) {
            slot.created = true;
            slot.deadline = Clock::now() + options.timeout;
            if (slot.detail == "pod not created")
              slot.detail = "pod Pending: not started on the node yet (is its kubelet up?)";
            continue;
          }
          if (fatal_for_the_run(created.error())) {
            if (!run_error)
              run_error = Error{created.error().kind, "creating probe pod " + slot.facts.pod + " in namespace " + ns +
                                                          ": " + kube::kubectl_message(created.error())};
            abort_creating = true;
            cv.notify_all();
            return;
          }
          ProbeFacts f{.pod = slot.facts.pod,
                       .failure = "creating the probe pod: " + kube::kubectl_message(created.error())};
          finish(slot, std::move(f));
          cv.notify_all();
        }
      });

  // The wait: until every node has its answer, a deadline passes, the run fails, or Ctrl-C.
  {
    std::unique_lock lock(m);
    while (remaining > 0 && !run_error) {
      if (stop.stop_requested()) {
        out.interrupted = true;
        break;
      }
      const auto now = Clock::now();
      for (auto& [node, slot] : slots)
        if (slot.created && !slot.done && now >= slot.deadline)
          finish(slot,
                 {.pod = slot.facts.pod,
                  .failure = "probe timed out after " + format_duration(options.timeout) + " (" + slot.detail + ")"});
      if (progress) progress(slots.size() - remaining, slots.size());
      if (remaining == 0) break;
      cv.wait_for(lock, tick);
    }
  }

  // No create may land after the cleanup: stop and join the creators first.
  abort_creating = true;
  creators.clear();
  watch_stop.request_stop();
  if (watcher.joinable()) watcher.join();

  // Cleanup, whatever happened.
  auto deleted = delete_run(client, kube::resources::pods, ns, run);
  if (deleted)
    out.pods_deleted = *deleted;
  else
    out.cleanup_error = Error{deleted.error().kind, "deleting the probe pods (-l " + run.selector() + " in namespace " +
                                                        ns + "): " + kube::kubectl_message(deleted.error())};
  auto cms = delete_run(client, kube::resources::configmaps, ns, run);
  if (!cms && !out.cleanup_error)
    out.cleanup_error = Error{cms.error().kind, "deleting the probe ConfigMap (-l " + run.selector() +
                                                    " in namespace " + ns + "): " + kube::kubectl_message(cms.error())};

  const std::string unfinished = out.interrupted ? "interrupted before the probe finished"
                                 : run_error     ? "not probed: the run stopped (" + run_error->message + ")"
                                                 : "not probed";
  for (auto& [node, slot] : slots) {
    if (!slot.done) slot.facts.failure = unfinished + (slot.created ? " (" + slot.detail + ")" : "");
    out.by_node[node] = std::move(slot.facts);
  }
  out.error = std::move(run_error);
  return out;
}

}  // namespace nodeboot::plugin::verify
