// Both node-bootstrap bases are accepted by the real API server (server-side dry run: full
// validation and admission, nothing stored), and what kustomize renders keeps the seeds'
// names with the generated script ConfigMap wired into the DaemonSet.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
using nlohmann::json;

BOOST_AUTO_TEST_SUITE(node_bootstrap_apply)

BOOST_AUTO_TEST_CASE(server_side_dry_run_of_both_bases_is_accepted) {
  for (const std::string name : {"iscsi", "gpu"}) {
    const auto dir = (source_dir() / "manifests/node-bootstrap" / name).string();
    auto out = cluster().kubectl_ok({"apply", "--dry-run=server", "-k", dir, "-o", "json"});
    auto list = json::parse(out);
    std::string configmap, mounted;
    for (const auto& item : list["items"]) {
      BOOST_TEST(item["metadata"]["namespace"] == "kube-system");
      if (item["kind"] == "ConfigMap") configmap = item["metadata"]["name"];
      if (item["kind"] == "DaemonSet") {
        BOOST_TEST(item["metadata"]["name"] == "rke2-node-bootstrap-" + name);
        mounted = item["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"];
      }
    }
    BOOST_TEST(!configmap.empty());
    BOOST_TEST(configmap == mounted);
  }
  // A dry run stores nothing.
  auto r = cluster().kubectl({"get", "ds", "-n", "kube-system", "rke2-node-bootstrap-gpu"});
  BOOST_TEST(r.exit_code != 0);
}

BOOST_AUTO_TEST_SUITE_END()
