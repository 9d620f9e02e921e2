#pragma once

// cpp-httplib 0.18.7 as the reference for the webhook's plain head reader
// (read_plain_head, limits.hpp): the transport serves a request itself only when that reader
// accepts its head, so whatever it accepts, cpp-httplib's own process_request must read to
// the same method, path and framing headers. Used by unit/webhook_limits (hand-made heads)
// and the framing fuzz target (mutated ones). Needs httplib.h and webhook/src on the include
// path (httplib_head.hpp is the transport's own reading of cpp-httplib's Request).

#include <httplib.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "httplib_head.hpp"
#include "nodeboot/webhook/limits.hpp"

namespace nodeboot::test {

// cpp-httplib's Server with its request reader reachable: process_request on a buffer.
class HttplibProbe final : public httplib::Server {
 public:
  HttplibProbe() {
    // Called once the request line and headers are read, before routing or any body.
    set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      read_ = req;
      res.status = 204;
      return HandlerResponse::Handled;
    });
  }
  // The request cpp-httplib reads from `bytes`; nullopt when it refuses the head.
  std::optional<httplib::Request> read(std::string_view bytes) {
    read_.reset();
    httplib::detail::BufferStream stream;
    stream.write(bytes.data(), bytes.size());
    bool closed = false;
    process_request(stream, "127.0.0.1", 1, "127.0.0.1", 2, false, closed, nullptr);
    return read_;
  }

 private:
  std::optional<httplib::Request> read_;
};

// What cpp-httplib reads differently from `plain` (read_plain_head's result for `bytes`);
// nullopt when they agree.
inline std::optional<std::string> plain_head_mismatch(std::string_view bytes, const webhook::PlainHead& plain) {
  HttplibProbe probe;
  const auto req = probe.read(bytes);
  if (!req) return "read_plain_head accepted a head cpp-httplib refuses";
  const auto ref = webhook::head_of(*req);
  const auto& got = plain.head;
  if (got.method != ref.method) return "method: " + std::string(got.method) + " vs cpp-httplib's " + req->method;
  if (got.path != ref.path) return "path: " + std::string(got.path) + " vs cpp-httplib's " + req->path;
  if (got.header_count != ref.header_count || got.header_bytes != ref.header_bytes)
    return "header count or size: " + std::to_string(got.header_count) + "/" + std::to_string(got.header_bytes) +
           " vs cpp-httplib's " + std::to_string(ref.header_count) + "/" + std::to_string(ref.header_bytes);
  auto lengths = got.content_length;
  auto ref_lengths = ref.content_length;
  std::ranges::sort(lengths);
  std::ranges::sort(ref_lengths);
  if (lengths != ref_lengths) return "Content-Length headers differ";
  if (got.transfer_encoding != ref.transfer_encoding) return "Transfer-Encoding differs";
  if (got.content_type != ref.content_type) return "Content-Type differs";
  if (req->has_header("Connection") || req->has_header("Expect") || req->has_header("Range") ||
      req->has_header("Content-Encoding"))
    return "a header that changes cpp-httplib's answer was accepted";
  if (req->version != "HTTP/1.1") return "version " + req->version;
  // The framing decision then follows from the same fields.
  const webhook::RequestLimits limits;
  const auto a = webhook::check_framing(got, limits);
  const auto b = webhook::check_framing(ref, limits);
  if (a.code != b.code || a.close != b.close || a.message != b.message) return "the framing decisions differ";
  return std::nullopt;
}

}  // namespace nodeboot::test
