#include "nodeboot/plugin/cmd/watch.hpp"

#include <map>
#include <ostream>

#include <nlohmann/json.hpp>

#include "ipb_cli.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"

namespace nodeboot::plugin::cmd {
namespace {

using nlohmann::json;

// One live bar per node on a terminal: the block is redrawn in place.
class Bars {
 public:
  Bars(std::ostream& out, bool colour) : out_(out), colour_(colour) {}

  void update(const ipb::NodeProgress& p) {
    if (!lines_.contains(p.name)) order_.push_back(p.name);
    lines_[p.name] = line(p.name, p.state, p.progress, p.reason.empty() ? p.message : p.reason + ": " + p.message);
    draw();
  }
  void done(const std::string& node) {
    lines_[node] = line(node, "Done", 100, "back in service");
    draw();
  }

 private:
  std::string line(const std::string& node, const std::string& state, int progress, const std::string& text) const {
    constexpr int width = 30;  // bar cells: fits 80 columns with name, state and some message
    const int filled = progress * width / 100;
    std::string bar = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                      std::string(static_cast<std::size_t>(width - filled), '.') + "]";
    std::string colour_on, colour_off;
    if (colour_) {
      colour_on = state == "Done" ? "\x1b[32m" : state == "Failed" ? "\x1b[31m" : "\x1b[33m";
      colour_off = "\x1b[0m";
    }
    std::string s = node + " " + bar + " " + std::to_string(progress) + "% " + colour_on + state + colour_off;
    if (!text.empty()) s += " " + text.substr(0, 60);  // one screen line per node
    return s;
  }
  void draw() {
    if (drawn_) out_ << "\x1b[" << drawn_ << "A";  // back to the block's first line
    for (const auto& n : order_) out_ << "\r\x1b[2K" << lines_[n] << '\n';
    drawn_ = order_.size();
    out_.flush();
  }

  std::ostream& out_;
  bool colour_;
  std::vector<std::string> order_;
  std::map<std::string, std::string> lines_;
  std::size_t drawn_ = 0;
};

struct Options {
  std::chrono::milliseconds timeout{};
  std::string label{};
  std::vector<std::string> nodes{};
  kube::ConnectionFlags connection{};

  Result<void> complete(const cli::Parsed& parsed) {
    auto t = parse_duration(parsed["timeout"].as<std::string>(), "--timeout");
    if (!t) return fail(t.error());
    timeout = *t;
    label = parsed["schedule-label"].as<std::string>();
    if (parsed.count("nodes")) nodes = parsed["nodes"].as<std::vector<std::string>>();
    auto c = cli::connection_flags(parsed);
    if (!c) return fail(c.error());
    connection = std::move(*c);
    return {};
  }
  static Result<void> validate() { return {}; }  // complete() checked every flag it read
  Result<int> run(Io& io);
};

Result<int> Options::run(Io& io) {
  auto client = ipbcli::connect(connection);
  if (!client) return fail(client.error());
  if (nodes.empty()) {
    kube::ListOptions by_node;
    by_node.label_selector = std::string(names::node_label);
    auto records = (*client)->list(kube::resources::configmaps, names::system_namespace, by_node);
    if (!records && !kube::is_not_found(records.error())) return fail(records.error());
    if (records)
      for (const auto& cm : records->value("items", json::array()))
        nodes.push_back(
            cm.value("/metadata/labels"_json_pointer, json::object()).value(std::string(names::node_label), ""));
    if (nodes.empty()) {
      io.err << "No in-place bootstraps in progress.\n";
      return exit_ok;
    }
  } else if (auto checked = ipbcli::resolve_nodes(**client, nodes, ""); !checked) {
    return fail(checked.error());
  }

  ipb::Context ctx{**client, label, ipb::DryRun::none,
                   [&](std::string_view node, std::string_view msg) { io.err << node << ": " << msg << std::endl; },
                   stop_token()};
  const bool live = ipbcli::is_terminal(io.out);
  Bars bars(io.out, ipbcli::use_colour(io.out));
  ipb::TrackOptions to;
  if (timeout.count() > 0) to.deadline = std::chrono::steady_clock::now() + timeout;
  to.on_progress = [&](const ipb::NodeProgress& p) {
    if (live) return bars.update(p);
    ipbcli::print_progress_line(io, p);
  };
  to.on_done = [&](const std::string& node) {
    if (live) return bars.done(node);
    io.out << node << ": Done" << std::endl;
  };
  auto result = ipb::track(ctx, nodes, to);
  if (!result) return fail(result.error());
  if (!result->pending.empty()) {
    std::string pending;
    for (const auto& n : result->pending) pending += " " + n;
    return fail(ErrorKind::transport,
                std::string(ctx.stop.stop_requested() ? "interrupted" : "timed out") + " waiting for:" + pending);
  }
  for (const auto& n : result->failed)
    io.err << n << ": Failed (`kubectl nodeboot status " << n << "` for the reason; `retry` or `abort`)\n";
  return result->failed.empty() ? exit_ok : exit_some_failed;
}

}  // namespace

cli::Flags watch_flags() {
  cli::Flags options("kubectl nodeboot watch",
                     "Follow in-place bootstraps with the watch API until each node is Done or Failed. Display "
                     "only: the completion controller in nodeboot-webhook restores a node that is back (Ready "
                     "on a new boot); `finish` does it by hand. Exit 0 when all are done, 3 when any failed.");
  options.positional_help("[NODE...]");
  options.add_options()("timeout", "Give up after this long (0: no limit)",
                        cli::value<std::string>().default_value("0"))("nodes", "",
                                                                      cli::value<std::vector<std::string>>());
  ipbcli::add_common_flags(options, false, "(not used)");
  options.parse_positional({"nodes"});
  return options;
}

Result<int> watch(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

}  // namespace nodeboot::plugin::cmd
