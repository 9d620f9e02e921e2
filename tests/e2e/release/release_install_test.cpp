// The one-file install (dist/nodeboot-install.yaml, fixture integration/release_build) goes
// into an empty real control plane with ONE `kubectl apply -f`, as the README tells people
// who do not use GitOps, and every object it carries is then served. It runs on a private
// cluster (tests/cluster/up.sh in a temporary state dir): installing nodeboot-system for real
// in the shared e2e cluster would register webhooks under the other suites' feet.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <yaml-cpp/yaml.h>

#include <unistd.h>
#include <algorithm>
#include <set>

#include "../../integration/release/release_support.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
namespace fs = std::filesystem;

namespace {

struct PrivateCluster {
  TempDir state;
  nodeboot::ProcessOptions kubectl;

  PrivateCluster() {
    nodeboot::ProcessOptions o;
    o.timeout = std::chrono::minutes(3);
    // --watch-pid: if this test dies, the cluster follows it.
    auto up = run({(source_dir() / "tests/cluster/up.sh").string(), "--state-dir", state.path().string(), "--nodes",
                   "1", "--watch-pid", std::to_string(::getpid())},
                  o);
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.err);
    kubectl.env_set["KUBECONFIG"] = (state.path() / "kubeconfig").string();
    kubectl.timeout = std::chrono::minutes(2);
  }
  ~PrivateCluster() {
    run({(source_dir() / "tests/cluster/down.sh").string(), "--state-dir", state.path().string(), "--quiet"});
  }

  nodeboot::ProcessResult operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), "kubectl");
    return run(args, kubectl);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(release_install)

BOOST_AUTO_TEST_CASE(one_apply_installs_everything_and_the_default_config_follows) {
  const auto install = (release_dist() / "nodeboot-install.yaml").string();
  PrivateCluster kubectl;

  // First `kubectl nodeboot install --dry-run=server` (the release's plugin, its bundle
  // compiled in) through the real API server: every object listed, nothing stored.
  TempDir plugin_dir;
  BOOST_REQUIRE(
      run({"tar", "-xzf", (release_dist() / release_archive_name()).string(), "-C", plugin_dir.path().string()})
          .exit_code == 0);
  const auto plugin = (plugin_dir.path() / "kubectl-nodeboot").string();
  auto dry = run({plugin, "install", "--dry-run=server"}, kubectl.kubectl);
  BOOST_REQUIRE_MESSAGE(dry.exit_code == 0, dry.out << dry.err);
  const auto objects = YAML::LoadAll(read_file(install));
  for (const auto& o : objects)
    BOOST_TEST(
        dry.out.find("/" + o["metadata"]["name"].as<std::string>() + " created (server dry run") != std::string::npos,
        o["kind"].as<std::string>() << "/" << o["metadata"]["name"].as<std::string>() << " not listed:\n"
                                    << dry.out);
  BOOST_TEST(std::count(dry.out.begin(), dry.out.end(), '\n') == static_cast<long>(objects.size()), dry.out);
  auto nothing = kubectl({"get", "-f", install, "--ignore-not-found", "-o", "name"});
  BOOST_TEST(nothing.exit_code == 0, nothing.err);
  BOOST_TEST(nothing.out.empty(), "stored by a dry run: " << nothing.out);

  auto applied = kubectl({"apply", "-f", install});
  BOOST_REQUIRE_MESSAGE(applied.exit_code == 0, applied.out << applied.err);

  // Every object of the file is there, read back by kind and name.
  auto listed = kubectl({"get", "-f", install, "-o", "json"});
  BOOST_REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  const auto list = nlohmann::json::parse(listed.out);
  std::set<std::string> kinds;
  for (const auto& item : list.at("items")) kinds.insert(item.at("kind").get<std::string>());
  for (const char* kind : {"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
                           "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment", "PodDisruptionBudget",
                           "DaemonSet", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})
    BOOST_TEST(kinds.contains(kind), kind << " missing after the one-file install");

  // The webhook Deployment runs the controllers, from the images the release built.
  auto deployment = kubectl({"get", "deployment", "-n", "nodeboot-system", "nodeboot-webhook", "-o", "json"});
  BOOST_REQUIRE(deployment.exit_code == 0);
  const auto container = nlohmann::json::parse(deployment.out)["spec"]["template"]["spec"]["containers"][0];
  const auto args = container["args"].get<std::vector<std::string>>();
  for (const char* controller : {"--enable-gate-controller", "--enable-completion-controller"})
    BOOST_TEST((std::find(args.begin(), args.end(), controller) != args.end()),
               controller << ": " << container["args"].dump());
  BOOST_TEST(container["image"].get<std::string>().find("/nodeboot-webhook@sha256:") != std::string::npos);

  // Installed, the server dry run finds every object as the bundle has it.
  auto again_dry = run({plugin, "install", "--dry-run=server"}, kubectl.kubectl);
  BOOST_TEST(again_dry.exit_code == 0, again_dry.err);
  for (const auto& o : objects)
    BOOST_TEST(again_dry.out.find("/" + o["metadata"]["name"].as<std::string>() + " unchanged (server dry run)") !=
                   std::string::npos,
               o["metadata"]["name"].as<std::string>() << ":\n"
                                                       << again_dry.out);

  // --wait: kwok reports the Deployment's pods Ready, so the rollout completes; nothing runs
  // the webhook behind its Service here, so the second half times out, saying what it waited for.
  auto rolled =
      kubectl({"rollout", "status", "-n", "nodeboot-system", "deployment/nodeboot-webhook", "--timeout=120s"});
  BOOST_REQUIRE_MESSAGE(rolled.exit_code == 0, rolled.err);
  auto waited = run({plugin, "install", "--wait", "--timeout", "6s"}, kubectl.kubectl);
  BOOST_TEST(waited.exit_code == 1, waited.out << waited.err);
  BOOST_TEST(waited.out.find("deployment.apps/nodeboot-webhook rolled out") != std::string::npos, waited.out);
  BOOST_TEST(
      waited.err.find("timed out after 6s waiting for the webhook: the webhook's Service does not answer /healthz") !=
          std::string::npos,
      waited.err);

  // The CRD becomes Established, and then the README's second, optional step works.
  auto established =
      kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/maroonedpodsconfigs.maroonedpods.io"});
  BOOST_REQUIRE_MESSAGE(established.exit_code == 0, established.err);
  auto config = kubectl({"apply", "-f", (source_dir() / "manifests/marooned/default-config.yaml").string()});
  BOOST_TEST(config.exit_code == 0, config.err);
  auto got = kubectl({"get", "mpconfig", "default", "-o", "jsonpath={.spec.nodeTaintKey}"});
  BOOST_TEST(got.exit_code == 0, got.err);

  // Applied again, the file changes nothing: `kubectl diff` (a server-side dry run of the
  // apply) exits 0 only when there is no difference. (Not "unchanged" in apply's output:
  // client-side apply always resends a PodDisruptionBudget's selector, a replace-strategy
  // field, and calls that "configured".)
  auto again = kubectl({"apply", "-f", install});
  BOOST_REQUIRE_MESSAGE(again.exit_code == 0, again.err);
  auto diff = kubectl({"diff", "-f", install});
  BOOST_TEST(diff.exit_code == 0, diff.out << diff.err);
  BOOST_TEST(again.out.find("deployment.apps/nodeboot-webhook unchanged") != std::string::npos, again.out);
}

BOOST_AUTO_TEST_CASE(install_refused_by_the_api_server_applies_nothing) {
  PrivateCluster kubectl;
  // A policy that refuses the install's last object, the ValidatingWebhookConfiguration.
  const std::string policy = R"(apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: refuse-nodeboot-webhooks}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: [admissionregistration.k8s.io], apiVersions: [v1], operations: [CREATE, UPDATE],
         resources: [validatingwebhookconfigurations]}
  validations:
    - {expression: "object.metadata.name != 'nodeboot-webhook'", message: refused by the e2e test}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: refuse-nodeboot-webhooks}
spec: {policyName: refuse-nodeboot-webhooks, validationActions: [Deny]}
)";
  TempDir dir;
  auto created = kubectl({"apply", "-f", dir.write("policy.yaml", policy).string()});
  BOOST_REQUIRE_MESSAGE(created.exit_code == 0, created.err);
  // The API server enforces a new policy once its informer has it.
  const auto probe = dir.write("probe.yaml",
                               "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
                               "metadata: {name: nodeboot-webhook}\n");
  BOOST_REQUIRE(eventually([&] {
    return kubectl({"create", "--dry-run=server", "-f", probe.string()}).exit_code != 0;
  }));

  TempDir plugin_dir;
  BOOST_REQUIRE(
      run({"tar", "-xzf", (release_dist() / release_archive_name()).string(), "-C", plugin_dir.path().string()})
          .exit_code == 0);
  auto refused = run({(plugin_dir.path() / "kubectl-nodeboot").string(), "install"}, kubectl.kubectl);
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(refused.err.find("validatingwebhookconfiguration.admissionregistration.k8s.io/nodeboot-webhook: ") !=
                 std::string::npos,
             refused.err);
  BOOST_TEST(refused.err.find("refused by the e2e test") != std::string::npos, refused.err);
  BOOST_TEST(refused.err.find("(nothing was applied)") != std::string::npos, refused.err);
  BOOST_TEST(refused.out.empty(), refused.out);
  // Not even the first objects of the bundle.
  for (const char* what :
       {"namespace/nodeboot-system", "clusterrole/nodeboot-webhook", "crd/maroonedpodsconfigs.maroonedpods.io"})
    BOOST_TEST(kubectl({"get", what}).exit_code != 0, what << " was applied");
}

BOOST_AUTO_TEST_SUITE_END()
