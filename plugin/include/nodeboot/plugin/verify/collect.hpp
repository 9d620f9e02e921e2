#pragma once

// Reading what verify judges from the API server: Nodes and the two bootstrap DaemonSets'
// pods, in pages (memory bounded by one page plus the compact facts), the two lists in
// parallel on their own connections.

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/kube/request.hpp"
#include "nodeboot/plugin/verify/checks.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::verify {

// Which nodes: names (in the order given) or a label selector (empty = all nodes).
struct Selection {
  std::vector<std::string> names;
  std::string label_selector;
};

// Facts from one API object (pure; unit-tested).
NodeFacts node_facts(const nlohmann::json& node);
// The pod's DaemonSet (iscsi or gpu, from its app label) or nullopt for any other pod.
std::optional<Check> pod_kind(const nlohmann::json& pod);
PodFacts pod_facts(const nlohmann::json& pod);

// The two lists (pure; unit-tested): nodes by selector; the bootstrap pods, all or one node's.
kube::ListOptions nodes_list(const Selection& selection);
kube::ListOptions pods_list(const std::string& node_name);

struct Inventory {
  std::vector<NodeFacts> nodes;      // in API order (by name), or the order names were given
  std::vector<std::string> missing;  // named nodes that do not exist
  // node name -> that node's pod of each DaemonSet
  std::unordered_map<std::string, PodFacts> iscsi, gpu;
};

// Called from the fetching threads after each page: objects read so far.
using Progress = std::function<void(size_t nodes, size_t pods)>;

Result<Inventory> collect(const kube::RestConfig& config, const Selection& selection, const Progress& progress);

}  // namespace nodeboot::plugin::verify
