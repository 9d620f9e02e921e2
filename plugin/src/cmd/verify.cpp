#include "nodeboot/plugin/cmd/verify.hpp"

#include <algorithm>

#include <unistd.h>

#include <iostream>
#include <ostream>

#include <nlohmann/json.hpp>

#include "ipb_cli.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/plugin/verify/checks.hpp"
#include "nodeboot/plugin/verify/collect.hpp"
#include "nodeboot/plugin/verify/probe.hpp"
#include "nodeboot/plugin/verify/render.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/yaml.hpp"

namespace nodeboot::plugin::cmd {
namespace {

using namespace nodeboot::plugin::verify;

struct Options {
  Selection selection;
  CheckSet checks;
  std::string output = "table";
  std::optional<ProbeOptions> deep;
  kube::ConnectionFlags connection;

  Result<void> complete(const cli::Parsed& parsed);
  static Result<void> validate() { return {}; }  // complete() checked every flag it read
  Result<int> run(Io& io) const;
};

}  // namespace

cli::Flags verify_flags() {
  cli::Flags options("kubectl nodeboot verify",
                     "Check that nodes meet the OS requirements (below) and that the iSCSI and Intel QuickSync\n"
                     "bootstrap DaemonSets (manifests/node-bootstrap) did their work: one row per node with a\n"
                     "verdict and a reason per check, then a summary. Exit 0 when every node passes, 3 when\n"
                     "any fails a check.\n\n"
                     "  os         node Ready, Ubuntu 22.04/24.04 LTS, amd64, kernel 5.x or newer\n"
                     "  iscsi      rke2-node-bootstrap-iscsi pod Ready; its result: iscsid active, iscsi_tcp "
                     "loaded\n"
                     "  quicksync  rke2-node-bootstrap-gpu pod Ready; its result: iHD with an encode entrypoint;\n"
                     "             gpu.intel.com/i915 allocatable and NFD's Intel GPU label when present;\n"
                     "             not applicable on a node without an Intel GPU\n\n"
                     "--deep asks each Ready node afresh instead of reading the DaemonSet pods' results: a\n"
                     "short-lived privileged probe pod per node (pinned, tolerating every taint) runs the\n"
                     "bootstrap scripts' read-only probe mode; its JSON result becomes the iscsi/quicksync\n"
                     "verdicts (SOURCE probe). The probe pods and their ConfigMap carry the label\n"
                     "nodeboot.io/verify-run=<id> and are deleted at the end, on errors and timeouts, and on\n"
                     "Ctrl-C (exit 1). Needs create/watch/deletecollection on pods and configmaps in\n"
                     "--deep-namespace.");
  options.custom_help("[NODE...] [flags]");
  options.add_options()("l,selector", "Label selector for the nodes (e.g. node-role.kubernetes.io/worker=true)",
                        cli::value<std::string>())("checks", "Comma-separated checks to run: os,iscsi,quicksync",
                                                   cli::value<std::string>())(
      "o,output", "Output format: table, wide, json or yaml", cli::value<std::string>())(
      "deep", "Run a privileged probe pod per node for a fresh on-node check")(
      "deep-timeout", "How long each probe pod may take (default 2m)", cli::value<std::string>())(
      "deep-namespace", "Namespace of the probe pods (default kube-system)", cli::value<std::string>())(
      "deep-image", "Image of the probe pods (default docker.io/library/ubuntu:24.04, the DaemonSets' image)",
      cli::value<std::string>())("h,help", "Show help")("nodes", "Node names", cli::value<std::vector<std::string>>());
  cli::add_connection_flags(options);
  options.parse_positional({"nodes"});
  options.positional_help("[NODE...]");
  return options;
}

namespace {

// Reads and checks the flags (pure).
Result<void> Options::complete(const cli::Parsed& parsed) {
  auto usage = [](const std::string& msg) { return fail(ErrorKind::invalid_input, msg); };
  Options& o = *this;
  if (parsed.count("nodes")) {
    // A node named twice is verified (and reported) once, in the order first named.
    for (const auto& name : parsed["nodes"].as<std::vector<std::string>>())
      if (std::find(o.selection.names.begin(), o.selection.names.end(), name) == o.selection.names.end())
        o.selection.names.push_back(name);
  }
  if (parsed.count("selector")) o.selection.label_selector = parsed["selector"].as<std::string>();
  if (!o.selection.names.empty() && parsed.count("selector"))
    return usage("name NODE arguments or give -l/--selector, not both");
  if (parsed.count("checks")) {
    auto wanted = parse_checks(parsed["checks"].as<std::string>());
    if (!wanted) return usage(wanted.error().message);
    o.checks = *wanted;
  }
  if (parsed.count("output")) o.output = parsed["output"].as<std::string>();
  if (o.output != "table" && o.output != "wide" && o.output != "json" && o.output != "yaml")
    return usage("--output must be table, wide, json or yaml, not \"" + o.output + "\"");
  if (parsed.count("deep")) {
    ProbeOptions probe;
    probe.checks = o.checks;
    if (parsed.count("deep-timeout")) {
      auto t = parse_duration(parsed["deep-timeout"].as<std::string>(), "--deep-timeout");
      if (!t) return usage(t.error().message);
      if (t->count() <= 0) return usage("--deep-timeout must be positive, e.g. 2m");
      probe.timeout = *t;
    }
    if (parsed.count("deep-namespace")) probe.namespace_ = parsed["deep-namespace"].as<std::string>();
    if (parsed.count("deep-image")) probe.image = parsed["deep-image"].as<std::string>();
    if (probe.namespace_.empty() || probe.image.empty()) return usage("--deep-namespace and --deep-image need a value");
    o.deep = probe;
  } else {
    for (const char* flag : {"deep-timeout", "deep-namespace", "deep-image"})
      if (parsed.count(flag)) return usage("--" + std::string(flag) + " needs --deep");
  }
  auto c = cli::connection_flags(parsed);
  if (!c) return fail(c.error());
  o.connection = std::move(*c);
  return {};
}

// An error found while running, not in the flags: exit 1, not a usage error (an
// invalid_input here is a file or object, reported without the server's Status prefix).
Error ran_into(const Error& e) { return {e.kind == ErrorKind::invalid_input ? ErrorKind::io : e.kind, e.message}; }

// A progress line, only for a person watching a terminal (never into a pipe or a test).
Progress progress_for(Io& io) {
  if (&io.err != &std::cerr || !::isatty(STDERR_FILENO)) return {};
  return [&io](size_t nodes, size_t pods) {
    io.err << "\rverify: read " << nodes << " nodes, " << pods << " bootstrap pods" << std::flush;
  };
}

// --deep: probe the Ready nodes (a NotReady node's kubelet would never start the pod) and
// let the results replace their iscsi/quicksync verdicts. Returns exit_ok, or the exit code
// when the run could not finish (interrupted, forbidden, ...), after cleaning up;
// `leftovers` when the cleanup itself failed (the report still stands).
Result<void> deep_check(const kube::RestConfig& config, const ProbeOptions& options,
                        const std::vector<NodeFacts>& nodes, std::vector<NodeReport>& reports, Io& io,
                        bool& leftovers) {
  auto stop = stop_token();  // Ctrl-C from here on ends the wait and cleans up
  std::vector<std::string> ready;
  for (const auto& n : nodes)
    if (n.ready) ready.push_back(n.name);
  kube::Client client(config);
  const auto run = ProbeRun::create();
  ProbeOutcome outcome;
  if (!ready.empty()) {
    io.err << "verify: probing " << ready.size() << (ready.size() == 1 ? " node" : " nodes") << " (probe pods -n "
           << options.namespace_ << " -l " << run.selector() << ", timeout " << format_duration(options.timeout) << ")"
           << std::endl;
    ProbeProgress progress;
    if (progress_for(io))  // a terminal: say how far the probes are
      progress = [&io](size_t answered, size_t total) {
        io.err << "\rverify: " << answered << "/" << total << " probes answered" << std::flush;
      };
    outcome = run_probes(client, run, options, ready, stop, progress);
    if (progress) io.err << "\r\033[K" << std::flush;
    io.err << "verify: cleaned up " << outcome.pods_deleted << " probe " << (outcome.pods_deleted == 1 ? "pod" : "pods")
           << std::endl;
  }
  if (outcome.cleanup_error) io.err << "error: " << outcome.cleanup_error->message << '\n';
  leftovers = outcome.cleanup_error.has_value();
  if (outcome.interrupted) return fail(ErrorKind::transport, "interrupted: no verdicts");
  if (outcome.error) return fail(ran_into(*outcome.error));
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto it = outcome.by_node.find(nodes[i].name);
    const ProbeFacts not_probed{.pod = "", .failure = "not probed: the node is not Ready"};
    apply_probe(reports[i], nodes[i], it == outcome.by_node.end() ? not_probed : it->second, options.checks);
  }
  return {};
}

}  // namespace

Result<int> verify(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

Result<int> Options::run(Io& io) const {
  const Options* o = this;
  auto config = kube::resolve_config(o->connection);
  if (!config) return fail(ran_into(config.error()));
  auto progress = progress_for(io);
  auto inv = collect(*config, o->selection, progress);
  if (progress) io.err << "\r\033[K" << std::flush;  // erase the progress line
  if (!inv) return fail(ran_into(inv.error()));

  std::vector<NodeReport> reports;
  reports.reserve(inv->nodes.size());
  Summary summary;
  for (const auto& node : inv->nodes) {
    auto find = [&](const auto& by_node) -> const PodFacts* {
      auto it = by_node.find(node.name);
      return it == by_node.end() ? nullptr : &it->second;
    };
    reports.push_back(evaluate(node, find(inv->iscsi), find(inv->gpu), o->checks));
  }
  bool leftovers = false;
  if (o->deep && (o->checks.has(Check::iscsi) || o->checks.has(Check::quicksync)) && !inv->nodes.empty()) {
    if (auto done = deep_check(*config, *o->deep, inv->nodes, reports, io, leftovers); !done) return fail(done.error());
  }
  for (const auto& r : reports) summary.add(r);

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
  if (!inv->missing.empty() || leftovers) return exit_error;
  if (reports.empty())
    return fail(
        ErrorKind::not_found,
        "no nodes" +
            (o->selection.label_selector.empty() ? "" : " match the selector \"" + o->selection.label_selector + "\""));
  return summary.failed ? exit_some_failed : exit_ok;
}

}  // namespace nodeboot::plugin::cmd
