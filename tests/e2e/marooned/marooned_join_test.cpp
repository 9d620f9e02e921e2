// join-info → vmi → join round trip (seed 004): what `kubectl nodeboot marooned` renders
// for a pod the real webhook mutated (with the join credential the real controller issued)
// drives `nodeboot-agent join` in a temporary root to a k3s configuration whose label and
// taints match the pod's, a node registered by its own kubelet identity, its join proof,
// and the controller's vouching.
#include <sys/stat.h>

#include <filesystem>
#include <regex>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "marooned_env.hpp"
#include "nodeboot/util/base64.hpp"

using namespace nodeboot::test;
using namespace nodeboot::test::marooned;
using nlohmann::json;
namespace names = nodeboot::names;

namespace {

struct Suite {
  static inline Installation* nb = nullptr;  // the controller issues the join credential and vouches
  static inline json pod;
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static): Boost.Test calls it on the fixture
  void setup() {
    nb = new Installation("join");
    pod = create_pod(nb->env.pod(true, "join-"));
    nb->env.credential(pod_uid_of(pod));  // waits until the controller has issued it
  }
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
  void teardown() {
    delete_kubevirt_crds();
    delete nb;
  }
};

std::string pod_name() { return Suite::pod["metadata"]["name"]; }
std::string id() { return pod_uid_of(Suite::pod); }

nodeboot::ProcessResult plugin(std::vector<std::string> args) {
  args.insert(args.begin(), {"nodeboot", "marooned"});
  args.insert(args.end(), {"-n", Suite::nb->env.ns});
  return cluster().kubectl(args);
}

// The bootstrap tokens made for this suite's pod: their description names its id.
std::size_t tokens_for_pod() {
  const auto list = kubectl_json(
      {"get", "secrets", "-n", "kube-system", "--field-selector", "type=bootstrap.kubernetes.io/token", "-o", "json"});
  std::size_t n = 0;
  for (const auto& s : list["items"]) {
    const auto description = nodeboot::base64_decode(s["data"].value("description", ""));
    if (description && description->find(id()) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_join, *boost::unit_test::fixture<Suite>())

BOOST_AUTO_TEST_CASE(join_info_goes_only_to_the_named_file) {
  TempDir dir;
  const auto token_file = dir.write("token", "abcdef.0123456789abcdef\n");
  const auto out = dir.path() / "join-info.yaml";
  auto r = plugin({"join-info", pod_name(), "--token-file", token_file.string(), "--output-file", out.string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("0123456789abcdef") == std::string::npos);
  BOOST_TEST(r.err.find("0123456789abcdef") == std::string::npos);
  struct stat st {};
  BOOST_REQUIRE(::stat(out.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  const auto text = read_file(out);
  BOOST_TEST(text.find("pod_uid: \"" + id() + "\"") != std::string::npos, text);
  BOOST_TEST(text.find("token: \"abcdef.0123456789abcdef\"") != std::string::npos);
  BOOST_TEST(text.find("taint_key: \"maroonedpods.io\"") != std::string::npos);
  const auto credential = Suite::nb->env.credential(id()).reveal();
  BOOST_TEST(text.find("credential: \"" + credential + "\"") != std::string::npos);
  BOOST_TEST(r.err.find(credential) == std::string::npos);

  auto no_file = plugin({"join-info", pod_name()});
  BOOST_TEST(no_file.exit_code == 2);
  BOOST_TEST(no_file.err.find("--output-file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(join_info_creates_a_bootstrap_token) {
  TempDir dir;
  const auto out = dir.path() / "join-info.yaml";
  auto r = plugin({"join-info", pod_name(), "--ttl", "2h", "--output-file", out.string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  std::smatch m;
  const auto text = read_file(out);
  BOOST_REQUIRE(std::regex_search(text, m, std::regex("token: \"([a-z0-9]{6})\\.([a-z0-9]{16})\"")));
  const auto secret = kubectl_json({"get", "secret", "-n", "kube-system", "bootstrap-token-" + m[1].str()});
  BOOST_TEST(secret["type"] == "bootstrap.kubernetes.io/token");
  BOOST_TEST(secret["data"].contains("expiration"));
  BOOST_TEST(secret["data"].contains("auth-extra-groups"));
  BOOST_TEST(r.out.find(m[2].str()) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_refused_first_and_a_failed_write_leaves_no_token) {
  TempDir dir;
  const auto before = tokens_for_pod();
  // A malformed --ttl is a usage error, found before anything is read or created.
  auto bad_ttl = plugin({"join-info", pod_name(), "--ttl", "soon", "--output-file", (dir.path() / "j").string()});
  BOOST_TEST(bad_ttl.exit_code == 2);
  BOOST_TEST(bad_ttl.err.find("--ttl") != std::string::npos, bad_ttl.err);
  auto no_pod = plugin({"vmi", "--output", "json"});
  BOOST_TEST(no_pod.exit_code == 2);
  BOOST_TEST(no_pod.err.find("a pod name is required") != std::string::npos, no_pod.err);
  // The token is created, then the file cannot be written: the token is deleted again.
  auto unwritable = plugin({"join-info", pod_name(), "--output-file", (dir.path() / "missing/j.yaml").string()});
  BOOST_TEST(unwritable.exit_code == 1, unwritable.err);
  BOOST_TEST(unwritable.err.find("missing") != std::string::npos, unwritable.err);
  BOOST_TEST(tokens_for_pod() == before);
  BOOST_TEST(!std::filesystem::exists(dir.path() / "j"));
}

BOOST_AUTO_TEST_CASE(vmi_renders_from_the_config_and_apply_needs_kubevirt) {
  auto r = plugin({"vmi", pod_name(), "-o", "json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto vmi = json::parse(r.out);
  BOOST_TEST(vmi["kind"] == "VirtualMachineInstance");
  BOOST_TEST(vmi["metadata"]["labels"][std::string(names::maroon_pod_uid)] == id());
  BOOST_TEST(vmi["spec"]["volumes"][0]["containerDisk"]["image"] == "quay.io/nodeboot/marooned-node:latest");
  // 100m + 500m overhead is below the 1-CPU floor; 64Mi + 512Mi below the 1024Mi floor.
  BOOST_TEST(vmi["spec"]["domain"]["resources"]["requests"]["cpu"] == "1000m");
  BOOST_TEST(vmi["spec"]["domain"]["resources"]["requests"]["memory"] == "1024Mi");

  auto missing = plugin({"vmi", pod_name(), "--apply", "--token-file", "/dev/null"});
  BOOST_TEST(missing.exit_code == 1);
  BOOST_TEST(missing.err.find("virtualmachineinstances.kubevirt.io) is not installed") != std::string::npos,
             missing.err);
}

BOOST_AUTO_TEST_CASE(vmi_user_data_drives_agent_join_to_the_pods_label_and_taint) {
  TempDir dir;
  const auto token_file = dir.write("token", "abcdef.0123456789abcdef\n");
  install_kubevirt_crds();
  auto r = plugin({"vmi", pod_name(), "--apply", "--token-file", token_file.string()});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("0123456789abcdef") == std::string::npos);
  // The VM and its user-data (token and credential) live in nodeboot's namespace, not the tenant's.
  BOOST_TEST(
      cluster().kubectl({"get", "secret", "-n", Suite::nb->env.ns, "marooned-" + id() + "-userdata"}).exit_code != 0);
  const auto secret =
      kubectl_json({"get", "secret", "-n", std::string(names::marooned_namespace), "marooned-" + id() + "-userdata"});
  const auto userdata = nodeboot::base64_decode(secret["data"]["userdata"].get<std::string>()).value();
  BOOST_TEST(userdata.starts_with("#cloud-config\n"));
  kubectl_json({"get", "virtualmachineinstance", "-n", std::string(names::marooned_namespace), "marooned-" + id()});

  // The VM's first boot, in a temporary root.
  TempDir root;
  const std::string node = unique_name("joined");
  auto join = agent_join(root.path(), join_info_from_cloud_init(userdata), node);
  BOOST_TEST_REQUIRE(join.exit_code == 0, join.out << join.err);
  BOOST_TEST(join.out.find("0123456789abcdef") == std::string::npos);
  BOOST_TEST(join.out.find("registered and vouched for marooned pod " + id()) != std::string::npos, join.out);

  // What the k3s agent would register with equals what the webhook put in the pod.
  const auto config = read_file(root.path() / "etc/rancher/k3s/config.yaml");
  const auto& spec = Suite::pod["spec"];
  const std::string selector = spec["nodeSelector"][std::string(names::maroon_pod_uid)];
  BOOST_TEST(config.find("\"" + std::string(names::maroon_pod_uid) + "=" + selector + "\"") != std::string::npos,
             config);
  int tolerations = 0;
  for (const auto& t : spec["tolerations"])
    if (t.value("key", "") == "maroonedpods.io/dedicated") {
      ++tolerations;
      const auto taint =
          t["key"].get<std::string>() + "=" + t["value"].get<std::string>() + ":" + t["effect"].get<std::string>();
      BOOST_TEST(config.find("\"" + taint + "\"") != std::string::npos, config);
    }
  BOOST_TEST(tolerations == 2);
  BOOST_TEST(config.find("token: \"abcdef.0123456789abcdef\"") != std::string::npos);
  const auto registered = kubectl_json({"get", "node", node});
  BOOST_TEST(registered["metadata"]["labels"][std::string(names::maroon_pod_uid)] == selector);
  // Vouched by the controller after the proof, which is gone once used.
  BOOST_TEST(registered["metadata"]["labels"][std::string(names::maroon_vouched_label)] == selector);
  BOOST_TEST(!registered["metadata"]["annotations"].contains(std::string(names::maroon_join_proof)));
  BOOST_TEST(registered["spec"]["taints"][0]["key"] == "maroonedpods.io/dedicated");
  BOOST_TEST(registered["spec"]["taints"][0]["value"] == selector);
}

BOOST_AUTO_TEST_CASE(kubevirt_schema_admits_the_rendered_vmi_and_refuses_a_malformed_one) {
  // Every VirtualMachineInstance below went through when the CRD had no schema.
  install_kubevirt_crds();
  // What the API server makes of `vmi` (kubectl's strict field validation: an unknown field
  // is refused, not pruned), as the process result and, when admitted, the object it would
  // store; under a name of its own (the round trip above created the pod's VM).
  auto dry_run = [](json vmi) {
    vmi["metadata"]["name"] = unique_name("schema");
    return cluster().kubectl({"create", "--dry-run=server", "--validate=strict", "-o", "json", "-f", "-"}, vmi.dump());
  };
  // Both shapes the renderer has: the containerDisk's bootloader and (enableKernelBoot) the
  // kernel booted from the node image.
  std::vector<nodeboot::ProcessResult> renders;
  for (const bool kernel_boot : {true, false}) {  // the shipped default (false) restored last
    const auto patch = json{{"spec", {{"enableKernelBoot", kernel_boot}}}}.dump();
    cluster().kubectl_ok({"patch", "mpconfig", "default", "--type=merge", "-p", patch});
    renders.push_back(plugin({"vmi", pod_name(), "-o", "json"}));
  }
  std::vector<json> rendered;
  for (const auto& r : renders) {
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    rendered.push_back(json::parse(r.out));
  }
  BOOST_TEST(rendered.front()["spec"]["domain"].contains("firmware"));
  BOOST_TEST(!rendered.back()["spec"]["domain"].contains("firmware"));
  for (const auto& vmi : rendered) {
    auto admitted = dry_run(vmi);
    BOOST_TEST_REQUIRE(admitted.exit_code == 0, admitted.err << "\n" << vmi.dump(2));
    // Nothing pruned, nothing defaulted: the API server keeps what was rendered.
    BOOST_TEST(json::parse(admitted.out)["spec"] == vmi["spec"], admitted.out);
  }

  // The schema bites: a wrong type or a malformed quantity in spec.domain.resources.
  struct Malformed {
    json resources;
    std::string refusal;
  };
  const std::vector<Malformed> malformed{
      {{{"requests", "1000m"}}, "spec.domain.resources.requests in body must be of type object"},
      {{{"requests", {{"cpu", "1000m"}, {"memory", "lots"}}}},
       "spec.domain.resources.requests.memory in body should match"},
      {{{"requests", {{"cpu", "1000m"}, {"memory", "1024Mi"}}}, {"overcommitGuestOverhead", "yes"}},
       "spec.domain.resources.overcommitGuestOverhead in body must be of type boolean"},
  };
  for (const auto& [resources, refusal] : malformed) {
    auto vmi = rendered.back();
    vmi["spec"]["domain"]["resources"] = resources;
    auto refused = dry_run(vmi);
    BOOST_TEST(refused.exit_code != 0, resources.dump());
    BOOST_TEST(refused.err.find(refusal) != std::string::npos, refused.err);
  }
}

BOOST_AUTO_TEST_CASE(config_crd_defaults_and_validates) {
  // By its short name; the default config sets only nodeImage and nodeTaintKey.
  const auto config = kubectl_json({"get", "mpconfig", "default"});
  BOOST_TEST(config["spec"]["nodeTaintKey"] == "maroonedpods.io");
  BOOST_TEST(config["spec"]["baseVMResources"]["memoryMi"] == 1024);
  BOOST_TEST(config["spec"]["resourceOverhead"]["memory"] == "512Mi");
  BOOST_TEST(config["spec"]["enableKernelBoot"] == false);
  auto bad = cluster().kubectl({"apply", "--dry-run=server", "-f", "-"},
                               R"({"apiVersion":"maroonedpods.io/v1alpha1","kind":"MaroonedPodsConfig",)"
                               R"("metadata":{"name":"bad"},"spec":{"nodeTaintKey":"Not_A_Domain"}})");
  BOOST_TEST(bad.exit_code != 0);
  BOOST_TEST(bad.err.find("spec.nodeImage") != std::string::npos, bad.err);
  BOOST_TEST(bad.err.find("spec.nodeTaintKey") != std::string::npos, bad.err);
}

BOOST_AUTO_TEST_CASE(list_shows_id_state_and_node) {
  auto& env = Suite::nb->env;
  auto r = plugin({"list", "-o", "json"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
  const auto rows = json::parse(r.out)["items"];
  bool found = false;
  for (const auto& row : rows)
    if (row["pod"] == pod_name()) {
      found = true;
      BOOST_TEST(row["id"] == id());
      // The round trip above registered and vouched a node for it; kwok reports it Ready and
      // the controller released the pod onto it.
      BOOST_TEST(row["state"] != "Gated");
      BOOST_TEST(!row["node"].get<std::string>().empty());
      // `vmi --apply` above created its VM; no KubeVirt runs here to give it a phase.
      BOOST_TEST(row["vm"] == "Pending");
    }
  BOOST_TEST(found, r.out);
  const auto fresh = create_pod(env.pod(true, "list-"));
  auto table = plugin({"list"});
  BOOST_TEST_REQUIRE(table.exit_code == 0, table.err);
  BOOST_TEST(table.out.starts_with("POD "), table.out);
  const auto line = table.out.substr(table.out.find(fresh["metadata"]["name"].get<std::string>()));
  BOOST_TEST(line.substr(0, line.find('\n')).find(" Gated ") != std::string::npos, table.out);
  // Columns line up, also where a value is <none> (the fresh pod has no node yet).
  const auto header = table.out.substr(0, table.out.find('\n'));
  const auto row = line.substr(0, line.find('\n'));
  BOOST_TEST(row.substr(header.find("NODE")).starts_with("<none> "), table.out);
  BOOST_TEST(row.substr(header.find("VM")).starts_with("<none> "), table.out);  // no VM made for it here
  BOOST_TEST(row.rfind(' ', row.size() - 1) + 1 == header.find("AGE"), table.out);
}

BOOST_AUTO_TEST_SUITE_END()
