// Fuzz target: HTTP header and body framing of the admission server (limits.hpp), as the
// transport applies it. Each input is raw request bytes: a request line, header lines and a
// body. The head is split the way an HTTP/1.1 server does (CRLF lines, "name: value") into
// the RequestHead the transport builds from cpp-httplib's parsed headers; check_framing
// decides; an accepted body (exactly Content-Length bytes, as cpp-httplib reads it) goes
// through serve_admission. Beyond "no crash, no sanitizer report":
//   - nothing over the route's cap, chunked, without exactly one all-digit Content-Length or
//     with a non-JSON type is ever accepted, and every refusal of a body-carrying request
//     closes the connection (its body stays unread);
//   - header count and size caps hold;
//   - scan_nesting agrees with a plain reference depth count, and a body nested deeper than
//     64 never reaches decoding (the handler must not run) and is answered in-band;
//   - every head the transport's plain reader (read_plain_head) takes, cpp-httplib's own
//     process_request reads to the same method, path and framing headers (the transport
//     serves those requests without cpp-httplib).
//
// Built by the plain g++ driver (fuzz_driver.cpp, ctest fuzz/webhook_framing).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/test/httplib_reference.hpp"
#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/limits.hpp"

namespace wh = nodeboot::webhook;

namespace {

[[noreturn]] void violated(const char* what, std::string_view detail) {
  std::fprintf(stderr, "framing fuzz: %s\n%.*s\n", what, static_cast<int>(std::min<std::size_t>(detail.size(), 2000)),
               detail.data());
  std::abort();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The reference: nesting depth by a byte-at-a-time state machine, as plainly as possible.
std::size_t reference_depth(std::string_view json) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return in_string ? std::size_t(-1) : deepest;  // unterminated: the scan stops early, not compared
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const wh::RequestLimits limits;

  // The depth scan on the whole input, against the reference.
  const auto scan = wh::scan_nesting(input, limits.max_depth);
  if (const auto expected = reference_depth(input); expected != std::size_t(-1) && scan.depth != expected)
    violated("scan_nesting disagrees with the reference depth", input);

  if (const auto plain = wh::read_plain_head(input))
    if (const auto mismatch = nodeboot::test::plain_head_mismatch(input, *plain))
      violated(("the plain head reader and cpp-httplib disagree: " + *mismatch).c_str(), input);

  const auto head_end = input.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return 0;
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at <= head_end;) {
    const auto end = input.find("\r\n", at);
    lines.push_back(input.substr(at, end - at));
    at = end + 2;
  }
  // The request line: METHOD SP PATH SP VERSION.
  const auto request_line = lines.front();
  const auto sp1 = request_line.find(' ');
  const auto sp2 = request_line.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos) return 0;
  wh::RequestHead head;
  head.method = request_line.substr(0, sp1);
  head.path = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto colon = lines[i].find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = trim(lines[i].substr(0, colon));
    const auto value = trim(lines[i].substr(colon + 1));
    ++head.header_count;
    head.header_bytes += name.size() + value.size();
    if (iequals(name, "Content-Length")) head.content_length.push_back(value);
    if (iequals(name, "Transfer-Encoding")) head.transfer_encoding = true;
    if (iequals(name, "Content-Type") && head.content_type.empty()) head.content_type = value;
  }
  const auto framing = wh::check_framing(head, limits);
  const auto route = wh::route_of(head.path);
  const bool takes_body = wh::is_admission(route) && head.method == "POST";

  if (head.header_count > limits.max_headers || head.header_bytes > limits.max_header_bytes) {
    if (framing.code != 431 || !framing.close) violated("a head over the header caps was not refused with 431", input);
    return 0;
  }
  if (!takes_body) {
    if (framing.code != 0) violated("a request without a body was refused", input);
    return 0;
  }
  if (framing.code != 0) {
    if (framing.code == 400 && !framing.close && head.content_length.size() == 1 && head.content_length[0] == "0")
      return 0;  // empty body: nothing unread, the connection stays
    if (!framing.close) violated("a refusal left an unread body on the connection", input);
    if (framing.message.empty()) violated("a refusal without a message", input);
    return 0;
  }
  // Accepted: exactly one all-digit Content-Length within the route's cap, JSON, not chunked.
  if (head.transfer_encoding) violated("a chunked body was accepted", input);
  if (head.content_length.size() != 1) violated("a body without exactly one Content-Length was accepted", input);
  const auto length = wh::parse_content_length(head.content_length[0]);
  if (!length) violated("a malformed Content-Length was accepted", input);
  if (*length > limits.body_limit(route)) violated("a body over the route's cap was accepted", input);
  if (*length == 0) violated("an empty body was accepted", input);
  if (head.content_type.substr(0, head.content_type.find(';')) != "application/json")
    violated("a non-JSON body was accepted", input);

  const auto available = input.substr(head_end + 4);
  if (available.size() < *length) return 0;  // the transport would wait for the rest
  const auto body = available.substr(0, *length);
  bool handled = false;
  const auto answer = wh::serve_admission(body, [&](const wh::AdmissionRequest&) {
    handled = true;
    return wh::AdmissionResponse::allow();
  });
  const auto body_scan = wh::scan_nesting(body, limits.max_depth);
  if (body_scan.too_deep && handled) violated("a body nested deeper than the limit reached the handler", body);
  const auto doc = nlohmann::json::parse(answer, nullptr, false);
  if (!doc.is_object() || doc.value("kind", "") != "AdmissionReview" || !doc.contains("response") ||
      !doc["response"].is_object() || !doc["response"].contains("uid"))
    violated("the answer is not an AdmissionReview with a uid", answer);
  if (body_scan.too_deep && (doc["response"].value("allowed", true) ||
                             doc["response"]["status"].value("message", "").find("levels deep") == std::string::npos))
    violated("a deep body was not refused naming the depth", answer);
  return 0;
}

// HTTP framing tokens for fuzz_driver.cpp's mutations.
std::vector<std::string> fuzz_dictionary();
std::vector<std::string> fuzz_dictionary() {
  return {"\r\n",
          "\r\n\r\n",
          ": ",
          "POST ",
          "GET ",
          " HTTP/1.1",
          "/mutate/pods",
          "/validate/pods",
          "/validate/secrets",
          "/validate/nodes",
          "/healthz",
          "Content-Length: ",
          "content-length:",
          "Content-Length: 0\r\n",
          "Content-Length: 524289\r\n",
          "Content-Length: 1572864\r\n",
          "Content-Length: 18446744073709551616\r\n",
          "Content-Length: -1\r\n",
          "Content-Length: +5\r\n",
          "Content-Length: 5, 5\r\n",
          "Transfer-Encoding: chunked\r\n",
          "Content-Type: application/json\r\n",
          "Content-Type: application/json; charset=utf-8\r\n",
          "Content-Type: text/plain\r\n",
          "X-Pad: ",
          std::string(1024, 'v'),
          "{",
          "}",
          "[",
          "]",
          "\"",
          "\\",
          "\\\"",
          "\"uid\":\"u\"",
          "\"request\":{",
          std::string(70, '['),
          std::string(70, ']'),
          std::string(70, '{'),
          "{\"kind\":\"AdmissionReview\"}"};
}
