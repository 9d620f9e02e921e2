#include "nodeboot/plugin/verify/collect.hpp"

#include <future>
#include <mutex>

#include <nlohmann/json.hpp>

#include "json_path.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/names.hpp"

namespace nodeboot::plugin::verify {
namespace {

using nlohmann::json;

// kubectl's chunk size: the same load on the API server as the peer verify is measured against.
// Lists leave resourceVersion unset (a consistent read, served from the watch cache on 1.31+):
// with resourceVersion=0 the watch cache ignores `limit` and answers with the whole list in
// one body, which would make memory grow with the fleet instead of one page.
constexpr size_t page_size = 500;

const json* condition(const json& obj, std::string_view type) {
  const json& conds = at_path(obj, {"status", "conditions"});
  if (!conds.is_array()) return nullptr;
  for (const auto& c : conds)
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

// The termination message of a terminated (or previously terminated) container state.
std::string termination_message(const json& status) {
  for (const char* which : {"state", "lastState"}) {
    const json& msg = at_path(status, {which, "terminated", "message"});
    if (msg.is_string() && !msg.get<std::string>().empty()) return msg.get<std::string>();
  }
  return {};
}

std::string waiting_of(const json& status, const std::string& container) {
  const json& waiting = at_path(status, {"state", "waiting", "reason"});
  if (waiting.is_string()) return container + " " + waiting.get<std::string>();
  if (at_path(status, {"state", "running"}).is_object()) return container + " running";
  return {};
}

}  // namespace

NodeFacts node_facts(const json& node) {
  NodeFacts f;
  f.name = str(node, {"metadata", "name"});
  if (const json* ready = condition(node, "Ready")) {
    f.ready = ready->value("status", "") == "True";
    if (!f.ready) {
      f.ready_detail = ready->value("reason", "");
      const std::string message = ready->value("message", "");
      if (!message.empty()) f.ready_detail += (f.ready_detail.empty() ? "" : ": ") + message;
    }
  } else {
    f.ready_detail = "no Ready condition";
  }
  f.os_image = str(node, {"status", "nodeInfo", "osImage"});
  f.kernel = str(node, {"status", "nodeInfo", "kernelVersion"});
  f.arch = str(node, {"status", "nodeInfo", "architecture"});
  const json& alloc = at_path(node, {"status", "allocatable"});
  if (alloc.is_object()) {
    auto it = alloc.find(std::string(names::intel_i915_resource));
    if (it != alloc.end() && it->is_string()) {
      // Extended resources are whole numbers; anything else counts as none.
      try {
        f.i915_allocatable = std::stoll(it->get<std::string>());
      } catch (const std::exception&) {
        f.i915_allocatable = 0;
      }
    }
  }
  const json& labels = at_path(node, {"metadata", "labels"});
  if (labels.is_object()) {
    auto it = labels.find(std::string(names::nfd_intel_gpu_label));
    if (it != labels.end() && it->is_string()) f.nfd_gpu = it->get<std::string>();
  }
  return f;
}

std::optional<Check> pod_kind(const json& pod) {
  const json& labels = at_path(pod, {"metadata", "labels"});
  if (!labels.is_object()) return std::nullopt;
  auto it = labels.find(std::string(names::bootstrap_app_label));
  if (it == labels.end() || !it->is_string()) return std::nullopt;
  if (*it == names::iscsi_daemonset) return Check::iscsi;
  if (*it == names::gpu_daemonset) return Check::quicksync;
  return std::nullopt;
}

PodFacts pod_facts(const json& pod) {
  PodFacts f;
  f.name = str(pod, {"metadata", "name"});
  f.node = str(pod, {"spec", "nodeName"});
  f.deleting = at_path(pod, {"metadata", "deletionTimestamp"}).is_string();
  if (const json* ready = condition(pod, "Ready")) f.ready = ready->value("status", "") == "True";
  const json& inits = at_path(pod, {"status", "initContainerStatuses"});
  if (inits.is_array())
    for (const auto& s : inits)
      if (s.is_object() && s.value("name", "") == names::bootstrap_result_container) {
        f.has_bootstrap = true;
        f.result = termination_message(s);
        f.waiting = waiting_of(s, s.value("name", ""));
      }
  if (f.waiting.empty() && !f.ready) {
    const json& containers = at_path(pod, {"status", "containerStatuses"});
    if (containers.is_array())
      for (const auto& s : containers)
        if (s.is_object()) f.waiting = waiting_of(s, s.value("name", ""));
  }
  return f;
}

kube::ListOptions nodes_list(const Selection& selection) {
  return {.label_selector = selection.label_selector, .limit = page_size};
}

kube::ListOptions pods_list(const std::string& node_name) {
  return {.label_selector = std::string(names::bootstrap_app_label) + " in (" + std::string(names::iscsi_daemonset) +
                            "," + std::string(names::gpu_daemonset) + ")",
          .field_selector = node_name.empty() ? "" : "spec.nodeName=" + node_name,
          .limit = page_size};
}

Result<Inventory> collect(const kube::RestConfig& config, const Selection& selection, const Progress& progress) {
  Inventory inv;
  std::atomic<size_t> nodes_seen{0}, pods_seen{0};
  std::mutex progress_mutex;
  auto report = [&] {
    if (!progress) return;
    std::lock_guard lock(progress_mutex);
    progress(nodes_seen.load(), pods_seen.load());
  };
  // One Client for both threads: each call borrows its own pooled connection.
  kube::Client client(config);
  const std::string ns(names::bootstrap_namespace);

  // Pods on their own thread and connection while this one reads the nodes.
  auto pods = std::async(std::launch::async, [&]() -> Result<void> {
    auto on_page = [&](json& page) -> Result<void> {
      const json& items = at_path(page, {"items"});
      if (!items.is_array()) return {};
      for (const auto& item : items) {
        ++pods_seen;
        auto kind = pod_kind(item);
        if (!kind) continue;
        PodFacts f = pod_facts(item);
        if (f.node.empty()) continue;  // not scheduled yet: speaks for no node
        auto& by_node = *kind == Check::iscsi ? inv.iscsi : inv.gpu;
        auto [it, inserted] = by_node.try_emplace(f.node, f);
        if (!inserted && prefer(f, it->second)) it->second = std::move(f);
      }
      report();
      return {};
    };
    // Named nodes: their pods only (an indexed field selector), not the whole fleet's.
    std::vector<std::string> targets = selection.names.empty() ? std::vector<std::string>{""} : selection.names;
    for (const auto& node : targets) {
      auto r = client.list_pages(kube::resources::pods, ns, pods_list(node), on_page);
      if (!r) return std::unexpected(Error{r.error().kind, "listing the bootstrap pods: " + r.error().message});
    }
    return {};
  });

  Result<void> nodes_ok{};
  if (selection.names.empty()) {
    auto r = client.list_pages(kube::resources::nodes, "", nodes_list(selection), [&](json& page) -> Result<void> {
      const json& items = at_path(page, {"items"});
      if (items.is_array())
        for (const auto& item : items) {
          ++nodes_seen;
          inv.nodes.push_back(node_facts(item));
        }
      report();
      return {};
    });
    if (!r) nodes_ok = std::unexpected(Error{r.error().kind, "listing nodes: " + r.error().message});
  } else {
    for (const auto& name : selection.names) {
      // resourceVersion=0: from the API server's watch cache, no etcd read; a node's status
      // is only as fresh as its last heartbeat anyway.
      auto node = client.get(kube::resources::nodes, "", name, {.resource_version = "0"});
      if (!node && node.error().kind == ErrorKind::not_found) {
        inv.missing.push_back(name);
        continue;
      }
      if (!node) {
        nodes_ok = std::unexpected(Error{node.error().kind, "reading node " + name + ": " + node.error().message});
        break;
      }
      ++nodes_seen;
      inv.nodes.push_back(node_facts(*node));
      report();
    }
  }
  auto pods_ok = pods.get();
  if (!nodes_ok) return std::unexpected(nodes_ok.error());
  if (!pods_ok) return std::unexpected(pods_ok.error());
  return inv;
}

}  // namespace nodeboot::plugin::verify
