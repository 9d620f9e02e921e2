#pragma once

// The kubeconfig upload: `generate` makes a single-use token and a TLS certificate whose CA
// goes into the first controller's Ignition; `serve` runs this endpoint beside Matchbox;
// that controller's oneshot unit POSTs admin.conf once the API server answers; the endpoint
// saves it as DIR/admin.conf (0600) and revokes the token; `wait` turns it into
// DIR/kubeconfig. No token or kubeconfig byte is ever logged.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::plugin::cluster {

// Files under the output directory.
struct UploadFiles {
  std::filesystem::path dir;                                     // DIR/upload
  std::filesystem::path token() const { return dir / "token"; }  // 0600; deleted when used
  std::filesystem::path ca() const { return dir / "ca.crt"; }    // in the first controller's Ignition
  std::filesystem::path cert() const { return dir / "tls.crt"; }
  std::filesystem::path key() const { return dir / "tls.key"; }  // 0600
  std::filesystem::path received() const { return dir.parent_path() / "admin.conf"; }
  static UploadFiles in(const std::filesystem::path& out_dir) { return {out_dir / "upload"}; }
};

// admin.conf is about 5.5 KiB (three inline certificates and a key); 64 KiB leaves room
// for a kubeconfig with more contexts and refuses anything that is not one.
inline constexpr std::size_t upload_max_body = std::size_t{64} * 1024;
inline constexpr std::string_view upload_path = "/v1/kubeconfig";

// One request's verdict, decided without I/O (unit-tested).
struct UploadVerdict {
  int status = 0;       // 201 saved; 401 no or wrong token; 410 already used; 400 not a kubeconfig; 413 too large
  std::string message;  // for the client and the log; never holds the token or the body
};

// The endpoint's state: the expected token until it is used.
class UploadState {
 public:
  explicit UploadState(Secret token) : token_(std::move(token)) {}
  // Checks the Authorization header (constant-time); does not consume the token.
  UploadVerdict authorize(std::string_view authorization) const;
  // Authorizes, checks the body, and on success calls `save` and revokes the token, all
  // under one lock: of two concurrent uploads with the right token, one wins.
  UploadVerdict consume(std::string_view authorization, std::string_view body,
                        const std::function<Result<void>(std::string_view)>& save);
  bool used() const;

 private:
  mutable std::mutex m_;
  Secret token_;
  bool used_ = false;
};

// Whether `body` reads as a kubeconfig with a server and credentials; empty when it does.
std::string check_kubeconfig_body(std::string_view body);

struct UploadServerOptions {
  std::filesystem::path dir;  // the output directory
  std::string address;        // host:port
  std::ostream* log = nullptr;
};

// Serves until `stop`; `on_listening(port)` once bound. Refuses to start without a token
// file (nothing to receive) or the certificate `generate` made.
Result<void> run_upload_server(const UploadServerOptions& options, const std::function<void(int)>& on_listening,
                               const std::stop_token& stop);

}  // namespace nodeboot::plugin::cluster
