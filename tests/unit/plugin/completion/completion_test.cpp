#include <sstream>

#include <boost/test/unit_test.hpp>

#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/completion/completion.hpp"

namespace nbc = nodeboot::plugin::completion;
using nbc::Completion;

namespace {

std::vector<std::string> values(const Completion& c) {
  std::vector<std::string> out;
  for (const auto& cand : c.candidates) out.push_back(cand.value);
  return out;
}

bool has(const Completion& c, const std::string& v) {
  const auto vs = values(c);
  return std::find(vs.begin(), vs.end(), v) != vs.end();
}

// Stands in for the cluster: the e2e suite plugin_completion lists real nodes.
struct Nodes {
  std::vector<std::string> names{"kwok-node-0", "kwok-node-1", "worker-a"};
  mutable std::vector<std::vector<std::string>> calls;
  nbc::NodeLister lister() const {
    return [this](const std::vector<std::string>& args) {
      calls.push_back(args);
      return names;
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(completion)

BOOST_AUTO_TEST_CASE(parse_help_reads_cxxopts_flags_and_the_usage_line) {
  const auto help = nbc::parse_help(
      "Take nodes through it.\n"
      "Usage:\n"
      "  kubectl nodeboot start [OPTION...] NODE... | -l SELECTOR\n"
      "\n"
      "  -o, --output arg              json, yaml or name\n"
      "      --dry-run [=arg(=client)]\n"
      "                                none, client or \n"
      "                                server\n"
      "      --drain                   Drain each node   \n"
      "      --ignition-token-file arg\n"
      "                                rhcos: file holding the token\n");
  BOOST_TEST(help.positional == "NODE... | -l SELECTOR");
  BOOST_TEST(help.takes_nodes());
  BOOST_REQUIRE(help.flags.size() == 4u);
  BOOST_TEST(help.flags[0].name == "output");
  BOOST_TEST(help.flags[0].shorthand == 'o');
  BOOST_TEST(help.flags[0].takes_value);
  BOOST_TEST(help.flags[1].name == "dry-run");
  BOOST_TEST(!help.flags[1].takes_value);  // an implicit value: the next word is not its value
  BOOST_TEST(help.flags[1].description == "none, client or");
  BOOST_TEST(help.flags[2].description == "Drain each node");
  BOOST_TEST(help.flags[3].takes_value);
  BOOST_TEST(help.flags[3].description == "rhcos: file holding the token");
}

BOOST_AUTO_TEST_CASE(parse_help_reads_a_commands_table) {
  const auto help = nbc::parse_help(
      "Usage:\n  kubectl nodeboot cluster COMMAND [flags]\n\nCommands:\n"
      "  init        Full bootstrap\n  generate    Generate configs\n\ncluster.yaml:\n  cluster:\n");
  BOOST_REQUIRE(help.subcommands.size() == 2u);
  BOOST_TEST(help.subcommands[1].value == "generate");
  BOOST_TEST(help.subcommands[1].description == "Generate configs");
  BOOST_TEST(!help.takes_nodes());
}

BOOST_AUTO_TEST_CASE(empty_word_offers_every_visible_command_with_its_summary) {
  Nodes nodes;
  const auto c = nbc::complete({""}, nodes.lister());
  std::size_t visible = 0;
  for (const auto& cmd : nodeboot::plugin::commands()) {
    if (cmd.name.starts_with("__")) {
      BOOST_TEST(!has(c, std::string(cmd.name)));
      continue;
    }
    ++visible;
    BOOST_TEST(has(c, std::string(cmd.name)));
  }
  BOOST_TEST(c.candidates.size() == visible);
  BOOST_TEST(c.candidates.front().description.empty() == false);
  BOOST_TEST(c.directive == nbc::directive_no_file);
  BOOST_TEST(nodes.calls.empty());
}

BOOST_AUTO_TEST_CASE(partial_subcommand_narrows_by_prefix) {
  Nodes nodes;
  BOOST_TEST(values(nbc::complete({"st"}, nodes.lister())) == (std::vector<std::string>{"start", "status"}),
             boost::test_tools::per_element());
  BOOST_TEST(nbc::complete({"nope"}, nodes.lister()).candidates.empty());
}

BOOST_AUTO_TEST_CASE(subcommand_flags_include_its_own_and_the_connection_flags) {
  Nodes nodes;
  const auto c = nbc::complete({"start", "--"}, nodes.lister());
  for (const char* f : {"--os", "--drain", "--selector", "--kubeconfig", "--context", "--help"})
    BOOST_TEST(has(c, f), f);
  const auto narrowed = nbc::complete({"start", "--ignition"}, nodes.lister());
  BOOST_TEST(values(narrowed) == (std::vector<std::string>{"--ignition-url", "--ignition-token-file"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(os_values_after_the_flag_and_after_equals) {
  Nodes nodes;
  BOOST_TEST(
      values(nbc::complete({"start", "--os", ""}, nodes.lister())) == (std::vector<std::string>{"rhcos", "rhel"}),
      boost::test_tools::per_element());
  BOOST_TEST(values(nbc::complete({"start", "kwok-node-0", "--os=rhc"}, nodes.lister())) ==
                 (std::vector<std::string>{"--os=rhcos"}),
             boost::test_tools::per_element());
  BOOST_TEST(nodes.calls.empty());
}

BOOST_AUTO_TEST_CASE(output_values_come_from_the_commands_own_help) {
  Nodes nodes;
  BOOST_TEST(
      values(nbc::complete({"status", "-o", ""}, nodes.lister())) == (std::vector<std::string>{"wide", "json", "yaml"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(file_flags_leave_the_word_to_the_shell) {
  Nodes nodes;
  const auto c = nbc::complete({"start", "--kubeconfig", ""}, nodes.lister());
  BOOST_TEST(c.candidates.empty());
  BOOST_TEST(c.directive == nbc::directive_default);
}

BOOST_AUTO_TEST_CASE(node_names_skip_those_already_given_and_see_the_connection_flags) {
  Nodes nodes;
  const auto c = nbc::complete({"start", "--context", "lab", "kwok-node-0", "kwok"}, nodes.lister());
  BOOST_TEST(values(c) == (std::vector<std::string>{"kwok-node-1"}), boost::test_tools::per_element());
  BOOST_TEST(c.directive == nbc::directive_no_file);
  BOOST_REQUIRE(nodes.calls.size() == 1u);
  BOOST_TEST(nodes.calls[0] == (std::vector<std::string>{"start", "--context", "lab", "kwok-node-0"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(commands_without_node_arguments_never_ask_the_cluster) {
  Nodes nodes;
  BOOST_TEST(nbc::complete({"version", ""}, nodes.lister()).candidates.empty());
  BOOST_TEST(has(nbc::complete({"cluster", "gen"}, nodes.lister()), "generate"));
  BOOST_TEST(has(nbc::complete({"cluster", "generate", "--out"}, nodes.lister()), "--output-dir"));
  BOOST_TEST(nodes.calls.empty());
}

BOOST_AUTO_TEST_CASE(wire_format_is_cobras) {
  std::ostringstream out;
  nbc::write(out, Completion{{{"start", "Begin"}, {"rhel", ""}}, nbc::directive_no_file});
  BOOST_TEST(out.str() == "start\tBegin\nrhel\n:4\n");
}

BOOST_AUTO_TEST_CASE(hidden_command_answers_through_main_and_needs_no_cluster) {
  std::ostringstream out, err;
  nodeboot::plugin::Io io{out, err};
  const int rc = nodeboot::plugin::main({"kubectl-nodeboot", "__complete", "vers"}, io);
  BOOST_TEST(rc == 0);
  BOOST_TEST(out.str() == "version\tPrint the client and server versions\n:4\n");
  BOOST_TEST(err.str().empty());
}

BOOST_AUTO_TEST_SUITE_END()
