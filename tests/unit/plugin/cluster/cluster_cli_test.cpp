// `kubectl nodeboot cluster validate|generate` through the command table, as an operator
// runs them: messages, positions and exit codes.
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "nodeboot/plugin/app.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;

namespace {
struct Ran {
  int code;
  std::string out, err;
};
Ran nodeboot_cluster(std::vector<std::string> args) {
  std::ostringstream out, err;
  nodeboot::plugin::Io io{out, err};
  args.insert(args.begin(), {"kubectl-nodeboot", "cluster"});
  int code = nodeboot::plugin::main(args, io);
  return {code, out.str(), err.str()};
}
std::string good() { return read_file(source_dir() / "tests/support/data/cluster.yaml"); }
}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_cli)

BOOST_AUTO_TEST_CASE(validate_reports_file_line_column_and_fix_and_exits_1) {
  TempDir d;
  auto text = good();
  text.replace(text.find("192.168.1.21"), 12, "192.168.1.11");
  text.replace(text.find("role: worker"), 12, "role: master");
  auto f = d.write("cluster.yaml", text);
  auto r = nodeboot_cluster({"validate", "-f", f.string()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find(f.string() +
                        ":20:11: error: nodes[1].role: \"master\" is not a role (fix: use controller or worker)") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find(f.string() + ":21:9: error: nodes[1].ip: 192.168.1.11 is already node cp-1's IP (line 17)") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("2 error(s), 0 warning(s)") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(validate_refuses_issue_19s_three_cases_at_once_with_line_column_and_fix) {
  TempDir d;
  auto text = good();
  text.replace(text.find("192.168.1.100"), 13, "10.1.0.5");                      // the VIP: line 9
  text.replace(text.find("  pod_subnet:"), 13, "  cni: cilium\n  pod_subnet:");  // the CNI: line 5
  text.replace(text.find("    mac: 5254.0000.00AB\n"), 24,
               "    mac: 5254.0000.00AB\n    disks: [nvme0n1]\n");  // line 27
  auto f = d.write("cluster.yaml", text);
  auto r = nodeboot_cluster({"validate", "-f", f.string()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(
      r.err.find(f.string() +
                 ":5:8: error: cluster.cni: \"cilium\" is not a pod network nodeboot installs (fix: use flannel") !=
          std::string::npos,
      r.err);
  BOOST_TEST(
      r.err.find(f.string() + ":10:20: error: control_plane_vip: 10.1.0.5 is outside the node network 192.168.1.0/24 "
                              "(fix: pick a free address inside 192.168.1.0/24)") != std::string::npos,
      r.err);
  BOOST_TEST(r.err.find(f.string() +
                        ":28:5: error: nodes[2].install_disk: is not set, so flatcar-install would write /dev/sda") !=
                 std::string::npos,
             r.err);
  BOOST_TEST(r.err.find("(fix: add \"install_disk: /dev/nvme0n1\" under \"nodes[2]:\"") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("3 error(s), 0 warning(s)") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(strict_turns_warnings_into_errors) {
  TempDir d;
  auto text = good();
  text.replace(text.find("pod_subnet:"), 11, "pod_subnets:");
  auto f = d.write("cluster.yaml", text);
  auto lenient = nodeboot_cluster({"validate", "-f", f.string()});
  BOOST_TEST(lenient.code == 0, lenient.err);
  BOOST_TEST(lenient.err.find("warning: cluster.pod_subnets: is not a known field") != std::string::npos, lenient.err);
  auto strict = nodeboot_cluster({"validate", "-f", f.string(), "--strict"});
  BOOST_TEST(strict.code == 1);
  BOOST_TEST(strict.err.find("--strict treats warnings as errors") != std::string::npos, strict.err);
}

BOOST_AUTO_TEST_CASE(generate_refuses_an_invalid_file_and_writes_nothing) {
  TempDir d;
  auto text = good();
  text.replace(text.find("5254.0000.00AB"), 14, "not-a-mac");
  auto f = d.write("cluster.yaml", text);
  auto r = nodeboot_cluster({"generate", "-f", f.string(), "-o", (d.path() / "out").string()});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("nodes[2].mac: \"not-a-mac\" is not a MAC address") != std::string::npos, r.err);
  BOOST_TEST(!std::filesystem::exists(d.path() / "out"));
}

// init generates, then starts Matchbox, dnsmasq and the upload endpoint, then waits: a flag
// that only the wait or the services read must be refused before any of it (exit 2, the
// flag named), leaving no output directory behind.
BOOST_AUTO_TEST_CASE(init_refuses_every_bad_flag_before_generating_anything) {
  TempDir d;
  const auto f = d.write("cluster.yaml", good());
  const auto out = d.path() / "out";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--timeout", "soon"}, "--timeout \"soon\""},
      {{"--timeout", "0s"}, "--timeout \"0s\""},
      {{"--nodes", "0"}, "--nodes must be at least 1"},
      {{"--nodes", "three"}, "--nodes"},
      {{"--request-timeout", "x"}, "--request-timeout"},
      {{"--matchbox-address", "0.0.0.0"}, "--matchbox-address \"0.0.0.0\""},
      {{"--upload-address", "0.0.0.0:99999"}, "--upload-address \"0.0.0.0:99999\""},
      {{"--templates", (d.path() / "none").string()}, "--templates"},
  };
  for (const auto& [flags, named] : cases) {
    std::vector<std::string> args{"init", "-f", f.string(), "-o", out.string(), "--yes", "--no-dnsmasq"};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto r = nodeboot_cluster(args);
    BOOST_TEST(r.code == 2, flags.front() << ": " << r.err);
    BOOST_TEST(r.err.find(named) != std::string::npos, flags.front() << ": " << r.err);
    BOOST_TEST(!std::filesystem::exists(out), flags.front() << ": " << out << " was written");
  }
  // The same checks in wait and serve, which share them.
  BOOST_TEST(nodeboot_cluster({"wait", "-o", out.string(), "--timeout", "soon"}).code == 2);
  BOOST_TEST(nodeboot_cluster({"serve", "-o", out.string(), "--matchbox-address", "x"}).code == 2);
  BOOST_TEST(!std::filesystem::exists(out));
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2) {
  BOOST_TEST(nodeboot_cluster({}).code == 2);
  BOOST_TEST(nodeboot_cluster({"frobnicate"}).code == 2);
  BOOST_TEST(nodeboot_cluster({"validate", "--no-such-flag"}).code == 2);
  auto help = nodeboot_cluster({"--help"});
  BOOST_TEST(help.code == 0);
  for (const char* c : {"init", "generate", "serve", "wait", "validate", "teardown"})
    BOOST_TEST(help.out.find(std::string("  ") + c + " ") != std::string::npos, c);
}

BOOST_AUTO_TEST_SUITE_END()
