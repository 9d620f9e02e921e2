#pragma once

// Resolving where and how to reach the API server, with kubectl's rules.
//
// FOUNDATION SUBSET: one kubeconfig (--kubeconfig, else the first KUBECONFIG entry, else
// ~/.kube/config), current or named context, inline or file CA / client cert / key,
// token, --server and -n overrides. The client issue (#3) grows this to kubectl's full
// precedence, merging, exec plugins and in-cluster config.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::kube {

// kubectl's connection flags, as given on the command line (empty = not given).
struct ConnectionFlags {
  std::string kubeconfig;
  std::string context;
  std::string server;
  std::string namespace_;
  std::chrono::milliseconds request_timeout{0};  // 0 = no explicit timeout
};

// Everything a transport needs to talk to one API server as one identity.
struct RestConfig {
  std::string server;  // https://host:port, no trailing slash
  std::string ca_pem;  // empty = system trust store
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  Secret client_key_pem;
  Secret bearer_token;
  std::string namespace_ = "default";
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::filesystem::path source;  // the kubeconfig file it came from, for messages
};

Result<RestConfig> resolve_config(const ConnectionFlags& flags);

// Parsing text is separate from reading files: `origin` names the file in messages and
// anchors relative paths.
Result<RestConfig> parse_kubeconfig(const std::string& yaml_text, const std::filesystem::path& origin,
                                    const ConnectionFlags& flags);

}  // namespace nodeboot::kube
