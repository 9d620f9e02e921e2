// The one-file install (dist/nodeboot-install.yaml, fixture integration/release_build) goes
// into an empty real control plane with ONE `kubectl apply -f`, as the README tells people
// who do not use GitOps, and every object it carries is then served. It runs on a private
// cluster (tests/cluster/up.sh in a temporary state dir): installing nodeboot-system for real
// in the shared e2e cluster would register webhooks under the other suites' feet.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <set>
#include <unistd.h>

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
    auto up = run({(source_dir() / "tests/cluster/up.sh").string(), "--state-dir", state.path().string(), "--nodes", "1",
                   "--watch-pid", std::to_string(::getpid())},
                  o);
    BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.err);
    kubectl.env_set["KUBECONFIG"] = (state.path() / "kubeconfig").string();
    kubectl.timeout = std::chrono::minutes(2);
  }
  ~PrivateCluster() { run({(source_dir() / "tests/cluster/down.sh").string(), "--state-dir", state.path().string(), "--quiet"}); }

  nodeboot::ProcessResult operator()(std::vector<std::string> args) const {
    args.insert(args.begin(), "kubectl");
    return run(args, kubectl);
  }
};

fs::path dist() {
  const char* d = std::getenv("NODEBOOT_DIST");
  BOOST_REQUIRE_MESSAGE(d && *d, "NODEBOOT_DIST is not set: run through ctest (fixture release_dist)");
  return d;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(release_install)

BOOST_AUTO_TEST_CASE(one_apply_installs_everything_and_the_default_config_follows) {
  const auto install = (dist() / "nodeboot-install.yaml").string();
  PrivateCluster kubectl;

  auto applied = kubectl({"apply", "-f", install});
  BOOST_REQUIRE_MESSAGE(applied.exit_code == 0, applied.out << applied.err);

  // Every object of the file is there, read back by kind and name.
  auto listed = kubectl({"get", "-f", install, "-o", "json"});
  BOOST_REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  const auto list = nlohmann::json::parse(listed.out);
  std::set<std::string> kinds;
  for (const auto& item : list.at("items")) kinds.insert(item.at("kind").get<std::string>());
  for (const char* kind : {"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                           "Role", "RoleBinding", "Service", "Deployment", "PodDisruptionBudget", "DaemonSet",
                           "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})
    BOOST_TEST(kinds.contains(kind), kind << " missing after the one-file install");

  // The CRD becomes Established, and then the README's second, optional step works.
  auto established = kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/maroonedpodsconfigs.maroonedpods.io"});
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

BOOST_AUTO_TEST_SUITE_END()
