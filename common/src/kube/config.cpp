#include "nodeboot/kube/config.hpp"

#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include <yaml-cpp/yaml.h>

#include "nodeboot/kube/mounted_kubeconfig.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"

#include "kubeconfig.hpp"

namespace nodeboot::kube {
namespace {

namespace fs = std::filesystem;
using detail::Kubeconfig;

fs::path relative_to_cwd(const std::string& p) {
  if (p.empty()) return {};
  fs::path path(p);
  return path.is_relative() ? fs::absolute(path) : path;
}

}  // namespace

Result<std::chrono::milliseconds> parse_timeout(const std::string& text) {
  if (text.empty()) return std::chrono::milliseconds(0);  // kubectl's default: no timeout
  return parse_duration(text, "--request-timeout");
}

Environment Environment::process() {
  Environment e;
  e.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  return e;
}

namespace {

// The kubeconfig files to read, in kubectl's order: --kubeconfig (must exist), else each
// KUBECONFIG entry (duplicates dropped, missing ones skipped), else ~/.kube/config.
struct Sources {
  std::vector<fs::path> files;  // existing files, in precedence order
  std::string tried;            // for the "no configuration" message
};

Result<Sources> find_sources(const ConnectionFlags& flags, const Environment& env) {
  Sources s;
  if (!flags.kubeconfig.empty()) {
    fs::path p(flags.kubeconfig);
    std::error_code ec;
    if (!fs::exists(p, ec)) return fail(ErrorKind::config, "--kubeconfig " + flags.kubeconfig + ": no such file");
    s.files.push_back(p);
    return s;
  }
  if (auto list = env.getenv("KUBECONFIG"); list && !list->empty()) {
    std::set<std::string> seen;
    std::size_t start = 0;
    while (start <= list->size()) {
      std::size_t colon = list->find(':', start);
      std::string entry = list->substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      start = colon == std::string::npos ? list->size() + 1 : colon + 1;
      if (entry.empty() || !seen.insert(entry).second) continue;
      std::error_code ec;
      if (fs::exists(entry, ec)) s.files.emplace_back(entry);
    }
    s.tried = "KUBECONFIG=" + *list;
    return s;
  }
  if (auto home = env.getenv("HOME"); home && !home->empty()) {
    fs::path p = fs::path(*home) / ".kube" / "config";
    std::error_code ec;
    if (fs::exists(p, ec)) s.files.push_back(p);
    s.tried = p.string();
  } else {
    s.tried = "$HOME/.kube/config (HOME is not set)";
  }
  return s;
}

// clientcmd's inClusterClientConfig.Possible(): the service variables and a token file.
bool in_cluster_possible(const Environment& env) {
  auto host = env.getenv("KUBERNETES_SERVICE_HOST");
  auto port = env.getenv("KUBERNETES_SERVICE_PORT");
  std::error_code ec;
  return host && !host->empty() && port && !port->empty() && fs::is_regular_file(env.service_account_dir / "token", ec);
}

// A pod's namespace: POD_NAMESPACE (the downward API), then the service account's
// namespace file, then "default".
std::string pod_namespace(const Environment& env) {
  if (auto pod_ns = env.getenv("POD_NAMESPACE"); pod_ns && !pod_ns->empty()) return *pod_ns;
  if (auto ns = read_file(env.service_account_dir / "namespace"); ns) {
    if (const auto trimmed = trim_space(*ns); !trimmed.empty()) return std::string(trimmed);  // client-go's TrimSpace
  }
  return "default";
}

// rest.InClusterConfig plus kubectl's in-cluster overrides (--server, --token, --certificate-authority).
Result<RestConfig> in_cluster(const ConnectionFlags& flags, const Environment& env) {
  auto host = env.getenv("KUBERNETES_SERVICE_HOST");
  auto port = env.getenv("KUBERNETES_SERVICE_PORT");
  const fs::path dir = env.service_account_dir;
  if (!host || host->empty() || !port || port->empty())
    return fail(ErrorKind::config,
                "not running in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)");
  std::error_code ec;
  if (!fs::is_regular_file(dir / "token", ec))
    return fail(ErrorKind::config, "not running in a cluster: no service-account token at " + (dir / "token").string());
  RestConfig cfg;
  cfg.in_cluster = true;
  cfg.source = "in-cluster";
  const bool v6 = host->find(':') != std::string::npos;
  cfg.server = "https://" + (v6 ? "[" + *host + "]" : *host) + ":" + *port;
  cfg.token_file = dir / "token";
  if (auto ca = detail::read_config_file(dir / "ca.crt", "in-cluster CA"); ca)
    cfg.ca_pem = *ca;  // client-go goes on without it
  if (!flags.server.empty()) cfg.server = flags.server;
  if (!flags.token.empty()) {
    cfg.bearer_token = flags.token;
    cfg.token_file.clear();
  }
  if (!flags.certificate_authority.empty()) {
    auto ca = detail::read_config_file(relative_to_cwd(flags.certificate_authority), "--certificate-authority");
    if (!ca) return std::unexpected(ca.error());
    cfg.ca_pem = *ca;
  }
  cfg.namespace_ = flags.namespace_.empty() ? pod_namespace(env) : flags.namespace_;
  if (flags.request_timeout.count() > 0) cfg.timeout = flags.request_timeout;
  cfg.disable_compression = flags.disable_compression;
  return cfg;
}

}  // namespace

Result<RestConfig> resolve_config(const ConnectionFlags& flags) {
  return resolve_config(flags, Environment::process());
}

Result<RestConfig> resolve_config(const ConnectionFlags& flags, const Environment& env) {
  auto sources = find_sources(flags, env);
  if (!sources) return std::unexpected(sources.error());
  Kubeconfig merged;
  for (const auto& file : sources->files) {
    auto text = detail::read_config_file(file, "kubeconfig");
    if (!text) return std::unexpected(text.error());
    auto parsed = detail::parse_kubeconfig_file(*text, file);
    if (!parsed) return std::unexpected(parsed.error());
    detail::merge_into(merged, std::move(*parsed));
  }
  auto resolved = detail::resolve(merged, flags);
  if (!resolved) return std::unexpected(resolved.error());
  if (*resolved) {
    RestConfig cfg = std::move(**resolved);
    // kubectl: with no namespace from -n or the context, a pod's own namespace comes next.
    if (cfg.namespace_.empty() && in_cluster_possible(env)) cfg.namespace_ = pod_namespace(env);
    if (cfg.namespace_.empty()) cfg.namespace_ = "default";
    return cfg;
  }
  // Nothing usable in kubeconfig: kubectl then tries the in-cluster configuration.
  const std::string kubeconfig_cause =
      sources->files.empty() ? "no kubeconfig found (tried " + sources->tried + ")"
                             : "the kubeconfig selects no cluster (no current-context, no --context or --server)";
  auto icc = in_cluster(flags, env);
  if (icc) return icc;
  return fail(ErrorKind::config, kubeconfig_cause + "; and " + icc.error().message +
                                     ". Pass --kubeconfig, set KUBECONFIG, or run inside a pod");
}

namespace {

Result<RestConfig> resolve_parsed(Result<detail::Kubeconfig> parsed, const fs::path& origin,
                                  const ConnectionFlags& flags) {
  if (!parsed) return std::unexpected(parsed.error());
  auto resolved = detail::resolve(*parsed, flags);
  if (!resolved) return std::unexpected(resolved.error());
  if (!*resolved)
    return fail(ErrorKind::config,
                origin.string() + ": no current-context is set; pass --context or run `kubectl config use-context`");
  if ((*resolved)->namespace_.empty()) (*resolved)->namespace_ = "default";
  return std::move(**resolved);
}

}  // namespace

Result<RestConfig> parse_kubeconfig(const std::string& yaml_text, const fs::path& origin,
                                    const ConnectionFlags& flags) {
  return resolve_parsed(detail::parse_kubeconfig_file(yaml_text, origin), origin, flags);
}

fs::path path_under(const fs::path& root, const fs::path& absolute) {
  fs::path done = "/";  // resolved so far, a path on the other machine
  const fs::path relative = absolute.relative_path();
  std::deque<fs::path> todo(relative.begin(), relative.end());
  for (int links = 0; !todo.empty();) {
    const fs::path part = todo.front();
    todo.pop_front();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      done = done.parent_path();
      continue;
    }
    const fs::path next = done / part;
    std::error_code ec;
    const fs::path mounted = root / next.relative_path();
    if (links < 40 && fs::is_symlink(mounted, ec)) {
      const fs::path target = fs::read_symlink(mounted, ec);
      if (!ec) {
        ++links;
        if (target.is_absolute()) done = "/";
        const fs::path rest = target.relative_path();
        todo.insert(todo.begin(), rest.begin(), rest.end());
        continue;
      }
    }
    done = next;
  }
  return root / done.relative_path();
}

Result<RestConfig> parse_kubeconfig_under(const std::string& yaml_text, const fs::path& origin,
                                          const fs::path& files_root) {
  auto parsed = detail::parse_kubeconfig_file(yaml_text, origin);
  if (parsed) {
    // Parsing made every reference absolute on the other machine: now the same path below
    // the mount, its links followed there (the kubelet's kubelet-client-current.pem links to
    // an absolute /var/lib/kubelet/pki/kubelet-client-<date>.pem).
    const auto reroot = [&](std::string& path) {
      if (!path.empty()) path = path_under(files_root, path).string();
    };
    for (auto& [name, c] : parsed->clusters) reroot(c.certificate_authority);
    for (auto& [name, u] : parsed->users) {
      if (u.exec)
        return fail(ErrorKind::config, origin.string() + ": users[" + name +
                                           "].user.exec: a credential plugin cannot run for another machine; give the "
                                           "kubeconfig client-certificate/client-key (as a kubelet's has)");
      reroot(u.client_certificate);
      reroot(u.client_key);
      reroot(u.token_file);
    }
  }
  return resolve_parsed(std::move(parsed), origin, {});
}

}  // namespace nodeboot::kube
