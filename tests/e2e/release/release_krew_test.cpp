// krew itself (built from its Go module: fixture integration/krew_build) installs the
// release archive from the krew manifest (fixture integration/release_build) into a
// temporary KREW_ROOT; kubectl then runs the installed plugin against the real control plane.
#include <yaml-cpp/yaml.h>
#include <boost/test/unit_test.hpp>

#include "nodeboot/test/support.hpp"
#include "nodeboot/version.hpp"

using namespace nodeboot::test;
namespace fs = std::filesystem;

namespace {

fs::path env_dir(const char* name) {
  const char* d = std::getenv(name);
  BOOST_REQUIRE_MESSAGE(d && *d, name << " is not set: run through ctest (fixtures release_dist and krew)");
  return d;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(release_krew)

BOOST_AUTO_TEST_CASE(krew_installs_the_archive_and_kubectl_runs_the_plugin) {
  const auto dist = env_dir("NODEBOOT_DIST");
  const auto krew_bin = env_dir("NODEBOOT_KREW_BIN");
  std::string version(nodeboot::version());
  version = version.substr(0, version.find('+'));
  TempDir krew_root;
  // PATH: krew's bin dir, krew itself, then kubectl's own dir; never build/bin, so the plugin
  // kubectl finds can only be the one krew installed.
  auto kubectl_path = run({"sh", "-c", "command -v kubectl"});
  BOOST_REQUIRE(kubectl_path.exit_code == 0);
  const auto kubectl_dir = fs::path(kubectl_path.out.substr(0, kubectl_path.out.find('\n'))).parent_path();
  nodeboot::ProcessOptions o;
  o.env_set["KREW_ROOT"] = krew_root.path().string();
  o.env_set["PATH"] =
      (krew_root.path() / "bin").string() + ":" + krew_bin.string() + ":" + kubectl_dir.string() + ":/usr/bin:/bin";
  o.env_set["KUBECONFIG"] = cluster().kubeconfig.string();
  o.timeout = std::chrono::minutes(2);

  auto install = run({"kubectl", "krew", "install", "--manifest=" + (dist / "nodeboot.yaml").string(),
                      "--archive=" + (dist / ("kubectl-nodeboot_" + version + "_linux_amd64.tar.gz")).string()},
                     o);
  BOOST_REQUIRE_MESSAGE(install.exit_code == 0, install.out << install.err);
  BOOST_TEST(install.err.find("Installed plugin: nodeboot") != std::string::npos, install.err);

  // kubectl finds the plugin in KREW_ROOT/bin (krew's `list` needs its git index, not here).
  auto list = run({"kubectl", "plugin", "list"}, o);
  BOOST_TEST(list.out.find((krew_root.path() / "bin" / "kubectl-nodeboot").string()) != std::string::npos, list.out);

  auto v = run({"kubectl", "nodeboot", "version"}, o);
  BOOST_TEST(v.exit_code == 0, v.err);
  BOOST_TEST(v.out.find("Client Version: " + version) != std::string::npos, v.out);
  BOOST_TEST(v.out.find("Server Version: v1.") != std::string::npos, v.out);

  // The completion helper came along in the store; the caveats' own `ln` line puts it on
  // PATH, and then kubectl's completion finds it.
  const auto store = krew_root.path() / "store" / "nodeboot" / ("v" + version);
  BOOST_REQUIRE(fs::exists(store / "kubectl_complete-nodeboot"));
  const auto caveats = YAML::LoadFile((dist / "nodeboot.yaml").string())["spec"]["caveats"].as<std::string>();
  const auto ln = caveats.find("ln -sf");
  BOOST_REQUIRE(ln != std::string::npos);
  auto linked = run({"sh", "-c", caveats.substr(ln, caveats.find('\n', ln) - ln)}, o);
  BOOST_REQUIRE_MESSAGE(linked.exit_code == 0, linked.err);
  auto c = run({"kubectl", "__complete", "nodeboot", "vers"}, o);
  BOOST_TEST(c.out.starts_with("version\t"), c.out);
}

BOOST_AUTO_TEST_SUITE_END()
