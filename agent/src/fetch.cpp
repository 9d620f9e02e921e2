#include "nodeboot/agent/fetch.hpp"
#include "nodeboot/util/curl_trust.hpp"

#include <curl/curl.h>

#include <memory>

namespace nodeboot::agent {
namespace {

struct Transfer {
  const BodySink* sink = nullptr;
  std::uint64_t max_bytes = 0;
  std::uint64_t bytes = 0;
  bool too_large = false;
  bool sink_failed = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->max_bytes && t->bytes + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // a short count makes curl abort with CURLE_WRITE_ERROR
  }
  if (!(*t->sink)(std::string_view(data, n))) {
    t->sink_failed = true;
    return 0;
  }
  t->bytes += n;
  return n;
}

FetchFailure classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      return FetchFailure::none;
    case CURLE_OPERATION_TIMEDOUT:
      return FetchFailure::timeout;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return FetchFailure::truncated;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return FetchFailure::tls;
    default:
      return FetchFailure::connect;
  }
}

}  // namespace

bool FetchResult::transient() const noexcept {
  switch (failure) {
    case FetchFailure::connect:
    case FetchFailure::timeout:
    case FetchFailure::truncated:
      return true;
    case FetchFailure::none:
    case FetchFailure::http_status:
      // 429 and 5xx say "later"; 4xx say "you are wrong" and will stay wrong.
      return status == 429 || status >= 500;
    default:
      return false;
  }
}

FetchResult fetch(const FetchRequest& request, const BodySink& sink) {
  FetchResult result;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> handle(curl_easy_init(), curl_easy_cleanup);
  if (!handle) {
    result.failure = FetchFailure::local;
    result.detail = "libcurl could not be initialised";
    return result;
  }
  CURL* c = handle.get();
  Transfer transfer{&sink, request.max_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  // Only https: a redirect must not downgrade, nor carry the token to another scheme.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  trust_only(c, request.ca_pem);

  curl_slist* headers = nullptr;
  std::string auth;
  if (request.bearer && !request.bearer->empty()) {
    auth = "Authorization: Bearer " + request.bearer->reveal();
    headers = curl_slist_append(headers, auth.c_str());
  }
  if (!request.accept.empty()) headers = curl_slist_append(headers, ("Accept: " + request.accept).c_str());
  if (!request.post_json.empty()) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.post_json.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.post_json.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  // The header line held the token; wipe our copy.
  std::fill(auth.begin(), auth.end(), '\0');

  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  char* type = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type) result.content_type = type;
  result.bytes = transfer.bytes;
  if (transfer.too_large) {
    result.failure = FetchFailure::too_large;
    result.detail = "more than " + std::to_string(request.max_bytes) + " bytes";
  } else if (transfer.sink_failed) {
    result.failure = FetchFailure::local;
    result.detail = "cannot store the download";
  } else if (rc != CURLE_OK) {
    result.failure = classify(rc);
    result.detail = error_buffer[0] ? error_buffer : curl_easy_strerror(rc);
  } else if (result.status < 200 || result.status >= 300) {
    result.failure = FetchFailure::http_status;
  }
  return result;
}

FetchResult fetch_to_string(const FetchRequest& request, std::string& body) {
  body.clear();
  return fetch(request, [&](std::string_view chunk) {
    body.append(chunk);
    return true;
  });
}

std::string describe(const FetchResult& r, std::chrono::milliseconds timeout) {
  switch (r.failure) {
    case FetchFailure::none:
    case FetchFailure::http_status:
      if (r.status == 401) return "the server answered 401 Unauthorized: the token is wrong or expired";
      if (r.status == 403) return "the server answered 403 Forbidden: the token may not read this resource";
      return "the server answered HTTP " + std::to_string(r.status);
    case FetchFailure::connect:
      return "cannot connect: " + r.detail;
    case FetchFailure::tls:
      return "TLS verification failed (is ca.crt the CA that signed the server's certificate?): " + r.detail;
    case FetchFailure::timeout:
      return "no complete answer within " + std::to_string(timeout.count()) + " ms";
    case FetchFailure::truncated:
      return "the download was cut short after " + std::to_string(r.bytes) + " bytes: " + r.detail;
    case FetchFailure::too_large:
      return "the answer is too large: " + r.detail;
    case FetchFailure::local:
      return "local failure: " + r.detail;
  }
  return r.detail;
}

}  // namespace nodeboot::agent
