#pragma once

// What the admission server accepts from a client, and the pure checks behind it: body caps
// per route, JSON nesting depth, header count and size, Content-Length framing. The
// transport (server.cpp) applies them before it reads a body or any parser builds anything;
// the unit tests and the framing fuzz target (tests/fuzz/webhook_framing_fuzz.cpp) call the
// same functions.

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/webhook/metrics.hpp"

namespace nodeboot::webhook {

struct RequestLimits {
  // A pod review is a few KiB (4.5 KiB for the bench's CREATE); an UPDATE carries two pods.
  // 512 KiB leaves room for pods with large annotations and refuses the rest unread.
  std::size_t pod_body = std::size_t{512} * 1024;
  // Secrets (data up to the API server's 1 MiB) and Nodes (large status), twice for an
  // UPDATE: 1.5 MiB covers every bootstrap Secret and Node seen, not a flood.
  std::size_t secret_node_body = std::size_t{1536} * 1024;
  // Kubernetes objects nest about 10 deep (a pod's affinity terms are the deepest, ~12);
  // 64 is generous for them and still far from any recursive parser's stack.
  std::size_t max_depth = 64;
  // cpp-httplib refuses a 101st header line itself (CPPHTTPLIB_HEADER_MAX_COUNT); the API
  // server sends about 8 headers of ~300 bytes, so 16 KiB in all is 50x that.
  std::size_t max_headers = 100;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  // A request, from its first byte to its last (line, headers and body), and a TLS
  // handshake from the accept: the API server gives up at timeoutSeconds (10 s at most in
  // our manifests), so a request that takes longer helps nobody and holds a thread.
  std::chrono::milliseconds request_deadline{10'000};
  // Per-thread decoding buffers grow to the largest body a thread has seen; above this they
  // are released after the request, so a few large reviews do not pin megabytes per thread.
  std::size_t shrink_after = std::size_t{256} * 1024;

  // The body cap of an admission route; 0 for the other routes (they take no body).
  std::size_t body_limit(Route route) const;
  // The largest body any route accepts (cpp-httplib's own payload limit, a backstop).
  std::size_t largest_body() const;
};

bool is_admission(Route route);

// The headers cpp-httplib adds to every request itself (the peer's addresses); they are
// not the client's, and a client sending one is left to cpp-httplib (read_plain_head).
inline constexpr std::array<std::string_view, 4> httplib_injected_headers{"REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR",
                                                                          "LOCAL_PORT"};

// The parts of a request head the framing rules look at (every Content-Length header, in
// order: a request with two is refused, they could disagree).
struct RequestHead {
  std::string_view method;
  std::string_view path;
  std::size_t header_count = 0;
  std::size_t header_bytes = 0;  // names and values, as received
  std::vector<std::string_view> content_length;
  bool transfer_encoding = false;
  std::string_view content_type;
};

// A request head in the plain form the API server sends, read in one pass over the bytes
// received so far: "METHOD /path[?query] HTTP/1.1", then CRLF-ended "Name: value" lines
// (names of token characters; values of visible ASCII, spaces and tabs, without "%"), then
// a blank line, all within 8 KiB. nullopt for anything else, for a head not yet complete
// in `bytes`, and for a head with a header that changes how cpp-httplib answers (Connection,
// Expect, Range, Content-Encoding) or one it adds itself (REMOTE_ADDR, ...): the transport
// then lets cpp-httplib read the request. What this accepts, cpp-httplib reads to the same
// method, path and headers; tests/fuzz/webhook_framing_fuzz.cpp checks that against
// cpp-httplib itself.
struct PlainHead {
  RequestHead head;      // views into `bytes`
  std::size_t size = 0;  // bytes of the head, its blank line included
};
std::optional<PlainHead> read_plain_head(std::string_view bytes);

// What to do with a request before its body is read: code 0 reads the body and serves it;
// any other code is the in-band status of a refusal (admission routes) or the HTTP status
// (other routes). `close` ends the connection after the answer (its body stays unread).
struct Framing {
  int code = 0;
  std::string message;
  bool close = false;
};

Framing check_framing(const RequestHead& head, const RequestLimits& limits);

// A Content-Length value: digits only (no sign, no spaces), without overflow.
std::optional<std::size_t> parse_content_length(std::string_view value);

// One pass over a JSON text, without building anything: the deepest nesting of arrays and
// objects (strings and their escapes skipped), and request.uid of an AdmissionReview when it
// is a plain string, so a refusal can echo it.
struct NestingScan {
  bool too_deep = false;
  std::size_t depth = 0;  // deepest level seen, counted to the end of the text
  std::string uid;
};
NestingScan scan_nesting(std::string_view json, std::size_t max_depth);

}  // namespace nodeboot::webhook
