#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <fstream>
#include <thread>

#include "nodeboot/util/process.hpp"

using namespace nodeboot;

BOOST_AUTO_TEST_SUITE(process)

BOOST_AUTO_TEST_CASE(captures_stdout_stderr_and_exit_code) {
  auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 7"});
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->out == "out\n");
  BOOST_TEST(r->err == "err\n");
  BOOST_TEST(r->exit_code == 7);
}

BOOST_AUTO_TEST_CASE(feeds_large_stdin_without_deadlock) {
  std::string big(1 << 20, 'x');  // larger than a pipe buffer in both directions
  ProcessOptions o;
  o.stdin_data = big;
  auto r = run_process({"cat"}, o);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->out.size() == big.size());
}

BOOST_AUTO_TEST_CASE(environment_is_set_and_unset) {
  ProcessOptions o;
  o.env_set["NODEBOOT_X"] = "1";
  o.env_unset = {"HOME"};
  auto r = run_process({"sh", "-c", "echo \"$NODEBOOT_X-${HOME:-none}\""}, o);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->out == "1-none\n");
}

BOOST_AUTO_TEST_CASE(timeout_kills_the_child) {
  ProcessOptions o;
  o.timeout = std::chrono::milliseconds(200);
  auto r = run_process({"sleep", "30"}, o);
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->timed_out);
  BOOST_TEST(r->exit_code == 128 + 9);
}

namespace {
// Whether `pid` still runs (a zombie waiting for its reaper does not).
bool running(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto state = line.substr(line.rfind(')') + 2, 1);
  return state != "Z" && state != "X";
}
bool stops_within(const std::string& pid, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (running(pid) && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return !running(pid);
}
}  // namespace

// A step's shell starts tools of its own: with own_process_group the timeout kills them too;
// without it (the control) only the shell dies and the tool lives on.
BOOST_AUTO_TEST_CASE(timeout_kills_the_whole_process_group_when_asked) {
  for (const bool group : {true, false}) {
    ProcessOptions o;
    o.timeout = std::chrono::milliseconds(300);
    o.own_process_group = group;
    auto r = run_process({"sh", "-c", "sleep 30 >/dev/null 2>&1 & echo $!; wait"}, o);
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->timed_out);
    const std::string pid = r->out.substr(0, r->out.find('\n'));
    BOOST_REQUIRE(!pid.empty());
    if (group) {
      BOOST_TEST(stops_within(pid, std::chrono::seconds(5)), "the shell's child survived the timeout");
    } else {
      BOOST_TEST(running(pid), "the control: without a group of its own the child should outlive its shell");
      ::kill(std::stoi(pid), SIGKILL);
    }
  }
}

BOOST_AUTO_TEST_CASE(missing_program_is_an_error_naming_it) {
  auto r = run_process({"/nonexistent/prog"});
  BOOST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message.find("/nonexistent/prog") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(output_tail_is_one_line_of_the_end) {
  BOOST_TEST(output_tail("Error: one\ntwo\n\n", 100) == "Error: one two");
  BOOST_TEST(output_tail("abcdef\n", 3) == "…def");
  BOOST_TEST(output_tail("", 10).empty());
}

BOOST_AUTO_TEST_SUITE_END()
