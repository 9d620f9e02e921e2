#include "nodeboot/bootstrap/ca.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace nodeboot::bootstrap {
namespace {

struct OpenSslFree {
  void operator()(void* p) const noexcept { OPENSSL_free(p); }
};
using OpenSslString = std::unique_ptr<char, OpenSslFree>;
using Bytes = std::unique_ptr<unsigned char, OpenSslFree>;

}  // namespace

std::vector<std::string> check_ca_bundle(std::string_view pem, std::chrono::system_clock::time_point now) {
  std::vector<std::string> problems;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return {"could not be read (out of memory)"};
  ERR_clear_error();
  time_t t = std::chrono::system_clock::to_time_t(now);
  int certificates = 0;
  for (int block = 1;; ++block) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name_raw, &header_raw, &data_raw, &len) != 1) break;
    OpenSslString name(name_raw);
    OpenSslString header(header_raw);
    Bytes data(data_raw);
    const std::string_view type(name.get());
    const std::string where = "PEM block " + std::to_string(block);
    if (type.find("PRIVATE KEY") != std::string_view::npos) {
      problems.push_back(where + " is a private key; remove it, ca.crt must hold only the CA certificate(s)");
      continue;
    }
    if (type != "CERTIFICATE") {
      problems.push_back(where + " is a '" + std::string(type) + "', not a CERTIFICATE; remove it");
      continue;
    }
    ++certificates;
    const unsigned char* p = data.get();
    std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &p, len), &X509_free);
    if (!cert) {
      problems.push_back(where +
                         " is not a certificate OpenSSL can parse; export the CA certificate again in PEM form");
      continue;
    }
    if (X509_cmp_time(X509_get0_notBefore(cert.get()), &t) >= 0)
      problems.push_back("certificate in " + where +
                         " is not valid yet (notBefore is in the future); "
                         "check the clock or issue it again");
    if (X509_cmp_time(X509_get0_notAfter(cert.get()), &t) <= 0)
      problems.push_back("certificate in " + where + " has expired; use the CA's current certificate");
    if (X509_check_ca(cert.get()) == 0)
      problems.push_back("certificate in " + where +
                         " is not a CA (no basicConstraints CA:TRUE); "
                         "give the issuing CA's certificate, not a server certificate");
  }
  // PEM_read_bio stops with PEM_R_NO_START_LINE at the end; anything else is a damaged block.
  const unsigned long err = ERR_peek_last_error();
  if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE))
    problems.push_back("has a damaged PEM block (bad base64 or missing END line); export the CA certificate again");
  ERR_clear_error();
  if (certificates == 0 && problems.empty())
    problems.push_back("holds no PEM certificate; give the CA certificate beginning with -----BEGIN CERTIFICATE-----");
  return problems;
}

}  // namespace nodeboot::bootstrap
