#pragma once

// Issuing certificates with OpenSSL (the webhook's self-managed mode, the bootstrap node's
// kubeconfig upload endpoint): a CA and a serving certificate signed by it. ECDSA P-256:
// the cheapest handshake the API server's Go TLS stack accepts, and what cert-manager
// issues by default for ECDSA.

#include <chrono>
#include <string>
#include <vector>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot {

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  bool is_ca = false;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
};

struct KeyPair {
  std::string cert_pem;
  Secret key_pem;
};

// Signs with `issuer` (a CA KeyPair), or self-signs when issuer is null.
Result<KeyPair> issue_certificate(const CertificateRequest& request, const KeyPair* issuer);

// notAfter of the first certificate in `cert_pem`.
Result<std::chrono::system_clock::time_point> certificate_not_after(const std::string& cert_pem);

}  // namespace nodeboot
