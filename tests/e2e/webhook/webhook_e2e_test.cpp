// nodeboot-webhook called by the real kube-apiserver: the manifests' webhook configurations
// (rules, selectors, matchConditions, failure policies) pointed at a nodeboot-webhook
// process on 127.0.0.1 with self-managed certificates (it creates its Secret and patches
// caBundle itself). Everything this suite registers is scoped by a unique label to its own
// namespace, node and Secrets, so other suites sharing the cluster never reach it.
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>

#include "../../integration/webhook/webhook_harness.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/config.hpp"

using namespace nodeboot::test;
using nlohmann::json;

namespace {

json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(yaml_to_json(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const auto s = node.as<std::string>();
      if (node.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) return std::stoll(s);
      return s;
    }
    default:
      return nullptr;
  }
}

struct Env {
  std::string id = unique_name("wh");
  std::string ns = id;
  std::string node = id + "-0";  // made by tests/cluster/nodes.sh --prefix id
  std::string config = "nodeboot-webhook-" + id;
  std::string scope_label = "nodeboot-e2e-webhook";
  TempDir certs;
  std::unique_ptr<WebhookProcess> webhook;

  Env() {
    const auto& c = cluster();
    c.kubectl_ok({"create", "namespace", ns});
    c.kubectl_ok({"label", "namespace", ns, scope_label + "=" + id});
    c.kubectl({"create", "namespace", "nodeboot-system"});  // may exist already
    auto made = run({(source_dir() / "tests/cluster/nodes.sh").string(), "--state-dir", c.state_dir.string(), "--count",
                     "1", "--prefix", id});
    BOOST_REQUIRE_MESSAGE(made.exit_code == 0, made.err);
    c.kubectl_ok({"label", "node", node, scope_label + "=" + id});
    register_configurations();
    webhook = std::make_unique<WebhookProcess>(std::vector<std::string>{
        "--self-managed-certs", "--kubeconfig", c.kubeconfig.string(), "--cert-dir", certs.path().string(), "--port",
        "0", "--bind-address", "127.0.0.1", "--cert-hosts", "127.0.0.1", "--cert-secret", config,
        "--webhook-configuration", config, "--cert-validity", "45", "--log-level", "info"});
    port = webhook->port();
    // The manifests' configurations now point at this process; they work once the
    // webhook has patched its CA into caBundle.
    for (const auto* kind : {"mutatingwebhookconfiguration", "validatingwebhookconfiguration"}) {
      const auto doc = json::parse(c.kubectl_ok({"get", kind, config, "-o", "json"}));
      json patch = json::array();
      for (std::size_t i = 0; i < doc["webhooks"].size(); ++i) {
        const auto placeholder = doc["webhooks"][i]["clientConfig"]["url"].get<std::string>();
        patch.push_back(
            {{"op", "replace"},
             {"path", "/webhooks/" + std::to_string(i) + "/clientConfig/url"},
             {"value", "https://127.0.0.1:" + std::to_string(port) + placeholder.substr(placeholder_base.size())}});
      }
      c.kubectl_ok({"patch", kind, config, "--type=json", "-p", patch.dump()});
    }
    BOOST_REQUIRE(eventually([&] {
      auto doc = json::parse(c.kubectl_ok({"get", "validatingwebhookconfiguration", config, "-o", "json"}));
      return !doc["webhooks"][0]["clientConfig"].value("caBundle", "").empty();
    }));
  }

  ~Env() {
    const auto& c = cluster();
    c.kubectl({"delete", "mutatingwebhookconfiguration", config, "--ignore-not-found"});
    c.kubectl({"delete", "validatingwebhookconfiguration", config, "--ignore-not-found"});
    webhook.reset();
    c.kubectl({"delete", "namespace", ns, "--wait=false"});
    c.kubectl({"delete", "node", node, "--wait=false"});
    c.kubectl({"delete", "secret", "-n", "nodeboot-system", "-l", scope_label + "=" + id});
    c.kubectl({"delete", "secret", "-n", "nodeboot-system", config, "--ignore-not-found"});
  }

  int port = 0;
  // url must be absolute to be accepted: a stand-in until the process's port is known.
  static constexpr std::string_view placeholder_base = "https://127.0.0.1:1";

  // The base manifests' configurations, renamed, pointed at a placeholder URL (the port is
  // known once the process runs) and scoped to this suite's objects.
  void register_configurations() {
    const auto rendered = cluster().kubectl_ok({"kustomize", (source_dir() / "manifests/webhook/base").string()});
    for (const auto& doc : YAML::LoadAll(rendered)) {
      const auto kind = doc["kind"].as<std::string>();
      if (kind != "MutatingWebhookConfiguration" && kind != "ValidatingWebhookConfiguration") continue;
      json config_doc = yaml_to_json(doc);
      config_doc["metadata"]["name"] = config;
      for (auto& w : config_doc["webhooks"]) {
        const auto path = w["clientConfig"]["service"]["path"].get<std::string>();
        w["clientConfig"] = {{"url", std::string(placeholder_base) + path}};
        const json scope = {{"matchLabels", {{scope_label, id}}}};
        const auto resource = w["rules"][0]["resources"][0].get<std::string>();
        if (resource == "pods") {
          w["namespaceSelector"] = scope;
        } else {
          w["objectSelector"] = scope;
        }
      }
      cluster().kubectl_ok({"create", "-f", "-"}, config_doc.dump());
    }
  }
};

// One webhook process and configuration for the whole suite, torn down after its last test.
Env* current = nullptr;
struct EnvFixture {
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static): Boost.Test calls it on the fixture
  void setup() { current = new Env; }
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
  void teardown() {
    delete current;
    current = nullptr;
  }
};
Env& env() { return *current; }

json pod(const std::string& ns, bool generate_name) {
  json p = {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"namespace", ns}, {"labels", {{"maroonedpods.io/maroon", "true"}}}}},
            {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "registry.k8s.io/pause:3.10"}}})}}}};
  if (generate_name)
    p["metadata"]["generateName"] = "marooned-";
  else
    p["metadata"]["name"] = unique_name("marooned");
  return p;
}

std::string scheduled_reason(const json& p) {
  for (const auto& c : p["status"].value("conditions", json::array()))
    if (c["type"] == "PodScheduled") return c.value("reason", std::string());
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(webhook_e2e, *boost::unit_test::fixture<EnvFixture>())

BOOST_AUTO_TEST_CASE(generate_name_pod_comes_back_gated_and_pinned) {
  auto& e = env();
  const auto created = json::parse(cluster().kubectl_ok({"create", "-f", "-", "-o", "json"}, pod(e.ns, true).dump()));
  const auto name = created["metadata"]["name"].get<std::string>();
  BOOST_TEST(name.starts_with("marooned-"));
  const auto id = created["metadata"]["annotations"]["maroonedpods.io/pod-uid"].get<std::string>();
  BOOST_TEST(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")),
             id);
  BOOST_TEST(id != created["metadata"]["uid"].get<std::string>());
  BOOST_TEST(created["spec"]["nodeSelector"]["maroonedpods.io/pod-uid"] == id);
  const json toleration = {
      {"key", "maroonedpods.io/dedicated"}, {"operator", "Equal"}, {"value", id}, {"effect", "NoSchedule"}};
  BOOST_TEST(std::ranges::count(created["spec"]["tolerations"], toleration) == 1);
  BOOST_TEST(created["spec"]["schedulingGates"] == json::array({{{"name", "maroonedpods.io/gate"}}}));
  BOOST_TEST(eventually([&] {
    return scheduled_reason(json::parse(cluster().kubectl_ok({"get", "pod", "-n", e.ns, name, "-o", "json"}))) ==
           "SchedulingGated";
  }));
  // An ordinary pod in the same namespace is left alone.
  auto plain = pod(e.ns, false);
  plain["metadata"]["labels"] = json::object();
  const auto untouched = json::parse(cluster().kubectl_ok({"create", "-f", "-", "-o", "json"}, plain.dump()));
  BOOST_TEST(!untouched["spec"].contains("schedulingGates"));
}

BOOST_AUTO_TEST_CASE(bad_bootstrap_secret_is_refused_with_a_readable_message) {
  auto& e = env();
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"type", "nodeboot.io/bootstrap"},
                 {"metadata",
                  {{"name", "nodeboot-" + e.node},
                   {"namespace", "nodeboot-system"},
                   {"labels", {{"nodeboot.io/node", e.node}, {e.scope_label, e.id}}}}},
                 {"stringData",
                  {{"os", "rhcos"},
                   {"ignition-url", "http://ignition.example.com/x?sig=LEAKME"},
                   {"ignition-token", "tok en-SECRET"}}}};
  auto r = cluster().kubectl({"create", "-f", "-"}, secret.dump());
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST_MESSAGE("kubectl says: " << r.err);
  BOOST_TEST(r.err.find("denied the request: bootstrap Secret nodeboot-system/nodeboot-" + e.node + " is invalid") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("ignition-url: must start with https://") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("ignition-token: contains whitespace") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("ca.crt: is missing") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("LEAKME") == std::string::npos);
  BOOST_TEST(r.err.find("SECRET") == std::string::npos);
  BOOST_TEST(cluster().kubectl({"get", "secret", "-n", "nodeboot-system", "nodeboot-" + e.node}).exit_code != 0);
}

BOOST_AUTO_TEST_CASE(only_the_controller_removes_the_gate) {
  auto& e = env();
  const auto& c = cluster();
  // token-user (tokens.csv) may update pods here; the webhook, not RBAC, must stop it.
  c.kubectl_ok({"create", "role", "pod-editor", "-n", e.ns, "--verb=get,patch,update", "--resource=pods"});
  c.kubectl_ok({"create", "rolebinding", "pod-editor", "-n", e.ns, "--role=pod-editor", "--user=token-user",
                "--serviceaccount=nodeboot-system:nodeboot-webhook"});
  const auto created = json::parse(c.kubectl_ok({"create", "-f", "-", "-o", "json"}, pod(e.ns, false).dump()));
  const auto name = created["metadata"]["name"].get<std::string>();
  const std::string remove_gate = R"([{"op":"remove","path":"/spec/schedulingGates"}])";
  auto denied = c.kubectl({"patch", "pod", name, "-n", e.ns, "--as=token-user", "--type=json", "-p", remove_gate});
  BOOST_TEST(denied.exit_code != 0);
  BOOST_TEST(
      denied.err.find("only system:serviceaccount:nodeboot-system:nodeboot-webhook may remove the scheduling gate") !=
          std::string::npos,
      denied.err);
  // Nor may it relabel the pod out of the webhooks' reach.
  auto unlabel = c.kubectl({"label", "pod", name, "-n", e.ns, "--as=token-user", "maroonedpods.io/maroon-"});
  BOOST_TEST(unlabel.exit_code != 0, unlabel.out);
  auto allowed =
      c.kubectl({"patch", "pod", name, "-n", e.ns, "--as=system:serviceaccount:nodeboot-system:nodeboot-webhook",
                 "--type=json", "-p", remove_gate});
  BOOST_TEST(allowed.exit_code == 0, allowed.err);
  BOOST_TEST(
      !json::parse(c.kubectl_ok({"get", "pod", name, "-n", e.ns, "-o", "json"}))["spec"].contains("schedulingGates"));
}

BOOST_AUTO_TEST_CASE(schedule_label_needs_cordon_and_secret) {
  auto& e = env();
  const auto& c = cluster();
  auto denied = c.kubectl({"label", "node", e.node, "nodeboot.io/ipb-schedule=true"});
  BOOST_TEST(denied.exit_code != 0);
  BOOST_TEST(denied.err.find("kubectl cordon " + e.node) != std::string::npos, denied.err);
  BOOST_TEST(denied.err.find("nodeboot-system/nodeboot-" + e.node) != std::string::npos, denied.err);
  // kubectl nodeboot start's order: cordon, Secret, label.
  c.kubectl_ok({"cordon", e.node});
  const auto ca = WebhookPki().ca_pem();
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"type", "nodeboot.io/bootstrap"},
                 {"metadata",
                  {{"name", "nodeboot-" + e.node},
                   {"namespace", "nodeboot-system"},
                   {"labels", {{"nodeboot.io/node", e.node}, {e.scope_label, e.id}}}}},
                 {"stringData",
                  {{"os", "rhcos"},
                   {"ignition-url", "https://ignition.example.com:22623/config/worker"},
                   {"ignition-token", "t0ken"},
                   {"ca.crt", ca}}}};
  c.kubectl_ok({"create", "-f", "-"}, secret.dump());
  auto allowed = c.kubectl({"label", "node", e.node, "nodeboot.io/ipb-schedule=true"});
  BOOST_TEST(allowed.exit_code == 0, allowed.err);
  // Other label changes never reach the webhook (matchConditions).
  c.kubectl_ok({"label", "node", e.node, "unrelated=1"});
}

BOOST_AUTO_TEST_CASE(certificate_rotation_under_load_fails_no_request) {
  auto& e = env();
  auto config = nodeboot::kube::resolve_config({.kubeconfig = cluster().kubeconfig.string()});
  BOOST_REQUIRE(config.has_value());
  nodeboot::kube::Client client(std::move(*config));
  const auto secret_version = [&] {
    auto s = client.get(nodeboot::kube::resources::secrets, "nodeboot-system", e.config);
    return s ? (*s)["data"].value("tls.crt", "") : std::string();
  };
  const auto first = secret_version();
  BOOST_REQUIRE(!first.empty());
  std::atomic<int> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  std::string failure;
  std::mutex m;
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t)
    load.emplace_back([&] {
      while (!stop) {
        auto r = client.create(nodeboot::kube::resources::pods, e.ns, pod(e.ns, true));
        if (r && (*r)["metadata"]["annotations"].contains("maroonedpods.io/pod-uid")) {
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(m);
          failure = r ? "not mutated" : r.error().message;
        }
      }
    });
  // --cert-validity 45: renewal comes with 15 s left, i.e. within ~30 s of the last one.
  const bool rotated =
      eventually([&] { return secret_version() != first; }, std::chrono::seconds(60), std::chrono::seconds(1));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // keep the load on across the reload
  stop = true;
  for (auto& t : load) t.join();
  BOOST_TEST_MESSAGE("rotation through the API server: " << ok << " pods admitted, " << failed << " failed");
  BOOST_TEST(rotated);
  BOOST_TEST(failed == 0, failure);
  BOOST_TEST(ok > 10);
  BOOST_TEST(e.webhook->log().find(R"("msg":"serving certificate loaded")") != std::string::npos);
}

// Every flag is checked before anything starts: with a bad one, the webhook writes no
// certificate Secret, patches no configuration and takes no Lease (it used to create the
// Secret and start the controllers before it looked at --max-workers).
BOOST_AUTO_TEST_CASE(a_bad_flag_is_refused_before_anything_is_written) {
  const auto& c = cluster();
  const auto secret = unique_name("nodeboot-badflag");
  const std::vector<std::pair<std::string, std::string>> bad{{"--max-workers=0", "--max-workers"},
                                                             {"--shutdown-delay=-1", "--shutdown-delay"},
                                                             {"--port=70000", "--port"},
                                                             {"--grace-period=soon", "--grace-period"},
                                                             {"--leader-elect-retry-period=30", "leader election"}};
  for (const auto& [flag, named] : bad) {
    TempDir certs;
    auto r =
        nodeboot::test::run({(bin_dir() / "nodeboot-webhook").string(), "--self-managed-certs",
                             "--enable-gate-controller", "--enable-completion-controller", "--kubeconfig",
                             c.kubeconfig.string(), "--cert-dir", certs.path().string(), "--cert-secret", secret,
                             "--webhook-configuration", secret, "--port", "0", "--bind-address", "127.0.0.1", flag});
    BOOST_TEST(r.exit_code == 2, flag << ": " << r.err);
    BOOST_TEST(r.err.find(named) != std::string::npos, flag << ": " << r.err);
    BOOST_TEST(!std::filesystem::exists(certs.path() / "tls.crt"), flag);
  }
  BOOST_TEST(c.kubectl({"get", "secret", "-n", "nodeboot-system", secret}).exit_code != 0);
}

BOOST_AUTO_TEST_SUITE_END()
