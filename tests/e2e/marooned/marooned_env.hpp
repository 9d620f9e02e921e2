#pragma once

// e2e setup for marooned pods: the real nodeboot-webhook registered with the real API
// server (the shipped pod webhooks, limited to one test namespace), nodes played with
// kubelet identities (system:node:<name>) under NodeRestriction, the
// MaroonedPodsConfig CRD and the controller's RBAC from manifests/marooned, and
// gate-release controller replicas running as nodeboot-system/nodeboot-webhook with a
// TokenRequest token. Small on purpose; the webhook's own e2e helpers can replace it.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "../common/identities.hpp"
#include "nodeboot/marooned/join.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/test/support.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/pki.hpp"

namespace nodeboot::test::marooned {

using nlohmann::json;

inline json kubectl_json(const std::vector<std::string>& args) {
  auto a = args;
  a.insert(a.end(), {"-o", "json"});
  return json::parse(cluster().kubectl_ok(a));
}

// One nodeboot-webhook process; the first one is registered with the API server.
struct WebhookProcess {
  int port = 0;
  std::string identity;
  std::unique_ptr<Background> process;

  std::string get(const std::string& path) const {
    auto r = run({"curl", "-sk", "--max-time", "5", "https://127.0.0.1:" + std::to_string(port) + path});
    return r.exit_code == 0 ? r.out : "";
  }
  bool ready() const { return get("/readyz") == "ok\n"; }
  // The value of an unlabelled metric, -1 when absent.
  double metric(const std::string& name) const {
    const auto text = get("/metrics");
    const auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
  }
};

class Env {
 public:
  TempDir dir;
  std::string ns = unique_name("marooned");
  // A namespace listed in MaroonedPodsConfig spec.nodeAgentNamespaces: its pods may run on
  // dedicated nodes (node agents).
  std::string agents_ns = unique_name("marooned-agents");
  std::string config_name = unique_name("nodeboot-marooned-e2e");
  nodeboot::KeyPair ca;
  std::filesystem::path sa_kubeconfig;
  // What to print when a wait on the controller fails (its log, when one runs).
  std::function<std::string()> diagnostics;
  std::string server;   // the API server's URL
  std::string ca_data;  // its CA, base64 (certificate-authority-data)

  Env() {
    const auto& c = cluster();
    c.kubectl({"create", "namespace", std::string(names::system_namespace)});
    c.kubectl({"create", "namespace", std::string(names::marooned_namespace)});
    c.kubectl({"create", "serviceaccount", std::string(names::webhook_service_account), "-n",
               std::string(names::system_namespace)});
    const auto manifests = source_dir() / "manifests/marooned";
    c.kubectl_ok({"apply", "-f", (manifests / "crd.yaml").string(), "-f", (manifests / "rbac.yaml").string(), "-f",
                  (manifests / "policy.yaml").string()});
    c.kubectl_ok({"wait", "--for=condition=Established", "crd/maroonedpodsconfigs.maroonedpods.io", "--timeout=60s"});
    c.kubectl_ok({"apply", "-f", (manifests / "default-config.yaml").string()});
    c.kubectl_ok(
        {"patch", "mpconfig", "default", "--type=merge", "-p",
         json{{"spec", {{"nodeAgentNamespaces", {"kube-system", std::string(names::system_namespace), agents_ns}}}}}
             .dump()});
    for (const auto lease : {names::gate_controller_lease, names::vm_controller_lease})
      c.kubectl(
          {"delete", "lease", std::string(lease), "-n", std::string(names::system_namespace), "--ignore-not-found"});
    c.kubectl_ok({"create", "namespace", ns});
    c.kubectl_ok({"create", "namespace", agents_ns});

    // The controller's identity: a bound ServiceAccount token (TokenRequest API).
    const auto token = c.kubectl_ok({"create", "token", std::string(names::webhook_service_account), "-n",
                                     std::string(names::system_namespace), "--duration", "2h"});
    const auto view = kubectl_json({"config", "view", "--raw", "--minify"});
    const auto& cl = view["clusters"][0]["cluster"];
    server = cl["server"];
    ca_data = cl["certificate-authority-data"];
    sa_kubeconfig =
        dir.write("sa.kubeconfig",
                  "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                  "    server: " +
                      cl["server"].get<std::string>() +
                      "\n    certificate-authority-data: " + cl["certificate-authority-data"].get<std::string>() +
                      "\nusers:\n- name: sa\n  user:\n    token: " + token.substr(0, token.find_last_not_of("\n") + 1) +
                      "\ncontexts:\n- name: c\n  context: {cluster: c, user: sa}\n"
                      "current-context: c\n");
    std::filesystem::permissions(sa_kubeconfig,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

    // Serving certificate for 127.0.0.1, signed by a fresh CA the API server is told about.
    const auto now = std::chrono::system_clock::now();
    ca = nodeboot::issue_certificate(
             {"nodeboot-e2e-webhook-ca", {}, {}, true, now - std::chrono::hours(1), now + std::chrono::hours(24)},
             nullptr)
             .value();
    auto serving = nodeboot::issue_certificate({"127.0.0.1",
                                                {"localhost"},
                                                {"127.0.0.1"},
                                                false,
                                                now - std::chrono::hours(1),
                                                now + std::chrono::hours(24)},
                                               &ca)
                       .value();
    std::filesystem::create_directories(dir.path() / "tls");
    dir.write("tls/tls.crt", serving.cert_pem);
    dir.write("tls/tls.key", serving.key_pem.reveal());
  }

  ~Env() {
    const auto& c = cluster();
    c.kubectl({"delete", "mutatingwebhookconfiguration", config_name, "--ignore-not-found"});
    c.kubectl({"delete", "validatingwebhookconfiguration", config_name, "--ignore-not-found"});
    c.kubectl({"delete", "namespace", ns, "--wait=false"});
    c.kubectl({"delete", "namespace", agents_ns, "--wait=false"});
    c.kubectl({"delete", "nodes", "-l", std::string(names::maroon_pod_uid), "--wait=false"});
  }

  // Starts nodeboot-webhook; `controller_identity` "" = no gate-release controller.
  // `short_lease`: lease periods short enough for a takeover after a crash to fit in a test
  // (4 s / 3 s / 0.5 s); otherwise the shipped defaults (15 s / 10 s / 2 s), which a loaded
  // machine (the test command builds in parallel with the e2e layer) cannot make flap.
  // `extra`: more flags (another controller, its settings).
  WebhookProcess start(const std::string& controller_identity, bool short_lease = true,
                       const std::vector<std::string>& extra = {}) {
    WebhookProcess w;
    w.port = free_loopback_port();
    w.identity = controller_identity;
    std::vector<std::string> argv{(bin_dir() / "nodeboot-webhook").string(),
                                  "--cert-dir",
                                  (dir.path() / "tls").string(),
                                  "--port",
                                  std::to_string(w.port),
                                  "--bind-address",
                                  "127.0.0.1",
                                  "--kubeconfig",
                                  sa_kubeconfig.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!controller_identity.empty())
      argv.insert(argv.end(), {"--enable-gate-controller", "--leader-elect-identity", controller_identity});
    if (!controller_identity.empty() && short_lease)
      argv.insert(argv.end(), {"--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline", "3",
                               "--leader-elect-retry-period", "0.5"});
    w.process = std::make_unique<Background>(
        argv, dir.path() / ("webhook-" +
                            (controller_identity.empty() ? std::string("admission") : controller_identity) + ".log"));
    // (The outcome first: a failure message's operands are evaluated before the check's.)
    const bool ready =
        eventually([&] { return w.ready() || w.process->exited(); }, std::chrono::seconds(60)) && !w.process->exited();
    BOOST_REQUIRE_MESSAGE(ready, "nodeboot-webhook never became ready:\n" << w.process->log());
    // Fail here, not in a later wait for an event: the flag must not be silently ignored.
    if (!controller_identity.empty())
      BOOST_REQUIRE_MESSAGE(w.metric("nodeboot_gate_controller_leader") >= 0,
                            "--enable-gate-controller given but no controller runs (no metrics):\n"
                                << w.process->log());
    return w;
  }

  // Registers `w` with the pod webhooks of manifests/webhook/base/webhooks.yaml as shipped
  // (rules, object selectors, CEL match conditions, reinvocation), pointed at `w` and
  // limited to the test namespace (other e2e suites share the cluster).
  void register_webhooks(const WebhookProcess& w) {
    const std::string url = "https://127.0.0.1:" + std::to_string(w.port);
    const auto& c = cluster();
    // kubectl prints one JSON document per object, back to back.
    std::istringstream shipped(c.kubectl_ok({"create", "--dry-run=client", "-o", "json", "-f",
                                             (source_dir() / "manifests/webhook/base/webhooks.yaml").string()}));
    std::vector<json> configs;
    while ((shipped >> std::ws).peek() != EOF) {
      json doc;
      shipped >> doc;
      configs.push_back(std::move(doc));
    }
    BOOST_REQUIRE(configs.size() == 2u);
    for (auto config : configs) {
      json hooks = json::array();
      for (auto hook : config["webhooks"]) {
        if (hook["name"].get<std::string>().find(".pods.") == std::string::npos) continue;
        const std::string path = hook["clientConfig"]["service"]["path"];
        hook["clientConfig"] = {{"url", url + path}, {"caBundle", base64_encode(ca.cert_pem)}};
        hook["namespaceSelector"] = {
            {"matchExpressions",
             {{{"key", "kubernetes.io/metadata.name"}, {"operator", "In"}, {"values", {ns, agents_ns}}}}}};
        hooks.push_back(hook);
      }
      BOOST_REQUIRE(!hooks.empty());
      config["metadata"] = {{"name", config_name}};
      config["webhooks"] = hooks;
      c.kubectl_ok({"apply", "-f", "-"}, config.dump());
    }
    // The API server picks configurations up asynchronously: wait until a dry run is mutated
    // and an ordinary pod naming a dedicated node is refused.
    BOOST_REQUIRE(eventually([&] {
      auto r = c.kubectl({"create", "--dry-run=server", "-o", "json", "-f", "-"}, pod(true).dump());
      if (r.exit_code != 0 || !json::parse(r.out)["metadata"].contains("annotations")) return false;
      auto p = pod(false);
      p["spec"]["nodeSelector"] = {{std::string(names::maroon_pod_uid), "x"}};
      return c.kubectl({"create", "--dry-run=server", "-f", "-"}, p.dump()).exit_code != 0;
    }));
  }

  // A kubeconfig that authenticates as the kubelet of node `name` (system:node:<name>): the
  // Node authorizer and NodeRestriction treat it as they treat a real kubelet.
  std::filesystem::path node_kubeconfig(const std::string& name) const {
    return kubelet_kubeconfig(dir.path() / "kubelets", name);
  }

  // The join credential the controller issued for marooned id `id` (waits for it).
  Secret credential(const std::string& id) const {
    json secret;
    // 120 s: the controller retries a failed write after 1, 2, 4, ... s.
    BOOST_REQUIRE_MESSAGE(eventually(
                              [&] {
                                auto r =
                                    cluster().kubectl({"get", "secret", "-n", std::string(names::marooned_namespace),
                                                       nodeboot::marooned::join_secret_name(id), "-o", "json"});
                                if (r.exit_code == 0) secret = json::parse(r.out);
                                return r.exit_code == 0;
                              },
                              std::chrono::seconds(120)),
                          "the controller issued no join credential for " << id << "\n"
                                                                          << (diagnostics ? diagnostics() : ""));
    return nodeboot::marooned::credential_of(secret).value();
  }
  json pod(bool marooned, const std::string& generate_name = "mp-") const {
    json container = {{"name", "c"},
                      {"image", "registry.k8s.io/pause:3.10"},
                      {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}}};
    json p = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"generateName", generate_name}, {"namespace", ns}}},
              {"spec", {{"containers", json::array({container})}}}};
    if (marooned) p["metadata"]["labels"] = {{std::string(names::maroon_label), "true"}};
    return p;
  }

  // How a node joins in a test.
  enum class Proof { valid, none, forged };

  // A kwok node as a marooned VM would register, created by its own kubelet identity:
  // label and taints for `id`, and (Proof::valid) the join proof made from the credential
  // the controller issued for `id`. With `ready` false it is held NotReady (kwok leaves
  // custom-status nodes alone) until make_ready().
  std::string join_node(const std::string& id, bool ready, const std::string& taint_key = "maroonedpods.io",
                        Proof proof = Proof::valid) const {
    const std::string name = unique_name("marooned-node");
    json annotations = {{"kwok.x-k8s.io/node", "fake"}, {"node.alpha.kubernetes.io/ttl", "0"}};
    if (!ready) annotations["kwok.x-k8s.io/status"] = "custom";
    if (proof == Proof::valid)
      annotations[std::string(names::maroon_join_proof)] = nodeboot::marooned::join_proof(credential(id), id, name);
    else if (proof == Proof::forged)
      annotations[std::string(names::maroon_join_proof)] =
          nodeboot::marooned::join_proof(Secret(std::string(64, '0')), id, name);
    json taints = json::array();
    for (const auto* effect : {"NoSchedule", "NoExecute"})
      taints.push_back({{"key", taint_key + "/dedicated"}, {"value", id}, {"effect", effect}});
    json node = {
        {"apiVersion", "v1"},
        {"kind", "Node"},
        {"metadata",
         {{"name", name},
          {"annotations", annotations},
          {"labels",
           {{std::string(names::maroon_pod_uid), id},
            {"type", "kwok-marooned"},
            {"kubernetes.io/hostname", name},
            {"kubernetes.io/os", "linux"}}}}},
        {"spec", {{"taints", taints}}},
        {"status",
         {{"allocatable", {{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}}},
          {"capacity", {{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}}},
          {"conditions",
           {{{"type", "Ready"}, {"status", "False"}, {"reason", "KubeletNotReady"}, {"message", "booting"}}}}}}};
    cluster().kubectl_ok({"--kubeconfig", node_kubeconfig(name).string(), "create", "-f", "-"}, node.dump());
    return name;
  }

  // Hands the node to kwok, which reports it Ready (and keeps its heartbeat).
  void make_ready(const std::string& node) const {
    cluster().kubectl_ok({"annotate", "node", node, "kwok.x-k8s.io/status-"});
  }
};

// The usual suite fixture: an Env, an admission-only nodeboot-webhook registered with the
// API server, and one gate-release controller replica named `identity` (with short lease
// periods only when the suite tests takeovers; `extra`: more flags for it).
struct Installation {
  Env env;
  WebhookProcess admission;
  WebhookProcess controller;
  explicit Installation(const std::string& identity, bool short_lease = false,
                        const std::vector<std::string>& extra = {})
      : admission(env.start("")),
        controller((env.register_webhooks(admission), env.start(identity, short_lease, extra))) {
    env.diagnostics = [this] { return "controller log:\n" + controller.process->log(); };
  }
};

// KubeVirt's own CRDs, generated from KubeVirt's source (tests/cluster/kubevirt-crds.sh;
// ctest's fixture e2e/kubevirt_crds_build links them).
inline std::filesystem::path kubevirt_crds() {
  const char* path = std::getenv("NODEBOOT_KUBEVIRT_CRDS");
  BOOST_REQUIRE_MESSAGE(path, "NODEBOOT_KUBEVIRT_CRDS is not set (run through ctest)");
  return path;
}

// Installs them as KubeVirt's operator would, server-side (the VirtualMachine CRD is far
// beyond the 256 KiB annotation a client-side apply writes), and waits until the API server
// serves them: the CRDs' schemas are structural, else they would not be Established.
inline void install_kubevirt_crds() {
  // An earlier suite's deletion (--wait=false) may still be under way: applying to a CRD
  // being deleted would see it vanish afterwards, so wait for that to end first.
  const auto present = cluster().kubectl({"get", "-f", kubevirt_crds().string(), "--ignore-not-found", "-o", "json"});
  if (present.out.find("\"deletionTimestamp\"") != std::string::npos)
    cluster().kubectl({"wait", "--for=delete", "-f", kubevirt_crds().string(), "--timeout=120s"});
  cluster().kubectl_ok({"apply", "--server-side", "--force-conflicts", "-f", kubevirt_crds().string()});
  cluster().kubectl_ok({"wait", "--for=condition=Established", "-f", kubevirt_crds().string(), "--timeout=120s"});
}

// Removes them again (e2e suites run one at a time: no other suite is using them).
inline void delete_kubevirt_crds() {
  cluster().kubectl({"delete", "-f", kubevirt_crds().string(), "--ignore-not-found", "--wait=false"});
}

// The join-info.yaml inside cloud-init user-data (write_files content, indented 4).
inline std::string join_info_from_cloud_init(const std::string& userdata) {
  std::string out;
  std::istringstream in(userdata.substr(userdata.find("content: |")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && line.starts_with("    ")) out += line.substr(4) + "\n";
  return out;
}

inline json create_pod(const json& manifest) {
  return json::parse(cluster().kubectl_ok({"create", "-o", "json", "-f", "-"}, manifest.dump()));
}

inline json get_pod(const std::string& ns, const std::string& name) {
  return kubectl_json({"get", "pod", "-n", ns, name});
}

inline std::string pod_uid_of(const json& pod) {
  return pod["metadata"].value("annotations", json::object()).value(std::string(names::maroon_pod_uid), "");
}

// A marooned VM's first boot in the temporary root `root`: its cloud-init wrote `join_info`
// (/etc/marooned/join-info.yaml), then `nodeboot-agent join` configures k3s and starts it
// (standin_systemctl.sh plays systemctl and the k3s agent, which registers node `node`).
inline nodeboot::ProcessResult agent_join(const std::filesystem::path& root, const std::string& join_info,
                                          const std::string& node) {
  std::filesystem::create_directories(root / "etc/marooned");
  std::ofstream(root / "etc/marooned/join-info.yaml") << join_info;
  std::filesystem::permissions(root / "etc/marooned/join-info.yaml",
                               std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  nodeboot::ProcessOptions o;
  o.env_set = {{"KUBECONFIG", cluster().kubeconfig.string()},
               {"PATH", path_with_bin_dir()},
               {"NODEBOOT_E2E_PKI", (cluster().state_dir / "pki").string()}};
  return run(
      {(bin_dir() / "nodeboot-agent").string(), "join", "--host-root", root.string(), "--service-manager",
       (source_dir() / "tests/e2e/marooned/standin_systemctl.sh").string(), "--node-name", node, "--timeout", "60"},
      o);
}

// Whether some Event about `object` in `ns` satisfies `match`.
inline bool has_event(const std::string& ns, const std::string& object, const std::function<bool(const json&)>& match) {
  const auto list = kubectl_json({"get", "events", "-n", ns, "--field-selector", "involvedObject.name=" + object});
  return std::ranges::any_of(list["items"], match);
}

// The events a controller (`component`, its reportingComponent) recorded about a pod.
inline std::vector<json> events_from(const std::string& component, const std::string& ns, const std::string& pod) {
  std::vector<json> out;
  // The list outlives the loop (a temporary's member would not, before C++23's P2718).
  const auto list = kubectl_json({"get", "events", "-n", ns, "--field-selector", "involvedObject.name=" + pod});
  for (const auto& e : list["items"])
    if (e.value("reportingComponent", "") == component) out.push_back(e);
  return out;
}

// The gate-release controller's events about a pod, as "reason" → reportingInstance.
inline std::multimap<std::string, std::string> events_of(const std::string& ns, const std::string& pod) {
  std::multimap<std::string, std::string> out;
  for (const auto& e : events_from("nodeboot-gate-controller", ns, pod))
    out.emplace(e.value("reason", ""), e.value("reportingInstance", ""));
  return out;
}

inline bool has_gate(const json& pod) {
  for (const auto& g : pod["spec"].value("schedulingGates", json::array()))
    if (g["name"] == names::maroon_gate) return true;
  return false;
}

}  // namespace nodeboot::test::marooned
