#include "nodeboot/util/curl_trust.hpp"

namespace nodeboot {

void trust_only(CURL* handle, std::string_view ca_pem) {
  if (ca_pem.empty()) return;
  curl_easy_setopt(handle, CURLOPT_CAINFO, nullptr);
  curl_easy_setopt(handle, CURLOPT_CAPATH, nullptr);
  curl_blob ca{const_cast<char*>(ca_pem.data()), ca_pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &ca);
}

}  // namespace nodeboot
