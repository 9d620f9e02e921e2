#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/plugin/ipb/drain.hpp"

using namespace nodeboot::plugin::ipb;
using nlohmann::json;

namespace {

json pod(const std::string& name, const std::string& owner_kind, bool emptydir = false,
         const std::string& phase = "Running") {
  json p = {{"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", json::object()},
            {"status", {{"phase", phase}}}};
  if (!owner_kind.empty())
    p["metadata"]["ownerReferences"] = json::array({{{"kind", owner_kind}, {"name", "o"}, {"controller", true}}});
  if (emptydir) p["spec"]["volumes"] = json::array({{{"name", "scratch"}, {"emptyDir", json::object()}}});
  return p;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipb_drain)

BOOST_AUTO_TEST_CASE(replicated_pods_are_removed_daemonset_pods_block_without_the_flag) {
  auto plan = plan_drain({pod("web", "ReplicaSet"), pod("agent", "DaemonSet")}, {});
  BOOST_TEST(plan.remove.empty());  // a blocked drain evicts nobody
  BOOST_REQUIRE(plan.errors.size() == 1u);
  BOOST_TEST(plan.errors[0] ==
             "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent");
  DrainOptions o;
  o.ignore_daemonsets = true;
  plan = plan_drain({pod("web", "ReplicaSet"), pod("agent", "DaemonSet")}, o);
  BOOST_TEST(plan.errors.empty());
  BOOST_TEST(plan.remove.size() == 1u);
  BOOST_TEST(plan.warnings[0] == "ignoring DaemonSet-managed Pods: default/agent");
}

BOOST_AUTO_TEST_CASE(unreplicated_and_emptydir_pods_need_force_and_delete_emptydir_data) {
  auto plan = plan_drain({pod("bare", ""), pod("cache", "ReplicaSet", true)}, {});
  BOOST_TEST(plan.errors.size() == 2u);
  DrainOptions o;
  o.force = true;
  o.delete_emptydir_data = true;
  plan = plan_drain({pod("bare", ""), pod("cache", "ReplicaSet", true)}, o);
  BOOST_TEST(plan.errors.empty());
  BOOST_TEST(plan.remove.size() == 2u);
  BOOST_TEST(plan.warnings.size() == 2u);
}

BOOST_AUTO_TEST_CASE(mirror_pods_are_skipped_and_finished_pods_need_no_flag) {
  json mirror = pod("static", "Node");
  mirror["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "abc"}};
  auto plan = plan_drain({mirror, pod("job-done", "", true, "Succeeded")}, {});
  BOOST_TEST(plan.errors.empty());
  BOOST_REQUIRE(plan.remove.size() == 1u);
  BOOST_TEST(pod_ref(plan.remove[0]) == "default/job-done");
}

BOOST_AUTO_TEST_SUITE_END()
