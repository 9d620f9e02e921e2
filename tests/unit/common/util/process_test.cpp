#include <boost/test/unit_test.hpp>

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
