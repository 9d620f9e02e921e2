#include "nodeboot/kube/config.hpp"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "base64.hpp"

namespace nodeboot::kube {
namespace {

namespace fs = std::filesystem;

Result<std::string> read_file(const fs::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorKind::config, what + ": cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `data` wins over `file` exactly as in client-go; relative files resolve against the kubeconfig's folder.
Result<std::string> data_or_file(const YAML::Node& entry, const std::string& data_key, const std::string& file_key,
                                 const fs::path& origin, const std::string& where) {
  if (entry[data_key]) return detail::base64_decode(entry[data_key].as<std::string>(), where + "." + data_key);
  if (entry[file_key]) {
    fs::path p = entry[file_key].as<std::string>();
    if (p.is_relative()) p = origin.parent_path() / p;
    return read_file(p, where + "." + file_key);
  }
  return std::string{};
}

// The `field` mapping of the list entry called `name`, if there is one.
std::optional<YAML::Node> find_named(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& item : list)
    if (item["name"] && item["name"].as<std::string>() == name) {
      YAML::Node entry = item[field];
      if (entry && entry.IsMap()) return entry;
      return YAML::Node(YAML::NodeType::Map);  // `context: {}` and `context:` mean an empty entry
    }
  return std::nullopt;
}

}  // namespace

Result<RestConfig> parse_kubeconfig(const std::string& yaml_text, const fs::path& origin,
                                    const ConnectionFlags& flags) {
  const std::string file = origin.string();
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::config, file + ": not valid YAML (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  if (!root.IsMap()) return fail(ErrorKind::config, file + ": not a kubeconfig (expected a mapping at the top)");

  try {
    std::string context_name = flags.context;
    if (context_name.empty() && root["current-context"]) context_name = root["current-context"].as<std::string>();
    if (context_name.empty())
      return fail(ErrorKind::config, file + ": no current-context is set; pass --context or run `kubectl config use-context`");
    auto found_context = find_named(root["contexts"], context_name, "context");
    if (!found_context) return fail(ErrorKind::config, file + ": context \"" + context_name + "\" is not defined under contexts");

    const YAML::Node& context = *found_context;
    RestConfig cfg;
    cfg.source = origin;
    const std::string cluster_name = context["cluster"] ? context["cluster"].as<std::string>() : "";
    auto found_cluster = find_named(root["clusters"], cluster_name, "cluster");
    if (!found_cluster)
      return fail(ErrorKind::config, file + ": cluster \"" + cluster_name + "\" (from context \"" + context_name +
                                         "\") is not defined under clusters");
    const YAML::Node& cluster = *found_cluster;
    cfg.server = flags.server.empty() ? (cluster["server"] ? cluster["server"].as<std::string>() : "") : flags.server;
    if (cfg.server.empty())
      return fail(ErrorKind::config, file + ": clusters[" + cluster_name + "].server is empty; set it or pass --server");
    while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
    const std::string cluster_where = file + ": clusters[" + cluster_name + "]";
    auto ca = data_or_file(cluster, "certificate-authority-data", "certificate-authority", origin, cluster_where);
    if (!ca) return std::unexpected(ca.error());
    cfg.ca_pem = *ca;
    cfg.insecure_skip_tls_verify = cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();

    const std::string user_name = context["user"] ? context["user"].as<std::string>() : "";
    if (!user_name.empty()) {
      auto found_user = find_named(root["users"], user_name, "user");
      if (!found_user)
        return fail(ErrorKind::config, file + ": user \"" + user_name + "\" (from context \"" + context_name +
                                           "\") is not defined under users");
      const YAML::Node& user = *found_user;
      const std::string user_where = file + ": users[" + user_name + "]";
      auto cert = data_or_file(user, "client-certificate-data", "client-certificate", origin, user_where);
      if (!cert) return std::unexpected(cert.error());
      auto key = data_or_file(user, "client-key-data", "client-key", origin, user_where);
      if (!key) return std::unexpected(key.error());
      cfg.client_cert_pem = *cert;
      cfg.client_key_pem = Secret(*key);
      if (user["token"]) cfg.bearer_token = Secret(user["token"].as<std::string>());
    }
    if (!flags.namespace_.empty())
      cfg.namespace_ = flags.namespace_;
    else if (context["namespace"])
      cfg.namespace_ = context["namespace"].as<std::string>();
    if (flags.request_timeout.count() > 0) cfg.timeout = flags.request_timeout;
    return cfg;
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::config, file + ": malformed kubeconfig (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
}

Environment Environment::process() {
  Environment e;
  e.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  return e;
}

Result<RestConfig> resolve_config(const ConnectionFlags& flags) { return resolve_config(flags, Environment::process()); }

Result<RestConfig> resolve_config(const ConnectionFlags& flags, const Environment& env) {
  fs::path path;
  if (!flags.kubeconfig.empty()) {
    path = flags.kubeconfig;
  } else if (auto list = env.getenv("KUBECONFIG"); list && !list->empty()) {
    path = list->substr(0, list->find(':'));
  } else if (auto home = env.getenv("HOME"); home) {
    path = fs::path(*home) / ".kube" / "config";
  }
  if (path.empty() || !fs::exists(path))
    return fail(ErrorKind::config, "no kubeconfig found (tried " + (path.empty() ? std::string("$HOME/.kube/config") : path.string()) +
                                       "); pass --kubeconfig or set KUBECONFIG");
  auto text = read_file(path, "kubeconfig");
  if (!text) return std::unexpected(text.error());
  return parse_kubeconfig(*text, path, flags);
}

}  // namespace nodeboot::kube
