#pragma once

// Checking a PEM CA bundle (the bootstrap Secret's ca.crt) with OpenSSL.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace nodeboot::bootstrap {

// Every defect of `pem` as a CA bundle: no certificate, a block OpenSSL cannot parse, a
// private key, a certificate outside its validity at `now`, or one that is not a CA
// (X509_check_ca). Sentences name the certificate by position and the fix; they never
// quote the PEM. Empty means usable.
std::vector<std::string> check_ca_bundle(std::string_view pem, std::chrono::system_clock::time_point now);

}  // namespace nodeboot::bootstrap
