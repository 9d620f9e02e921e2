#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/marooned/join.hpp"
#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot::marooned;
using nlohmann::json;

namespace {
const std::string id = "0b7c1e3a-1111-4222-8333-444455556666";
const std::string pod_uid = "5f0d6a52-0000-4000-8000-00000000abcd";  // the pod's metadata.uid
// A node the controller vouched for the pod `id` / `pod_uid`.
json node(bool ready, bool cordoned, const std::string& taint_value) {
  return {
      {"metadata",
       {{"name", "n"},
        {"labels", {{"maroonedpods.io/pod-uid", id}, {"node-restriction.kubernetes.io/maroonedpods.io-pod-uid", id}}},
        {"annotations", {{"maroonedpods.io/owner-pod-uid", pod_uid}}}}},
      {"spec",
       {{"unschedulable", cordoned},
        {"taints", {{{"key", "maroonedpods.io/dedicated"}, {"value", taint_value}, {"effect", "NoSchedule"}}}}}},
      {"status", {{"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_objects)

BOOST_AUTO_TEST_CASE(node_is_eligible_only_when_vouched_ready_schedulable_and_tainted_for_the_pod) {
  const std::string key = "maroonedpods.io";
  BOOST_TEST(!node_not_eligible(node(true, false, id), id, pod_uid, key));
  BOOST_TEST(*node_not_eligible(node(false, false, id), id, pod_uid, key) == "it is not Ready");
  BOOST_TEST(*node_not_eligible(node(true, true, id), id, pod_uid, key) == "it is cordoned");
  BOOST_TEST(node_not_eligible(node(true, false, "other"), id, pod_uid, key)->find("lacks the taint") !=
             std::string::npos);
  BOOST_TEST(node_not_eligible(node(true, false, id), id, pod_uid, "example.com")
                 ->find("lacks the taint example.com/dedicated") != std::string::npos);
  BOOST_TEST(node_not_eligible(node(true, false, id), "other-id", pod_uid, key)->find("not vouched") !=
             std::string::npos);
  // A node that labels itself (only the claimed label) gets nothing.
  json self_labelled = node(true, false, id);
  self_labelled["metadata"]["labels"].erase("node-restriction.kubernetes.io/maroonedpods.io-pod-uid");
  BOOST_TEST(node_not_eligible(self_labelled, id, pod_uid, key)->find("not vouched") != std::string::npos);
  // Vouched for the id, but for another pod that claimed it (by metadata.uid).
  BOOST_TEST(node_not_eligible(node(true, false, id), id, "another-pod-uid", key)->find("vouched for another pod") !=
             std::string::npos);
  // Ready, but the node lifecycle controller has not lifted its not-ready taint yet: the
  // scheduler would refuse the pod.
  json lagging = node(true, false, id);
  lagging["spec"]["taints"].push_back({{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}});
  BOOST_TEST(*node_not_eligible(lagging, id, pod_uid, key) ==
             "it still carries the taint node.kubernetes.io/not-ready:NoSchedule");
  // NoExecute taints are not the scheduler's business here (the pod tolerates not-ready
  // and unreachable NoExecute by default).
  json no_execute = node(true, false, id);
  no_execute["spec"]["taints"].push_back({{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}});
  BOOST_TEST(!node_not_eligible(no_execute, id, pod_uid, key));
}

BOOST_AUTO_TEST_CASE(pod_id_needs_the_annotation_and_the_selector_to_agree) {
  json pod = {{"metadata", {{"annotations", {{"maroonedpods.io/pod-uid", id}}}}},
              {"spec", {{"nodeSelector", {{"maroonedpods.io/pod-uid", id}}}}}};
  BOOST_TEST(pod_id(pod) == id);  // created before the vouched selector existed
  pod["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] = id;
  BOOST_TEST(pod_id(pod) == id);
  pod["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] = "other";
  BOOST_TEST(pod_id(pod).empty());
  pod["spec"]["nodeSelector"].erase("node-restriction.kubernetes.io/maroonedpods.io-pod-uid");
  pod["metadata"]["annotations"]["maroonedpods.io/pod-uid"] = "other";
  BOOST_TEST(pod_id(pod).empty());
}

BOOST_AUTO_TEST_CASE(vouch_patch_applies_only_while_the_node_still_claims_the_id) {
  nodeboot::test::TempDir dir;
  json n = {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata",
             {{"name", "vm-1"},
              {"labels", {{"maroonedpods.io/pod-uid", id}}},
              {"annotations", {{"maroonedpods.io/join-proof", "abc"}}}}}};
  const json pod = {{"metadata", {{"name", "p"}, {"namespace", "t"}, {"uid", pod_uid}}}};
  const auto patch = vouch_patch(n, id, pod);
  auto r = nodeboot::test::run({"kubectl", "patch", "--local", "--type=json", "-f",
                                dir.write("n.json", n.dump()).string(), "-p", patch.dump(), "-o", "json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto vouched = json::parse(r.out);
  BOOST_TEST(vouched_id(vouched) == id);
  BOOST_TEST(owner_uid(vouched) == pod_uid);
  BOOST_TEST(vouched["metadata"]["annotations"]["maroonedpods.io/owner-pod"] == "t/p");
  BOOST_TEST(!vouched["metadata"]["annotations"].contains("maroonedpods.io/join-proof"));
  // The node changed its claim meanwhile: the `test` fails the whole patch.
  json moved = n;
  moved["metadata"]["labels"]["maroonedpods.io/pod-uid"] = "other";
  auto s = nodeboot::test::run({"kubectl", "patch", "--local", "--type=json", "-f",
                                dir.write("m.json", moved.dump()).string(), "-p", patch.dump(), "-o", "json"});
  BOOST_TEST(s.exit_code != 0);
}

BOOST_AUTO_TEST_CASE(join_proof_binds_credential_id_and_node_name) {
  const nodeboot::Secret credential(std::string(64, 'c'));
  const auto proof = join_proof(credential, id, "vm-1");
  BOOST_TEST(proof.size() == 64u);
  BOOST_TEST(proof_matches(credential, id, "vm-1", proof));
  BOOST_TEST(!proof_matches(credential, id, "vm-2", proof));  // read off one Node, useless on another
  BOOST_TEST(!proof_matches(credential, "other-id", "vm-1", proof));
  BOOST_TEST(!proof_matches(nodeboot::Secret(std::string(64, 'd')), id, "vm-1", proof));
  BOOST_TEST(!proof_matches(credential, id, "vm-1", ""));
  BOOST_TEST(!proof_matches(credential, id, "vm-1", proof.substr(1)));
  // HMAC-SHA256 as openssl computes it (an independent implementation).
  nodeboot::test::TempDir dir;
  const auto msg = dir.write("m", "nodeboot-join/v1\n" + id + "\nvm-1");
  auto r = nodeboot::test::run(
      {"openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "key:" + credential.reveal(), "-r", msg.string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.substr(0, 64) == proof);

  const json pod = {{"metadata", {{"name", "p"}, {"namespace", "t"}, {"uid", pod_uid}}}};
  const auto secret = join_secret(id, pod, credential);
  BOOST_TEST(secret["metadata"]["namespace"] == "nodeboot-marooned");
  BOOST_TEST(secret["metadata"]["name"] == "marooned-join-" + id);
  BOOST_TEST(secret["metadata"]["annotations"]["maroonedpods.io/owner-pod-uid"] == pod_uid);
  BOOST_TEST((credential_of(secret).value() == credential));
  BOOST_TEST(new_join_credential().reveal().size() == 64u);
  BOOST_TEST((new_join_credential() != new_join_credential()));
}

BOOST_AUTO_TEST_CASE(gate_patch_removes_only_our_gate_and_fails_if_the_gates_changed) {
  nodeboot::test::TempDir dir;
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"namespace", "default"}}},
              {"spec",
               {{"containers", {{{"name", "c"}, {"image", "i"}}}},
                {"schedulingGates", {{{"name", "a.io/x"}}, {{"name", "maroonedpods.io/gate"}}}}}}};
  const auto patch = gate_removal_patch(pod);
  BOOST_TEST_REQUIRE(patch.has_value());
  const auto file = dir.write("pod.json", pod.dump());
  // kubectl applies JSON patches offline with the API server's own library.
  auto r = nodeboot::test::run(
      {"kubectl", "patch", "--local", "--type=json", "-f", file.string(), "-p", patch->dump(), "-o", "json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(json::parse(r.out)["spec"]["schedulingGates"] == json::parse(R"([{"name":"a.io/x"}])"));

  json changed = pod;
  changed["spec"]["schedulingGates"].push_back({{"name", "b.io/y"}});
  const auto stale = dir.write("changed.json", changed.dump());
  auto s = nodeboot::test::run(
      {"kubectl", "patch", "--local", "--type=json", "-f", stale.string(), "-p", patch->dump(), "-o", "json"});
  BOOST_TEST(s.exit_code != 0);
  BOOST_TEST(!gate_removal_patch(json::parse(r.out)).has_value());
}

BOOST_AUTO_TEST_CASE(gate_patch_adds_the_vouched_selector_to_a_pod_created_before_it_existed) {
  nodeboot::test::TempDir dir;
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "p"}, {"namespace", "default"}, {"annotations", {{"maroonedpods.io/pod-uid", id}}}}},
      {"spec",
       {{"containers", {{{"name", "c"}, {"image", "i"}}}},
        {"nodeSelector", {{"maroonedpods.io/pod-uid", id}}},
        {"schedulingGates", {{{"name", "maroonedpods.io/gate"}}}}}}};
  const auto patch = gate_removal_patch(pod);
  BOOST_TEST_REQUIRE(patch.has_value());
  auto r = nodeboot::test::run({"kubectl", "patch", "--local", "--type=json", "-f",
                                dir.write("pod.json", pod.dump()).string(), "-p", patch->dump(), "-o", "json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto released = json::parse(r.out);
  BOOST_TEST(released["spec"]["nodeSelector"]["node-restriction.kubernetes.io/maroonedpods.io-pod-uid"] == id);
  BOOST_TEST(released["spec"].value("schedulingGates", json::array()).empty());
}

BOOST_AUTO_TEST_SUITE_END()
