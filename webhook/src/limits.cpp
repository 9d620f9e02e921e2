#include "nodeboot/webhook/limits.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace nodeboot::webhook {

bool is_admission(Route r) {
  return r == Route::mutate_pods || r == Route::validate_pods || r == Route::validate_secrets ||
         r == Route::validate_nodes;
}

std::size_t RequestLimits::body_limit(Route route) const {
  switch (route) {
    case Route::mutate_pods:
    case Route::validate_pods:
      return pod_body;
    case Route::validate_secrets:
    case Route::validate_nodes:
      return secret_node_body;
    default:
      return 0;
  }
}

std::size_t RequestLimits::largest_body() const { return std::max(pod_body, secret_node_body); }

std::optional<std::size_t> parse_content_length(std::string_view value) {
  if (value.empty()) return std::nullopt;
  std::size_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::size_t>(c - '0');
    if (n > (SIZE_MAX - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return n;
}

namespace {

std::string kib(std::size_t bytes) {
  return bytes % 1024 == 0 ? std::to_string(bytes / 1024) + " KiB" : std::to_string(bytes) + " bytes";
}

}  // namespace

Framing check_framing(const RequestHead& head, const RequestLimits& limits) {
  if (head.header_count > limits.max_headers || head.header_bytes > limits.max_header_bytes)
    return {431,
            "the request headers are " + std::to_string(head.header_bytes) + " bytes in " +
                std::to_string(head.header_count) + " lines; the limit is " + kib(limits.max_header_bytes) + " in " +
                std::to_string(limits.max_headers) + " lines",
            true};
  const Route route = route_of(head.path);
  if (!is_admission(route) || head.method != "POST") return {};
  // The body's size must be settled before any of it is read, so a chunked body (whose
  // size is known only at its end) is refused.
  if (head.transfer_encoding || head.content_length.empty())
    return {411, "the request has no Content-Length; send the AdmissionReview with one (not chunked)", true};
  if (head.content_length.size() > 1) return {400, "the request has more than one Content-Length header", true};
  const auto length = parse_content_length(head.content_length.front());
  if (!length) return {400, "the Content-Length header is not a decimal number of bytes", true};
  const auto limit = limits.body_limit(route);
  if (*length > limit)
    return {413,
            "the request body is " + std::to_string(*length) + " bytes; " + std::string(route_path(route)) +
                " accepts at most " + kib(limit) + " (" + std::to_string(limit) + " bytes)",
            true};
  const auto type = head.content_type.substr(0, head.content_type.find(';'));
  if (type != "application/json") return {415, "the Content-Type must be application/json", true};
  if (*length == 0) return {400, "the request body is empty; send an AdmissionReview", false};
  return {};
}

namespace {

// The bytes that change the scan's state outside strings.
constexpr std::array<bool, 256> structural = [] {
  std::array<bool, 256> t{};
  for (char c : std::string_view("{}[]\",:")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// Where the string starting after `open` (the index of its opening quote) ends: the index
// of its closing quote, or npos. Escapes are skipped by counting the backslashes before a
// quote, so the scan runs at memchr's speed over string contents.
std::size_t string_end(std::string_view s, std::size_t open) {
  std::size_t at = open + 1;
  while (at < s.size()) {
    const void* hit = std::memchr(s.data() + at, '"', s.size() - at);
    if (!hit) return std::string_view::npos;
    const auto quote = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
    std::size_t backslashes = 0;
    while (quote - backslashes > open + 1 && s[quote - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return quote;
    at = quote + 1;
  }
  return std::string_view::npos;
}

// A uid worth echoing unparsed: printable ASCII without escapes (Kubernetes uids are
// UUIDs); anything else is left for the parser, which validates it.
bool plain_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '\\'; });
}

}  // namespace

NestingScan scan_nesting(std::string_view json, std::size_t max_depth) {
  NestingScan scan;
  // Container kinds and the last key of the first levels only: enough to find request.uid
  // (level 2); deeper levels are only counted.
  constexpr std::size_t tracked = 3;
  std::array<bool, tracked> is_object{};
  std::array<bool, tracked> expect_key{};
  std::array<std::string_view, tracked> last_key{};
  bool in_request = false;  // level 2 is the root's "request" object
  std::size_t depth = 0;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const auto c = static_cast<unsigned char>(json[i]);
    if (!structural[c]) continue;
    switch (c) {
      case '"': {
        const auto end = string_end(json, i);
        if (end == std::string_view::npos) return scan;  // unterminated: the parser reports it
        const auto text = json.substr(i + 1, end - i - 1);
        if (depth < tracked && is_object[depth] && expect_key[depth]) {
          last_key[depth] = text;
        } else if (depth == 2 && in_request && last_key[2] == "uid" && scan.uid.empty() && plain_ascii(text)) {
          scan.uid.assign(text);
        }
        i = end;
        break;
      }
      case '{':
      case '[':
        ++depth;
        if (depth > scan.depth) scan.depth = depth;
        if (depth > max_depth) scan.too_deep = true;
        if (depth < tracked) {
          is_object[depth] = c == '{';
          expect_key[depth] = c == '{';
          last_key[depth] = {};
          if (depth == 2) in_request = c == '{' && is_object[1] && last_key[1] == "request";
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      case ',':
        if (depth < tracked && is_object[depth]) expect_key[depth] = true;
        break;
      case ':':
        if (depth < tracked) expect_key[depth] = false;
        break;
      default:
        break;
    }
  }
  return scan;
}

}  // namespace nodeboot::webhook
