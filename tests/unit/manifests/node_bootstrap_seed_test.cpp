// Pins every value seeds 000/001 give for the node-bootstrap DaemonSets: names, namespace,
// labels, tolerations, privilege, script in a ConfigMap, resources, probe timings, the
// idempotency marker, packages and kernel modules. The numbers below are copied from the
// seeds' tables; a manifest edit that drifts from them fails here.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
namespace fs = std::filesystem;

namespace {

const fs::path base = source_dir() / "manifests/node-bootstrap";

YAML::Node load(const std::string& rel) { return YAML::LoadFile((base / rel).string()); }

YAML::Node container(const YAML::Node& ds, const std::string& name) {
  for (const auto& c : ds["spec"]["template"]["spec"]["containers"])
    if (c["name"].as<std::string>() == name) return c;
  BOOST_FAIL("no container " << name);
  return {};
}

struct Resources {
  std::string cpu_request, cpu_limit, memory_request, memory_limit;
};

void check_resources(const YAML::Node& c, const Resources& want) {
  const auto r = c["resources"];
  BOOST_TEST(r["requests"]["cpu"].as<std::string>() == want.cpu_request);
  BOOST_TEST(r["limits"]["cpu"].as<std::string>() == want.cpu_limit);
  BOOST_TEST(r["requests"]["memory"].as<std::string>() == want.memory_request);
  BOOST_TEST(r["limits"]["memory"].as<std::string>() == want.memory_limit);
}

struct Probe {
  int initial_delay, period, failure_threshold;
  int timeout;  // timeoutSeconds, 1 when unset (the API's default)
};

void check_probe(const YAML::Node& p, const Probe& want) {
  BOOST_REQUIRE(p.IsMap());
  BOOST_TEST(p["exec"]["command"].IsSequence());
  BOOST_TEST(p["initialDelaySeconds"].as<int>() == want.initial_delay);
  BOOST_TEST(p["periodSeconds"].as<int>() == want.period);
  BOOST_TEST(p["failureThreshold"].as<int>() == want.failure_threshold);
  // The node layer raises these for its TCG VMs (tests/node/tcg); what ships is this.
  BOOST_TEST((p["timeoutSeconds"] ? p["timeoutSeconds"].as<int>() : 1) == want.timeout);
}

void check_daemonset_shape(const YAML::Node& ds, const std::string& name) {
  BOOST_TEST(ds["kind"].as<std::string>() == "DaemonSet");
  BOOST_TEST(ds["metadata"]["name"].as<std::string>() == name);
  BOOST_TEST(ds["metadata"]["namespace"].as<std::string>() == "kube-system");
  BOOST_TEST(ds["metadata"]["labels"]["app"].as<std::string>() == name);
  BOOST_TEST(ds["spec"]["selector"]["matchLabels"]["app"].as<std::string>() == name);
  BOOST_TEST(ds["spec"]["template"]["metadata"]["labels"]["app"].as<std::string>() == name);
  // `kubectl logs -l app=NAME` (the seed's command) reads the bootstrap init container.
  BOOST_TEST(
      ds["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"].as<std::string>() ==
      "bootstrap");
  const auto pod = ds["spec"]["template"]["spec"];
  for (const auto& group : {pod["initContainers"], pod["containers"]})
    for (const auto& c : group) {
      BOOST_TEST(c["securityContext"]["privileged"].as<bool>(), c["name"].as<std::string>() << " is not privileged");
      BOOST_TEST(c["volumeMounts"][0]["name"].as<std::string>() == "scripts");
    }
  BOOST_TEST(pod["volumes"][0]["configMap"]["name"].as<std::string>().starts_with(name));
}

bool tolerates(const YAML::Node& ds, const std::string& key, const std::string& effect) {
  const auto tolerations = ds["spec"]["template"]["spec"]["tolerations"];
  return std::any_of(tolerations.begin(), tolerations.end(), [&](const YAML::Node& t) {
    const std::string k = t["key"] ? t["key"].as<std::string>() : "";
    const std::string e = t["effect"] ? t["effect"].as<std::string>() : "";
    return t["operator"].as<std::string>() == "Exists" && (k.empty() || k == key) && (e.empty() || e == effect);
  });
}

std::string kustomization_script(const std::string& dir) {
  auto k = load(dir + "/kustomization.yaml");
  BOOST_TEST(k["namespace"].as<std::string>() == "kube-system");
  return k["configMapGenerator"][0]["files"][0].as<std::string>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(node_bootstrap_seed)

BOOST_AUTO_TEST_CASE(iscsi_daemonset_matches_seeds_000_and_001) {
  auto ds = load("iscsi/daemonset-install-iscsi.yaml");
  check_daemonset_shape(ds, "rke2-node-bootstrap-iscsi");
  auto installer = container(ds, "installer");
  check_resources(installer, {"10m", "50m", "32Mi", "64Mi"});
  check_probe(installer["livenessProbe"], {30, 60, 3, 1});
  BOOST_TEST(installer["livenessProbe"]["exec"]["command"][0].as<std::string>() == "cat");
  BOOST_TEST(installer["livenessProbe"]["exec"]["command"][1].as<std::string>() == "/tmp/healthy");
  check_probe(installer["readinessProbe"], {10, 30, 3, 10});
  // The whole pod stays within the seed's budget: the init container gets the same.
  check_resources(ds["spec"]["template"]["spec"]["initContainers"][0], {"10m", "50m", "32Mi", "64Mi"});
  // Control-plane nodes included.
  BOOST_TEST(tolerates(ds, "node-role.kubernetes.io/control-plane", "NoSchedule"));
  BOOST_TEST(tolerates(ds, "node-role.kubernetes.io/etcd", "NoExecute"));
  BOOST_TEST(tolerates(ds, "CriticalAddonsOnly", "NoExecute"));

  const auto script = kustomization_script("iscsi");
  BOOST_TEST(script == "iscsi-bootstrap.sh");
  const auto text = read_file(base / "iscsi" / script);
  BOOST_TEST(text.find("install -y -qq --no-install-recommends \"$@\"") != std::string::npos);
  BOOST_TEST(text.find("apt_install open-iscsi") != std::string::npos);
  BOOST_TEST(text.find("systemctl enable iscsid") != std::string::npos);
  BOOST_TEST(text.find("modprobe iscsi_tcp") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(gpu_daemonset_matches_seed_000) {
  auto ds = load("gpu/gpu-bootstrap-daemonset.yaml");
  check_daemonset_shape(ds, "rke2-node-bootstrap-gpu");
  auto gpu = container(ds, "gpu-bootstrap");
  check_resources(gpu, {"10m", "100m", "64Mi", "256Mi"});
  check_probe(gpu["livenessProbe"], {120, 60, 3, 10});
  check_probe(gpu["readinessProbe"], {60, 30, 3, 10});
  check_resources(ds["spec"]["template"]["spec"]["initContainers"][0], {"10m", "100m", "64Mi", "256Mi"});
  // All taints tolerated: one toleration with operator Exists and neither key nor effect.
  const auto tolerations = ds["spec"]["template"]["spec"]["tolerations"];
  BOOST_REQUIRE_EQUAL(tolerations.size(), 1u);
  BOOST_TEST(tolerations[0]["operator"].as<std::string>() == "Exists");
  BOOST_TEST(!tolerations[0]["key"]);
  BOOST_TEST(!tolerations[0]["effect"]);

  const auto script = kustomization_script("gpu");
  BOOST_TEST(script == "gpu-bootstrap.sh");
  const auto text = read_file(base / "gpu" / script);
  BOOST_TEST(text.find("marker=$root/var/lib/gpu-bootstrap.done") != std::string::npos);
  BOOST_TEST(text.find("modules=(i915 drm drm_kms_helper video)") != std::string::npos);
  BOOST_TEST(text.find("packages=(intel-media-va-driver-non-free intel-opencl-icd libva-dev vainfo)") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
