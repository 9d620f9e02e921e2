#include "ipb_cli.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/signals.hpp"
#include "nodeboot/util/yaml.hpp"

namespace nodeboot::plugin::cmd::ipbcli {

using nlohmann::json;

void add_common_flags(cli::Flags& options, bool writes, const std::string& output_help) {
  options.add_options()("schedule-label", "The label the IPB DaemonSet selects (its nodeSelector)",
                        cli::value<std::string>().default_value(std::string(names::schedule_label)))(
      "o,output", output_help, cli::value<std::string>())("h,help", "Show help");
  if (writes)
    options.add_options()(
        "dry-run", "none, client (print what would change) or server (the API server validates, nothing is stored)",
        cli::value<std::string>().default_value("none").implicit_value("client"));
  cli::add_connection_flags(options);
}

Result<std::string> output_format(const cli::Parsed& parsed, std::initializer_list<std::string_view> allowed) {
  auto o = cli::value(parsed, "output");
  if (auto ok = cli::check_output(o, allowed); !ok) return fail(ok.error());
  return o;
}

Result<ipb::DryRun> dry_run(const cli::Parsed& parsed) {
  const auto v = parsed["dry-run"].as<std::string>();
  if (v == "none" || v == "false") return ipb::DryRun::none;
  if (v == "client" || v == "true") return ipb::DryRun::client;
  if (v == "server") return ipb::DryRun::server;
  return fail(ErrorKind::invalid_input, "--dry-run: \"" + v + "\" is not one of none, client, server");
}

Result<std::unique_ptr<kube::Client>> connect(const kube::ConnectionFlags& flags) {
  auto cfg = kube::resolve_config(flags);
  if (!cfg) return fail(cfg.error());
  return std::make_unique<kube::Client>(std::move(*cfg));
}

Result<std::vector<std::string>> resolve_nodes(kube::Client& client, const std::vector<std::string>& names,
                                               const std::string& selector) {
  if (!names.empty() && !selector.empty())
    return fail(ErrorKind::invalid_input, "--selector: give node names or -l SELECTOR, not both");
  if (!selector.empty()) {
    kube::ListOptions lo;
    lo.label_selector = selector;
    auto listed = client.list(kube::resources::nodes, "", lo);
    if (!listed) return fail(listed.error());
    std::vector<std::string> out;
    for (const auto& n : listed->value("items", json::array())) out.push_back(n["metadata"]["name"]);
    if (out.empty()) return fail(ErrorKind::not_found, "--selector: no nodes match \"" + selector + "\"");
    return out;
  }
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (!seen.insert(n).second) continue;
    auto got = client.get(kube::resources::nodes, "", n);
    if (!got && kube::is_not_found(got.error())) return fail(ErrorKind::not_found, "node \"" + n + "\" not found");
    if (!got) return fail(got.error());
    out.push_back(n);
  }
  return out;
}

void print_changes(Io& io, const std::string& format, const std::vector<ipb::Change>& changes) {
  if (format.empty()) {
    for (const auto& c : changes) io.out << c.kind << "/" << c.name << " " << c.verb << '\n';
    return;
  }
  // One entry per object, its last known state, in first-seen order (as kubectl lists them).
  std::vector<std::string> order;
  std::map<std::string, const ipb::Change*> last;
  for (const auto& c : changes) {
    const std::string key = c.kind + "/" + c.name;
    if (!last.contains(key)) order.push_back(key);
    if (!c.object.is_null() || !last.contains(key)) last[key] = &c;
  }
  if (format == "name") {
    for (const auto& k : order) io.out << k << '\n';
    return;
  }
  json list = {
      {"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}, {"metadata", {{"resourceVersion", ""}}}};
  for (const auto& k : order)
    if (!last[k]->object.is_null()) list["items"].push_back(last[k]->object);
  if (format == "json")
    io.out << list.dump(4) << '\n';
  else
    io.out << to_yaml(list);
}

void print_progress_line(Io& io, const ipb::NodeProgress& p) {
  io.out << p.name << ": " << (p.state.empty() ? "-" : p.state) << " " << p.progress << "%";
  if (!p.reason.empty()) io.out << " (" << p.reason << ")";
  if (!p.message.empty()) io.out << " " << p.message;
  io.out << std::endl;
}

bool is_terminal(const std::ostream& out) { return &out == &std::cout && ::isatty(STDOUT_FILENO); }

bool use_colour(const std::ostream& out) {
  const char* no_colour = std::getenv("NO_COLOR");
  return is_terminal(out) && !(no_colour && *no_colour);
}

void add_per_node_flags(cli::Flags& options) {
  options.positional_help("NODE... | -l SELECTOR");
  options.add_options()("l,selector", "Label selector of the nodes", cli::value<std::string>())(
      "nodes", "", cli::value<std::vector<std::string>>());
  add_common_flags(options, true, "json, yaml or name");
  options.parse_positional({"nodes"});
}

Result<void> PerNodeOptions::complete(const cli::Parsed& parsed) {
  auto f = output_format(parsed, {"json", "yaml", "name"});
  if (!f) return fail(f.error());
  format = *f;
  auto d = dry_run(parsed);
  if (!d) return fail(d.error());
  dry = *d;
  if (parsed.count("nodes")) names = parsed["nodes"].as<std::vector<std::string>>();
  selector = cli::value(parsed, "selector");
  schedule_label = parsed["schedule-label"].as<std::string>();
  auto c = cli::connection_flags(parsed);
  if (!c) return fail(c.error());
  connection = std::move(*c);
  return {};
}

Result<void> PerNodeOptions::validate() const {
  if (names.empty() && selector.empty())
    return fail(ErrorKind::invalid_input, "name at least one NODE, or pass -l SELECTOR");
  return {};
}

Result<int> PerNodeOptions::run(Io& io, const NodeAction& action) const {
  auto client = connect(connection);
  if (!client) return fail(client.error());
  auto nodes = resolve_nodes(**client, names, selector);
  if (!nodes) return fail(nodes.error());
  ipb::Context ctx{**client, schedule_label, dry,
                   [&](std::string_view node, std::string_view msg) { io.err << node << ": " << msg << std::endl; },
                   stop_token()};
  std::vector<ipb::Change> all;
  int failures = 0;
  for (const auto& node : *nodes) {
    auto changes = action(ctx, node);
    if (!changes) {  // one node's failure: reported here, the others go on
      io.err << "error: " << node << ": " << kube::kubectl_message(changes.error()) << '\n';
      ++failures;
      continue;
    }
    if (format.empty()) print_changes(io, "", *changes);
    all.insert(all.end(), changes->begin(), changes->end());
  }
  if (!format.empty()) print_changes(io, format, all);
  if (!failures) return exit_ok;
  return nodes->size() > 1 && static_cast<std::size_t>(failures) < nodes->size() ? exit_some_failed : exit_error;
}

}  // namespace nodeboot::plugin::cmd::ipbcli
