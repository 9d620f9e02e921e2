#include "nodeboot/plugin/cmd/verify.hpp"

#include <unistd.h>

#include <cxxopts.hpp>
#include <iostream>
#include <ostream>

#include "nodeboot/kube/flags.hpp"
#include "nodeboot/plugin/verify/checks.hpp"
#include "nodeboot/plugin/verify/collect.hpp"
#include "nodeboot/plugin/verify/render.hpp"
#include "nodeboot/util/yaml.hpp"

namespace nodeboot::plugin::cmd {
namespace {

using namespace nodeboot::plugin::verify;

struct Options {
  Selection selection;
  CheckSet checks;
  std::string output = "table";
  kube::ConnectionFlags connection;
};

cxxopts::Options flag_spec() {
  cxxopts::Options options(
      "kubectl nodeboot verify",
      "Check that nodes meet seed 000's requirements and that the iSCSI and Intel QuickSync\n"
      "bootstrap DaemonSets (manifests/node-bootstrap) did their work: one row per node with a\n"
      "verdict and a reason per check, then a summary. Exit 0 when every node passes, 3 when\n"
      "any fails a check.\n\n"
      "  os         node Ready, Ubuntu 22.04/24.04 LTS, amd64, kernel 5.x or newer\n"
      "  iscsi      rke2-node-bootstrap-iscsi pod Ready; its result: iscsid active, iscsi_tcp "
      "loaded\n"
      "  quicksync  rke2-node-bootstrap-gpu pod Ready; its result: iHD with an encode entrypoint;\n"
      "             gpu.intel.com/i915 allocatable and NFD's Intel GPU label when present;\n"
      "             not applicable on a node without an Intel GPU");
  options.custom_help("[NODE...] [flags]");
  options.add_options()("l,selector", "Label selector for the nodes (e.g. node-role.kubernetes.io/worker=true)",
                        cxxopts::value<std::string>())("checks", "Comma-separated checks to run: os,iscsi,quicksync",
                                                       cxxopts::value<std::string>())(
      "o,output", "Output format: table, wide, json or yaml", cxxopts::value<std::string>())(
      "deep", "Run a privileged probe pod per node for a fresh on-node check (not available yet)")(
      "h,help", "Show help")("nodes", "Node names", cxxopts::value<std::vector<std::string>>());
  kube::add_connection_flags(options);
  options.parse_positional({"nodes"});
  options.positional_help("[NODE...]");
  return options;
}

// Parses and validates the flags (pure); returns the exit code on a usage error or --help.
std::expected<Options, int> complete(const std::vector<std::string>& args, Io& io) {
  auto spec = flag_spec();
  std::vector<const char*> argv{"verify"};
  for (const auto& a : args) argv.push_back(a.c_str());
  cxxopts::ParseResult parsed;
  auto usage = [&](const std::string& msg) {
    io.err << "error: " << msg << "\nSee 'kubectl nodeboot verify --help' for usage.\n";
    return std::unexpected(exit_usage);
  };
  try {
    parsed = spec.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    return usage(e.what());
  }
  if (parsed.count("help")) {
    io.out << spec.help();
    return std::unexpected(exit_ok);
  }
  Options o;
  if (parsed.count("nodes")) o.selection.names = parsed["nodes"].as<std::vector<std::string>>();
  if (parsed.count("selector")) o.selection.label_selector = parsed["selector"].as<std::string>();
  if (!o.selection.names.empty() && parsed.count("selector"))
    return usage("name NODE arguments or give -l/--selector, not both");
  if (parsed.count("checks")) {
    auto checks = parse_checks(parsed["checks"].as<std::string>());
    if (!checks) return usage(checks.error().message);
    o.checks = *checks;
  }
  if (parsed.count("output")) o.output = parsed["output"].as<std::string>();
  if (o.output != "table" && o.output != "wide" && o.output != "json" && o.output != "yaml")
    return usage("--output must be table, wide, json or yaml, not \"" + o.output + "\"");
  if (parsed.count("deep"))
    return usage("--deep (a probe pod per node) is not available in this build; the DaemonSet pods' results are used");
  o.connection = kube::connection_flags(parsed);
  return o;
}

// A progress line, only for a person watching a terminal (never into a pipe or a test).
Progress progress_for(Io& io) {
  if (&io.err != &std::cerr || !::isatty(STDERR_FILENO)) return {};
  return [&io](size_t nodes, size_t pods) {
    io.err << "\rverify: read " << nodes << " nodes, " << pods << " bootstrap pods" << std::flush;
  };
}

}  // namespace

int verify(std::vector<std::string> args, Io& io) {
  auto o = complete(args, io);
  if (!o) return o.error();
  auto config = kube::resolve_config(o->connection);
  if (!config) {
    io.err << "error: " << config.error().message << '\n';
    return exit_error;
  }
  auto progress = progress_for(io);
  auto inv = collect(*config, o->selection, progress);
  if (progress) io.err << "\r\033[K" << std::flush;  // erase the progress line
  if (!inv) {
    io.err << "error: " << inv.error().message << '\n';
    return exit_error;
  }

  std::vector<NodeReport> reports;
  reports.reserve(inv->nodes.size());
  Summary summary;
  for (const auto& node : inv->nodes) {
    auto find = [&](const auto& by_node) -> const PodFacts* {
      auto it = by_node.find(node.name);
      return it == by_node.end() ? nullptr : &it->second;
    };
    reports.push_back(evaluate(node, find(inv->iscsi), find(inv->gpu), o->checks));
    summary.add(reports.back());
  }

  if (o->output == "json" || o->output == "yaml") {
    auto doc = report_document(reports, o->checks, summary);
    if (o->output == "json")
      io.out << doc.dump(2) << '\n';
    else
      io.out << to_yaml(doc);
  } else if (!reports.empty()) {
    render_table(io.out, reports, o->checks, o->output == "wide");
    io.out << '\n' << summary.line() << '\n';
  }
  for (const auto& name : inv->missing) io.err << "error: node \"" << name << "\" not found\n";
  if (!inv->missing.empty()) return exit_error;
  if (reports.empty()) {
    io.err << "error: no nodes"
           << (o->selection.label_selector.empty() ? "" : " match the selector \"" + o->selection.label_selector + "\"")
           << '\n';
    return exit_error;
  }
  return summary.failed ? exit_some_failed : exit_ok;
}

}  // namespace nodeboot::plugin::cmd
