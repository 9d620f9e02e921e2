#include "nodeboot/plugin/cmd/status.hpp"

#include <iomanip>
#include <map>
#include <ostream>

#include <nlohmann/json.hpp>

#include "ipb_cli.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/yaml.hpp"

namespace nodeboot::plugin::cmd {
namespace {

using nlohmann::json;

struct Row {
  ipb::NodeProgress p;
  bool recorded = false;
};

// The state column explains the in-between states an interrupted command leaves.
std::string state_of(const Row& r) {
  if (!r.p.state.empty()) return r.p.state;
  if (r.recorded) return "Incomplete";  // start stopped between the record and the label
  return "-";
}

std::string reason_of(const Row& r) {
  if (!r.p.reason.empty()) return r.p.reason;
  if (r.p.state.empty() && r.recorded) return "StartInterrupted";
  return "";
}

std::string message_of(const Row& r) {
  if (r.p.state.empty() && r.recorded)
    return "prior state recorded but not scheduled: run `kubectl nodeboot start` again, or `abort`";
  return r.p.message;
}

void table(std::ostream& out, const std::vector<Row>& rows, bool wide) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head{"NODE", "STATE", "PROGRESS", "REASON", "ATTEMPT", "AGE"};
  if (wide) head.insert(head.end(), {"CORDONED", "SCHEDULED", "BOOTID", "MESSAGE"});
  cells.push_back(head);
  const auto now = std::chrono::system_clock::now();
  for (const auto& r : rows) {
    const auto updated = parse_rfc3339(r.p.updated);
    std::vector<std::string> c{r.p.name,
                               state_of(r),
                               r.p.state.empty() ? "-" : std::to_string(r.p.progress) + "%",
                               reason_of(r).empty() ? "-" : reason_of(r),
                               r.p.attempt.empty() ? "-" : r.p.attempt,
                               updated ? format_age(now - *updated) : "-"};
    if (wide)
      c.insert(c.end(), {r.p.unschedulable ? "yes" : "no", r.p.scheduled ? "yes" : "no",
                         r.p.boot_id.empty() ? "-" : r.p.boot_id, message_of(r)});
    cells.push_back(std::move(c));
  }
  std::vector<std::size_t> width(head.size(), 0);
  for (const auto& row : cells)
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  for (const auto& row : cells) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(width[i] - row[i].size() + 3, ' ');  // kubectl's 3-space gutter
    }
    out << '\n';
  }
}

struct Options {
  std::string format{};
  std::string label{};
  std::vector<std::string> wanted{};
  kube::ConnectionFlags connection{};

  Result<void> complete(const cli::Parsed& parsed) {
    auto f = ipbcli::output_format(parsed, {"wide", "json", "yaml"});
    if (!f) return fail(f.error());
    format = *f;
    label = parsed["schedule-label"].as<std::string>();
    if (parsed.count("nodes")) wanted = parsed["nodes"].as<std::vector<std::string>>();
    auto c = cli::connection_flags(parsed);
    if (!c) return fail(c.error());
    connection = std::move(*c);
    return {};
  }
  static Result<void> validate() { return {}; }  // complete() checked every flag it read
  Result<int> run(Io& io) const;
};

Result<int> Options::run(Io& io) const {
  auto client = ipbcli::connect(connection);
  if (!client) return fail(client.error());

  kube::ListOptions by_node;
  by_node.label_selector = std::string(names::node_label);
  auto records = (*client)->list(kube::resources::configmaps, names::system_namespace, by_node);
  std::map<std::string, bool> recorded;
  if (records)
    for (const auto& cm : records->value("items", json::array()))
      recorded[cm.value("/metadata/labels"_json_pointer, json::object()).value(std::string(names::node_label), "")] =
          true;
  else if (!kube::is_not_found(records.error()))
    return fail(records.error());

  std::vector<Row> rows;
  if (!wanted.empty()) {
    for (const auto& n : wanted) {
      auto node = (*client)->get(kube::resources::nodes, "", n);
      if (!node)
        return fail(kube::is_not_found(node.error()) ? Error(ErrorKind::not_found, "node \"" + n + "\" not found")
                                                     : node.error());
      rows.push_back({ipb::read_progress(*node, label), recorded.contains(n)});
    }
  } else {
    auto nodes = (*client)->list(kube::resources::nodes, "");
    if (!nodes) return fail(nodes.error());
    for (const auto& node : nodes->value("items", json::array())) {
      Row r{ipb::read_progress(node, label), false};
      r.recorded = recorded.contains(r.p.name);
      if (!r.p.state.empty() || r.recorded || r.p.scheduled) rows.push_back(std::move(r));
    }
  }
  if (format == "json" || format == "yaml") {
    json items = json::array();
    for (const auto& r : rows)
      items.push_back({{"node", r.p.name},
                       {"state", state_of(r)},
                       {"progress", r.p.progress},
                       {"reason", reason_of(r)},
                       {"message", message_of(r)},
                       {"attempt", r.p.attempt},
                       {"updated", r.p.updated},
                       {"bootID", r.p.boot_id},
                       {"ready", r.p.ready},
                       {"cordoned", r.p.unschedulable},
                       {"scheduled", r.p.scheduled},
                       {"recorded", r.recorded}});
    const json doc = {{"items", items}};
    if (format == "json")
      io.out << doc.dump(2) << '\n';
    else
      io.out << to_yaml(doc);
    return exit_ok;
  }
  if (rows.empty()) {
    io.err << "No in-place bootstraps found.\n";
    return exit_ok;
  }
  table(io.out, rows, format == "wide");
  return exit_ok;
}

}  // namespace

cli::Flags status_flags() {
  cli::Flags options("kubectl nodeboot status",
                     "One table of the in-place bootstraps: the named nodes, or every node with a bootstrap "
                     "state or a prior-state record.");
  options.positional_help("[NODE...]");
  options.add_options()("nodes", "", cli::value<std::vector<std::string>>());
  ipbcli::add_common_flags(options, false, "wide, json or yaml");
  options.parse_positional({"nodes"});
  return options;
}

Result<int> status(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

}  // namespace nodeboot::plugin::cmd
