#include "nodeboot/webhook/certs.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <optional>

#include "nodeboot/util/file.hpp"
#include "nodeboot/util/secret.hpp"
#include "nodeboot/util/sleep.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook {

struct ServingIdentity {
  X509* cert = nullptr;
  STACK_OF(X509) * chain = nullptr;
  EVP_PKEY* key = nullptr;
  ~ServingIdentity() {
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

namespace {

Result<std::shared_ptr<const ServingIdentity>> parse_identity(const std::string& cert_pem, const Secret& key_pem) {
  auto id = std::make_shared<ServingIdentity>();
  std::unique_ptr<BIO, decltype(&BIO_free)> cb(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())),
                                               &BIO_free);
  id->cert = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr);
  if (!id->cert) return fail(ErrorKind::invalid_input, "tls.crt holds no PEM certificate");
  id->chain = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr)) sk_X509_push(id->chain, extra);
  ERR_clear_error();  // the loop ends on "no start line"
  std::unique_ptr<BIO, decltype(&BIO_free)> kb(
      BIO_new_mem_buf(key_pem.reveal().data(), static_cast<int>(key_pem.reveal().size())), &BIO_free);
  id->key = PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr);
  if (!id->key) return fail(ErrorKind::invalid_input, "tls.key holds no PEM private key");
  if (X509_check_private_key(id->cert, id->key) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::invalid_input, "tls.key does not match tls.crt (a rotation in progress?)");
  }
  return std::shared_ptr<const ServingIdentity>(std::move(id));
}

}  // namespace

CertWatcher::CertWatcher(std::filesystem::path dir) : dir_(std::move(dir)) {}

CertWatcher::~CertWatcher() { stop(); }

Result<void> CertWatcher::reload() {
  std::lock_guard lock(poll_mutex_);
  auto cert = read_file(dir_ / "tls.crt");
  auto key_text = read_file(dir_ / "tls.key");
  if (!cert || !key_text) {
    ++reload_errors_;
    return std::unexpected(cert ? key_text.error() : cert.error());
  }
  Secret key(std::move(*key_text));
  if (current() && *cert == loaded_cert_ && key == loaded_key_) return {};
  auto identity = parse_identity(*cert, key);
  if (!identity) {
    ++reload_errors_;
    return std::unexpected(identity.error());
  }
  {
    std::lock_guard current_lock(current_mutex_);
    current_ = std::move(*identity);
  }
  loaded_cert_ = std::move(*cert);
  loaded_key_ = std::move(key);
  ++reloads_;
  log_info("serving certificate loaded", {{"dir", dir_.string()}});
  return {};
}

std::shared_ptr<const ServingIdentity> CertWatcher::current() const {
  std::lock_guard lock(current_mutex_);
  return current_;
}

void CertWatcher::poll() {
  if (auto r = reload(); !r) log_error("serving certificate not reloaded", {{"error", r.error().message}});
}

void CertWatcher::start(std::chrono::milliseconds interval) {
  thread_ = std::jthread([this, interval](const std::stop_token& stop) {
    while (sleep_for(stop, interval)) poll();
  });
}

void CertWatcher::stop() { thread_ = {}; }  // stops and joins

int CertWatcher::install(SSL* ssl, void* watcher) {
  const auto identity = static_cast<CertWatcher*>(watcher)->current();
  if (!identity) return 0;
  // SSL_use_* take their own references, so a reload mid-handshake is harmless.
  if (SSL_use_certificate(ssl, identity->cert) != 1 || SSL_use_PrivateKey(ssl, identity->key) != 1) return 0;
  if (sk_X509_num(identity->chain) > 0 && SSL_set1_chain(ssl, identity->chain) != 1) return 0;
  return 1;
}

}  // namespace nodeboot::webhook
