#include "nodeboot/kube/client.hpp"

#include <curl/curl.h>

namespace nodeboot::kube {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

curl_blob blob_of(const std::string& s) {
  return curl_blob{const_cast<char*>(s.data()), s.size(), CURL_BLOB_COPY};
}

}  // namespace

struct Client::Impl {
  CURL* curl = nullptr;
  ~Impl() {
    if (curl) curl_easy_cleanup(curl);
  }
};

Client::Client(RestConfig config) : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  impl_->curl = curl_easy_init();
}

Client::~Client() = default;

Result<Response> Client::send(const std::string& method, const std::string& path, const std::string& body) {
  CURL* c = impl_->curl;
  if (!c) return fail(ErrorKind::internal, "libcurl could not be initialised");
  curl_easy_reset(c);
  Response resp;
  const std::string url = config_.server + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout.count()));
  if (!body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_blob ca = blob_of(config_.ca_pem), cert = blob_of(config_.client_cert_pem),
            key = blob_of(config_.client_key_pem.reveal());
  if (!config_.ca_pem.empty()) curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!config_.client_cert_pem.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  headers = curl_slist_append(headers, "Content-Type: application/json");
  std::string auth;
  if (!config_.bearer_token.empty()) {
    auth = "Authorization: Bearer " + config_.bearer_token.reveal();
    headers = curl_slist_append(headers, auth.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK)
    return fail(ErrorKind::transport, method + " " + url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

Result<nlohmann::json> Client::get_json(const std::string& path) {
  auto resp = send("GET", path, "");
  if (!resp) return std::unexpected(resp.error());
  auto doc = nlohmann::json::parse(resp->body, nullptr, false);
  if (resp->status >= 400) {
    std::string msg = doc.is_object() && doc.contains("message") ? doc["message"].get<std::string>()
                                                                 : "the server answered HTTP " + std::to_string(resp->status);
    return fail(resp->status == 404 ? ErrorKind::not_found : ErrorKind::api, msg);
  }
  if (doc.is_discarded()) return fail(ErrorKind::api, "GET " + path + ": the server's answer is not JSON");
  return doc;
}

}  // namespace nodeboot::kube
