// `cluster generate` output checked by the real consumers: Debian's dnsmasq (--test),
// Ignition's own validator on every .ign, and Matchbox serving the directory on loopback
// (started by `cluster serve`), queried with curl as a PXE-booting node would.
// ignition-validate and matchbox come from tests/cluster/build-tools.sh (the ctest fixture
// integration/cluster_tools_build links their folder as NODEBOOT_CLUSTER_TOOLS).
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <yaml-cpp/yaml.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "cluster_env.hpp"
#include "nodeboot/test/support.hpp"
#include "nodeboot/util/base64.hpp"

using namespace nodeboot::test;
using nlohmann::json;
using nodeboot::test::cluster_env::plugin;
using nodeboot::test::cluster_env::tools_dir;
namespace fs = std::filesystem;

namespace {

// The kubeconfig upload endpoint serve also starts, on a free loopback port.
std::string upload_address() { return "127.0.0.1:" + std::to_string(free_loopback_port()); }

// Matchbox re-encodes Ignition from its Go structs, adding empty objects for unset
// fields; drop those so only what was generated is compared.
json without_empty_objects(const json& j) {
  if (j.is_object()) {
    json out = json::object();
    for (const auto& [k, v] : j.items()) {
      auto c = without_empty_objects(v);
      if (!(c.is_object() && c.empty())) out[k] = c;
    }
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (const auto& v : j) out.push_back(without_empty_objects(v));
    return out;
  }
  return j;
}

std::string curl(const std::string& url) {
  auto r = run({"curl", "-sS", "--fail", url});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "curl " << url << ": " << r.err);
  return r.out;
}

struct Generated {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  json nodes = json::array();  // [{name, mac}] from the good file
  Generated(const std::vector<std::string>& extra = {}) {
    // mkdtemp makes 0700; dnsmasq (running as nobody) must reach the TFTP root inside.
    fs::permissions(tmp.path(), fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
    auto yaml = tmp.write("cluster.yaml", read_file(source_dir() / "tests/support/data/cluster.yaml"));
    std::vector<std::string> args{"cluster", "generate", "-f", yaml.string(), "-o", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = plugin(args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    token = read_file(out / "kubeadm-token");
    while (!token.empty() && token.back() == '\n') token.pop_back();
    BOOST_TEST(r.out.find(token) == std::string::npos);  // the token stays off the terminal
    BOOST_TEST(r.err.find(token) == std::string::npos);
    nodes = json::array({{{"name", "cp-1"}, {"mac", "52:54:00:00:00:01"}, {"role", "bootstrap"}},
                         {{"name", "worker-1"}, {"mac", "52:54:00:00:00:02"}, {"role", "worker"}},
                         {{"name", "worker-2"}, {"mac", "52:54:00:00:00:ab"}, {"role", "worker"}}});
  }
  std::string token;
  json file(const std::string& rel) const { return json::parse(read_file(out / rel)); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_tools)

BOOST_AUTO_TEST_CASE(dnsmasq_accepts_the_generated_config) {
  Generated g;
  auto r = run({"dnsmasq", "--test", "--conf-file=" + (g.out / "dnsmasq.conf").string()});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.err.find("syntax check OK") != std::string::npos, r.err);
  auto conf = read_file(g.out / "dnsmasq.conf");
  BOOST_TEST(conf.find("dhcp-range=192.168.1.0,proxy,255.255.255.0") != std::string::npos);
  BOOST_TEST(conf.find("undionly.kpxe") != std::string::npos);  // BIOS
  BOOST_TEST(conf.find("ipxe.efi") != std::string::npos);       // UEFI
  BOOST_TEST(conf.find("http://192.168.1.10:8080/boot.ipxe") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ignition_validate_accepts_every_ign) {
  Generated g;
  auto validator = (tools_dir() / "ignition-validate").string();
  int count = 0;
  for (const auto& e : fs::directory_iterator(g.out / "ignition")) {
    auto r = run({validator, e.path().string()});
    BOOST_TEST(r.exit_code == 0, e.path().filename() << ": " << r.out << r.err);
    BOOST_TEST(r.out + r.err == "", e.path().filename() << " has warnings: " << r.out << r.err);
    BOOST_TEST(g.file("ignition/" + e.path().filename().string())["ignition"]["version"] == "3.4.0");
    ++count;
  }
  BOOST_TEST(count == 6);  // install + installed, for 3 nodes
}

BOOST_AUTO_TEST_CASE(matchbox_serves_each_nodes_profile_and_ignition) {
  Generated g;
  const auto address = "127.0.0.1:" + std::to_string(free_loopback_port());
  auto s = plugin({"cluster", "serve", "-o", g.out.string(), "--no-dnsmasq", "--matchbox-address", address,
                   "--matchbox", (tools_dir() / "matchbox").string(), "--upload-address", upload_address()});
  BOOST_REQUIRE_MESSAGE(s.exit_code == 0, s.err);
  struct Stop {
    fs::path dir;
    ~Stop() { plugin({"cluster", "teardown", "-o", dir.string()}); }
  } stop{g.out};
  const std::string base = "http://" + address;
  for (const auto& n : g.nodes) {
    const std::string name = n["name"], mac = n["mac"];
    std::string hyphen = mac;
    std::replace(hyphen.begin(), hyphen.end(), ':', '-');  // iPXE sends ${mac:hexhyp}
    BOOST_TEST_CONTEXT("node " << name) {
      auto profile = g.file("profiles/install-" + name + ".json");
      auto script = curl(std::string(base).append("/ipxe?mac=").append(hyphen));
      std::string kernel_line = "kernel " + profile["boot"]["kernel"].get<std::string>();
      for (const auto& a : profile["boot"]["args"]) kernel_line += " " + a.get<std::string>();
      BOOST_TEST(script.find(kernel_line + "\n") != std::string::npos, script);
      BOOST_TEST(script.find("initrd " + profile["boot"]["initrd"][0].get<std::string>()) != std::string::npos);
      BOOST_TEST(kernel_line.find("flatcar.first_boot=yes") != std::string::npos);
      BOOST_TEST(kernel_line.find("flatcar.config.url=http://192.168.1.10:8080/ignition?") != std::string::npos);

      auto installed =
          json::parse(curl(std::string(base).append("/ignition?mac=").append(mac).append("&os=installed")));
      BOOST_TEST(without_empty_objects(installed) == g.file("ignition/" + name + ".ign"));
      auto install = json::parse(curl(std::string(base).append("/ignition?mac=").append(hyphen)));
      BOOST_TEST(without_empty_objects(install) == g.file("ignition/install-" + name + ".ign"));
      BOOST_TEST(install.dump() != installed.dump());
    }
  }
  BOOST_TEST(run({"curl", "-s", "--fail", base + "/ipxe?mac=52-54-00-99-99-99"}).exit_code != 0);  // unknown MAC
  auto t = plugin({"cluster", "teardown", "-o", g.out.string()});
  BOOST_TEST(t.out.find("matchbox stopped") != std::string::npos, t.out << t.err);
  BOOST_TEST(run({"curl", "-s", base + "/"}).exit_code != 0);
}

BOOST_AUTO_TEST_CASE(templates_dir_overrides_one_template_and_keeps_the_rest) {
  TempDir templates;
  templates.write(
      "ignition/worker.yaml.tmpl",
      "ignition: {version: 3.4.0}\nstorage:\n  files:\n    - path: /etc/motd\n      mode: 0644\n"
      "      contents: {inline: \"${NODE_NAME} in ${CLUSTER_NAME} (${NODE_ROLE}, ${NODE_IP}, ${NODE_MAC})\"}\n");
  Generated g({"--templates", templates.path().string()});
  auto w = g.file("ignition/worker-1.ign");
  BOOST_TEST(w["storage"]["files"][0]["contents"]["source"] ==
             "data:;base64,d29ya2VyLTEgaW4gbGFiICh3b3JrZXIsIDE5Mi4xNjguMS4yMSwgNTI6NTQ6MDA6MDA6MDA6MDIp");
  auto cp = read_file(g.out / "ignition/cp-1.ign");
  BOOST_TEST(cp.find("kubeadm") != std::string::npos);  // built-in bootstrap template
  auto r = run({(tools_dir() / "ignition-validate").string(), (g.out / "ignition/worker-1.ign").string()});
  BOOST_TEST(r.exit_code == 0, r.err);
}

BOOST_AUTO_TEST_CASE(serve_starts_dnsmasq_and_matchbox_and_teardown_stops_both) {
  // dnsmasq binds DHCP (67) and TFTP (69): this needs root, which the test machine has.
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: not root");
    return;
  }
  Generated g;
  const auto address = "127.0.0.1:" + std::to_string(free_loopback_port());
  auto s = plugin({"cluster", "serve", "-o", g.out.string(), "--matchbox-address", address, "--matchbox",
                   (tools_dir() / "matchbox").string(), "--upload-address", upload_address()});
  BOOST_REQUIRE_MESSAGE(s.exit_code == 0, s.out << s.err);
  BOOST_TEST(s.out.find("dnsmasq started") != std::string::npos);
  auto again = plugin({"cluster", "serve", "-o", g.out.string(), "--matchbox-address", address, "--matchbox",
                       (tools_dir() / "matchbox").string(), "--upload-address", upload_address()});
  BOOST_TEST(again.exit_code == 1);
  BOOST_TEST(again.err.find("already runs") != std::string::npos, again.err);
  auto t = plugin({"cluster", "teardown", "-o", g.out.string()});
  BOOST_TEST(t.out == "dnsmasq stopped\nupload stopped\nmatchbox stopped\n", t.out << t.err);
  BOOST_TEST(read_file(g.out / "logs/dnsmasq.log").find("proxy on subnet 192.168.1.0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(secrets_are_generated_once_reused_and_reach_only_their_files) {
  Generated g;
  const auto key = read_file(g.out / "certificate-key").substr(0, 64);
  BOOST_TEST(key.find_first_not_of("0123456789abcdef") == std::string::npos);
  auto again = plugin({"cluster", "generate", "-f", (g.tmp.path() / "cluster.yaml").string(), "-o", g.out.string()});
  BOOST_TEST(again.exit_code == 0, again.err);
  BOOST_TEST(again.out.find("kubeadm token: reused from") != std::string::npos, again.out);
  BOOST_TEST(read_file(g.out / "kubeadm-token").substr(0, 23) == g.token);
  // kubeadm init (cp-1) and the files of the nodes that join carry them; nothing else does.
  auto files_text = [&](const std::string& ign) {
    std::string all;
    const json doc = g.file("ignition/" + ign);  // kept alive: the loop below walks into it
    for (const auto& f : doc["storage"]["files"]) {
      std::string src = f["contents"]["source"];
      if (src.starts_with("data:;base64,")) all += *nodeboot::base64_decode(src.substr(13));
    }
    return all;
  };
  BOOST_TEST(files_text("cp-1.ign").find("certificateKey: " + key) != std::string::npos);
  BOOST_TEST(files_text("cp-1.ign").find("token: " + g.token) != std::string::npos);
  BOOST_TEST(files_text("worker-1.ign").find("token: " + g.token) != std::string::npos);
  BOOST_TEST(files_text("worker-1.ign").find(key) == std::string::npos);
  BOOST_TEST(read_file(g.out / "ignition/install-worker-1.ign").find(g.token) == std::string::npos);
  BOOST_TEST(((fs::status(g.out / "ignition/worker-1.ign").permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)));
}

BOOST_AUTO_TEST_CASE(serve_names_a_missing_program_and_starts_nothing) {
  Generated g;
  auto s = plugin({"cluster", "serve", "-o", g.out.string(), "--matchbox", "/nonexistent/matchbox"});
  BOOST_TEST(s.exit_code == 1);
  BOOST_TEST(s.err.find("matchbox (\"/nonexistent/matchbox\") is not installed") != std::string::npos, s.err);
  BOOST_TEST(!fs::exists(g.out / "run" / "matchbox.pid"));
  BOOST_TEST(!fs::exists(g.out / "run" / "dnsmasq.pid"));
}

BOOST_AUTO_TEST_CASE(the_seeds_files_the_example_validates_and_the_entrypoint_fills_in_versions) {
  const auto dir = source_dir() / "packaging/bootstrap-node";
  // Everything in the example validates but the sysext digest, which it leaves for the user
  // (nodeboot cannot pin it for every release): that is its one finding, with the fix.
  const auto example = read_file(dir / "cluster.yaml.example");
  auto v = plugin({"cluster", "validate", "--strict", "-f", (dir / "cluster.yaml.example").string()});
  BOOST_TEST(v.exit_code == 1);
  BOOST_TEST(v.err.find(": error: cluster.kubernetes_sysext_sha256: is the example's placeholder (all zeros) (fix: "
                        "replace it with the digest from the line for kubernetes-v1.31.0-x86-64.raw in SHA256SUMS of "
                        "the release https://github.com/flatcar/sysext-bakery/releases/tag/kubernetes-v1.31.0)") !=
                 std::string::npos,
             v.err);
  BOOST_TEST(v.err.find("1 error(s), 0 warning(s)") != std::string::npos, v.err);
  TempDir filled;
  const std::string zeros(64, '0');
  auto with_digest = example;
  with_digest.replace(with_digest.find(zeros), zeros.size(), std::string(64, 'a'));
  v = plugin({"cluster", "validate", "--strict", "-f", filled.write("cluster.yaml", with_digest).string()});
  BOOST_TEST(v.exit_code == 0, v.out << v.err);

  // The compose file carries seed 002's `docker run` flags.
  auto compose = YAML::LoadFile((dir / "compose.yaml").string())["services"]["bootstrap"];
  BOOST_TEST(compose["network_mode"].as<std::string>() == "host");
  BOOST_TEST(compose["privileged"].as<bool>());
  BOOST_TEST(compose["volumes"][0].as<std::string>() == "./cluster.yaml:/config/cluster.yaml:ro");
  BOOST_TEST(compose["volumes"][1].as<std::string>() == "./output:/output");
  BOOST_TEST(compose["build"]["args"]["K8S_VERSION"].as<std::string>() == "1.31.0");
  const auto containerfile = read_file(dir / "Containerfile");
  BOOST_TEST(containerfile.find("ARG FLATCAR_VERSION=") != std::string::npos);
  BOOST_TEST(containerfile.find("ARG K8S_VERSION=") != std::string::npos);

  // The entrypoint passes the image's K8S_VERSION / FLATCAR_VERSION to a cluster.yaml without versions.
  TempDir tmp;
  auto text = read_file(source_dir() / "tests/support/data/cluster.yaml");
  for (const std::string line : {"  k8s_version: \"1.31.0\"\n", "  flatcar_version: \"3975.2.2\"\n"})
    text.erase(text.find(line), line.size());
  auto yaml = tmp.write("cluster.yaml", text);
  nodeboot::ProcessOptions env;
  env.env_set = {
      {"PATH", path_with_bin_dir()}, {"CLUSTER_CONFIG", yaml.string()}, {"OUTPUT_DIR", (tmp.path() / "out").string()}};
  auto bare = run({(dir / "entrypoint.sh").string(), "validate"}, env);
  BOOST_TEST(bare.exit_code == 1);
  BOOST_TEST(bare.err.find("cluster.k8s_version: is required") != std::string::npos, bare.err);
  env.env_set["K8S_VERSION"] = "1.32.1";
  env.env_set["FLATCAR_VERSION"] = "4081.2.0";
  auto with_args = run({(dir / "entrypoint.sh").string(), "generate"}, env);
  BOOST_TEST(with_args.exit_code == 0, with_args.err);
  BOOST_TEST(read_file(tmp.path() / "out/ignition/cp-1.ign").find("kubernetes-v1.32.1-x86-64.raw") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
