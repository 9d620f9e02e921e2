#include <boost/test/unit_test.hpp>

#include <thread>

#include "nodeboot/util/sleep.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The suite's namespace may not be ::sleep (unistd.h's function): it lives in one of its own.
namespace util_tests {

BOOST_AUTO_TEST_SUITE(sleep)

BOOST_AUTO_TEST_CASE(sleeps_the_whole_time_unless_stopped) {
  std::stop_source never;
  const auto start = Clock::now();
  BOOST_TEST(nodeboot::sleep_for(never.get_token(), 30ms));
  BOOST_TEST((Clock::now() - start >= 30ms));
  BOOST_TEST(nodeboot::sleep_until(never.get_token(), Clock::now() + 10ms));
  BOOST_TEST(nodeboot::sleep_until(never.get_token(), std::chrono::system_clock::now() - 1s));
}

BOOST_AUTO_TEST_CASE(a_stop_request_ends_it_at_once) {
  std::stop_source stop;
  stop.request_stop();
  const auto start = Clock::now();
  BOOST_TEST(!nodeboot::sleep_for(stop.get_token(), 1h));
  BOOST_TEST(!nodeboot::sleep_until(stop.get_token(), Clock::time_point::max()));
  BOOST_TEST((Clock::now() - start < 10s));
}

BOOST_AUTO_TEST_CASE(a_stop_request_from_another_thread_wakes_it) {
  const auto start = Clock::now();
  bool slept = true;
  {
    std::jthread sleeper(
        [&](const std::stop_token& stop) { slept = nodeboot::sleep_until(stop, Clock::time_point::max()); });
    std::this_thread::sleep_for(20ms);
  }  // the jthread's destructor requests the stop and joins
  BOOST_TEST(!slept);
  BOOST_TEST((Clock::now() - start < 10s));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace util_tests
