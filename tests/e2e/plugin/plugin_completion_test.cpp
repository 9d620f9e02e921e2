// Shell completion as kubectl 1.26+ drives it: kubectl_complete-nodeboot (from build/bin, on
// PATH like an installed plugin) called with the words after "nodeboot" and the word being
// completed, against the real control plane; and once through kubectl's own __complete.
#include <boost/test/unit_test.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;

namespace {

struct Answer {
  std::vector<std::string> values;  // candidates without descriptions
  std::string directive;            // the last line
  std::string err;
};

Answer parse(const nodeboot::ProcessResult& r) {
  Answer a;
  a.err = r.err;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(":")) {
      a.directive = line;
      continue;
    }
    BOOST_TEST(a.directive.empty(), "a candidate after the directive: " << line);
    a.values.push_back(line.substr(0, line.find('\t')));
  }
  return a;
}

Answer helper(const std::vector<std::string>& words) {
  // By path: run_process searches the test's own PATH; the helper then finds kubectl-nodeboot
  // through the PATH given here, as it does when kubectl runs it.
  std::vector<std::string> argv{(bin_dir() / "kubectl_complete-nodeboot").string()};
  argv.insert(argv.end(), words.begin(), words.end());
  nodeboot::ProcessOptions o;
  o.env_set["PATH"] = path_with_bin_dir();
  o.env_set["KUBECONFIG"] = cluster().kubeconfig.string();
  o.timeout = std::chrono::minutes(1);
  auto r = run(argv, o);
  BOOST_TEST(r.exit_code == 0);
  return parse(r);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_completion)

BOOST_AUTO_TEST_CASE(empty_word_lists_the_subcommands) {
  const auto a = helper({""});
  for (const char* c : {"start", "status", "watch", "verify", "cluster", "marooned", "version"})
    BOOST_TEST(contains(a.values, c), c);
  BOOST_TEST(!contains(a.values, "__complete"));
  BOOST_TEST(a.directive == ":4");
  BOOST_TEST(a.err.empty());
}

BOOST_AUTO_TEST_CASE(partial_subcommand) {
  const auto a = helper({"wa"});
  BOOST_TEST(a.values == (std::vector<std::string>{"watch"}), boost::test_tools::per_element());
  BOOST_TEST(a.directive == ":4");
}

BOOST_AUTO_TEST_CASE(partial_node_name_lists_the_clusters_nodes) {
  const auto a = helper({"start", "kwok-node-"});
  BOOST_TEST(contains(a.values, "kwok-node-0"));
  BOOST_TEST(contains(a.values, "kwok-node-1"));
  for (const auto& v : a.values) BOOST_TEST(v.starts_with("kwok-node-"), v);
  BOOST_TEST(a.directive == ":4");
  // A node already on the line is not offered again.
  const auto b = helper({"abort", "kwok-node-0", "kwok-node-"});
  BOOST_TEST(!contains(b.values, "kwok-node-0"));
  BOOST_TEST(contains(b.values, "kwok-node-1"));
}

BOOST_AUTO_TEST_CASE(flag_value_for_os) {
  const auto a = helper({"start", "kwok-node-0", "--os", ""});
  BOOST_TEST(a.values == (std::vector<std::string>{"rhcos", "rhel"}), boost::test_tools::per_element());
  BOOST_TEST(a.directive == ":4");
}

BOOST_AUTO_TEST_CASE(unreachable_server_gives_no_candidates_and_no_error) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  const auto a = helper({"start", "--server", "https://127.0.0.1:1", "--insecure-skip-tls-verify", "kwok"});
  BOOST_TEST(a.values.empty());
  BOOST_TEST(a.directive == ":4");
  BOOST_TEST(a.err.empty());
}

BOOST_AUTO_TEST_CASE(kubectl_itself_finds_and_runs_the_helper) {
  // kubectl's hidden __complete is what the shell scripts of `kubectl completion` call.
  const auto r = cluster().kubectl({"__complete", "nodeboot", "start", "kwok-node-"});
  BOOST_TEST(r.exit_code == 0);
  const auto a = parse(r);
  BOOST_TEST(contains(a.values, "kwok-node-0"));
  BOOST_TEST(a.directive == ":4");
}

BOOST_AUTO_TEST_SUITE_END()
