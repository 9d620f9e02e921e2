#include "base64.hpp"

#include <openssl/evp.h>

namespace nodeboot::kube::detail {

std::string base64_encode(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::string> base64_decode(const std::string& in, const std::string& what) {
  std::string compact;
  for (char c : in)
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') compact.push_back(c);
  if (compact.size() % 4 != 0) return fail(ErrorKind::config, what + " is not valid base64");
  std::string out(compact.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(compact.data()), static_cast<int>(compact.size()));
  if (n < 0) return fail(ErrorKind::config, what + " is not valid base64");
  // EVP_DecodeBlock counts padding as data; drop one byte per '='.
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = compact.size(); i > 0 && compact[i - 1] == '='; --i) --len;
  out.resize(len);
  return out;
}

}  // namespace nodeboot::kube::detail
