#include <boost/test/unit_test.hpp>

#include "nodeboot/plugin/ipb/roll.hpp"

using namespace nodeboot::plugin::ipb;
using namespace std::chrono_literals;
using V = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(ipb_roll)

BOOST_AUTO_TEST_CASE(never_more_than_max_unavailable_in_flight) {
  Roll roll({"a", "b", "c", "d", "e"}, 2, 0ms, false);
  auto t = Roll::Clock::now();
  BOOST_TEST(roll.take_startable(t) == (V{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(roll.take_startable(t).empty());
  roll.completed("a", t);
  BOOST_TEST(roll.take_startable(t) == (V{"c"}), boost::test_tools::per_element());
  roll.completed("b", t);
  roll.completed("c", t);
  BOOST_TEST(roll.take_startable(t) == (V{"d", "e"}), boost::test_tools::per_element());
  roll.completed("d", t);
  roll.completed("e", t);
  BOOST_TEST(roll.finished());
  BOOST_TEST(roll.done().size() == 5u);
}

BOOST_AUTO_TEST_CASE(soak_holds_the_freed_slot) {
  Roll roll({"a", "b"}, 1, 10s, false);
  auto t = Roll::Clock::now();
  roll.take_startable(t);
  roll.completed("a", t);
  BOOST_TEST(roll.take_startable(t + 5s).empty());
  BOOST_TEST((roll.next_wakeup() == t + 10s));
  BOOST_TEST(roll.take_startable(t + 10s) == (V{"b"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(first_failure_stops_the_roll_but_waits_for_nodes_in_flight) {
  Roll roll({"a", "b", "c"}, 2, 0ms, false);
  auto t = Roll::Clock::now();
  roll.take_startable(t);
  roll.failed("a");
  BOOST_TEST(roll.stopped());
  BOOST_TEST(!roll.finished());  // b still running
  BOOST_TEST(roll.take_startable(t).empty());
  roll.completed("b", t);
  BOOST_TEST(roll.finished());
  BOOST_TEST(roll.not_started() == (V{"c"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(continue_on_failure_keeps_going_but_a_failed_node_keeps_its_slot) {
  Roll roll({"a", "b", "c", "d"}, 2, 0ms, true);
  auto t = Roll::Clock::now();
  roll.take_startable(t);
  roll.failed("a");
  BOOST_TEST(roll.take_startable(t).empty());  // a is still cordoned: 2 out of service
  roll.completed("b", t);
  BOOST_TEST(roll.take_startable(t) == (V{"c"}), boost::test_tools::per_element());
  roll.failed("c");
  BOOST_TEST(roll.finished());  // every slot held by a failure
  BOOST_TEST(roll.not_started() == (V{"d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
