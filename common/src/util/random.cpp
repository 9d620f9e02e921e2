#include "nodeboot/util/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <vector>

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
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes);
  for (const auto b : raw) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

}  // namespace nodeboot
