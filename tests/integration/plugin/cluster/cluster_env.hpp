#pragma once

// What the `cluster` integration suites share: the peers build-tools.sh built, the plugin
// under test, cluster.yaml variants with every role, their generated output, and reading
// files out of a generated Ignition.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "nodeboot/test/support.hpp"
#include "nodeboot/util/base64.hpp"

namespace nodeboot::test::cluster_env {

using nlohmann::json;
namespace fs = std::filesystem;

// Set by ctest (tests/cluster/tools.cmake): the folder with ignition-validate, ignition and matchbox.
inline fs::path tools_dir() {
  const char* dir = std::getenv("NODEBOOT_CLUSTER_TOOLS");
  BOOST_REQUIRE_MESSAGE(dir, "NODEBOOT_CLUSTER_TOOLS is not set (run through ctest)");
  return dir;
}

inline ProcessResult plugin(const std::vector<std::string>& args, const ProcessOptions& o = {}) {
  std::vector<std::string> argv{(bin_dir() / "kubectl-nodeboot").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, o);
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

// cluster.yaml variants of the good file: a second controller, a pod subnet other than
// flannel's default, a CNI, an install disk. The nodes: cp-1 (the first controller), cp-2
// (another controller), worker-2.
struct Variant {
  std::string cni = "flannel";
  std::string text() const {
    auto s = read_file(source_dir() / "tests/support/data/cluster.yaml");
    s = replace_all(s, "  pod_subnet: 10.244.0.0/16\n", "  pod_subnet: 10.32.0.0/16\n  cni: " + cni + "\n");
    s = replace_all(s, "  - name: worker-1\n    role: worker\n", "  - name: cp-2\n    role: controller\n");
    s = replace_all(s, "    mac: 5254.0000.00AB\n",
                    "    mac: 5254.0000.00AB\n    install_disk: /dev/nvme0n1\n    disks: [nvme0n1]\n");
    return s;
  }
};

struct Generated {
  TempDir tmp;
  fs::path out = tmp.path() / "out";
  explicit Generated(const Variant& v = {}) {
    auto yaml = tmp.write("cluster.yaml", v.text());
    auto r = plugin({"cluster", "generate", "-f", yaml.string(), "-o", out.string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    token = read_file(out / "upload/token").substr(0, 64);
    BOOST_TEST(r.out.find(token) == std::string::npos);
    BOOST_TEST(r.err.find(token) == std::string::npos);
  }
  std::string token;  // the upload endpoint's
  json ign(const std::string& node) const { return json::parse(read_file(out / "ignition" / (node + ".ign"))); }
};

// Lower-case hex, as pins.hpp writes them (coreutils' sha256sum: no digest of our own in common/).
inline std::string sha256_hex(const std::string& bytes) {
  ProcessOptions o;
  o.stdin_data = bytes;
  auto r = run({"sha256sum", "-"}, o);
  BOOST_REQUIRE(r.exit_code == 0);
  return r.out.substr(0, 64);
}

inline const json* file_in(const json& ign, const std::string& path) {
  for (const auto& f : ign["storage"]["files"])
    if (f["path"] == path) return &f;
  return nullptr;
}

// The content of an inline (data URL) file of the Ignition.
inline std::string text_of(const json& ign, const std::string& path) {
  const json* f = file_in(ign, path);
  BOOST_REQUIRE_MESSAGE(f, path << " is not in the Ignition");
  const std::string src = (*f)["contents"]["source"];
  BOOST_REQUIRE(src.starts_with("data:;base64,"));
  return *base64_decode(src.substr(13));
}

}  // namespace nodeboot::test::cluster_env
