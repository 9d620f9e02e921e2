// What scripts/release.sh made for this test run (fixture integration/release_build, in
// NODEBOOT_DIST): the archive's contents, the krew manifest's sha256 and fields, the
// one-file install, and the binary's portability proven again here.
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>
#include <boost/test/unit_test.hpp>

#include "nodeboot/test/support.hpp"
#include "nodeboot/version.hpp"

using namespace nodeboot::test;
namespace fs = std::filesystem;

namespace {

fs::path dist() {
  const char* d = std::getenv("NODEBOOT_DIST");
  BOOST_REQUIRE_MESSAGE(d && *d, "NODEBOOT_DIST is not set: run through ctest (fixture integration/release_build)");
  return d;
}

std::string archive_name() {
  std::string v(nodeboot::version());
  return "kubectl-nodeboot_" + v.substr(0, v.find('+')) + "_linux_amd64.tar.gz";
}

std::string sha256_of(const fs::path& p) {
  auto r = run({"sha256sum", p.string()});
  BOOST_REQUIRE(r.exit_code == 0);
  return r.out.substr(0, 64);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(release_archive)

BOOST_AUTO_TEST_CASE(archive_holds_the_binary_completion_helper_license_and_readme) {
  auto r = run({"tar", "-tzvf", (dist() / archive_name()).string()});
  BOOST_REQUIRE(r.exit_code == 0);
  std::set<std::string> names;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    names.insert(line.substr(line.rfind(' ') + 1));
    if (line.find("kubectl") != std::string::npos) BOOST_TEST(line.starts_with("-rwxr-xr-x"), line);
  }
  BOOST_TEST((names == std::set<std::string>{"kubectl-nodeboot", "kubectl_complete-nodeboot", "LICENSE", "README.md"}));
}

BOOST_AUTO_TEST_CASE(krew_manifest_matches_the_archive) {
  const auto m = YAML::LoadFile((dist() / "nodeboot.yaml").string());
  BOOST_TEST(m["apiVersion"].as<std::string>() == "krew.googlecontainertools.github.com/v1alpha2");
  BOOST_TEST(m["kind"].as<std::string>() == "Plugin");
  BOOST_TEST(m["metadata"]["name"].as<std::string>() == "nodeboot");  // = the file name
  const auto spec = m["spec"];
  BOOST_TEST(std::regex_match(spec["version"].as<std::string>(), std::regex(R"(v\d+\.\d+\.\d+)")));
  for (const char* f : {"homepage", "shortDescription", "description", "caveats"})
    BOOST_TEST(!spec[f].as<std::string>().empty(), f);
  BOOST_TEST(spec["shortDescription"].as<std::string>().size() <= 50u);  // krew's index asks for a short one
  BOOST_TEST(spec["caveats"].as<std::string>().find("nodes") != std::string::npos);
  BOOST_REQUIRE(spec["platforms"].size() == 1u);
  const auto p = spec["platforms"][0];
  BOOST_TEST(p["selector"]["matchLabels"]["os"].as<std::string>() == "linux");
  BOOST_TEST(p["selector"]["matchLabels"]["arch"].as<std::string>() == "amd64");
  BOOST_TEST(p["uri"].as<std::string>().ends_with("/" + archive_name()));
  const auto sha = p["sha256"].as<std::string>();
  BOOST_TEST(std::regex_match(sha, std::regex("[0-9a-f]{64}")));
  BOOST_TEST(sha == sha256_of(dist() / archive_name()));
  BOOST_TEST(p["bin"].as<std::string>() == "kubectl-nodeboot");
  bool license = false;
  for (const auto& f : p["files"]) license = license || f["from"].as<std::string>() == "LICENSE";
  BOOST_TEST(license);
}

BOOST_AUTO_TEST_CASE(krew_bot_template_is_the_manifest_with_placeholders) {
  // Everything but version, uri and sha256 must agree, or the bot publishes stale text.
  auto strip = [](const std::string& text) {
    std::string out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.starts_with("#") && line.find("version:") == std::string::npos &&
          line.find("uri:") == std::string::npos && line.find("sha256:") == std::string::npos &&
          line.find("addURIAndSha") == std::string::npos)
        out += line + "\n";
    return out;
  };
  BOOST_TEST(strip(read_file(source_dir() / "krew" / "nodeboot.yaml")) ==
             strip(read_file(source_dir() / "krew" / ".krew.yaml")));
}

BOOST_AUTO_TEST_CASE(one_file_installs_are_the_kustomize_render_of_manifests_with_the_release_images) {
  for (const std::string certs : {"self-managed", "cert-manager"}) {
    const auto file = certs == "self-managed" ? "nodeboot-install.yaml" : "nodeboot-install-cert-manager.yaml";
    const auto text = read_file(dist() / file);
    std::set<std::string> kinds;
    for (const auto& doc : YAML::LoadAll(text))
      kinds.insert(doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>());
    for (const char* k : {"Namespace/nodeboot-system", "Deployment/nodeboot-webhook", "DaemonSet/nodeboot-ipb",
                          "CustomResourceDefinition/maroonedpodsconfigs.maroonedpods.io"})
      BOOST_TEST(kinds.count(k) == 1u, k);
    BOOST_TEST(kinds.count("Certificate/nodeboot-webhook") == (certs == "cert-manager" ? 1u : 0u));
    auto r = run({(source_dir() / "packaging/images/render-install.sh").string(), "--images",
                  (dist() / "images.txt").string(), "--certs", certs});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out == text);
  }
}

BOOST_AUTO_TEST_CASE(plugin_in_the_archive_embeds_the_release_bundle) {
  TempDir tmp;
  BOOST_REQUIRE(run({"tar", "-xzf", (dist() / archive_name()).string(), "-C", tmp.path().string()}).exit_code == 0);
  const auto plugin = (tmp.path() / "kubectl-nodeboot").string();
  auto printed = run({plugin, "install", "-o", "yaml"});
  BOOST_TEST(printed.exit_code == 0, printed.err);
  BOOST_TEST(printed.out == read_file(dist() / "nodeboot-install.yaml"));
  BOOST_TEST(printed.err.empty(), printed.err);  // a release build: no "not a release build" warning
  auto cm = run({plugin, "install", "-o", "yaml", "--certs", "cert-manager"});
  BOOST_TEST(cm.out == read_file(dist() / "nodeboot-install-cert-manager.yaml"));
}

BOOST_AUTO_TEST_CASE(binary_needs_glibc_2_34_at_most_and_runs_in_a_glibc_only_root) {
  TempDir tmp;
  BOOST_REQUIRE(run({"tar", "-xzf", (dist() / archive_name()).string(), "-C", tmp.path().string()}).exit_code == 0);
  const auto bin = tmp.path() / "kubectl-nodeboot";
  // Independently of the script: the newest GLIBC_ version objdump reports.
  auto dump = run({"objdump", "-T", bin.string()});
  BOOST_REQUIRE(dump.exit_code == 0);
  std::pair<int, int> newest{0, 0};
  static const std::regex ver(R"(GLIBC_2\.(\d+)(?:\.(\d+))?)");
  for (std::sregex_iterator it(dump.out.begin(), dump.out.end(), ver), end; it != end; ++it)
    newest = std::max(newest, std::pair{2, std::stoi((*it)[1])});
  BOOST_TEST(newest.second > 0);
  BOOST_TEST(newest.second <= 34, "needs GLIBC_2." << newest.second);
  auto check = run({(source_dir() / "packaging/release/check-portable.sh").string(), bin.string()});
  BOOST_TEST(check.exit_code == 0, check.err);
  BOOST_TEST(check.out.find("ran --help: kubectl nodeboot") != std::string::npos, check.out);
  BOOST_TEST(check.out.find("ran version --client: Client Version: ") != std::string::npos, check.out);
}

BOOST_AUTO_TEST_SUITE_END()
