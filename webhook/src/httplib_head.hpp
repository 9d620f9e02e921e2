#pragma once

// The RequestHead (limits.hpp) of a request cpp-httplib has read: what server.cpp's framing
// check sees for every request the plain reader (read_plain_head) leaves to cpp-httplib, and
// the reference that reader is tested against (tests/support/include/nodeboot/test/httplib_reference.hpp).

#include <httplib.h>

#include <algorithm>
#include <string_view>

#include "nodeboot/webhook/limits.hpp"

namespace nodeboot::webhook {

// Views into `req`, which must outlive the result.
inline RequestHead head_of(const httplib::Request& req) {
  RequestHead head;
  head.method = req.method;
  head.path = req.path;
  for (const auto& [name, value] : req.headers) {
    if (std::ranges::find(httplib_injected_headers, name) != httplib_injected_headers.end()) continue;
    ++head.header_count;
    head.header_bytes += name.size() + value.size();
  }
  // Headers compare case-insensitively (cpp-httplib's multimap).
  const auto [first, last] = req.headers.equal_range("Content-Length");
  for (auto it = first; it != last; ++it) head.content_length.emplace_back(it->second);
  head.transfer_encoding = req.has_header("Transfer-Encoding");
  if (const auto type = req.headers.find("Content-Type"); type != req.headers.end()) head.content_type = type->second;
  return head;
}

}  // namespace nodeboot::webhook
