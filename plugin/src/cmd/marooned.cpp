#include "nodeboot/plugin/cmd/marooned.hpp"

#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <map>
#include <ostream>
#include <set>

#include <nlohmann/json.hpp>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/marooned/join.hpp"
#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/marooned/vmi.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"
#include "nodeboot/util/private_file.hpp"
#include "nodeboot/util/yaml.hpp"

namespace nodeboot::plugin::cmd {
namespace {

namespace mr = nodeboot::marooned;
using nlohmann::json;

constexpr std::string_view config_path = "/apis/maroonedpods.io/v1alpha1/maroonedpodsconfigs/default";

// An error found while running, not in the flags: exit 1, not a usage error (an
// invalid_input here is a file or object, reported without the server's Status prefix).
Error ran_into(const Error& e) { return {e.kind == ErrorKind::invalid_input ? ErrorKind::io : e.kind, e.message}; }

std::string age(const std::string& created) {
  std::tm tm{};
  if (created.empty() || !strptime(created.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return "<unknown>";
  const auto secs = std::time(nullptr) - timegm(&tm);
  if (secs < 120) return std::to_string(secs) + "s";
  if (secs < 7200) return std::to_string(secs / 60) + "m";
  if (secs < 172800) return std::to_string(secs / 3600) + "h";
  return std::to_string(secs / 86400) + "d";
}

// Gated: the gate is on, no node has joined; WaitingForNode: a node joined but may not take
// the pod yet; Released: the gate is off, the pod is not running yet; Running; Orphaned:
// the pod finished or is being deleted (its node awaits cleanup), or a node has no pod.
std::string state_of(const json& pod, const json* node) {
  const auto& meta = pod["metadata"];
  if (meta.contains("deletionTimestamp") || mr::finished(pod)) return "Orphaned";
  if (mr::gated(pod)) {
    if (!node) return "Gated";
    return "WaitingForNode";
  }
  if (pod["status"].value("phase", "") == "Running") return "Running";
  return "Released";
}

std::string read_taint_key(kube::Client& client, json* spec_out = nullptr) {
  auto config = client.get_json(std::string(config_path));
  if (!config) return std::string(names::maroon_default_taint_key);
  if (spec_out) *spec_out = config->value("spec", json::object());
  const auto key = (*config)["spec"].value("nodeTaintKey", "");
  return key.empty() ? std::string(names::maroon_default_taint_key) : key;
}

cli::Flags list_flags() {
  cli::Flags options("kubectl nodeboot marooned list",
                     "List marooned pods with their id, state (Gated, WaitingForNode, Released, Running, "
                     "Orphaned), their VM's phase (KubeVirt's, or FailedToPlace), dedicated node and age.");
  options.add_options()("A,all-namespaces", "List across all namespaces")(
      "o,output", "Output format: json or yaml", cli::value<std::string>())("h,help", "Show help");
  cli::add_connection_flags(options);
  return options;
}

struct ListPodsOptions {
  std::string output;
  bool all_namespaces = false;
  kube::ConnectionFlags connection;

  Result<void> complete(const cli::Parsed& parsed) {
    output = cli::value(parsed, "output");
    all_namespaces = parsed.count("all-namespaces") > 0;
    auto c = cli::connection_flags(parsed);
    if (!c) return fail(c.error());
    connection = std::move(*c);
    return {};
  }
  Result<void> validate() const { return cli::check_output(output, {"json", "yaml"}); }
  Result<int> run(Io& io) const;
};

Result<int> ListPodsOptions::run(Io& io) const {
  auto cfg = kube::resolve_config(connection);
  if (!cfg) return fail(cfg.error().kind, cfg.error().message);
  kube::Client client(std::move(*cfg));
  const std::string ns = all_namespaces ? "" : client.default_namespace();
  auto pods = client.list(kube::resources::pods, ns,
                          kube::ListOptions{.label_selector = std::string(names::maroon_label) + "=true"});
  auto nodes =
      client.list(kube::resources::nodes, "", kube::ListOptions{.label_selector = std::string(names::maroon_pod_uid)});
  if (!pods || !nodes) return fail(!pods ? pods.error() : nodes.error());
  const auto taint_key = read_taint_key(client);
  // The VMs (KubeVirt's; the VM controller's or made with `marooned vmi --apply`): their
  // phase by id. Without KubeVirt, or without the right to read them, the column says so.
  std::map<std::string, std::string> vm_by_id;
  std::string no_vm = "<none>";
  auto vmis = client.list(kube::resources::virtualmachineinstances, names::marooned_namespace,
                          kube::ListOptions{.label_selector = std::string(names::maroon_pod_uid)});
  if (!vmis) no_vm = kube::is_not_found(vmis.error()) ? "<no KubeVirt>" : "<unknown>";
  static const json none = json::array();
  for (const auto& v : vmis && vmis->contains("items") ? (*vmis)["items"] : none) {
    std::string phase = v.value("status", json::object()).value("phase", "");
    if (phase.empty()) phase = "Pending";  // as created, before KubeVirt reports
    if (v["metadata"].contains("deletionTimestamp")) phase = "Deleting";
    vm_by_id[v["metadata"].value("labels", json::object()).value(std::string(names::maroon_pod_uid), "")] = phase;
  }
  const auto vm_of = [&](const json& pod, const std::string& id) {
    for (const auto& c : pod.value("status", json::object()).value("conditions", json::array()))
      if (c.value("type", "") == names::maroon_vm_condition && c.value("reason", "") == "FailedToPlace")
        return std::string("FailedToPlace");
    const auto it = vm_by_id.find(id);
    return it == vm_by_id.end() ? no_vm : it->second;
  };
  std::map<std::string, const json*> node_by_id;
  // A node the controller vouched for wins over others that merely claim the id.
  for (const auto& n : (*nodes)["items"]) {
    auto& slot = node_by_id[mr::node_id(n)];
    if (!slot || !mr::vouched_id(n).empty()) slot = &n;
  }
  json rows = json::array();
  std::set<std::string> seen;
  for (const auto& pod : (*pods)["items"]) {
    const auto id = mr::pod_id(pod);
    const auto it = node_by_id.find(id);
    const json* node = id.empty() || it == node_by_id.end() ? nullptr : it->second;
    seen.insert(id);
    json row = {{"namespace", pod["metadata"].value("namespace", "")},
                {"pod", pod["metadata"].value("name", "")},
                {"id", id},
                {"state", state_of(pod, node)},
                {"vm", vm_of(pod, id)},
                {"node", node ? (*node)["metadata"].value("name", "") : ""},
                {"created", pod["metadata"].value("creationTimestamp", "")}};
    if (node && row["state"] == "WaitingForNode")
      row["reason"] = mr::node_not_eligible(*node, id, pod["metadata"].value("uid", ""), taint_key)
                          .value_or("about to be released");
    rows.push_back(row);
  }
  if (ns.empty())  // nodes whose pod is gone are only known for certain across all namespaces
    for (const auto& [id, node] : node_by_id)
      if (!seen.contains(id))
        rows.push_back({{"namespace", ""},
                        {"pod", ""},
                        {"id", id},
                        {"state", "Orphaned"},
                        {"vm", vm_by_id.contains(id) ? vm_by_id[id] : no_vm},
                        {"node", (*node)["metadata"].value("name", "")},
                        {"created", (*node)["metadata"].value("creationTimestamp", "")}});
  if (output == "json") {
    io.out << json{{"items", rows}}.dump(2) << '\n';
    return exit_ok;
  }
  if (output == "yaml") {
    io.out << to_yaml(json{{"items", rows}});
    return exit_ok;
  }
  if (rows.empty()) {
    io.err << "No marooned pods found" << (ns.empty() ? "" : " in namespace " + ns) << ".\n";
    return exit_ok;
  }
  auto col = [](const std::string& s, std::size_t w) {
    return s.size() >= w ? s + "  " : s + std::string(w - s.size() + 2, ' ');
  };
  std::size_t wn = 9, wp = 3, ws = 14, wvm = 2, wnode = 4;
  // Width from what is printed: an empty name shows as <none>, as kubectl does.
  auto shown = [](const json& v) {
    auto s = v.get<std::string>();
    return s.empty() ? std::string("<none>") : s;
  };
  for (const auto& r : rows) {
    wn = std::max(wn, r["namespace"].get<std::string>().size());
    wp = std::max(wp, shown(r["pod"]).size());
    wnode = std::max(wnode, shown(r["node"]).size());
    wvm = std::max(wvm, r["vm"].get<std::string>().size());
  }
  if (ns.empty()) io.out << col("NAMESPACE", wn);
  io.out << col("POD", wp) << col("ID", 36) << col("STATE", ws) << col("VM", wvm) << col("NODE", wnode) << "AGE\n";
  for (const auto& r : rows) {
    if (ns.empty()) io.out << col(r["namespace"], wn);
    io.out << col(shown(r["pod"]), wp) << col(r["id"], 36) << col(r["state"], ws) << col(r["vm"], wvm)
           << col(shown(r["node"]), wnode) << age(r["created"]) << '\n';
  }
  return exit_ok;
}

Result<std::chrono::seconds> parse_ttl(const std::string& s) {
  auto ttl = parse_duration(s, "--ttl");
  if (!ttl) return std::unexpected(ttl.error());
  if (*ttl < std::chrono::seconds(1)) return fail(ErrorKind::invalid_input, "--ttl: give at least 1s, e.g. 24h, 90m");
  return std::chrono::duration_cast<std::chrono::seconds>(*ttl);
}

void add_join_flags(cli::Flags& options) {
  options.add_options()("server-url", "API server URL the node joins (default: the kubeconfig's server)",
                        cli::value<std::string>())(
      "token-file", "Read the join token from this file instead of creating a bootstrap token",
      cli::value<std::string>())("ttl", "Lifetime of a new bootstrap token",
                                 cli::value<std::string>().default_value("24h"))(
      "token-groups", "auth-extra-groups of a new bootstrap token (k3s's node-token group by default)",
      cli::value<std::string>().default_value(std::string(names::maroon_token_groups)))("h,help", "Show help");
  cli::add_connection_flags(options);
}

// What join-info and vmi share: the pod, where its node joins, and the join token.
struct JoinOptions {
  std::string pod;
  std::string server_url;  // empty: the kubeconfig's server
  std::string token_file;  // empty: create a bootstrap token
  std::chrono::seconds ttl{};
  std::string token_groups;
  kube::ConnectionFlags connection;

  Result<void> complete(const cli::Parsed& parsed) {
    pod = cli::value(parsed, "pod");
    server_url = cli::value(parsed, "server-url");
    token_file = cli::value(parsed, "token-file");
    auto t = parse_ttl(parsed["ttl"].as<std::string>());
    if (!t) return fail(t.error());
    ttl = *t;
    token_groups = parsed["token-groups"].as<std::string>();
    auto c = cli::connection_flags(parsed);
    if (!c) return fail(c.error());
    connection = std::move(*c);
    return {};
  }
  Result<void> validate(const std::string& usage) const {
    if (pod.empty()) return fail(ErrorKind::invalid_input, "a pod name is required: " + usage);
    return {};
  }
};

struct Target {
  json pod;
  std::string id;
};

Result<Target> marooned_pod(kube::Client& client, const std::string& name) {
  auto pod = client.get(kube::resources::pods, client.default_namespace(), name);
  if (!pod) return fail(Error{pod.error().kind, kube::kubectl_message(pod.error())});
  const auto id = mr::pod_id(*pod);
  if (id.empty())
    return fail(ErrorKind::invalid_input, "pod " + client.default_namespace() + "/" + name + " is not marooned (no " +
                                              std::string(names::maroon_pod_uid) + " annotation): create it labelled " +
                                              std::string(names::maroon_label) +
                                              "=true with nodeboot-webhook installed");
  return Target{std::move(*pod), id};
}

// The join token: from --token-file, or a new bootstrap token Secret in kube-system.
struct JoinToken {
  Secret token;
  std::string created_secret;  // the kube-system Secret made for it, if one was
  // In the bootstrap token form (<id>.<secret>): what the VM record keeps.
  mr::BootstrapToken parts() const {
    const auto dot = token.reveal().find('.');
    if (dot == std::string::npos) return {};
    return {token.reveal().substr(0, dot), Secret(token.reveal().substr(dot + 1))};
  }
};

Result<JoinToken> join_token(kube::Client& client, const JoinOptions& o, const std::string& id) {
  if (!o.token_file.empty()) {
    auto secret = read_token_file(o.token_file);
    if (!secret) return fail(ErrorKind::invalid_input, "--token-file: " + secret.error().message);
    if (secret->reveal().find_first_of(" \t\n\r") != std::string::npos)
      return fail(ErrorKind::invalid_input,
                  "--token-file " + o.token_file + ": the token must be one line without spaces");
    return JoinToken{std::move(*secret), ""};
  }
  const auto token = mr::new_bootstrap_token();
  auto secret = mr::bootstrap_token_secret(token, std::chrono::system_clock::now() + o.ttl, o.token_groups,
                                           "nodeboot: join token for marooned pod " + id, id);
  auto created = client.create(kube::resources::secrets, "kube-system", secret);
  if (!created)
    return fail(Error{created.error().kind, "creating the bootstrap token: " + kube::kubectl_message(created.error())});
  return JoinToken{token.token(), secret["metadata"].value("name", "")};
}

// The pod's join credential, issued by the gate-release controller.
Result<Secret> join_credential(kube::Client& client, const Target& target) {
  const auto name = mr::join_secret_name(target.id);
  auto secret = client.get(kube::resources::secrets, names::marooned_namespace, name);
  if (!secret && kube::is_not_found(secret.error()))
    return fail(ErrorKind::not_found,
                "the pod's join credential (Secret " + std::string(names::marooned_namespace) + "/" + name +
                    ") does not exist: nodeboot-webhook's gate-release controller (--enable-gate-controller) issues it "
                    "for a gated marooned pod, and deletes it once a node has joined with it");
  if (!secret)
    return fail(Error{secret.error().kind, "reading the join credential: " + kube::kubectl_message(secret.error())});
  if (mr::credential_owner_uid(*secret) != target.pod["metadata"].value("uid", ""))
    return fail(ErrorKind::invalid_input, "Secret " + std::string(names::marooned_namespace) + "/" + name +
                                              " was issued for another pod with the same id; refusing to use it");
  return mr::credential_of(*secret);
}

struct Common {
  std::unique_ptr<kube::Client> client;
  Target target;
  std::string server_url;
  json config_spec = json::object();
  std::string taint_key;
};

Result<Common> prepare(const JoinOptions& o) {
  auto cfg = kube::resolve_config(o.connection);
  if (!cfg) return fail(cfg.error());
  Common c;
  c.server_url = o.server_url.empty() ? cfg->server : o.server_url;
  if (!c.server_url.starts_with("https://"))
    return fail(ErrorKind::invalid_input,
                "--server-url \"" + c.server_url + "\" must be an https:// URL the node can reach");
  c.client = std::make_unique<kube::Client>(std::move(*cfg));
  auto target = marooned_pod(*c.client, o.pod);
  if (!target) return std::unexpected(target.error());
  c.target = std::move(*target);
  c.taint_key = read_taint_key(*c.client, &c.config_spec);
  return c;
}

cli::Flags join_info_flags() {
  cli::Flags options("kubectl nodeboot marooned join-info",
                     "Render a marooned pod's join-info.yaml (server_url, token, pod_uid, taint_key), or with "
                     "--cloud-init the user-data that writes it, to --output-file. The file holds a token: it "
                     "is written with mode 0600 and printed only with --stdout.\n\n"
                     "Usage: kubectl nodeboot marooned join-info POD --output-file FILE [flags]");
  options.add_options()("pod", "", cli::value<std::string>())("f,output-file", "Write here (mode 0600)",
                                                              cli::value<std::string>())(
      "stdout", "Print to the terminal instead (shows the token)")("cloud-init", "Render cloud-init user-data");
  add_join_flags(options);
  options.parse_positional({"pod"});
  return options;
}

// Deletes a bootstrap token this run created, when what it was made for failed.
void forget_token(kube::Client& client, const JoinToken& token) {
  if (!token.created_secret.empty()) client.remove(kube::resources::secrets, "kube-system", token.created_secret);
}

struct JoinInfoOptions : JoinOptions {
  std::string output_file;
  bool to_stdout = false;
  bool cloud_init = false;

  Result<void> complete(const cli::Parsed& parsed) {
    output_file = cli::value(parsed, "output-file");
    to_stdout = parsed.count("stdout") > 0;
    cloud_init = parsed.count("cloud-init") > 0;
    return JoinOptions::complete(parsed);
  }
  Result<void> validate() const {
    if (output_file.empty() && !to_stdout)
      return fail(ErrorKind::invalid_input,
                  "--output-file FILE is required (the result holds a token; --stdout prints it instead)");
    return JoinOptions::validate("kubectl nodeboot marooned join-info POD --output-file FILE");
  }
  Result<int> run(Io& io) const;
};

Result<int> JoinInfoOptions::run(Io& io) const {
  auto c = prepare(*this);
  if (!c) return fail(c.error().kind, c.error().message);
  auto credential = join_credential(*c->client, c->target);
  if (!credential) return fail(ran_into(credential.error()));
  auto token = join_token(*c->client, *this, c->target.id);
  if (!token) return fail(ran_into(token.error()));
  const mr::JoinInfo info{c->server_url, token->token, c->target.id, c->taint_key, std::move(*credential)};
  const Secret content = cloud_init ? mr::cloud_init(info) : mr::join_info_yaml(info);
  if (to_stdout) {
    io.out << content.reveal();
    return exit_ok;
  }
  if (auto w = write_private_file(output_file, content.reveal()); !w) {
    forget_token(*c->client, *token);  // nothing half-applied: nobody holds that token
    return fail(ran_into(w.error()));
  }
  io.err << (cloud_init ? "cloud-init user-data" : "join-info.yaml") << " for pod "
         << c->target.pod["metadata"].value("name", "") << " (id " << c->target.id << ") written to " << output_file
         << '\n';
  return exit_ok;
}

cli::Flags vmi_flags() {
  cli::Flags options("kubectl nodeboot marooned vmi",
                     "Render the KubeVirt VirtualMachineInstance of a marooned pod's dedicated node from "
                     "MaroonedPodsConfig default; --apply creates it with its cloud-init Secret.\n\n"
                     "Usage: kubectl nodeboot marooned vmi POD [-o json|yaml] [--apply] [flags]");
  options.add_options()("pod", "", cli::value<std::string>())("o,output", "json or yaml (default yaml)",
                                                              cli::value<std::string>().default_value("yaml"))(
      "apply", "Create the user-data Secret and the VirtualMachineInstance");
  add_join_flags(options);
  options.parse_positional({"pod"});
  return options;
}

struct VmiOptions : JoinOptions {
  std::string output;
  bool apply = false;

  Result<void> complete(const cli::Parsed& parsed) {
    output = parsed["output"].as<std::string>();
    apply = parsed.count("apply") > 0;
    return JoinOptions::complete(parsed);
  }
  Result<void> validate() const {
    if (auto ok = cli::check_output(output, {"json", "yaml"}); !ok) return ok;  // -o "": the default, yaml
    return JoinOptions::validate("kubectl nodeboot marooned vmi POD");
  }
  Result<int> run(Io& io) const;
};

Result<int> VmiOptions::run(Io& io) const {
  auto c = prepare(*this);
  if (!c) return fail(c.error().kind, c.error().message);
  const std::string ns(names::marooned_namespace);  // the VM and its user-data live in nodeboot's namespace
  auto vm = mr::render_vmi(c->target.pod, c->config_spec, mr::userdata_secret_name(c->target.id));
  if (!vm) return fail(ran_into(vm.error()));
  if (apply) {
    // Check first, so nothing (no token, no Secret) is created for a VM that cannot be.
    auto crd = c->client->get(kube::resources::customresourcedefinitions, "", "virtualmachineinstances.kubevirt.io");
    if (!crd)
      return fail(kube::is_not_found(crd.error())
                      ? Error(ErrorKind::not_found,
                              "the VirtualMachineInstance CRD (virtualmachineinstances.kubevirt.io) is not installed: "
                              "install KubeVirt first, or render without --apply and create the VM elsewhere")
                      : crd.error());
    auto credential = join_credential(*c->client, c->target);
    if (!credential) return fail(ran_into(credential.error()));
    auto token = join_token(*c->client, *this, c->target.id);
    if (!token) return fail(ran_into(token.error()));
    // The record the VM controller keeps for its own VMs, so that it recognises this one
    // (attempt 1) and deletes it, its token and its node with the pod.
    mr::VmRecord record;
    record.id = c->target.id;
    record.token = token->parts();
    if (!token->created_secret.empty()) record.token_ids = {record.token.id};
    record.userdata = mr::cloud_init({c->server_url, token->token, c->target.id, c->taint_key, std::move(*credential)});
    auto stored = c->client->create(kube::resources::secrets, ns, mr::vm_record(record, c->target.pod));
    if (!stored) {
      forget_token(*c->client, *token);  // nothing half-applied
      return fail(stored.error().kind, "creating the user-data Secret: " + kube::kubectl_message(stored.error()));
    }
    (*vm)["metadata"]["annotations"][std::string(names::maroon_vm_attempt)] = "1";
    if (auto v = c->client->create(kube::resources::virtualmachineinstances, ns, mr::owned_by_record(*vm, *stored));
        !v) {
      c->client->remove(kube::resources::secrets, ns, mr::userdata_secret_name(c->target.id));  // nothing half-applied
      forget_token(*c->client, *token);
      return fail(v.error().kind, "creating the VirtualMachineInstance: " + kube::kubectl_message(v.error()));
    }
    io.out << "virtualmachineinstance.kubevirt.io/" << mr::vmi_name(c->target.id) << " created\n";
    return exit_ok;
  }
  io.out << (output == "json" ? vm->dump(2) + "\n" : to_yaml(*vm));
  return exit_ok;
}

}  // namespace

std::span<const cli::Command> marooned_commands() {
  static const cli::Command table[] = {
      {"list", "Marooned pods, their state and dedicated node", list_flags, cli::run_options<ListPodsOptions>},
      {"join-info", "Render a pod's join-info.yaml or cloud-init user-data (holds a token)", join_info_flags,
       cli::run_options<JoinInfoOptions>},
      {"vmi", "Render (or --apply) the KubeVirt VirtualMachineInstance for a pod's node", vmi_flags,
       cli::run_options<VmiOptions>},
  };
  return table;
}

void marooned_help(std::ostream& out) {
  out << "Marooned pods: each runs alone on a dedicated VM node.\n\n"
         "Usage:\n  kubectl nodeboot marooned COMMAND [flags]\n\nCommands:\n";
  cli::list_commands(out, marooned_commands());
}

}  // namespace nodeboot::plugin::cmd
