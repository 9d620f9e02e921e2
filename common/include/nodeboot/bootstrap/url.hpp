#pragma once

// The two address forms a bootstrap Secret holds: https URLs and registry host[:port].
// Parse errors describe the defect and the fix but never repeat the text (a URL may carry
// a signed query string).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nodeboot/util/result.hpp"

namespace nodeboot::bootstrap {

struct HttpsUrl {
  std::string host;                // lower-cased; an IPv6 literal without brackets
  std::uint16_t port = 443;
  std::string path_and_query;      // "/" when the URL has no path
  std::string text;                // exactly as given, for transports

  bool operator==(const HttpsUrl&) const = default;
};

struct HostPort {
  std::string host;                // lower-cased; an IPv6 literal without brackets
  std::optional<std::uint16_t> port;

  bool operator==(const HostPort&) const = default;
};

// https://host[:port][/path][?query]; no user info, no fragment, ASCII without spaces.
Result<HttpsUrl> parse_https_url(std::string_view text);

// host[:port] or [v6]:port, no scheme and no path.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace nodeboot::bootstrap
