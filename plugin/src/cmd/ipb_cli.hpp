#pragma once

// What the six in-place bootstrap commands (start, status, watch, abort, retry, finish)
// share at the terminal edge: flag parsing, connecting, choosing nodes, printing changes. The node logic itself is in
// nodeboot/plugin/ipb/ (no argv, no terminal).

#include <functional>
#include <initializer_list>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/ipb/node_ops.hpp"
#include "nodeboot/util/signals.hpp"

namespace nodeboot::plugin::cmd::ipbcli {

// Adds --schedule-label, -o and (when `writes`) --dry-run.
void add_common_flags(cli::Flags& options, bool writes, const std::string& output_help);

// -o value checked against `allowed`; --dry-run value (none|client|server). Usage errors name the flag.
Result<std::string> output_format(const cli::Parsed& parsed, std::initializer_list<std::string_view> allowed);
Result<ipb::DryRun> dry_run(const cli::Parsed& parsed);

Result<std::unique_ptr<kube::Client>> connect(const kube::ConnectionFlags& flags);

// Named nodes (each must exist) or the nodes a -l selector matches (at least one).
Result<std::vector<std::string>> resolve_nodes(kube::Client& client, const std::vector<std::string>& names,
                                               const std::string& selector);

// kubectl-style: "node/n1 cordoned", or -o name / json / yaml (a List of the final objects).
void print_changes(Io& io, const std::string& format, const std::vector<ipb::Change>& changes);

// Plain progress, one line per change: "n1: Applying 60% running firstboot".
void print_progress_line(Io& io, const ipb::NodeProgress& p);

// Whether `out` is the process's stdout and that is a terminal; colour also needs NO_COLOR unset.
bool is_terminal(const std::ostream& out);
bool use_colour(const std::ostream& out);

// abort / retry / finish: NODE... (or -l), one library call per node, changes printed.
// Exit 0, 1 (one node, error) or 3 (some of several failed).
using NodeAction = std::function<Result<std::vector<ipb::Change>>(ipb::Context&, const std::string& node)>;
void add_per_node_flags(cli::Flags& options);
struct PerNodeOptions {
  std::string format{};
  ipb::DryRun dry = ipb::DryRun::none;
  std::vector<std::string> names{};
  std::string selector{};
  std::string schedule_label{};
  kube::ConnectionFlags connection{};

  Result<void> complete(const cli::Parsed& parsed);
  Result<void> validate() const;
  Result<int> run(Io& io, const NodeAction& action) const;
};

}  // namespace nodeboot::plugin::cmd::ipbcli
