#pragma once

// The credentials a Client sends, some of which change over time: a token file re-read
// every minute (client-go's cachingTokenSource; service-account tokens are rotated in
// place), and exec credential plugins cached until their expirationTimestamp. Thread-safe.

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::kube {

struct Credentials {
  Secret bearer_token{};
  std::string basic_user{};
  Secret basic_password{};
  std::string client_cert_pem{};  // from the config or an exec plugin
  Secret client_key_pem{};
};

// The result of one exec plugin run (an ExecCredential's status).
struct ExecCredential {
  Secret token{};
  std::string client_cert_pem{};
  Secret client_key_pem{};
  std::optional<std::chrono::system_clock::time_point> expires{};
};

// Runs the plugin as client-go does: KUBERNETES_EXEC_INFO, the config's env added to ours,
// stdin passed through only when interactive, stdout parsed as an ExecCredential.
// Errors name the kubeconfig user and show the installHint when the command is missing.
Result<ExecCredential> run_exec_plugin(const ExecConfig& exec, const RestConfig& config);

class Authenticator {
 public:
  explicit Authenticator(const RestConfig& config);
  // The credentials to send now. `refresh` forces a token file re-read / a new exec run
  // (after a 401).
  Result<Credentials> current(bool refresh = false);
  // Whether a 401 could be cured by refreshing (token file or exec plugin in play).
  bool refreshable() const noexcept;

 private:
  const RestConfig& config_;
  std::mutex mu_{};
  std::optional<Secret> file_token_{};
  std::chrono::steady_clock::time_point file_read_{};
  std::optional<ExecCredential> exec_{};
};

}  // namespace nodeboot::kube
