#include "nodeboot/util/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace nodeboot {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// EVP_EncodeBlock and EVP_DecodeBlock take an int length: larger input goes in pieces of
// whole groups (3 bytes, 4 characters), 3 * 4 MiB of bytes at a time.
constexpr std::size_t groups_per_call = std::size_t{1} << 22;

const unsigned char* bytes_of(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

std::string base16_encode(std::string_view bytes) {
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + EVP_EncodeBlock's NUL
  std::size_t written = 0;
  while (!bytes.empty()) {
    const auto piece = bytes.substr(0, 3 * groups_per_call);
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written), bytes_of(piece),
                                  static_cast<int>(piece.size()));
    written += static_cast<std::size_t>(n);
    bytes.remove_prefix(piece.size());
  }
  out.resize(written);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  const std::size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  // Only the alphabet before the padding: EVP_DecodeBlock would skip white space at either
  // end and read '=' anywhere in the last group.
  if (text.substr(0, text.size() - pad).find_first_not_of(alphabet) != std::string_view::npos) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  std::size_t written = 0;
  for (std::string_view rest = text; !rest.empty();) {
    const auto piece = rest.substr(0, 4 * groups_per_call);
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + written), bytes_of(piece),
                                  static_cast<int>(piece.size()));
    if (n < 0) return std::nullopt;
    written += static_cast<std::size_t>(n);
    rest.remove_prefix(piece.size());
  }
  out.resize(written - pad);  // EVP_DecodeBlock counts each '=' as a zero byte
  // Canonical form only (the API server's decoder): the bits padding discards are zero, so
  // encoding the last group again gives the same text.
  if (pad > 0) {
    const std::string_view tail = std::string_view(out).substr(out.size() - (3 - pad));
    if (base64_encode(tail) != text.substr(text.size() - 4)) return std::nullopt;
  }
  return out;
}

}  // namespace nodeboot
