#include "nodeboot/util/pki.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <memory>

#include "nodeboot/util/random.hpp"

namespace nodeboot {
namespace {

template <auto F>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    F(p);
  }
};
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free>>;

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return {data, static_cast<std::size_t>(len)};
}

Pkey read_key(const Secret& pem) {
  Bio bio(BIO_new_mem_buf(pem.reveal().data(), static_cast<int>(pem.reveal().size())));
  return Pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

Cert read_cert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

}  // namespace

Result<KeyPair> issue_certificate(const CertificateRequest& request, const KeyPair* issuer) {
  const auto error = [](const std::string& what) {
    return fail(ErrorKind::internal, "issuing a certificate: " + what);
  };
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) return error("EC key generation failed");
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3, needed for extensions
  // 159 random bits: a positive 20-byte serial as RFC 5280 section 4.1.2.2 allows.
  // A serial that is not random would make two certificates from this CA collide: random_bytes
  // throws rather than hand back bytes that are not random.
  std::array<unsigned char, 20> serial{};
  random_bytes(serial);
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BN_free>> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), std::chrono::system_clock::to_time_t(request.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), std::chrono::system_clock::to_time_t(request.not_after));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()), -1, -1, 0);
  X509_set_pubkey(cert.get(), key.get());

  Cert issuer_cert;
  Pkey issuer_key;
  if (issuer) {
    issuer_cert = read_cert(issuer->cert_pem);
    issuer_key = read_key(issuer->key_pem);
    if (!issuer_cert || !issuer_key) return error("the issuer's certificate or key does not parse");
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert.get()));
  } else {
    X509_set_issuer_name(cert.get(), name);
  }
  X509* signer = issuer ? issuer_cert.get() : cert.get();
  bool ok = add_extension(cert.get(), signer, NID_subject_key_identifier, "hash") &&
            add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (request.is_ca) {
    ok = ok && add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    ok = ok && add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
         add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  std::string san;
  for (const auto& d : request.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : request.ip_addresses) san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty()) ok = ok && add_extension(cert.get(), signer, NID_subject_alt_name, san);
  if (!ok) return error("adding X.509 extensions failed");
  if (X509_sign(cert.get(), issuer ? issuer_key.get() : key.get(), EVP_sha256()) == 0) return error("signing failed");

  Bio cert_bio(BIO_new(BIO_s_mem()));
  Bio key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return error("PEM encoding failed");
  return KeyPair{bio_text(cert_bio.get()), Secret(bio_text(key_bio.get()))};
}

Result<std::chrono::system_clock::time_point> certificate_not_after(const std::string& cert_pem) {
  Cert cert = read_cert(cert_pem);
  if (!cert) return fail(ErrorKind::invalid_input, "the certificate does not parse as PEM");
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1)
    return fail(ErrorKind::invalid_input, "the certificate's notAfter does not parse");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace nodeboot
