#include <boost/test/unit_test.hpp>

#include "nodeboot/util/duration.hpp"

using namespace std::chrono_literals;

namespace {

long long ms(std::string_view text) {
  auto d = nodeboot::parse_duration(text, "--flag");
  BOOST_REQUIRE_MESSAGE(d.has_value(), std::string(text) + ": " + (d ? "" : d.error().message));
  return d->count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(duration)

BOOST_AUTO_TEST_CASE(go_syntax) {
  BOOST_TEST(ms("0") == 0);
  BOOST_TEST(ms("0s") == 0);
  BOOST_TEST(ms("90s") == 90'000);
  BOOST_TEST(ms("1m30s") == 90'000);
  BOOST_TEST(ms("2h45m") == 9'900'000);
  BOOST_TEST(ms("1.5h") == 5'400'000);
  BOOST_TEST(ms(".5s") == 500);
  BOOST_TEST(ms("1.s") == 1'000);
  BOOST_TEST(ms("500ms") == 500);
  BOOST_TEST(ms("+5s") == 5'000);
  BOOST_TEST(ms("1h0m0s") == 3'600'000);
  BOOST_TEST(ms("2000000us") == 2'000);
  BOOST_TEST(ms("3000000000ns") == 3'000);
  BOOST_TEST(ms("1\u00b5s") == 1);  // the micro sign, as Go writes it; rounded up
}

BOOST_AUTO_TEST_CASE(a_bare_number_is_seconds) {
  BOOST_TEST(ms("5") == 5'000);
  BOOST_TEST(ms("600") == 600'000);
}

BOOST_AUTO_TEST_CASE(sub_millisecond_rests_round_up) {
  BOOST_TEST(ms("500us") == 1);  // not 0: some flags read 0 as "no limit"
  BOOST_TEST(ms("1ns") == 1);
  BOOST_TEST(ms("1500us") == 2);
  BOOST_TEST(ms("1.0001s") == 1'001);
}

BOOST_AUTO_TEST_CASE(refuses_what_go_refuses) {
  for (const char* bad :
       {"", "s", ".", ".s", "5 s", " 5s", "5s ", "1d", "1w", "5S", "1.5", "1h-5m", "soon", "1e3s", "0x10s"})
    BOOST_TEST(!nodeboot::parse_duration(bad, "--flag").has_value(), bad);
}

BOOST_AUTO_TEST_CASE(refuses_negative_and_overflowing_durations) {
  for (const char* bad : {"-1s", "-0", "9223372037s", "2562048h", "99999999999999999999ns", "9999999999"})
    BOOST_TEST(!nodeboot::parse_duration(bad, "--flag").has_value(), bad);
  BOOST_TEST(ms("2562047h") == 2'562'047LL * 3'600'000);
}

BOOST_AUTO_TEST_CASE(the_error_names_the_flag_and_the_text) {
  auto d = nodeboot::parse_duration("soon", "--soak");
  BOOST_REQUIRE(!d);
  BOOST_TEST((d.error().kind == nodeboot::ErrorKind::invalid_input));
  BOOST_TEST(d.error().message.starts_with("--soak: \"soon\" is not a duration"), d.error().message);
}

BOOST_AUTO_TEST_CASE(formats_back) {
  BOOST_TEST(nodeboot::format_duration(0ms) == "0s");
  BOOST_TEST(nodeboot::format_duration(500ms) == "500ms");
  BOOST_TEST(nodeboot::format_duration(90s) == "1m30s");
  BOOST_TEST(nodeboot::format_duration(2h) == "2h");
  BOOST_TEST(ms(nodeboot::format_duration(5'430'000ms)) == 5'430'000);
}

BOOST_AUTO_TEST_SUITE_END()
