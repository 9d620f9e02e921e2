#include <regex>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/marooned/vmi.hpp"
#include "nodeboot/util/base64.hpp"

using namespace nodeboot::marooned;
using nlohmann::json;

namespace {
json pod(const json& containers, const json& init = json::array()) {
  return {{"metadata",
           {{"name", "p"},
            {"namespace", "ns"},
            {"annotations", {{"maroonedpods.io/pod-uid", "0b7c1e3a-1111-4222-8333-444455556666"}}}}},
          {"spec",
           {{"containers", containers},
            {"initContainers", init},
            {"nodeSelector", {{"maroonedpods.io/pod-uid", "0b7c1e3a-1111-4222-8333-444455556666"}}}}}};
}
json requests(const char* cpu, const char* mem) {
  return {{"resources", {{"requests", {{"cpu", cpu}, {"memory", mem}}}}}};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_vmi)

BOOST_AUTO_TEST_CASE(tokens_use_the_whole_alphabet_evenly_and_only_it) {
  const auto s = random_lowercase_alnum(std::size_t{36} * 2000);
  std::map<char, int> counts;
  for (char c : s) ++counts[c];
  BOOST_TEST(counts.size() == 36u);
  // Each of 36 symbols expects 2000; bias from a modulo over 256 would give the first
  // four about 2220 (8/7 more). 1800..2200 is > 4 sigma wide for an even draw.
  for (const auto& [c, n] : counts) BOOST_TEST((n > 1800 && n < 2200), c << ": " << n);
  const auto t = new_bootstrap_token();
  BOOST_TEST(std::regex_match(t.token().reveal(), std::regex("[a-z0-9]{6}\\.[a-z0-9]{16}")));
}

BOOST_AUTO_TEST_CASE(bootstrap_secret_has_the_authenticators_shape) {
  const BootstrapToken t{"abcdef", nodeboot::Secret("0123456789abcdef")};
  const auto s =
      bootstrap_token_secret(t, std::chrono::system_clock::from_time_t(1800000000), "system:bootstrappers:x", "d");
  BOOST_TEST(s["metadata"]["name"] == "bootstrap-token-abcdef");
  BOOST_TEST(s["metadata"]["namespace"] == "kube-system");
  BOOST_TEST(s["type"] == "bootstrap.kubernetes.io/token");
  BOOST_TEST(*nodeboot::base64_decode(s["data"]["expiration"].get<std::string>()) == "2027-01-15T08:00:00Z");
  BOOST_TEST(*nodeboot::base64_decode(s["data"]["usage-bootstrap-authentication"].get<std::string>()) == "true");
  BOOST_TEST(*nodeboot::base64_decode(s["data"]["auth-extra-groups"].get<std::string>()) == "system:bootstrappers:x");
}

BOOST_AUTO_TEST_CASE(cloud_init_writes_join_info_privately) {
  const JoinInfo info{"https://10.0.0.1:6443", nodeboot::Secret("a.b"), "id-1", "example.com",
                      nodeboot::Secret("c0ffee")};
  const auto y = join_info_yaml(info).reveal();
  BOOST_TEST(y ==
             "server_url: \"https://10.0.0.1:6443\"\ntoken: \"a.b\"\npod_uid: \"id-1\"\ntaint_key: \"example.com\"\n"
             "credential: \"c0ffee\"\n");
  const auto c = cloud_init(info).reveal();
  BOOST_TEST(c.starts_with("#cloud-config\nwrite_files:\n- path: /etc/marooned/join-info.yaml\n"));
  BOOST_TEST(c.find("permissions: '0600'") != std::string::npos);
  BOOST_TEST(c.find("    pod_uid: \"id-1\"\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(quantities) {
  BOOST_TEST(*cpu_millis("500m") == 500);
  BOOST_TEST(*cpu_millis("1.5") == 1500);
  BOOST_TEST(*cpu_millis(2) == 2000);
  BOOST_TEST(*memory_bytes("512Mi") == 512LL * 1024 * 1024);
  BOOST_TEST(*memory_bytes("1G") == 1000000000LL);
  BOOST_TEST(*memory_bytes("1e3") == 1000);
  BOOST_TEST(!cpu_millis("lots"));
  BOOST_TEST(cpu_millis("lots").error().message.find("cpu") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(vmi_adds_overhead_to_requests_and_respects_the_floor) {
  const json config = {{"nodeImage", "img"},
                       {"baseVMResources", {{"cpu", 1}, {"memoryMi", 1024}}},
                       {"resourceOverhead", {{"cpu", "500m"}, {"memory", "512Mi"}}}};
  // Two containers (1.5 CPU, 1.5Gi) beat the init container (1 CPU, 3Gi) on CPU, not memory.
  auto big = render_vmi(
      pod(json::array({requests("1", "1Gi"), requests("500m", "512Mi")}), json::array({requests("1", "3Gi")})), config,
      "ud");
  BOOST_TEST_REQUIRE(big.has_value());
  BOOST_TEST((*big)["spec"]["domain"]["resources"]["requests"]["cpu"] == "2000m");
  BOOST_TEST((*big)["spec"]["domain"]["resources"]["requests"]["memory"] == "3584Mi");
  BOOST_TEST((*big)["spec"]["domain"]["cpu"]["cores"] == 2);
  // In nodeboot's namespace (its user-data holds the join token and credential), not the pod's.
  BOOST_TEST((*big)["metadata"]["namespace"] == "nodeboot-marooned");
  BOOST_TEST((*big)["metadata"]["annotations"]["maroonedpods.io/owner-pod"] == "ns/p");
  BOOST_TEST((*big)["spec"]["volumes"][1]["cloudInitNoCloud"]["secretRef"]["name"] == "ud");
  BOOST_TEST(!(*big)["spec"]["domain"].contains("firmware"));

  auto small = render_vmi(pod(json::array({requests("10m", "8Mi")})), config, "ud");
  BOOST_TEST((*small)["spec"]["domain"]["resources"]["requests"]["cpu"] == "1000m");
  BOOST_TEST((*small)["spec"]["domain"]["resources"]["requests"]["memory"] == "1024Mi");

  json kb = config;
  kb["enableKernelBoot"] = true;
  kb["kernelBootConfig"] = {{"kernelPath", "/boot/k"}};
  auto k = render_vmi(pod(json::array({requests("10m", "8Mi")})), kb, "ud");
  BOOST_TEST((*k)["spec"]["domain"]["firmware"]["kernelBoot"]["container"]["kernelPath"] == "/boot/k");
  BOOST_TEST((*k)["spec"]["domain"]["firmware"]["kernelBoot"]["container"]["initrdPath"] == "/initrd.img");

  BOOST_TEST(!render_vmi(pod(json::array()), json::object(), "ud"));
  BOOST_TEST(render_vmi(pod(json::array()), json::object(), "ud").error().message.find("nodeImage") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(requests_count_sidecars_and_overhead_as_the_scheduler_does) {
  auto sidecar = requests("500m", "512Mi");
  sidecar["restartPolicy"] = "Always";
  // Containers 1.5 CPU / 2.5Gi, plus the sidecar that runs beside them: 2 CPU / 3Gi. The
  // init container after the sidecar runs with it: 2 + 0.5 CPU, 1 + 0.5Gi.
  auto p =
      pod(json::array({requests("1", "2Gi"), requests("500m", "512Mi")}), json::array({sidecar, requests("2", "1Gi")}));
  auto r = pod_requests(p);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->cpu_millis == 2500);
  BOOST_TEST(r->memory_bytes == 3LL * 1024 * 1024 * 1024);
  // An init container before the sidecar runs alone.
  p["spec"]["initContainers"] = json::array({requests("2", "1Gi"), sidecar});
  BOOST_TEST(pod_requests(p)->cpu_millis == 2000);
  // The RuntimeClass overhead comes on top.
  p["spec"]["overhead"] = {{"cpu", "250m"}, {"memory", "64Mi"}};
  BOOST_TEST(pod_requests(p)->cpu_millis == 2250);
  BOOST_TEST(pod_requests(p)->memory_bytes == 3LL * 1024 * 1024 * 1024 + 64LL * 1024 * 1024);
  p["spec"]["overhead"]["cpu"] = "lots";
  BOOST_TEST(!pod_requests(p));
}

BOOST_AUTO_TEST_CASE(a_record_without_annotations_reads_as_the_first_attempt) {
  // As an older `marooned vmi --apply` wrote it: no attempt, no token ids.
  const json secret = {{"metadata", {{"name", "marooned-x-userdata"}, {"labels", {{"maroonedpods.io/pod-uid", "x"}}}}},
                       {"data", {{"userdata", nodeboot::base64_encode("#cloud-config\n")}}}};
  auto r = read_vm_record(secret);
  BOOST_TEST_REQUIRE(r.has_value(), r.error().message);
  BOOST_TEST(r->attempt == 1);
  BOOST_TEST(r->token_ids.empty());
  BOOST_TEST(!r->failed_to_place);
  BOOST_TEST(!read_vm_record(json{{"metadata", {{"name", "n"}}}}));
}

BOOST_AUTO_TEST_SUITE_END()
