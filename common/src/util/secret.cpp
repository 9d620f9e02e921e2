#include "nodeboot/util/secret.hpp"

#include <openssl/crypto.h>

namespace nodeboot {

Secret::~Secret() {
  if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
}

}  // namespace nodeboot
