#pragma once

// HTTPS for the node side: GET with a bearer token verified against one CA bundle, and
// POST of JSON (the report callback). Failures are classified so the agent can tell a
// person what to fix (wrong token, wrong CA, a server too slow, a download cut short)
// and decide what is worth retrying.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::agent {

enum class FetchFailure {
  none,
  connect,      // DNS, refused, unreachable
  tls,          // handshake failed or the certificate is not signed by the given CA
  timeout,      // no complete answer within the deadline
  truncated,    // the body ended before its Content-Length
  http_status,  // an answer, but not the one wanted (see status)
  too_large,    // more bytes than the caller allows
  local,        // our side: cannot write the body
};

struct FetchRequest {
  std::string url{};
  const Secret* bearer = nullptr;  // Authorization: Bearer …, never logged
  std::string ca_pem{};            // verify the server against this bundle; empty = system store
  std::string accept{};            // Accept header; empty = curl's default
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::uint64_t max_bytes = 0;  // 0 = unlimited
  std::string post_json{};      // non-empty: POST this body as application/json
};

struct FetchResult {
  FetchFailure failure = FetchFailure::none;
  long status = 0;           // HTTP status when the server answered
  std::string content_type;  // the answer's Content-Type
  std::string detail;        // curl's words for a failure; never contains the token
  std::uint64_t bytes = 0;   // body bytes handed to the sink

  bool ok() const noexcept { return failure == FetchFailure::none && status >= 200 && status < 300; }
  // Worth another try: the network or the server may recover; a wrong token or CA will not.
  bool transient() const noexcept;
};

// Body bytes as they arrive; return false to abort (a local write failure).
using BodySink = std::function<bool(std::string_view)>;

// Performs the request; the result always says what happened (no Error: every outcome is data).
FetchResult fetch(const FetchRequest& request, const BodySink& sink);

// Convenience: the whole body in memory.
FetchResult fetch_to_string(const FetchRequest& request, std::string& body);

// One sentence for people: "the server answered 401 Unauthorized", "TLS verification
// failed: …", "no answer within 2s".
std::string describe(const FetchResult& result, std::chrono::milliseconds timeout);

}  // namespace nodeboot::agent
