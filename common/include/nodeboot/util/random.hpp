#pragma once

// Bytes from OpenSSL's CSPRNG. Its failure (an unseeded DRBG) is not something a caller
// can work around, so it throws instead of handing back bytes that are not random.

#include <cstddef>
#include <span>
#include <string>

namespace nodeboot {

// Fills `out`; throws std::runtime_error when the CSPRNG fails.
void random_bytes(std::span<unsigned char> out);
// `bytes` random bytes as lowercase hex (2 * bytes characters).
std::string random_hex(std::size_t bytes);

}  // namespace nodeboot
