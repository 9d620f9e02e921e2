#include "nodeboot/plugin/cluster/wait.hpp"

#include <map>
#include <ostream>
#include <stop_token>
#include <thread>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/kube/watch_event.hpp"
#include "nodeboot/plugin/cluster/upload.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/file.hpp"
#include "nodeboot/util/private_file.hpp"
#include "nodeboot/util/sleep.hpp"
#include "nodeboot/util/yaml.hpp"

namespace nodeboot::plugin::cluster {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

bool node_ready(const nlohmann::json& node) {
  const auto* conds = node.contains("status") ? &node["status"] : nullptr;
  if (!conds || !conds->contains("conditions") || !(*conds)["conditions"].is_array()) return false;
  for (const auto& c : (*conds)["conditions"])
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

std::string seconds_text(std::chrono::seconds s) { return std::to_string(s.count()) + "s"; }

// A kubeconfig holding only what this connection uses, with certificates inline, so it
// works wherever it is copied (kubectl config view --minify --flatten, in effect).
Result<std::string> flattened_kubeconfig(const kube::RestConfig& c) {
  if (c.exec || !c.token_file.empty()) {
    // Credentials from a plugin or a file cannot be inlined: keep the original file.
    return read_file(c.source);
  }
  const std::string cluster = c.cluster_name.empty() ? "cluster" : c.cluster_name;
  const std::string user = c.user_name.empty() ? "admin" : c.user_name;
  const std::string context = c.context_name.empty() ? cluster : c.context_name;
  nlohmann::json cl{{"server", c.server}};
  if (!c.ca_pem.empty()) cl["certificate-authority-data"] = base64_encode(c.ca_pem);
  if (c.insecure_skip_tls_verify) cl["insecure-skip-tls-verify"] = true;
  if (!c.tls_server_name.empty()) cl["tls-server-name"] = c.tls_server_name;
  nlohmann::json u = nlohmann::json::object();
  if (!c.client_cert_pem.empty()) u["client-certificate-data"] = base64_encode(c.client_cert_pem);
  if (!c.client_key_pem.empty()) u["client-key-data"] = base64_encode(c.client_key_pem.reveal());
  if (!c.bearer_token.empty()) u["token"] = c.bearer_token.reveal();
  if (!c.username.empty()) u["username"] = c.username;
  if (!c.password.empty()) u["password"] = c.password.reveal();
  nlohmann::json doc{{"apiVersion", "v1"},
                     {"kind", "Config"},
                     {"clusters", {{{"name", cluster}, {"cluster", cl}}}},
                     {"users", {{{"name", user}, {"user", u}}}},
                     {"contexts", {{{"name", context}, {"context", {{"cluster", cluster}, {"user", user}}}}}},
                     {"current-context", context}};
  return to_yaml(doc);
}

Result<fs::path> save_kubeconfig(const kube::RestConfig& c, const fs::path& dir) {
  auto text = flattened_kubeconfig(c);
  if (!text) return std::unexpected(text.error());
  const fs::path path = fs::absolute(dir) / "kubeconfig";
  if (auto w = replace_private_file(path, *text); !w) return std::unexpected(w.error());  // it holds credentials
  return path;
}

}  // namespace

Result<fs::path> wait_for_cluster(const WaitOptions& o) {
  const auto start = Clock::now();
  const auto deadline = start + o.timeout;
  auto say = [&](const std::string& line) {
    if (o.progress) *o.progress << line << '\n' << std::flush;
  };

  // init points at a kubeconfig that appears only once the first controller has run
  // kubeadm init and the operator has copied admin.conf: wait for the file first.
  if (!o.connection.kubeconfig.empty() && !fs::exists(o.connection.kubeconfig)) {
    say("waiting for " + o.connection.kubeconfig + " to appear" +
        (o.kubeconfig_hint.empty() ? "" : ": " + o.kubeconfig_hint));
    while (!fs::exists(o.connection.kubeconfig)) {
      if (Clock::now() + 1s >= deadline)
        return fail(ErrorKind::config,
                    "timed out after " + seconds_text(o.timeout) + " waiting for " + o.connection.kubeconfig);
      std::this_thread::sleep_for(1s);  // a file has no watch here worth the complexity (inotify)
    }
  }
  auto cfg = kube::resolve_config(o.connection);
  if (!cfg) return std::unexpected(cfg.error());
  kube::RestConfig rc = *cfg;
  // Each probe is short and this loop is the retry: a server still booting refuses
  // connections, and the client's own backoff would only delay the next probe.
  rc.timeout = 10s;
  rc.max_retries = 0;
  kube::Client client(rc);

  // 1. The API server. Nothing can be watched before it serves, so this one step polls.
  say("waiting for the API server at " + rc.server + " ...");
  std::string last_error;
  while (true) {
    auto v = client.get_json("/version");
    if (v) {
      say("API server is up (" + v->value("gitVersion", std::string("unknown version")) + ")");
      break;
    }
    if (kube::is_unauthorized(v.error()) || kube::is_forbidden(v.error()))
      return fail(ErrorKind::api, "the API server at " + rc.server + " refused the credentials in " +
                                      rc.source.string() + ": " + v.error().message);
    last_error = v.error().message;
    if (Clock::now() + 2s >= deadline)
      return fail(ErrorKind::transport, "the API server at " + rc.server + " did not answer within " +
                                            seconds_text(o.timeout) + " (last error: " + last_error + ")");
    std::this_thread::sleep_for(2s);  // kubeadm's own wait-control-plane probes about as often
  }

  // 2. Nodes: a watch (ADDED for what exists, then every change) until enough are Ready.
  std::map<std::string, bool> ready;
  auto ready_count = [&] {
    int n = 0;
    for (const auto& [name, r] : ready) n += r ? 1 : 0;
    return n;
  };
  std::stop_source stop;
  std::jthread timer([&](const std::stop_token& own) {
    if (sleep_until(own, deadline)) stop.request_stop();
  });
  say("watching Nodes until " + std::to_string(o.nodes) + " are Ready" +
      (o.selector.empty() ? "" : " (selector " + o.selector + ")"));
  while (ready_count() < o.nodes && !stop.stop_requested()) {
    kube::WatchOptions wo;
    wo.label_selector = o.selector;
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count();
    wo.timeout_seconds = std::clamp<std::int64_t>(left + 1, 1, 300);
    ready.clear();  // a fresh watch replays every Node as ADDED
    kube::WatchControl ctl;
    ctl.stop = stop.get_token();
    auto r = client.watch(
        kube::resources::nodes, "", wo,
        [&](const kube::WatchEvent& e) {
          if (e.type == kube::WatchEventType::bookmark || e.type == kube::WatchEventType::error) return true;
          const std::string name = e.object["metadata"].value("name", "");
          const bool was = ready.contains(name) && ready[name];
          if (e.type == kube::WatchEventType::deleted) {
            ready.erase(name);
          } else {
            ready[name] = node_ready(e.object);
          }
          const bool now = ready.contains(name) && ready[name];
          if (now != was)
            say("node " + name + (now ? " Ready" : " not Ready") + " (" + std::to_string(ready_count()) + "/" +
                std::to_string(o.nodes) + ")");
          return ready_count() < o.nodes;
        },
        ctl);
    if (!r && !kube::is_gone(r.error())) return std::unexpected(r.error());
  }
  timer.request_stop();
  if (ready_count() < o.nodes) {
    std::string not_ready;
    for (const auto& [name, r] : ready)
      if (!r) not_ready += (not_ready.empty() ? "" : ", ") + name;
    return fail(ErrorKind::transport, "timed out after " + seconds_text(o.timeout) + ": " +
                                          std::to_string(ready_count()) + " of " + std::to_string(o.nodes) +
                                          " nodes Ready" +
                                          (not_ready.empty() ? "" : " (not Ready: " + not_ready + ")"));
  }
  auto saved = save_kubeconfig(*cfg, o.output_dir);
  if (saved && o.consume_upload) {
    const auto files = UploadFiles::in(fs::absolute(o.output_dir));
    std::error_code ec;
    fs::remove(files.token(), ec);
    fs::remove(files.received(), ec);
    say("upload token revoked; " + files.received().string() + " removed (its content is in " + saved->string() + ")");
  }
  return saved;
}

}  // namespace nodeboot::plugin::cluster
