#include <sstream>

#include <boost/test/unit_test.hpp>

#include "nodeboot/plugin/app.hpp"
#include "nodeboot/version.hpp"

using nodeboot::plugin::Io;

namespace {
struct Run {
  int code;
  std::string out, err;
};
Run run_plugin(std::vector<std::string> args) {
  std::ostringstream out, err;
  Io io{out, err};
  args.insert(args.begin(), "kubectl-nodeboot");
  int code = nodeboot::plugin::main(args, io);
  return {code, out.str(), err.str()};
}
}  // namespace

BOOST_AUTO_TEST_SUITE(app)

BOOST_AUTO_TEST_CASE(help_lists_every_command_from_the_table) {
  auto r = run_plugin({"--help"});
  BOOST_TEST(r.code == 0);
  for (const auto& c : nodeboot::plugin::commands())
    if (!c.name.starts_with("__")) BOOST_TEST(r.out.find(std::string(c.name)) != std::string::npos);
  BOOST_TEST(r.out.find("Exit codes") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(no_arguments_is_a_usage_error_with_help) {
  auto r = run_plugin({});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.out.find("Usage:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_command_names_it_and_exits_2) {
  auto r = run_plugin({"frobnicate"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("unknown command \"frobnicate\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(version_flag_prints_the_build_version) {
  auto r = run_plugin({"--version"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out == "kubectl-nodeboot " + std::string(nodeboot::version()) + "\n");
}

BOOST_AUTO_TEST_CASE(version_client_only_needs_no_cluster) {
  auto r = run_plugin({"version", "--client", "-o", "json"});
  BOOST_TEST(r.code == 0);
  BOOST_TEST(r.out.find("\"gitVersion\": \"" + std::string(nodeboot::version()) + "\"") != std::string::npos);
  BOOST_TEST(r.out.find("serverVersion") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(version_rejects_unknown_output_format) {
  auto r = run_plugin({"version", "--client", "-o", "xml"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("--output") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(version_reports_a_missing_kubeconfig_naming_the_path) {
  auto r = run_plugin({"version", "--kubeconfig", "/nonexistent/kubeconfig"});
  BOOST_TEST(r.code == 1);
  BOOST_TEST(r.err.find("/nonexistent/kubeconfig") != std::string::npos);
}

// One parse of the connection flags everywhere: a malformed value is a usage error naming
// the flag, printed once by the dispatcher with the command's --help hint.
BOOST_AUTO_TEST_CASE(malformed_request_timeout_is_a_usage_error_in_every_command) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"status"},
                                                                {"watch"},
                                                                {"abort", "n1"},
                                                                {"version"},
                                                                {"install", "--dry-run=server"},
                                                                {"marooned", "list"},
                                                                {"verify"},
                                                                {"cluster", "wait"}}) {
    auto with = args;
    with.emplace_back("--request-timeout=soon");
    auto r = run_plugin(with);
    BOOST_TEST(r.code == 2, args.front());
    BOOST_TEST(r.err.starts_with("error: --request-timeout: \"soon\" is not a duration"), r.err);
    BOOST_TEST(r.err.find("See 'kubectl nodeboot " + args.front()) != std::string::npos, r.err);
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_flag_is_reported_once_with_the_help_hint) {
  auto r = run_plugin({"marooned", "vmi", "--frobnicate"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("error: ") == 0);
  BOOST_TEST(r.err.find("error: ", 1) == std::string::npos, r.err);
  BOOST_TEST(r.err.find("See 'kubectl nodeboot marooned vmi --help' for usage.") != std::string::npos, r.err);
}

// Checked before any connection: no cluster is needed to see these refusals.
BOOST_AUTO_TEST_CASE(start_takes_mcd_image_for_rhcos_only_and_pinned_by_digest) {
  auto tagged = run_plugin({"start", "node-1", "--os", "rhcos", "--mcd-image", "quay.io/openshift/mcd:4.16"});
  BOOST_TEST(tagged.code != 0);
  BOOST_TEST(tagged.err.find("--mcd-image: is pinned by a tag") != std::string::npos, tagged.err);
  BOOST_TEST(tagged.err.find("@sha256:") != std::string::npos, tagged.err);
  auto rhel = run_plugin(
      {"start", "node-1", "--os", "rhel", "--mcd-image", "quay.io/openshift/mcd@sha256:" + std::string(64, 'a')});
  BOOST_TEST(rhel.code != 0);
  BOOST_TEST(rhel.err.find("--mcd-image does not apply to --os rhel") != std::string::npos, rhel.err);
}

BOOST_AUTO_TEST_SUITE_END()
