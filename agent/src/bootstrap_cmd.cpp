#include "nodeboot/agent/bootstrap_cmd.hpp"

#include <cstdlib>
#include <ostream>

#include <nlohmann/json.hpp>

#include "nodeboot/agent/host_steps.hpp"
#include "nodeboot/agent/ipb.hpp"
#include "nodeboot/agent/node_reporter.hpp"
#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/signals.hpp"

namespace nodeboot::agent {
namespace {

using nlohmann::json;

// From the schedule label's removal on, SIGTERM/SIGINT only ask the agent to stop once it
// is done: the label's removal makes the DaemonSet delete this pod at once, and the
// kubelet's SIGTERM must not cut the hand-over to the host that follows (seen on the node
// layer's VMs: the agent died between the label and systemd-run, and nothing ran on the
// host). The pod's grace period still bounds it. Before that a signal ends the agent as
// its default would (main's SignalThread).
void defer_stop() { (void)stop_token(); }

// The DaemonSet restarts containers that exit: after a result the agent stays put until
// the reboot (or the label's removal) ends the pod, so one request runs once.
void hold(std::ostream& log) {
  log << "nodeboot-agent: holding until the pod is stopped" << std::endl;
  wait_for_stop();
}

}  // namespace

cli::Flags bootstrap_flags() {
  cli::Flags options("nodeboot-agent bootstrap",
                     "Validate, download, apply and reboot into the OS the node's bootstrap Secret describes.");
  BootstrapOptions defaults;
  options.add_options()("node", "The node to bootstrap (default: $NODE_NAME, from the downward API)",
                        cli::value<std::string>())("host-root", "Where the host's / is mounted",
                                                   cli::value<std::string>().default_value("/host"))(
      "dry-run", "Probe and download, but change nothing on the host and do not reboot")(
      "firstboot-command", "RHCOS: run after the Ignition config is in place (/bin/sh -c)",
      cli::value<std::string>().default_value(defaults.firstboot_command))(
      "entrypoint-command", "RHEL: run the unpacked payload, with WORKER_ID, CLUSTER_ID, REGION set (/bin/sh -c)",
      cli::value<std::string>().default_value(defaults.entrypoint_command))(
      "reboot-command", "Reboot the host (/bin/sh -c)",
      cli::value<std::string>().default_value(defaults.reboot_command))(
      "host-exec", "Prefix that runs a command in the host's namespaces (\"\" = as is)",
      cli::value<std::string>().default_value("nsenter -t 1 -m -u -i -n -p --"))(
      "host-unit",
      "Transient systemd unit (systemd-run) that runs firstboot/entrypoint and the reboot on the host, "
      "so the pod's deletion cannot kill them (\"\" = run them in this process)",
      cli::value<std::string>().default_value("nodeboot-ipb"))(
      "host-agent",
      "The agent binary copied to the host for the host unit; the image's portable build is "
      "/usr/lib/nodeboot/host/nodeboot-agent (\"\" = this binary)",
      cli::value<std::string>().default_value(""))(
      "host-kubeconfig",
      "The kubelet's kubeconfig, a path on the host (read under --host-root): the agent reads "
      "its bootstrap Secret as the node with it, and reports with it once the schedule label is gone, "
      "as the host unit does (default: the first that exists of /var/lib/kubelet/kubeconfig (OpenShift), "
      "/etc/kubernetes/kubelet.conf (kubeadm), RKE2's and k3s's kubelet.kubeconfig)",
      cli::value<std::string>())("host-root-on-host", "Where the host unit finds the host's / (only tests change it)",
                                 cli::value<std::string>().default_value("/"))(
      "boot-id-file", "The running boot's id (only tests change it)",
      cli::value<std::string>().default_value(defaults.boot_id_file))("http-timeout", "Deadline of one HTTPS request",
                                                                      cli::value<std::string>().default_value("30s"))(
      "attempts", "Tries of a step that failed transiently", cli::value<int>().default_value("4"))(
      "backoff", "Wait before the second try; doubled after each", cli::value<std::string>().default_value("2s"))(
      "schedule-label", "The label that scheduled this pod; removed before the reboot",
      cli::value<std::string>().default_value(std::string(names::schedule_label)))(
      "hold", "After the result, wait for SIGTERM instead of exiting (the DaemonSet would restart it)")("h,help",
                                                                                                        "Show help");
  cli::add_connection_flags(options);
  return options;
}

namespace {

struct Options {
  std::string node{};
  BootstrapOptions o{};
  std::string schedule_label{};
  bool keep_holding = false;
  kube::ConnectionFlags connection{};

  Result<void> complete(const cli::Parsed& parsed) {
    node = cli::value(parsed, "node");
    if (node.empty())
      if (const char* env = std::getenv("NODE_NAME")) node = env;
    o.host_root = parsed["host-root"].as<std::string>();
    o.dry_run = parsed.count("dry-run") > 0;
    o.firstboot_command = parsed["firstboot-command"].as<std::string>();
    o.entrypoint_command = parsed["entrypoint-command"].as<std::string>();
    o.reboot_command = parsed["reboot-command"].as<std::string>();
    o.host_exec = parsed["host-exec"].as<std::string>();
    o.host_unit = parsed["host-unit"].as<std::string>();
    o.host_kubeconfig = cli::value(parsed, "host-kubeconfig");  // "" = find it on the host (run)
    o.host_agent = parsed["host-agent"].as<std::string>();
    o.host_root_on_host = parsed["host-root-on-host"].as<std::string>();
    o.boot_id_file = parsed["boot-id-file"].as<std::string>();
    o.attempts = std::max(1, parsed["attempts"].as<int>());
    auto http_timeout = parse_duration(parsed["http-timeout"].as<std::string>(), "--http-timeout");
    if (!http_timeout) return fail(http_timeout.error());
    o.http_timeout = *http_timeout;
    auto backoff = parse_duration(parsed["backoff"].as<std::string>(), "--backoff");
    if (!backoff) return fail(backoff.error());
    o.backoff = *backoff;
    schedule_label = parsed["schedule-label"].as<std::string>();
    keep_holding = parsed.count("hold") > 0;
    auto c = cli::connection_flags(parsed);
    if (!c) return fail(c.error());
    connection = std::move(*c);
    return {};
  }

  Result<void> validate() const {
    if (node.empty()) return fail(ErrorKind::invalid_input, "--node is required (or NODE_NAME from the downward API)");
    return {};
  }

  Result<int> run(cli::Io& io);
};

Result<int> Options::run(cli::Io& io) {
  std::ostream& err = io.err;
  auto config = kube::resolve_config(connection);
  if (!config) return fail(config.error().kind, config.error().message);
  kube::Client client(std::move(*config));
  bool label_removed = false;
  auto remove_label = [&]() -> Result<void> {
    defer_stop();
    auto r = client.patch(kube::resources::nodes, "", node, kube::PatchType::merge,
                          {{"metadata", {{"labels", {{schedule_label, nullptr}}}}}},
                          kube::PatchOptions{.field_manager = std::string(names::agent_field_manager)});
    if (!r) return fail(r.error());
    label_removed = true;  // the last write of the pod's token: the DaemonSet now deletes the pod
    return {};
  };
  auto finish = [&](int code) {
    if (keep_holding) hold(err);
    return code;
  };
  // A failure ends this request too: the label goes (after the Failed report) so the pod
  // leaves, and `kubectl nodeboot retry` labels the node again for a fresh pod.
  auto failed = [&]() {
    if (label_removed) return finish(1);
    if (auto r = remove_label(); !r)
      err << "nodeboot-agent: cannot remove the schedule label: " << r.error().message << std::endl;
    return finish(1);
  };

  auto node_obj = client.get(kube::resources::nodes, "", node);
  if (!node_obj) {
    err << "error: reading node " << node << ": " << kube::kubectl_message(node_obj.error()) << '\n';
    return finish(1);
  }
  const json ann = node_obj->value("/metadata/annotations"_json_pointer, json::object());
  const std::string state = ann.value(std::string(names::ann_state), std::string());
  std::string attempt = ann.value(std::string(names::ann_attempt), std::string());
  if (attempt.empty()) attempt = "1";
  // A result stands until `kubectl nodeboot retry` asks again (state Pending, attempt + 1):
  // a restarted container must not run the OS automation a second time.
  if (state == "Failed" || state == "Rebooting" || state == "Done") {
    err << "nodeboot-agent: node " << node << " is " << state << " for attempt " << attempt << "; nothing to do\n";
    return finish(0);
  }
  NodeAnnotator annotator(client, node, attempt, err);
  o.node = node;
  o.attempt = attempt;
  // The node's own identity: its ServiceAccount may read no Secret (manifests/ipb/rbac.yaml);
  // `start` let system:node:<node> read this node's. It also reports once the label is gone.
  // Without --host-kubeconfig, where this distribution keeps it; the plan hands the path on
  // to the host unit.
  auto kubeconfig =
      o.host_kubeconfig.empty() ? find_kubelet_kubeconfig(o.host_root) : Result<std::string>(o.host_kubeconfig);
  if (kubeconfig) o.host_kubeconfig = *kubeconfig;
  auto kubelet_cfg = kubeconfig ? kubelet_config(o.host_root, *kubeconfig) : fail(kubeconfig.error());
  if (!kubelet_cfg) {
    annotator.report(Step{State::failed, 0, "KubeletKubeconfigUnreadable", kubelet_cfg.error().message});
    err << "error: " << kubelet_cfg.error().message << '\n';
    return failed();
  }
  kube::Client kubelet(std::move(*kubelet_cfg));
  NodeAnnotator as_node(kubelet, node, attempt, err, true);
  // The host may already have this attempt: handed to its unit (a restarted container must
  // not run anything twice), or its steps cut short in this process (resume them).
  auto plan = load_plan(o.host_root);
  if (!plan) {
    annotator.report(Step{State::failed, 0, "ProgressUnreadable", plan.error().message});
    err << "error: " << plan.error().message << '\n';
    return failed();
  }
  if (*plan && (*plan)->node == node && (*plan)->attempt == attempt && !(*plan)->finished) {
    if ((*plan)->handed_over) {
      err << "nodeboot-agent: attempt " << attempt << " of node " << node
          << " belongs to the host unit; nothing to do\n";
      return finish(0);
    }
    if (!o.dry_run) {
      HostReporters host_reporters(&kubelet, **plan, err);  // the label is gone already: as the node
      const Outcome resumed = run_host_steps(o.host_root, **plan, host_reporters, err);
      return resumed.state == State::failed ? failed() : finish(0);
    }
  }

  const std::string secret_name = bootstrap::secret_name(node);
  auto secret = kubelet.get(kube::resources::secrets, names::system_namespace, secret_name);
  if (!secret) {
    const bool missing = kube::is_not_found(secret.error());
    const std::string hint = kube::is_forbidden(secret.error())
                                 ? " (the node reads it as system:node:" + node + " through Role and RoleBinding " +
                                       std::string(names::system_namespace) + "/" + secret_name +
                                       ", which `kubectl nodeboot start` " +
                                       "creates: run start again, and check --host-kubeconfig is the kubelet's)"
                                 : "";
    const std::string message =
        std::string(names::system_namespace) + "/" + secret_name + ": " + kube::kubectl_message(secret.error()) + hint;
    annotator.report(Step{State::failed, 0, missing ? "SecretNotFound" : "SecretUnreadable", message});
    err << "error: reading Secret " << message << '\n';
    return failed();
  }
  auto spec = bootstrap::parse_secret(*secret);
  if (!spec) {
    const std::string problems = bootstrap::describe(spec.error());
    annotator.report(Step{State::failed, 0, "SecretInvalid", "Secret " + secret_name + ": " + problems});
    err << "error: Secret " << secret_name << " is not a valid bootstrap Secret:\n" << problems << '\n';
    return failed();
  }

  FanOut reporters;
  reporters.add(annotator);
  std::unique_ptr<UrlReporter> poster;
  if (spec->report) {
    poster = std::make_unique<UrlReporter>(*spec->report, report_ca_pem(*spec), node, attempt, o.http_timeout, err);
    reporters.add(*poster);
  }
  // After the label: the kubelet's identity and the report URL, not the dying pod's token.
  FanOut after_label;
  after_label.add(as_node);
  if (poster) after_label.add(*poster);
  const Outcome outcome = run_bootstrap(*spec, o, reporters, remove_label, err, &after_label);
  return outcome.state == State::failed ? failed() : finish(0);
}

}  // namespace

Result<int> bootstrap_command(const cli::Parsed& parsed, cli::Io& io) { return cli::run_options<Options>(parsed, io); }

}  // namespace nodeboot::agent
