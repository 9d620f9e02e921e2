#pragma once

// What the in-place bootstrap e2e suites share: reading nodes, kwok nodes of one test, and
// the reboot as a kubelet would show it.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "../common/identities.hpp"
#include "../marooned/marooned_env.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/test/support.hpp"
#include "nodeboot/util/duration.hpp"

namespace nodeboot::test::ipb {

using nlohmann::json;

inline const std::string schedule{names::schedule_label};
inline const std::string sys{names::system_namespace};

inline json get(const std::vector<std::string>& what) {
  std::vector<std::string> args{"get"};
  args.insert(args.end(), what.begin(), what.end());
  args.insert(args.end(), {"-o", "json"});
  return json::parse(cluster().kubectl_ok(args));
}
inline json node(const std::string& name) { return get({"node", name}); }

// What nodeboot could change on a node: labels, annotations, spec (cordon, taints). Not the
// resourceVersion, and not what kube-controller-manager owns: on a freshly created node its
// node lifecycle controller lifts node.kubernetes.io/not-ready and its TTL controller adds
// node.alpha.kubernetes.io/ttl, seconds later on a loaded machine, and kwok's status
// updates move the resourceVersion on a node nobody in the test touched.
inline json node_config(const std::string& name) {
  auto n = node(name);
  json annotations = n["metadata"].value("annotations", json::object());
  annotations.erase("node.alpha.kubernetes.io/ttl");
  json spec = n.value("spec", json::object());
  if (spec.contains("taints")) {
    json ours = json::array();
    for (const auto& t : spec["taints"])
      if (!t.value("key", "").starts_with("node.kubernetes.io/")) ours.push_back(t);
    spec["taints"] = ours;
  }
  return {{"labels", n["metadata"].value("labels", json::object())}, {"annotations", annotations}, {"spec", spec}};
}

inline bool exists(const std::vector<std::string>& what) {
  std::vector<std::string> args{"get"};
  args.insert(args.end(), what.begin(), what.end());
  return cluster().kubectl(args).exit_code == 0;
}

inline std::string annotation(const json& n, std::string_view key) {
  return n.value("/metadata/annotations"_json_pointer, json::object()).value(std::string(key), "");
}

// Nodes of this test, deleted afterwards so later suites see only healthy kwok nodes.
struct Nodes {
  std::vector<std::string> names;
  std::string selector;
  Nodes(const std::string& prefix, int count) {
    const std::string p = unique_name(prefix);
    for (int i = 0; i < count; ++i) names.push_back(p + "-" + std::to_string(i));  // deleted even if creation fails
    auto r = run({(source_dir() / "tests/cluster/nodes.sh").string(), "--state-dir", cluster().state_dir.string(),
                  "--count", std::to_string(count), "--prefix", p});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "nodes.sh: " << r.err);
    selector = "nodeboot-e2e=" + p;
    for (const auto& n : names) {
      cluster().kubectl_ok({"label", "node", n, selector});
    }
  }
  ~Nodes() {
    std::vector<std::string> args{"delete", "node", "--wait=false"};
    args.insert(args.end(), names.begin(), names.end());
    cluster().kubectl(args);
  }
};

// The reboot as a kubelet would show it: NotReady, then Ready with a new bootID.
// kwok lets go of the node's status first; without its heartbeats the node lifecycle
// controller would mark it NotReady after its grace period, so the test plays the reboot
// only once the node side is done.
inline void play_reboot(const std::string& n, const std::string& boot_id) {
  cluster().kubectl_ok({"annotate", "node", n, "kwok.x-k8s.io/status=custom", "--overwrite"});
  auto cond = [](const char* status) {
    return json{{"type", "Ready"},
                {"status", status},
                {"reason", status == std::string("True") ? "KubeletReady" : "KubeletNotReady"},
                {"message", "played by the e2e test"}};
  };
  cluster().kubectl_ok({"patch", "node", n, "--subresource=status", "--type=strategic", "-p",
                        json{{"status", {{"conditions", {cond("False")}}}}}.dump()});
  cluster().kubectl_ok(
      {"patch", "node", n, "--subresource=status", "--type=strategic", "-p",
       json{{"status", {{"nodeInfo", {{"bootID", boot_id}}}, {"conditions", {cond("True")}}}}}.dump()});
}

// What the agent leaves before its final reboot: state Rebooting, the schedule label gone.
inline void agent_before_reboot(const std::string& n) {
  cluster().kubectl_ok({"label", "node", n, std::string(names::schedule_label) + "-"});
  cluster().kubectl_ok({"annotate", "node", n, "--overwrite", std::string(names::ann_state) + "=Rebooting",
                        std::string(names::ann_progress) + "=95",
                        std::string(names::ann_updated) + "=" + rfc3339_now()});
}

// What the DaemonSet's pod on `node` would have: a token of nodeboot-ipb-agent bound to a pod
// on that node (it carries authentication.kubernetes.io/node-name, which the agent's
// ValidatingAdmissionPolicy checks), and the node's kubelet identity in the host's /
// (`host_root`), named by host paths as on a real node. The pod stands in for the
// DaemonSet's (kwok "runs" it); it is deleted afterwards, which ends its token.
struct AgentIdentity {
  std::string pod;
  std::filesystem::path kubeconfig;  // the pod's token
  std::string host_kubeconfig;       // the kubelet's, a host path: --host-kubeconfig
  AgentIdentity(const TempDir& dir, const std::filesystem::path& host_root, const std::string& node)
      : pod(unique_name("ipb-agent")), host_kubeconfig("/var/lib/kubelet/" + node + ".kubeconfig") {
    const json p = {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"name", pod}, {"namespace", names::system_namespace}}},
                    {"spec",
                     {{"nodeName", node},
                      {"serviceAccountName", "nodeboot-ipb-agent"},
                      {"tolerations", {{{"operator", "Exists"}}}},
                      {"containers", {{{"name", "agent"}, {"image", "nodeboot-agent"}}}}}}};
    cluster().kubectl_ok({"create", "-f", "-"}, p.dump());
    kubeconfig = dir.write(pod + ".kubeconfig",
                           pod_bound_kubeconfig(std::string(names::system_namespace), "nodeboot-ipb-agent", pod));
    std::filesystem::permissions(kubeconfig, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    kubelet_kubeconfig(host_root / "var/lib/kubelet", node, "/var/lib/kubelet");
  }
  ~AgentIdentity() {
    cluster().kubectl({"delete", "pod", "-n", std::string(names::system_namespace), pod, "--wait=false"});
  }
  AgentIdentity(const AgentIdentity&) = delete;
  AgentIdentity& operator=(const AgentIdentity&) = delete;
};

// The real nodeboot-webhook running only the completion controller, as its ServiceAccount
// under the shipped RBAC and ValidatingAdmissionPolicies, and leading when constructed: who
// puts nodes back (`watch` only displays). e2e suites run one at a time, so each may take
// the Lease over from an earlier suite's controller by deleting it.
struct CompletionController {
  test::marooned::Env env;
  test::marooned::WebhookProcess process;
  explicit CompletionController(const std::vector<std::string>& extra = {}) {
    const auto base = source_dir() / "manifests/webhook/base";
    cluster().kubectl_ok(
        {"apply", "-f", (base / "completion-rbac.yaml").string(), "-f", (base / "completion-policy.yaml").string()});
    cluster().kubectl({"delete", "lease", std::string(names::completion_controller_lease), "-n",
                       std::string(names::system_namespace), "--ignore-not-found"});
    std::vector<std::string> args{"--enable-completion-controller",
                                  "--leader-elect-identity",
                                  unique_name("completion"),
                                  "--leader-elect-lease-duration",
                                  "4",
                                  "--leader-elect-renew-deadline",
                                  "3",
                                  "--leader-elect-retry-period",
                                  "0.5"};
    args.insert(args.end(), extra.begin(), extra.end());
    process = env.start("", true, args);
    BOOST_REQUIRE_MESSAGE(eventually([&] { return process.metric("nodeboot_completion_controller_leader") == 1; }),
                          "the completion controller never led:\n"
                              << process.process->log());
  }
  std::string log() const { return process.process->log(); }
};

}  // namespace nodeboot::test::ipb
