// The control-plane scripts themselves: a second cluster beside the fixture one, torn
// down by its reaper when the process it watches dies (an interrupted test run), leaving
// no process and no listening port behind.
#include <signal.h>

#include <fstream>
#include <iterator>
#include <sstream>

#include <boost/test/unit_test.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::test;

namespace {

std::vector<int> pids_of(const std::filesystem::path& pids_file) {
  std::vector<int> pids;
  std::ifstream in(pids_file);
  std::string name;
  int pid = 0;
  while (in >> name >> pid) pids.push_back(pid);
  return pids;
}

std::vector<std::string> ports_of(const std::filesystem::path& env_file) {
  std::string env = read_file(env_file);
  auto at = env.find("NODEBOOT_E2E_PORTS=\"");
  BOOST_REQUIRE(at != std::string::npos);
  at += 20;
  std::istringstream ports(env.substr(at, env.find('"', at) - at));
  return {std::istream_iterator<std::string>(ports), {}};
}

bool listening(const std::string& port) {
  auto r = run({"ss", "-Hltn", "sport = :" + port});
  return !r.out.empty();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_scripts)

BOOST_AUTO_TEST_CASE(reaper_tears_down_when_the_watched_process_dies) {
  TempDir dir;
  const auto state = dir.path() / "cluster";
  // Stands in for a test runner that gets killed.
  auto sleeper = run_process({"sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!"});
  BOOST_REQUIRE(sleeper.has_value());
  const int watched = std::stoi(sleeper->out);

  ProcessOptions o;
  o.timeout = std::chrono::minutes(5);
  auto up = run({(source_dir() / "tests/cluster/up.sh").string(), "--state-dir", state.string(), "--nodes", "1",
                 "--watch-pid", std::to_string(watched)},
                o);
  BOOST_REQUIRE_MESSAGE(up.exit_code == 0, up.err);
  const auto pids = pids_of(state / "pids");
  const auto ports = ports_of(state / "env");
  BOOST_REQUIRE_GE(pids.size(), 6u);  // etcd, apiserver, scheduler, controller-manager, kwok, reaper
  for (int pid : pids) BOOST_TEST(::kill(pid, 0) == 0);

  ::kill(watched, SIGKILL);
  BOOST_TEST(eventually(
      [&] {
        for (int pid : pids)
          if (::kill(pid, 0) == 0) return false;
        return true;
      },
      std::chrono::seconds(30)));
  for (const auto& port : ports) BOOST_TEST(!listening(port), "port " << port << " still listening");
  BOOST_TEST(!std::filesystem::exists(state / "kubeconfig"));
}

BOOST_AUTO_TEST_CASE(down_is_idempotent_and_rejects_bad_flags) {
  TempDir dir;
  auto r = run({(source_dir() / "tests/cluster/down.sh").string(), "--state-dir", dir.path().string()});
  BOOST_TEST(r.exit_code == 0);
  auto bad = run({(source_dir() / "tests/cluster/up.sh").string(), "--nodes", "x", "--state-dir", dir.path().string()});
  BOOST_TEST(bad.exit_code == 2);
  BOOST_TEST(bad.err.find("--nodes") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
