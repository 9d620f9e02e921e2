#include "nodeboot/plugin/cmd/start.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "ipb_cli.hpp"
#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/plugin/ipb/preflight.hpp"
#include "nodeboot/plugin/ipb/roll.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"

namespace nodeboot::plugin::cmd {
namespace {

using ipb::Change;

// Which flag sets which Secret key, so schema problems name the flag the operator typed.
struct KeyFlag {
  std::string_view key, flag;
};
constexpr KeyFlag key_flags[] = {
    {names::key::os, "--os"},
    {names::key::ignition_url, "--ignition-url"},
    {names::key::ignition_token, "--ignition-token-file"},
    {names::key::ca_crt, "--ca-cert"},
    {names::key::mcd_image, "--mcd-image"},
    {names::key::payload_url, "--payload-url"},
    {names::key::payload_token, "--payload-token-file"},
    {names::key::payload_sha256, "--payload-sha256"},
    {names::key::worker_id, "--worker-id"},
    {names::key::cluster_id, "--cluster-id"},
    {names::key::region, "--region"},
    {names::key::mirrors, "--mirrors"},
    {names::key::registry, "--registry"},
    {names::key::report_url, "--report-url"},
    {names::key::report_token, "--report-token-file"},
};

std::string flag_of(std::string_view key) {
  for (const auto& kf : key_flags)
    if (kf.key == key) return std::string(kf.flag);
  return std::string(key);
}

// A token from a file or "-" (stdin), trailing newline dropped; never from a flag value.
Result<Secret> read_token(const std::string& flag, const std::string& path, bool& stdin_used) {
  std::string text;
  if (path == "-") {
    if (stdin_used) return fail(ErrorKind::invalid_input, flag + ": only one token can come from stdin (-)");
    stdin_used = true;
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    text = ss.str();
  } else {
    auto file = read_file(path);
    if (!file) return fail(ErrorKind::invalid_input, flag + ": " + file.error().message);
    text = std::move(*file);
  }
  text = std::string(trim_space(text));  // client-go's rule for token files
  if (text.empty()) return fail(ErrorKind::invalid_input, flag + ": the token in \"" + path + "\" is empty");
  return Secret(std::move(text));
}

Result<std::string> read_text(const std::string& flag, const std::string& path) {
  auto text = read_file(path);
  if (!text) return fail(ErrorKind::invalid_input, flag + ": " + text.error().message);
  return text;
}

// Every input checked, the Secret data built and validated by the webhook's own schema
// code: nothing here touches the cluster.
Result<bootstrap::SecretData> secret_data(const cli::Parsed& p) {
  if (!p.count("os")) return fail(ErrorKind::invalid_input, "--os is required: rhcos or rhel");
  const auto os = p["os"].as<std::string>();
  if (os != "rhcos" && os != "rhel")
    return fail(ErrorKind::invalid_input, "--os: \"" + os + "\" is not supported; use rhcos or rhel");
  // --ca-cert serves both (a payload server behind a private CA).
  const std::vector<std::string> rhcos_only{"ignition-url", "ignition-token-file", "mcd-image"};
  const std::vector<std::string> rhel_only{"payload-url", "payload-token-file", "worker-id", "cluster-id",
                                           "region",      "payload-sha256",     "mirrors"};
  const auto& other = os == "rhcos" ? rhel_only : rhcos_only;
  if (const auto given = std::ranges::find_if(other, [&](const std::string& f) { return p.count(f) > 0; });
      given != other.end())
    return fail(ErrorKind::invalid_input, "--" + *given + " does not apply to --os " + os);

  bootstrap::SecretData data;
  bool stdin_used = false;
  data.emplace(names::key::os, Secret(os));
  auto text = [&](const char* flag, std::string_view key) {
    if (p.count(flag)) data.insert_or_assign(std::string(key), Secret(p[flag].as<std::string>()));
  };
  auto token = [&](const char* flag, std::string_view key) -> Result<void> {
    if (!p.count(flag)) return {};
    auto t = read_token(std::string("--") + flag, p[flag].as<std::string>(), stdin_used);
    if (!t) return fail(t.error());
    data.insert_or_assign(std::string(key), std::move(*t));
    return {};
  };
  text("ignition-url", names::key::ignition_url);
  text("mcd-image", names::key::mcd_image);
  text("payload-url", names::key::payload_url);
  text("worker-id", names::key::worker_id);
  text("cluster-id", names::key::cluster_id);
  text("region", names::key::region);
  text("payload-sha256", names::key::payload_sha256);
  text("mirrors", names::key::mirrors);
  text("registry", names::key::registry);
  text("report-url", names::key::report_url);
  for (auto [flag, key] : {std::pair{"ignition-token-file", names::key::ignition_token},
                           std::pair{"payload-token-file", names::key::payload_token},
                           std::pair{"report-token-file", names::key::report_token}})
    if (auto r = token(flag, key); !r) return fail(r.error());
  if (p.count("ca-cert")) {
    auto ca = read_text("--ca-cert", p["ca-cert"].as<std::string>());
    if (!ca) return fail(ca.error());
    data.insert_or_assign(std::string(names::key::ca_crt), Secret(*ca));
  }
  auto spec = bootstrap::parse(data);
  if (!spec) {
    std::string msg = "the bootstrap settings are not valid:";
    for (const auto& problem : spec.error()) msg += "\n  " + flag_of(problem.key) + ": " + problem.message;
    return fail(ErrorKind::invalid_input, msg);
  }
  return data;
}

Result<ipb::DrainOptions> drain_options(const cli::Parsed& p) {
  ipb::DrainOptions o;
  o.ignore_daemonsets = p.count("ignore-daemonsets") > 0;
  o.delete_emptydir_data = p.count("delete-emptydir-data") > 0;
  o.force = p.count("force") > 0;
  o.disable_eviction = p.count("disable-eviction") > 0;
  if (p.count("pod-selector")) o.pod_selector = p["pod-selector"].as<std::string>();
  if (const int g = p["grace-period"].as<int>(); g >= 0) o.grace_period_seconds = g;
  auto t = parse_duration(p["timeout"].as<std::string>(), "--timeout");
  if (!t) return fail(t.error());
  o.timeout = std::chrono::duration_cast<std::chrono::seconds>(*t);
  return o;
}

struct Options {
  bootstrap::SecretData data{};
  bool rhcos_without_mcd = false;
  std::string format{};
  ipb::DryRun dry = ipb::DryRun::none;
  bool drain_nodes = false;
  ipb::DrainOptions drain{};
  std::chrono::milliseconds soak{};
  std::chrono::milliseconds roll_timeout{};
  std::optional<ipb::DaemonSetRef> daemonset{};
  std::optional<int> max_unavailable{};
  std::vector<std::string> names_given{};
  std::string selector{};
  std::string schedule_label{};
  bool keep_secret = false;
  bool continue_on_failure = false;
  kube::ConnectionFlags connection{};

  // Everything is read and checked before the first request that changes anything.
  Result<void> complete(const cli::Parsed& p) {
    auto d = secret_data(p);
    if (!d) return fail(d.error());
    data = std::move(*d);
    rhcos_without_mcd = p["os"].as<std::string>() == "rhcos" && !p.count("mcd-image");
    auto f = ipbcli::output_format(p, {"json", "yaml", "name"});
    if (!f) return fail(f.error());
    format = *f;
    auto dr = ipbcli::dry_run(p);
    if (!dr) return fail(dr.error());
    dry = *dr;
    auto dopts = drain_options(p);
    if (!dopts) return fail(dopts.error());
    drain = *dopts;
    drain_nodes = p.count("drain") > 0;
    auto sk = parse_duration(p["soak"].as<std::string>(), "--soak");
    if (!sk) return fail(sk.error());
    soak = *sk;
    auto rt = parse_duration(p["roll-timeout"].as<std::string>(), "--roll-timeout");
    if (!rt) return fail(rt.error());
    roll_timeout = *rt;
    auto ds = ipb::parse_daemonset_flag(p["daemonset"].as<std::string>());
    if (!ds) return fail(ds.error());
    daemonset = *ds;
    if (p.count("max-unavailable")) max_unavailable = p["max-unavailable"].as<int>();
    if (p.count("nodes")) names_given = p["nodes"].as<std::vector<std::string>>();
    selector = cli::value(p, "selector");
    schedule_label = p["schedule-label"].as<std::string>();
    keep_secret = p.count("keep-secret") > 0;
    continue_on_failure = p.count("continue-on-failure") > 0;
    auto c = cli::connection_flags(p);
    if (!c) return fail(c.error());
    connection = std::move(*c);
    return {};
  }

  Result<void> validate() const {
    if (max_unavailable && *max_unavailable < 1)
      return fail(ErrorKind::invalid_input, "--max-unavailable must be at least 1");
    if (names_given.empty() && selector.empty())
      return fail(ErrorKind::invalid_input, "name at least one NODE, or pass -l SELECTOR");
    return {};
  }

  Result<int> run(Io& io);
};

}  // namespace

cli::Flags start_flags() {
  cli::Flags options("kubectl nodeboot start",
                     "Take nodes through an in-place OS bootstrap: record their state, cordon, drain (--drain), "
                     "create the bootstrap Secret and label them for the IPB DaemonSet.\n"
                     "Tokens come only from files (or - for stdin), never from flags.");
  options.positional_help("NODE... | -l SELECTOR");
  options.add_options("Bootstrap")("os", "rhcos or rhel", cli::value<std::string>())(
      "ignition-url", "rhcos: https URL of the Ignition config (machine config server)", cli::value<std::string>())(
      "ignition-token-file", "rhcos: file holding the Ignition bearer token (- = stdin)", cli::value<std::string>())(
      "mcd-image",
      "rhcos: image to extract machine-config-daemon from, by digest (registry/repo@sha256:...; "
      "`oc adm release info --image-for=machine-config-operator RELEASE`); without it the host's own is used",
      cli::value<std::string>())("ca-cert", "PEM CA bundle that signed the Ignition (or payload) server's certificate",
                                 cli::value<std::string>())("payload-url", "rhel: https URL of the bootstrap payload",
                                                            cli::value<std::string>())(
      "payload-token-file", "rhel: file holding the payload bearer token (- = stdin)", cli::value<std::string>())(
      "payload-sha256", "rhel: expected sha256 of the payload", cli::value<std::string>())(
      "worker-id", "rhel: WORKER_ID for the payload", cli::value<std::string>())(
      "cluster-id", "rhel: CLUSTER_ID for the payload", cli::value<std::string>())(
      "region", "rhel: REGION for the payload", cli::value<std::string>())(
      "mirrors", "rhel: comma-separated https mirror URLs to probe", cli::value<std::string>())(
      "registry", "registry host[:port] the node must reach", cli::value<std::string>())(
      "report-url", "https URL the agent POSTs each state to", cli::value<std::string>())(
      "report-token-file", "file holding the report URL's bearer token (- = stdin)", cli::value<std::string>())(
      "l,selector", "Label selector of the nodes to start", cli::value<std::string>())(
      "daemonset",
      "The DaemonSet that runs the bootstrap (NAMESPACE/NAME); start refuses unless its nodeSelector is "
      "the schedule label. none: skip the check (the bootstrap runs some other way)",
      cli::value<std::string>().default_value(std::string(ipb::default_daemonset)));
  options.add_options("Drain (kubectl drain's flags)")("drain", "Drain each node after cordoning it")(
      "ignore-daemonsets", "Ignore DaemonSet-managed pods")(
      "delete-emptydir-data", "Continue even if there are pods using emptyDir (their data is lost)")(
      "force", "Continue even if there are pods that do not declare a controller")(
      "grace-period", "Seconds each pod gets to terminate (-1: the pod's own)", cli::value<int>().default_value("-1"))(
      "timeout", "How long to keep trying the drain (0: forever)", cli::value<std::string>().default_value("0"))(
      "pod-selector", "Only drain pods matching this label selector", cli::value<std::string>())(
      "disable-eviction", "Delete pods instead of evicting them (bypasses PodDisruptionBudgets)");
  options.add_options("Rolling")("max-unavailable",
                                 "Roll through the nodes, at most N out of service at once; waits for each to be Done "
                                 "(the completion controller restores it)",
                                 cli::value<int>())("soak",
                                                    "Wait this long after a node finishes before starting the next",
                                                    cli::value<std::string>().default_value("0s"))(
      "continue-on-failure", "Keep rolling after a node fails (it stays cordoned and keeps its slot)")(
      "keep-secret",
      "Keep each node's bootstrap Secret after it finishes (recorded: the completion controller keeps it too)")(
      "roll-timeout", "Give up waiting for the roll after this long (0: no limit)",
      cli::value<std::string>().default_value("0"))("nodes", "", cli::value<std::vector<std::string>>());
  ipbcli::add_common_flags(options, true, "json, yaml or name");
  options.parse_positional({"nodes"});
  return options;
}

Result<int> start(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

Result<int> Options::run(Io& io) {
  if (rhcos_without_mcd)
    io.err << "warning: no --mcd-image: the agent will run the host's own machine-config-daemon, which RHCOS does not "
              "ship; name the release's machine-config-operator image by digest unless this install put one there\n";
  auto client = ipbcli::connect(connection);
  if (!client) return fail(client.error());
  auto nodes = ipbcli::resolve_nodes(**client, names_given, selector);
  if (!nodes) return fail(nodes.error());
  // What the cluster could refuse for every node alike is asked once, before any node is touched.
  if (auto ok = ipb::check_start(**client, {.schedule_label = schedule_label,
                                            .daemonset = daemonset,
                                            .drain = drain_nodes,
                                            .disable_eviction = drain.disable_eviction});
      !ok)
    return fail(ok.error());

  ipb::Context ctx{**client, schedule_label, dry,
                   [&](std::string_view node, std::string_view msg) { io.err << node << ": " << msg << std::endl; },
                   stop_token()};
  const ipb::StartSpec spec{std::move(data), drain_nodes, drain, keep_secret};
  std::vector<Change> all;
  auto start_one = [&](const std::string& node) -> bool {
    auto changes = ipb::start_node(ctx, node, spec);
    if (!changes) {
      io.err << "error: " << node << ": " << changes.error().message << '\n';
      return false;
    }
    if (format.empty()) ipbcli::print_changes(io, "", *changes);
    all.insert(all.end(), changes->begin(), changes->end());
    return true;
  };

  // Without --max-unavailable (or in a dry run, where nothing will ever finish) every node
  // starts now and `kubectl nodeboot watch` follows them.
  if (!max_unavailable || dry != ipb::DryRun::none) {
    int failures = 0;
    for (const auto& n : *nodes) {
      if (ctx.stop.stop_requested()) break;
      if (!start_one(n)) {
        ++failures;
        if (!continue_on_failure) break;
      }
    }
    if (!format.empty()) ipbcli::print_changes(io, format, all);
    if (failures) return nodes->size() > 1 ? exit_some_failed : exit_error;
    return ctx.stop.stop_requested() ? exit_error : exit_ok;
  }

  ipb::Roll roll(*nodes, *max_unavailable, soak, continue_on_failure);
  std::size_t seen_done = 0, seen_failed = 0;
  std::set<std::string> refused;  // start_node failed: it took back its own steps, or said what it could not
  auto launch = [&]() {
    std::vector<std::string> started;
    for (const auto& n : roll.take_startable(ipb::Roll::Clock::now())) {
      if (start_one(n))
        started.push_back(n);
      else {
        roll.failed(n);
        refused.insert(n);
      }
    }
    return started;
  };
  ipb::TrackOptions to;
  if (roll_timeout.count() > 0) to.deadline = std::chrono::steady_clock::now() + roll_timeout;
  to.on_progress = [&](const ipb::NodeProgress& np) {
    if (format.empty()) ipbcli::print_progress_line(io, np);
  };
  to.on_done = [&](const std::string& node) {
    if (format.empty()) io.out << node << ": done" << std::endl;
  };
  to.on_tick = [&](const ipb::TrackResult& r) {
    for (; seen_done < r.done.size(); ++seen_done) roll.completed(r.done[seen_done], ipb::Roll::Clock::now());
    for (; seen_failed < r.failed.size(); ++seen_failed) roll.failed(r.failed[seen_failed]);
    return launch();
  };
  to.keep_going = [&] { return !roll.finished(); };
  to.next_wakeup = [&] { return roll.next_wakeup(); };
  auto result = ipb::track(ctx, {}, to);
  if (!format.empty()) ipbcli::print_changes(io, format, all);
  if (!result) return fail(result.error());
  for (const auto& n : roll.failures()) {
    if (refused.contains(n))  // start_node took back its own steps and said so above
      io.err << n << ": not started (see its error above)\n";
    else
      io.err << n << ": failed (still cordoned: `kubectl nodeboot retry " << n << "` or `abort`)\n";
  }
  if (!roll.not_started().empty()) {
    io.err << "not started:";
    for (const auto& n : roll.not_started()) io.err << " " << n;
    io.err << '\n';
  }
  if (!result->pending.empty()) {
    std::string pending;
    for (const auto& n : result->pending) pending += " " + n;
    return fail(ErrorKind::transport, "still in progress:" + pending);
  }
  return roll.failures().empty() && roll.not_started().empty() ? exit_ok : exit_some_failed;
}

}  // namespace nodeboot::plugin::cmd
