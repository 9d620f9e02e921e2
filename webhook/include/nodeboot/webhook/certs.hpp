#pragma once

// The serving certificate, reloaded from --cert-dir when tls.crt / tls.key change
// (controller-runtime's certwatcher): each TLS handshake picks up the current pair
// through OpenSSL's certificate callback, so rotation needs no restart and never fails a
// request. A torn write (new crt, old key) is rejected and retried on the next poll.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <openssl/ssl.h>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::webhook {

struct ServingIdentity;  // certificate, chain and key (OpenSSL objects)

class CertWatcher {
 public:
  explicit CertWatcher(std::filesystem::path dir);
  ~CertWatcher();
  CertWatcher(const CertWatcher&) = delete;
  CertWatcher& operator=(const CertWatcher&) = delete;

  // Loads the pair now; a failure keeps the previous one (if any).
  Result<void> reload();
  // Reloads when either file's content changed since the last load; polled by start().
  void poll();
  void start(std::chrono::milliseconds interval);
  void stop();

  bool loaded() const { return current() != nullptr; }
  std::uint64_t reloads() const { return reloads_.load(); }
  std::uint64_t reload_errors() const { return reload_errors_.load(); }

  // For SSL_CTX_set_cert_cb: installs the current pair on `ssl`. Returns 1 or 0.
  static int install(SSL* ssl, void* watcher);

 private:
  std::filesystem::path dir_;
  std::shared_ptr<const ServingIdentity> current() const;
  // The pair handshakes use. A mutex, not std::atomic<std::shared_ptr>: libstdc++ 12's
  // atomic<shared_ptr> gives ThreadSanitizer no ordering between a load and the next store
  // (a race report on every rotation); one uncontended lock per handshake costs nothing.
  mutable std::mutex current_mutex_;
  std::shared_ptr<const ServingIdentity> current_;  // guarded by current_mutex_
  std::string loaded_cert_;                         // the files last loaded, to notice changes
  Secret loaded_key_;
  std::mutex poll_mutex_;
  std::atomic<std::uint64_t> reloads_{0};
  std::atomic<std::uint64_t> reload_errors_{0};
  std::jthread thread_;  // the poller; last, so that it stops before the members it uses go
};

}  // namespace nodeboot::webhook
