#include "nodeboot/agent/join.hpp"

#include <unistd.h>

#include <cstring>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "nodeboot/agent/host_path.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/config.hpp"
#include "nodeboot/marooned/join.hpp"
#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/file.hpp"
#include "nodeboot/util/private_file.hpp"
#include "nodeboot/util/process.hpp"

namespace nodeboot::agent {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// A YAML scalar as `kubectl nodeboot marooned join-info` or a person writes it: "double"
// (JSON escapes), 'single' ('' for a quote) or plain.
std::optional<std::string> scalar(const std::string& raw) {
  const auto v = trim(raw);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
    try {
      return nlohmann::json::parse(v).get<std::string>();
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') {
    std::string out;
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
      out += v[i];
      if (v[i] == '\'') ++i;
    }
    return out;
  }
  if (const auto hash = v.find(" #"); hash != std::string::npos) return trim(v.substr(0, hash));
  return v;
}

// YAML-quoted (JSON strings are valid YAML double-quoted scalars).
std::string q(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

std::string host_name(const std::filesystem::path& root) {
  if (auto name = read_file(under_root(root, "/etc/hostname")); name && !trim_space(*name).empty())
    return std::string(trim_space(*name));
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

Result<JoinInfo> parse_join_info(const std::string& text) {
  JoinInfo info;
  std::vector<std::string> problems;
  std::set<std::string> seen;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto t = trim(line);
    if (t.empty() || t.front() == '#' || t == "---") continue;
    const auto colon = line.find(':');
    const auto key = colon == std::string::npos ? "" : trim(line.substr(0, colon));
    const auto value = colon == std::string::npos ? std::nullopt : scalar(line.substr(colon + 1));
    if (key.empty() || !value || line.front() == ' ') {
      problems.emplace_back("line " + std::to_string(number) + ": expected `key: value` (a flat map of strings)");
      continue;
    }
    seen.insert(key);
    if (key == "server_url")
      info.server_url = *value;
    else if (key == "token")
      info.token = Secret(*value);
    else if (key == "pod_uid")
      info.pod_uid = *value;
    else if (key == "taint_key")
      info.taint_key = *value;
    else if (key == "credential")
      info.credential = Secret(*value);
    else
      problems.emplace_back("line " + std::to_string(number) + ": unknown field \"" + key +
                            "\" (expected server_url, token, pod_uid, taint_key, credential)");
  }
  static const std::regex subdomain("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$");
  if (!info.server_url.starts_with("https://") || info.server_url.size() <= 8)
    problems.emplace_back("server_url: must be the API server's https:// URL, e.g. https://10.0.0.1:6443");
  if (info.token.empty() || info.token.reveal().find_first_of(" \t\r\n") != std::string::npos)
    problems.emplace_back(
        "token: must be a non-empty join token without spaces (from `kubectl nodeboot marooned join-info`)");
  if (!marooned::is_marooned_id(info.pod_uid))
    problems.emplace_back("pod_uid: must be the pod's " + std::string(names::maroon_pod_uid) +
                          " annotation, a lowercase UUID; got \"" + info.pod_uid + "\"");
  static const std::regex credential("^[0-9a-f]{64}$");
  if (!std::regex_match(info.credential.reveal(), credential))
    problems.emplace_back(
        "credential: must be the pod's join credential, 64 hex digits (from `kubectl nodeboot marooned "
        "join-info`, which reads it from Secret nodeboot-marooned/marooned-join-<pod_uid>)");
  if (!seen.contains("taint_key")) info.taint_key = std::string(names::maroon_default_taint_key);
  if (info.taint_key.size() > 253 || !std::regex_match(info.taint_key, subdomain))
    problems.emplace_back(
        "taint_key: must be a DNS subdomain such as maroonedpods.io (MaroonedPodsConfig "
        "spec.nodeTaintKey); got \"" +
        info.taint_key + "\"");
  if (!problems.empty()) {
    std::string message = "join-info is invalid:";
    for (const auto& p : problems) message += "\n  " + p;
    return fail(ErrorKind::invalid_input, message);
  }
  return info;
}

Secret k3s_config(const JoinInfo& info, const std::string& node_name) {
  return Secret("# Written by nodeboot-agent join from " + std::string(names::join_info_path) + ".\n" + "server: " +
                q(info.server_url) + "\ntoken: " + q(info.token.reveal()) + "\nnode-name: " + q(node_name) +
                "\nnode-label:\n  - " + q(std::string(names::maroon_pod_uid) + "=" + info.pod_uid) +
                "\nnode-taint:\n  - " + q(info.taint_key + "/dedicated=" + info.pod_uid + ":NoSchedule") + "\n  - " +
                q(info.taint_key + "/dedicated=" + info.pod_uid + ":NoExecute") + "\n");
}

cli::Flags join_flags() {
  cli::Flags options("nodeboot-agent join",
                     "Join this VM as the dedicated node of a marooned pod: read join-info.yaml, write the k3s "
                     "agent configuration with the pod's label and taint, start k3s-agent, wait for the node.");
  options.add_options()("host-root", "Root of the host file system (tests use a temporary directory)",
                        cli::value<std::string>().default_value("/"))(
      "join-info", "join-info.yaml, under --host-root",
      cli::value<std::string>().default_value(std::string(names::join_info_path)))(
      "service-manager", "Program run as PROGRAM start --no-block k3s-agent.service",
      cli::value<std::string>().default_value("systemctl"))(
      "node-name", "Node name to register (default: the host name)", cli::value<std::string>())(
      "timeout", "Seconds to wait for the node to register", cli::value<int>().default_value("300"))("h,help",
                                                                                                     "Show help");
  return options;
}

Result<void> JoinOptions::complete(const cli::Parsed& parsed) {
  host_root = parsed["host-root"].as<std::string>();
  join_info = parsed["join-info"].as<std::string>();
  service_manager = {parsed["service-manager"].as<std::string>()};
  timeout = std::chrono::seconds(parsed["timeout"].as<int>());
  node_name = parsed.count("node-name") ? parsed["node-name"].as<std::string>() : host_name(host_root);
  return {};
}

Result<void> JoinOptions::validate() const {
  if (timeout.count() < 1)
    return fail(ErrorKind::invalid_input, "--timeout: give the seconds to wait for the node, at least 1");
  if (node_name.empty())
    return fail(ErrorKind::invalid_input, "--node-name: the host has no name under " + host_root.string() +
                                              " (/etc/hostname); give the node's name");
  if (service_manager.front().empty())
    return fail(ErrorKind::invalid_input, "--service-manager: give the program that starts k3s-agent.service");
  return {};
}

Result<int> join_main(const cli::Parsed& parsed, cli::Io& io) { return cli::run_options<JoinOptions>(parsed, io); }

Result<int> JoinOptions::run(cli::Io& io) const {
  // Each line flushed as it happens: under systemd, stdout is a pipe to the journal, and the
  // wait below can last minutes.
  std::ostream& out = io.out;
  const auto info_path = under_root(host_root, join_info);
  const auto text = read_file(info_path);
  if (!text) return fail(ErrorKind::io, text.error().message + " (cloud-init writes it from the VM's user-data)");
  auto info = parse_join_info(*text);
  if (!info) return fail(ErrorKind::io, info_path.string() + ": " + info.error().message);
  const auto config_path = under_root(host_root, "/etc/rancher/k3s/config.yaml");
  std::error_code ec;
  std::filesystem::create_directories(config_path.parent_path(), ec);  // a failure shows in the write below
  if (auto w = write_private_file(config_path, k3s_config(*info, node_name).reveal()); !w)
    return fail(ErrorKind::io, w.error().message);
  out << "wrote " << config_path.string() << " (label " << names::maroon_pod_uid << "=" << info->pod_uid << ", taints "
      << info->taint_key << "/dedicated=" << info->pod_uid << ":NoSchedule and :NoExecute)" << std::endl;

  auto argv_start = service_manager;
  argv_start.insert(argv_start.end(), {"start", "--no-block", "k3s-agent.service"});
  ProcessOptions start_options;
  start_options.env_set["NODEBOOT_HOST_ROOT"] = host_root.string();
  start_options.timeout = std::chrono::seconds(60);  // --no-block returns at once; 60 s means systemd is wedged
  auto started = run_process(argv_start, start_options);
  if (!started || started->exit_code != 0)
    return fail(ErrorKind::io,
                "starting k3s-agent.service failed: " + (started ? started->err : started.error().message));

  // Registered = the k3s agent has its kubelet credentials and its Node carries our label.
  // Then the proof goes on the Node (with the kubelet's credentials: NodeRestriction lets
  // a node annotate only itself), and the controller's vouched label is awaited.
  const auto kubeconfig = under_root(host_root, "/var/lib/rancher/k3s/agent/kubelet.kubeconfig");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string id_label(names::maroon_pod_uid), vouched_label(names::maroon_vouched_label);
  const auto proof = marooned::join_proof(info->credential, info->pod_uid, node_name);
  bool presented = false;
  std::string last = "k3s-agent has not written " + kubeconfig.string() + " yet";
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(kubeconfig)) {
      auto cfg = kube::resolve_config(kube::ConnectionFlags{.kubeconfig = kubeconfig.string()});
      if (cfg) {
        cfg->timeout = std::chrono::seconds(10);
        kube::Client client(std::move(*cfg));
        auto node = client.get(kube::resources::nodes, "", node_name);
        const auto labels =
            node ? (*node)["metadata"].value("labels", nlohmann::json::object()) : nlohmann::json::object();
        if (node && labels.value(vouched_label, "") == info->pod_uid) {
          out << "node " << node_name << " registered and vouched for marooned pod " << info->pod_uid << std::endl;
          return 0;
        }
        if (node && labels.value(id_label, "") == info->pod_uid && !presented) {
          const nlohmann::json patch = {
              {"metadata", {{"annotations", {{std::string(names::maroon_join_proof), proof}}}}}};
          auto r = client.patch(kube::resources::nodes, "", node_name, kube::PatchType::merge, patch);
          if (r) {
            presented = true;
            out << "node " << node_name
                << " registered; join proof presented, waiting for the controller to vouch for it" << std::endl;
          }
          last = r ? "the controller has not vouched for node " + node_name +
                         " yet (its Events on the marooned pod say why; is nodeboot-webhook's gate-release controller "
                         "running?)"
                   : "presenting the join proof on node " + node_name + ": " + r.error().message;
        } else if (!node) {
          last = "node " + node_name + ": " + node.error().message;
        } else if (!presented) {
          last = "node " + node_name + " lacks the label " + id_label;
        }
      } else {
        last = cfg.error().message;
      }
    }
    // A local file and one GET per second while the node boots: cheap, and bounded by --timeout.
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return fail(ErrorKind::transport,
              "node " + node_name + " was not vouched for within " + std::to_string(timeout.count()) + " s: " + last);
}

}  // namespace nodeboot::agent
