#pragma once

// The kubeconfig file model and kubectl's resolution rules (client-go tools/clientcmd:
// loader.go, client_config.go, validation.go). Private to common/src/kube; the public face
// is config.hpp.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::kube::detail {

// Relative file references are already absolute (anchored at the defining file's folder);
// *-data fields are already base64-decoded.
struct Cluster {
  std::filesystem::path origin{};
  std::string server{};
  std::string tls_server_name{};
  std::string certificate_authority{};
  std::string certificate_authority_data{};
  bool insecure_skip_tls_verify = false;
  std::string proxy_url{};
  bool disable_compression = false;
  nlohmann::json exec_extension{};  // extensions[name=client.authentication.k8s.io/exec].extension
  bool empty() const;
};

struct User {
  std::filesystem::path origin{};
  std::string client_certificate{};
  std::string client_certificate_data{};
  std::string client_key{};
  Secret client_key_data{};
  Secret token{};
  std::string token_file{};
  std::string username{};
  Secret password{};
  std::string as{};
  std::string as_uid{};
  std::vector<std::string> as_groups{};
  std::map<std::string, std::vector<std::string>> as_user_extra{};
  bool auth_provider = false;
  std::optional<ExecConfig> exec{};
};

struct Context {
  std::filesystem::path origin{};
  std::string cluster{};
  std::string user{};
  std::string namespace_{};
};

struct Kubeconfig {
  std::map<std::string, Cluster> clusters{};
  std::map<std::string, User> users{};
  std::map<std::string, Context> contexts{};
  std::string current_context{};
  std::filesystem::path current_context_origin{};
  std::vector<std::filesystem::path> files{};  // the files merged, for messages
};

// A file a kubeconfig or a flag names, read whole; the error (ErrorKind::config) starts with
// `what` ("users[u].user.client-key: cannot read /x/key: No such file or directory").
Result<std::string> read_config_file(const std::filesystem::path& path, const std::string& what);

// One file's text. Errors name `origin` and the key (e.g. `users[alice].user.client-key-data`).
Result<Kubeconfig> parse_kubeconfig_file(const std::string& yaml_text, const std::filesystem::path& origin);

// KUBECONFIG merging: entries already present win whole (the first file to define a
// name wins), and so does an already-set current-context.
void merge_into(Kubeconfig& merged, Kubeconfig&& next);

// Applies the flags with kubectl's precedence and validates. nullopt = "empty config":
// nothing selects a cluster, so the caller may fall back to in-cluster configuration.
// namespace_ is "" when neither -n nor the context chose one.
Result<std::optional<RestConfig>> resolve(const Kubeconfig& config, const ConnectionFlags& flags);

}  // namespace nodeboot::kube::detail
