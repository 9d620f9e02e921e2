#pragma once

// Resolving where and how to reach the API server, with kubectl's rules (client-go
// tools/clientcmd): --kubeconfig, else KUBECONFIG (a merged list), else ~/.kube/config,
// else in-cluster; connection flags override the kubeconfig with kubectl's precedence.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::kube {

// kubectl's connection flags, as given on the command line (empty / unset = not given).
struct ConnectionFlags {
  std::string kubeconfig{};
  std::string context{};
  std::string cluster{};
  std::string user{};
  std::string namespace_{};
  std::string server{};
  std::string tls_server_name{};
  std::optional<bool> insecure_skip_tls_verify{};
  std::string certificate_authority{};
  std::string client_certificate{};
  std::string client_key{};
  Secret token{};
  std::string username{};
  Secret password{};
  std::string as{};
  std::vector<std::string> as_groups{};
  std::string as_uid{};
  std::chrono::milliseconds request_timeout{0};  // 0 = not given
  bool disable_compression = false;
};

// users[].user.exec: a credential plugin (client.authentication.k8s.io v1 or v1beta1).
struct ExecConfig {
  std::string api_version{};
  std::string command{};  // as written; a relative path with a '/' is resolved against `base_dir`
  std::vector<std::string> args{};
  std::vector<std::pair<std::string, std::string>> env{};
  std::string install_hint{};
  bool provide_cluster_info = false;
  std::string interactive_mode{};    // Never, IfAvailable, Always ("" = IfAvailable, v1beta1's default)
  std::filesystem::path base_dir{};  // the folder of the kubeconfig that defined the user
  // clusters[].cluster.extensions["client.authentication.k8s.io/exec"], serialized ("" = none):
  // kept as text so that this header needs only json_fwd.hpp.
  std::string cluster_config{};
};

// Everything a transport needs to talk to one API server as one identity.
struct RestConfig {
  std::string server{};           // https://host:port[/prefix], no trailing slash
  std::string tls_server_name{};  // SNI and the name the serving certificate must carry
  std::string ca_pem{};           // empty = system trust store
  bool insecure_skip_tls_verify = false;
  std::string proxy_url{};  // http, https or socks5; "" = the proxy environment variables
  bool disable_compression = false;

  std::string client_cert_pem{};
  Secret client_key_pem{};
  Secret bearer_token{};
  std::filesystem::path token_file{};  // re-read periodically; wins over nothing, loses to bearer_token
  std::string username{};              // HTTP Basic
  Secret password{};
  std::optional<ExecConfig> exec{};

  std::string impersonate_user{};
  std::string impersonate_uid{};
  std::vector<std::string> impersonate_groups{};
  std::map<std::string, std::vector<std::string>> impersonate_extra{};

  std::string namespace_ = "default";
  // Per call (all retries included); 0 = no limit. Watches are exempt: they end by timeoutSeconds.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  int max_retries = 5;  // 429 / 5xx / refused connections; client-go allows 10, a CLI should give up sooner

  // Where it came from, for messages: the kubeconfig file (or "in-cluster") and the names.
  std::filesystem::path source{};
  std::string context_name{};
  std::string cluster_name{};
  std::string user_name{};
  bool in_cluster = false;
};

// What resolution reads from the process: the environment and the in-cluster folder.
// Tests substitute it; production uses Environment::process().
struct Environment {
  std::function<std::optional<std::string>(const std::string&)> getenv{};
  std::filesystem::path service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  static Environment process();
};

// --request-timeout's syntax: a bare number is seconds, otherwise a Go duration ("1m30s",
// "500ms"); 0 means no limit.
Result<std::chrono::milliseconds> parse_timeout(const std::string& text);

Result<RestConfig> resolve_config(const ConnectionFlags& flags);
Result<RestConfig> resolve_config(const ConnectionFlags& flags, const Environment& env);

// Parsing text is separate from reading files: `origin` names the file in messages and
// anchors relative paths.
Result<RestConfig> parse_kubeconfig(const std::string& yaml_text, const std::filesystem::path& origin,
                                    const ConnectionFlags& flags);

}  // namespace nodeboot::kube
