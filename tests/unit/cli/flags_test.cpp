#include "nodeboot/cli/flags.hpp"

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "nodeboot/cli/command.hpp"

using nodeboot::ErrorKind;
using nodeboot::cli::Flags;
using nodeboot::cli::value;

namespace {

Flags sample() {
  Flags flags("kubectl nodeboot sample", "A command for the tests");
  flags.add_options()("drain", "A switch")("timeout", "An int", value<int>().default_value("30"))(
      "limit", "A size", value<std::size_t>())("offset", "A long", value<long>())("ratio", "A real", value<double>())(
      "o,output", "A string", value<std::string>().default_value("yaml"))(
      "dry-run", "none, client or server", value<std::string>().default_value("none").implicit_value("client"))(
      "label", "Repeatable", value<std::vector<std::string>>());
  nodeboot::cli::add_connection_flags(flags);
  return flags;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(flags)

BOOST_AUTO_TEST_CASE(every_value_type_reads_back_what_was_given) {
  const std::vector<std::string> args{"--drain",     "--timeout=5", "--limit",   "7",       "--offset=-3",
                                      "--ratio=0.5", "-ojson",      "--label=a", "--label", "b"};
  auto parsed = sample().parse(args);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->count("drain") == 1U);
  BOOST_TEST(parsed->operator[]("drain").as<bool>());
  BOOST_TEST((*parsed)["timeout"].as<int>() == 5);
  BOOST_TEST((*parsed)["limit"].as<std::size_t>() == 7U);
  BOOST_TEST((*parsed)["offset"].as<long>() == -3L);
  BOOST_TEST((*parsed)["ratio"].as<double>() == 0.5);
  BOOST_TEST((*parsed)["output"].as<std::string>() == "json");
  BOOST_TEST(((*parsed)["label"].as<std::vector<std::string>>() == std::vector<std::string>{"a", "b"}));
  BOOST_TEST(parsed->unmatched().empty());
}

BOOST_AUTO_TEST_CASE(defaults_apply_without_counting_and_implicit_values_apply_when_bare) {
  auto none = sample().parse({});
  BOOST_TEST_REQUIRE(none.has_value());
  BOOST_TEST(none->count("timeout") == 0U);
  BOOST_TEST((*none)["timeout"].as<int>() == 30);
  BOOST_TEST((*none)["output"].as<std::string>() == "yaml");
  BOOST_TEST((*none)["dry-run"].as<std::string>() == "none");
  BOOST_TEST(!(*none)["drain"].as<bool>());
  const std::vector<std::string> bare{"--dry-run"};
  auto implicit = sample().parse(bare);
  BOOST_TEST_REQUIRE(implicit.has_value());
  BOOST_TEST((*implicit)["dry-run"].as<std::string>() == "client");
}

BOOST_AUTO_TEST_CASE(a_short_flag_takes_its_value_attached_as_kubectl_accepts) {
  const std::vector<std::string> args{"-nkube-system"};
  auto parsed = sample().parse(args);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST((*parsed)["namespace"].as<std::string>() == "kube-system");
}

BOOST_AUTO_TEST_CASE(a_value_given_without_one_needs_its_own_default_else_as_throws) {
  auto parsed = sample().parse({});
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->count("limit") == 0U);
  BOOST_CHECK_THROW((*parsed)["limit"].as<std::size_t>(), std::exception);  // dispatch reports it
}

BOOST_AUTO_TEST_CASE(bad_input_is_an_invalid_input_error_naming_the_flag) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  for (const auto& c : std::vector<Case>{{{"--no-such-flag"}, "no-such-flag"},
                                         {{"--timeout=soon"}, "--timeout: \"soon\" is not a whole number"},
                                         {{"--timeout", "5s"}, "--timeout: \"5s\""},
                                         {{"--offset=9999999999999999999999"}, "--offset"},
                                         {{"--limit=-1"}, "--limit: \"-1\" is not a whole number of 0 or more"},
                                         {{"--limit"}, "limit"},
                                         {{"--ratio", "half"}, "--ratio: \"half\" is not a number"},
                                         {{"--insecure-skip-tls-verify=maybe"}, "--insecure-skip-tls-verify: "}}) {
    auto parsed = sample().parse(c.args);
    BOOST_TEST_REQUIRE(!parsed.has_value(), c.args.front());
    BOOST_TEST((parsed.error().kind == ErrorKind::invalid_input));
    BOOST_TEST(parsed.error().message.find(c.names) != std::string::npos, parsed.error().message);
  }
}

BOOST_AUTO_TEST_CASE(positionals_fill_in_order_and_unknown_flags_can_be_let_through) {
  Flags flags("kubectl nodeboot nodes");
  flags.add_options()("l,selector", "A selector", value<std::string>())("nodes", "", value<std::vector<std::string>>());
  flags.parse_positional({"nodes"});
  flags.positional_help("NODE...");
  const std::vector<std::string> args{"n1", "-lrole=worker", "n2"};
  auto parsed = flags.parse(args);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(((*parsed)["nodes"].as<std::vector<std::string>>() == std::vector<std::string>{"n1", "n2"}));
  BOOST_TEST((*parsed)["selector"].as<std::string>() == "role=worker");
  BOOST_TEST(flags.help().find("kubectl nodeboot nodes [OPTION...] NODE...") != std::string::npos, flags.help());

  Flags lenient("kubectl nodeboot __complete");
  lenient.allow_unrecognised_options();
  nodeboot::cli::add_connection_flags(lenient);
  const std::vector<std::string> mixed{"--drain", "-n", "ns", "extra"};
  auto let_through = lenient.parse(mixed);
  BOOST_TEST_REQUIRE(let_through.has_value());
  BOOST_TEST((*let_through)["namespace"].as<std::string>() == "ns");
  BOOST_TEST((let_through->unmatched() == std::vector<std::string>{"--drain", "extra"}));
}

BOOST_AUTO_TEST_CASE(help_shows_the_groups_and_the_custom_usage) {
  auto flags = sample();
  flags.custom_help("[NODE...] [flags]");
  const auto help = flags.help();
  BOOST_TEST(help.find("kubectl nodeboot sample [NODE...] [flags]") != std::string::npos, help);
  BOOST_TEST(help.find("Connection (as in kubectl)") != std::string::npos);
  BOOST_TEST(help.find("--dry-run [=arg(=client)]") != std::string::npos, help);
}

BOOST_AUTO_TEST_CASE(a_parse_outlives_the_flags_that_made_it) {
  nodeboot::cli::Parsed kept;
  {
    const std::vector<std::string> args{"-o", "name"};
    auto parsed = sample().parse(args);
    BOOST_TEST_REQUIRE(parsed.has_value());
    kept = *parsed;
  }
  BOOST_TEST(kept["output"].as<std::string>() == "name");
}

BOOST_AUTO_TEST_SUITE_END()
