#include "kubeconfig.hpp"

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/file.hpp"

namespace nodeboot::kube::detail {
namespace {

namespace fs = std::filesystem;

std::unexpected<Error> config_error(std::string message) { return fail(ErrorKind::config, std::move(message)); }

// Reads the fields of one mapping with type checks; every error names the file and the key.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string where) : node_(node), where_(std::move(where)) {}

  Result<std::string> str(const char* key) const {
    YAML::Node v = node_[key];
    if (!v || v.IsNull()) return std::string();
    if (!v.IsScalar()) return config_error(where_ + "." + key + ": expected a string");
    return v.Scalar();
  }
  Result<bool> boolean(const char* key) const {
    YAML::Node v = node_[key];
    if (!v || v.IsNull()) return false;
    bool out = false;
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, out))
      return config_error(where_ + "." + key + ": expected true or false");
    return out;
  }
  Result<std::vector<std::string>> strings(const char* key) const {
    std::vector<std::string> out;
    YAML::Node v = node_[key];
    if (!v || v.IsNull()) return out;
    if (!v.IsSequence()) return config_error(where_ + "." + key + ": expected a list of strings");
    for (const auto& item : v) {
      if (!item.IsScalar()) return config_error(where_ + "." + key + ": expected a list of strings");
      out.push_back(item.Scalar());
    }
    return out;
  }
  // A base64 *-data field, decoded. Line breaks and spaces are dropped first: kubeconfigs
  // written by hand wrap long values.
  Result<std::string> data(const char* key) const {
    auto text = str(key);
    if (!text || text->empty()) return text;
    std::erase_if(*text, [](char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; });
    auto bytes = base64_decode(*text);
    if (!bytes) return config_error(where_ + "." + key + " is not valid base64");
    return std::move(*bytes);
  }
  // A file reference, made absolute against the defining file's folder.
  Result<std::string> path(const char* key, const fs::path& origin) const {
    auto text = str(key);
    if (!text || text->empty()) return text;
    fs::path p(*text);
    if (p.is_relative()) p = (origin.parent_path() / p).lexically_normal();
    if (p.is_relative()) p = fs::absolute(p);
    return p.string();
  }
  YAML::Node operator[](const char* key) const { return node_[key]; }
  const std::string& where() const { return where_; }

 private:
  YAML::Node node_;
  std::string where_;
};

// Field reads in a row; the first failure is kept and reported.
struct Reads {
  std::optional<Error> error;
  template <typename T, typename U>
  void into(T& out, Result<U> read) {
    if (!read) {
      if (!error) error = read.error();
      return;
    }
    out = T(std::move(*read));
  }
};

// Walks `list` (clusters/users/contexts): each item {name, <field>: {...}}; `parse` turns the
// inner mapping into an entry. Within one file a later duplicate name replaces an earlier one
// (client-go converts the list to a map in order).
template <typename Entry, typename Parse>
Result<void> walk(const YAML::Node& root, const char* list_key, const char* field, const fs::path& origin,
                  std::map<std::string, Entry>& out, Parse parse) {
  const std::string file = origin.string();
  YAML::Node list = root[list_key];
  if (!list || list.IsNull()) return {};
  if (!list.IsSequence()) return config_error(file + ": " + list_key + ": expected a list");
  std::size_t index = 0;
  for (const auto& item : list) {
    const std::string at = file + ": " + list_key + "[" + std::to_string(index++) + "]";
    if (!item.IsMap()) return config_error(at + ": expected a mapping with name and " + field);
    YAML::Node name_node = item["name"];
    if (!name_node || !name_node.IsScalar() || name_node.Scalar().empty())
      return config_error(at + ".name: missing; every entry needs a name");
    const std::string& name = name_node.Scalar();
    YAML::Node inner = item[field];
    const std::string where =
        std::string(file).append(": ").append(list_key).append("[").append(name).append("].").append(field);
    if (inner && !inner.IsNull() && !inner.IsMap()) return config_error(where + ": expected a mapping");
    Fields f(inner && inner.IsMap() ? inner : YAML::Node(YAML::NodeType::Map), where);
    auto entry = parse(f);
    if (!entry) return std::unexpected(entry.error());
    entry->origin = origin;
    out.insert_or_assign(name, std::move(*entry));
  }
  return {};
}

Result<Cluster> parse_cluster(const Fields& f, const fs::path& origin) {
  Cluster c;
  Reads r;
  r.into(c.server, f.str("server"));
  r.into(c.tls_server_name, f.str("tls-server-name"));
  r.into(c.certificate_authority, f.path("certificate-authority", origin));
  r.into(c.certificate_authority_data, f.data("certificate-authority-data"));
  r.into(c.insecure_skip_tls_verify, f.boolean("insecure-skip-tls-verify"));
  r.into(c.proxy_url, f.str("proxy-url"));
  r.into(c.disable_compression, f.boolean("disable-compression"));
  if (r.error) return fail(*r.error);
  YAML::Node ext = f["extensions"];
  if (ext && !ext.IsNull()) {
    if (!ext.IsSequence()) return config_error(f.where() + ".extensions: expected a list");
    for (const auto& e : ext) {
      if (!e.IsMap() || !e["name"] || !e["name"].IsScalar())
        return config_error(f.where() + ".extensions: every entry needs a name");
      if (e["name"].Scalar() != "client.authentication.k8s.io/exec") continue;
      // The extension is free-form; keep it as JSON for KUBERNETES_EXEC_INFO.
      std::function<nlohmann::json(const YAML::Node&)> to_json = [&](const YAML::Node& n) -> nlohmann::json {
        if (n.IsMap()) {
          nlohmann::json o = nlohmann::json::object();
          for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second);
          return o;
        }
        if (n.IsSequence()) {
          nlohmann::json a = nlohmann::json::array();
          for (const auto& v : n) a.push_back(to_json(v));
          return a;
        }
        if (n.IsScalar()) return n.Scalar();
        return nullptr;
      };
      c.exec_extension = to_json(e["extension"]);
    }
  }
  return c;
}

Result<ExecConfig> parse_exec(const Fields& f, const fs::path& origin) {
  ExecConfig e;
  Reads r;
  r.into(e.command, f.str("command"));
  r.into(e.api_version, f.str("apiVersion"));
  r.into(e.args, f.strings("args"));
  r.into(e.install_hint, f.str("installHint"));
  r.into(e.provide_cluster_info, f.boolean("provideClusterInfo"));
  r.into(e.interactive_mode, f.str("interactiveMode"));
  if (r.error) return fail(*r.error);
  // v1beta1 (and v1alpha1) default to IfAvailable; v1 must say (validated at resolution).
  if (e.interactive_mode.empty() && e.api_version != "client.authentication.k8s.io/v1")
    e.interactive_mode = "IfAvailable";
  e.base_dir = origin.parent_path();
  YAML::Node env = f["env"];
  if (env && !env.IsNull()) {
    if (!env.IsSequence()) return config_error(f.where() + ".env: expected a list of {name, value}");
    for (const auto& item : env) {
      if (!item.IsMap()) return config_error(f.where() + ".env: expected a list of {name, value}");
      Fields kv(item, f.where() + ".env");
      std::pair<std::string, std::string> var;
      r.into(var.first, kv.str("name"));
      r.into(var.second, kv.str("value"));
      if (r.error) return fail(*r.error);
      e.env.push_back(std::move(var));
    }
  }
  return e;
}

Result<User> parse_user(const Fields& f, const fs::path& origin) {
  User u;
  Reads r;
  r.into(u.client_certificate, f.path("client-certificate", origin));
  r.into(u.client_certificate_data, f.data("client-certificate-data"));
  r.into(u.client_key, f.path("client-key", origin));
  r.into(u.client_key_data, f.data("client-key-data"));
  r.into(u.token, f.str("token"));
  r.into(u.token_file, f.path("tokenFile", origin));
  r.into(u.username, f.str("username"));
  r.into(u.password, f.str("password"));
  r.into(u.as, f.str("as"));
  r.into(u.as_uid, f.str("as-uid"));
  r.into(u.as_groups, f.strings("as-groups"));
  if (r.error) return fail(*r.error);
  YAML::Node extra = f["as-user-extra"];
  if (extra && !extra.IsNull()) {
    if (!extra.IsMap()) return config_error(f.where() + ".as-user-extra: expected a mapping of lists");
    for (const auto& kv : extra) {
      Fields values(extra, f.where() + ".as-user-extra");
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
      r.into(u.as_user_extra[k], values.strings(k.c_str()));
      if (r.error) return fail(*r.error);
    }
  }
  u.auth_provider = f["auth-provider"] && !f["auth-provider"].IsNull();
  YAML::Node exec = f["exec"];
  if (exec && !exec.IsNull()) {
    if (!exec.IsMap()) return config_error(f.where() + ".exec: expected a mapping");
    auto e = parse_exec(Fields(exec, f.where() + ".exec"), origin);
    if (!e) return std::unexpected(e.error());
    u.exec = std::move(*e);
  }
  return u;
}

Result<Context> parse_context(const Fields& f) {
  Context c;
  Reads r;
  r.into(c.cluster, f.str("cluster"));
  r.into(c.user, f.str("user"));
  r.into(c.namespace_, f.str("namespace"));
  if (r.error) return fail(*r.error);
  return c;
}

std::string origin_of(const fs::path& p) { return p.empty() ? std::string("(flags)") : p.string(); }

std::string files_of(const Kubeconfig& c) {
  if (c.files.empty()) return "the kubeconfig (no file was found)";
  std::string out;
  for (const auto& f : c.files) out += (out.empty() ? "" : ", ") + f.string();
  return out;
}

}  // namespace

bool Cluster::empty() const {
  return server.empty() && tls_server_name.empty() && certificate_authority.empty() &&
         certificate_authority_data.empty() && !insecure_skip_tls_verify && proxy_url.empty() && !disable_compression;
}

Result<Kubeconfig> parse_kubeconfig_file(const std::string& yaml_text, const fs::path& origin) {
  const std::string file = origin.string();
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return config_error(file + ": not valid YAML (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  Kubeconfig cfg;
  cfg.files.push_back(origin);
  if (root.IsNull()) return cfg;  // an empty file is an empty kubeconfig, as for kubectl
  if (!root.IsMap()) return config_error(file + ": not a kubeconfig (expected a mapping at the top)");
  try {
    if (auto r = walk(root, "clusters", "cluster", origin, cfg.clusters,
                      [&](const Fields& f) { return parse_cluster(f, origin); });
        !r)
      return std::unexpected(r.error());
    if (auto r = walk(root, "users", "user", origin, cfg.users, [&](const Fields& f) { return parse_user(f, origin); });
        !r)
      return std::unexpected(r.error());
    if (auto r =
            walk(root, "contexts", "context", origin, cfg.contexts, [](const Fields& f) { return parse_context(f); });
        !r)
      return std::unexpected(r.error());
    auto current = Fields(root, file + ": ").str("current-context");
    if (!current) return config_error(file + ": current-context: expected a string");
    cfg.current_context = *current;
    cfg.current_context_origin = origin;
  } catch (const YAML::Exception& e) {
    return config_error(file + ": malformed kubeconfig (line " + std::to_string(e.mark.line + 1) + "): " + e.msg);
  }
  return cfg;
}

void merge_into(Kubeconfig& merged, Kubeconfig&& next) {
  merged.files.insert(merged.files.end(), next.files.begin(), next.files.end());
  for (auto& [k, v] : next.clusters) merged.clusters.try_emplace(k, std::move(v));
  for (auto& [k, v] : next.users) merged.users.try_emplace(k, std::move(v));
  for (auto& [k, v] : next.contexts) merged.contexts.try_emplace(k, std::move(v));
  if (merged.current_context.empty() && !next.current_context.empty()) {
    merged.current_context = std::move(next.current_context);
    merged.current_context_origin = std::move(next.current_context_origin);
  }
}

Result<std::optional<RestConfig>> resolve(const Kubeconfig& config, const ConnectionFlags& flags) {
  // --- context: --context, else current-context; --cluster/--user/-n override its fields.
  const std::string context_name = flags.context.empty() ? config.current_context : flags.context;
  Context context;
  if (auto it = config.contexts.find(context_name); it != config.contexts.end()) {
    context = it->second;
  } else if (!flags.context.empty()) {
    return config_error("--context \"" + flags.context + "\": no such context in " + files_of(config));
  } else if (!context_name.empty()) {
    return config_error(origin_of(config.current_context_origin) + ": current-context \"" + context_name +
                        "\" is not defined under contexts");
  }
  if (!flags.cluster.empty()) context.cluster = flags.cluster;
  if (!flags.user.empty()) context.user = flags.user;
  if (!flags.namespace_.empty()) context.namespace_ = flags.namespace_;
  const std::string where_context = context_name.empty()
                                        ? std::string("(no context)")
                                        : origin_of(context.origin) + ": contexts[" + context_name + "]";

  // --- user, with flag overrides (non-empty flags replace fields, as mergo does).
  User user;
  if (auto it = config.users.find(context.user); it != config.users.end()) {
    user = it->second;
  } else if (!flags.user.empty()) {
    return config_error("--user \"" + flags.user + "\": no such user in " + files_of(config));
  } else if (!context.user.empty()) {
    return config_error(where_context + ".context.user: user \"" + context.user + "\" is not defined under users");
  }
  if (!flags.token.empty()) user.token = flags.token;
  if (!flags.client_certificate.empty()) user.client_certificate = fs::absolute(flags.client_certificate).string();
  if (!flags.client_key.empty()) user.client_key = fs::absolute(flags.client_key).string();
  if (!flags.username.empty()) user.username = flags.username;
  if (!flags.password.empty()) user.password = flags.password;
  if (!flags.as.empty()) user.as = flags.as;
  if (!flags.as_uid.empty()) user.as_uid = flags.as_uid;
  if (!flags.as_groups.empty()) user.as_groups = flags.as_groups;

  // --- cluster, with flag overrides and client-go's special rules for CA / insecure / SNI.
  Cluster cluster;
  if (auto it = config.clusters.find(context.cluster); it != config.clusters.end()) {
    cluster = it->second;
  } else if (!flags.cluster.empty()) {
    return config_error("--cluster \"" + flags.cluster + "\": no such cluster in " + files_of(config));
  } else if (!context.cluster.empty()) {
    return config_error(where_context + ".context.cluster: cluster \"" + context.cluster +
                        "\" is not defined under clusters");
  }
  if (!flags.server.empty()) cluster.server = flags.server;
  const bool insecure_flag = flags.insecure_skip_tls_verify.value_or(false);
  if (insecure_flag || !flags.certificate_authority.empty()) {
    // A CA flag replaces the kubeconfig's CA and insecure setting; --insecure-skip-tls-verify
    // alone clears the kubeconfig's CA (else the two would conflict).
    cluster.insecure_skip_tls_verify = insecure_flag;
    cluster.certificate_authority =
        flags.certificate_authority.empty() ? std::string() : fs::absolute(flags.certificate_authority).string();
    cluster.certificate_authority_data.clear();
  }
  if (!flags.tls_server_name.empty() || !flags.server.empty()) cluster.tls_server_name = flags.tls_server_name;
  if (flags.disable_compression) cluster.disable_compression = true;

  if (cluster.empty()) return std::optional<RestConfig>();  // nothing chosen: the in-cluster fallback may apply

  const std::string where_cluster = context.cluster.empty()
                                        ? std::string("the cluster given by flags")
                                        : origin_of(cluster.origin) + ": clusters[" + context.cluster + "].cluster";
  const std::string where_user = context.user.empty() ? std::string("the user given by flags")
                                                      : origin_of(user.origin) + ": users[" + context.user + "].user";

  RestConfig cfg;
  cfg.source = context.origin.empty() ? cluster.origin : context.origin;
  cfg.context_name = context_name;
  cfg.cluster_name = context.cluster;
  cfg.user_name = context.user;
  cfg.server = cluster.server;
  if (cfg.server.empty()) return config_error(where_cluster + ".server: no server is set; set it or pass --server");
  while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
  if (cfg.server.find("://") == std::string::npos)
    cfg.server = "https://" + cfg.server;  // client-go's DefaultServerURL
  cfg.tls_server_name = cluster.tls_server_name;
  cfg.insecure_skip_tls_verify = cluster.insecure_skip_tls_verify;
  cfg.disable_compression = cluster.disable_compression;
  cfg.proxy_url = cluster.proxy_url;
  if (!cfg.proxy_url.empty() && !cfg.proxy_url.starts_with("http://") && !cfg.proxy_url.starts_with("https://") &&
      !cfg.proxy_url.starts_with("socks5://"))
    return config_error(where_cluster + ".proxy-url: \"" + cfg.proxy_url +
                        "\" has an unsupported scheme; use http://, https:// or socks5://");
  if (!cluster.certificate_authority.empty() && !cluster.certificate_authority_data.empty())
    return config_error(where_cluster +
                        ": certificate-authority-data and certificate-authority are both set; keep one");
  if (!cluster.certificate_authority_data.empty()) {
    cfg.ca_pem = cluster.certificate_authority_data;
  } else if (!cluster.certificate_authority.empty()) {
    auto ca = read_config_file(cluster.certificate_authority, where_cluster + ".certificate-authority");
    if (!ca) return std::unexpected(ca.error());
    cfg.ca_pem = std::move(*ca);
  }
  if (cfg.insecure_skip_tls_verify && !cfg.ca_pem.empty())
    return config_error(where_cluster +
                        ": insecure-skip-tls-verify and a certificate authority are both set; keep one");

  // --- user credentials (client-go: only over TLS).
  const bool tls = cfg.server.starts_with("https://");
  std::vector<std::string> methods;
  if (!user.token.empty()) methods.emplace_back("token");
  if (!user.username.empty() || !user.password.empty()) methods.emplace_back("basicAuth");
  if (methods.size() > 1)
    return config_error(where_user + ": more than one authentication method (token and username/password); keep one");
  if ((!user.as_uid.empty() || !user.as_groups.empty() || !user.as_user_extra.empty()) && user.as.empty())
    return config_error(where_user + ": as-groups / as-uid (--as-group, --as-uid) need a user to impersonate (--as)");
  if (!user.client_certificate.empty() || !user.client_certificate_data.empty()) {
    if (!user.client_certificate.empty() && !user.client_certificate_data.empty())
      return config_error(
          where_user +
          ": client-certificate-data and client-certificate (--client-certificate) are both set; keep one");
    if (!user.client_key.empty() && !user.client_key_data.empty())
      return config_error(where_user + ": client-key-data and client-key (--client-key) are both set; keep one");
    if (user.client_key.empty() && user.client_key_data.empty())
      return config_error(where_user + ": a client certificate needs client-key-data or client-key");
  }
  if (user.exec) {
    const ExecConfig& e = *user.exec;
    if (user.auth_provider) return config_error(where_user + ": auth-provider and exec cannot both be set");
    if (e.command.empty()) return config_error(where_user + ".exec.command: missing");
    if (e.api_version.empty()) return config_error(where_user + ".exec.apiVersion: missing");
    for (const auto& [k, v] : e.env)
      if (k.empty()) return config_error(where_user + ".exec.env: every variable needs a name");
    if (e.interactive_mode.empty())
      return config_error(where_user + ".exec.interactiveMode: missing (Never, IfAvailable or Always)");
    if (e.interactive_mode != "Never" && e.interactive_mode != "IfAvailable" && e.interactive_mode != "Always")
      return config_error(where_user + ".exec.interactiveMode: \"" + e.interactive_mode +
                          "\" is not Never, IfAvailable or Always");
  } else if (user.auth_provider) {
    return config_error(where_user + ".auth-provider: auth providers are not supported; use an exec credential plugin");
  }

  if (!user.as.empty()) {
    cfg.impersonate_user = user.as;
    cfg.impersonate_uid = user.as_uid;
    cfg.impersonate_groups = user.as_groups;
    cfg.impersonate_extra = user.as_user_extra;
  }
  if (tls) {
    if (!user.token.empty()) {
      cfg.bearer_token = user.token;
      cfg.token_file = user.token_file;  // client-go: the file, when readable, wins over the token
    } else if (!user.token_file.empty()) {
      auto t = read_config_file(user.token_file, where_user + ".tokenFile");
      if (!t) return std::unexpected(t.error());
      cfg.token_file = user.token_file;
    }
    if (!user.client_certificate_data.empty()) {
      cfg.client_cert_pem = user.client_certificate_data;
    } else if (!user.client_certificate.empty()) {
      auto c = read_config_file(user.client_certificate, where_user + ".client-certificate");
      if (!c) return std::unexpected(c.error());
      cfg.client_cert_pem = std::move(*c);
    }
    if (!cfg.client_cert_pem.empty()) {
      if (!user.client_key_data.empty()) {
        cfg.client_key_pem = user.client_key_data;
      } else {
        auto k = read_config_file(user.client_key, where_user + ".client-key");
        if (!k) return std::unexpected(k.error());
        cfg.client_key_pem = Secret(std::move(*k));
      }
    }
    cfg.username = user.username;
    cfg.password = user.password;
    if (!cfg.username.empty() || !cfg.password.empty()) {
      if (!cfg.bearer_token.empty() || !cfg.token_file.empty())
        return config_error(where_user + ": username/password and a bearer token (tokenFile) are both set; keep one");
    }
    if (user.exec) {
      cfg.exec = user.exec;
      if (!cluster.exec_extension.is_null()) cfg.exec->cluster_config = cluster.exec_extension.dump();
    }
  }
  cfg.namespace_ = context.namespace_;  // "" = not chosen: the caller falls back (in-cluster, then default)
  if (flags.request_timeout.count() > 0) cfg.timeout = flags.request_timeout;
  return std::optional<RestConfig>(std::move(cfg));
}

Result<std::string> read_config_file(const fs::path& path, const std::string& what) {
  auto text = read_file(path);
  if (!text) return config_error(what + ": " + text.error().message);
  return text;
}

}  // namespace nodeboot::kube::detail
