#include "nodeboot/util/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <vector>

#include "nodeboot/util/base64.hpp"

namespace nodeboot {

void random_bytes(std::span<unsigned char> out) {
  while (!out.empty()) {
    const auto n = std::min<std::size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) throw std::runtime_error("OpenSSL's CSPRNG failed");
    out = out.subspan(n);
  }
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  random_bytes(raw);
  auto out = base16_encode({reinterpret_cast<const char*>(raw.data()), raw.size()});
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

}  // namespace nodeboot
