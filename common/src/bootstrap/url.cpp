#include "nodeboot/bootstrap/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace nodeboot::bootstrap {
namespace {

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(), [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return out;
}

// A DNS name (RFC 1123 labels) or dotted IPv4: both are letters, digits, '-' and '.'.
bool valid_dns_host(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;  // 253: the DNS limit on a name
  std::size_t start = 0;
  while (start <= host.size()) {
    const auto dot = std::min(host.find('.', start), host.size());
    const auto label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;  // 63: the DNS limit on a label
    if (label.front() == '-' || label.back() == '-') return false;
    if (!std::ranges::all_of(label, [](char c) { return is_alnum(c) || c == '-'; })) return false;
    start = dot + 1;
  }
  return true;
}

bool valid_ipv6(const std::string& literal) {
  in6_addr addr{};
  return inet_pton(AF_INET6, literal.c_str(), &addr) == 1;
}

// "host", "host:port", "[v6]" or "[v6]:port" → host and port text; errors name the fix.
Result<std::pair<std::string, std::optional<std::uint16_t>>> split_authority(std::string_view authority) {
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(ErrorKind::invalid_input, "an IPv6 address needs a closing ']'");
    host = authority.substr(1, close - 1);
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return fail(ErrorKind::invalid_input, "only ':port' may follow ']'");
      has_port = true;
      port_text = rest.substr(1);
    }
    if (!valid_ipv6(std::string(host))) return fail(ErrorKind::invalid_input, "the IPv6 address in [] is not valid");
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) return fail(ErrorKind::invalid_input, "the host is missing");
    if (!valid_dns_host(host))
      return fail(ErrorKind::invalid_input,
                  "the host is not a valid DNS name or IPv4 address (letters, digits, '-' and '.'; "
                  "write IPv6 addresses in [brackets])");
  }
  std::optional<std::uint16_t> port;
  if (has_port) {
    unsigned value = 0;
    const auto* end = port_text.data() + port_text.size();
    const auto [ptr, ec] = std::from_chars(port_text.data(), end, value);
    if (port_text.empty() || ec != std::errc{} || ptr != end || value == 0 || value > 65535)
      return fail(ErrorKind::invalid_input, "the port must be a number from 1 to 65535");
    port = static_cast<std::uint16_t>(value);
  }
  return std::pair{lower(host), port};
}

bool printable_ascii(std::string_view s) {
  return std::ranges::all_of(s, [](char c) { return c > ' ' && c < 0x7f; });
}

}  // namespace

Result<HttpsUrl> parse_https_url(std::string_view text) {
  if (text.empty()) return fail(ErrorKind::invalid_input, "is empty; give an https:// URL");
  if (!printable_ascii(text))
    return fail(ErrorKind::invalid_input,
                "contains whitespace, control or non-ASCII characters (often a trailing newline); "
                "remove them or percent-encode them");
  constexpr std::string_view scheme = "https://";
  if (text.size() < scheme.size() || lower(text.substr(0, scheme.size())) != scheme)
    return fail(ErrorKind::invalid_input, "must start with https:// (plain http and other schemes are refused)");
  const auto rest = text.substr(scheme.size());
  const auto authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  const auto authority = rest.substr(0, authority_end);
  if (authority.find('@') != std::string_view::npos)
    return fail(ErrorKind::invalid_input,
                "carries credentials before '@'; remove them and put the token in its own key");
  auto split = split_authority(authority);
  if (!split) return fail(ErrorKind::invalid_input, split.error().message);
  auto path = rest.substr(authority_end);
  if (path.find('#') != std::string_view::npos)
    return fail(ErrorKind::invalid_input, "has a #fragment, which is never sent to the server; remove it");
  HttpsUrl url;
  url.host = std::move(split->first);
  url.port = split->second.value_or(443);
  url.path_and_query = path.empty() ? "/" : path.starts_with('?') ? "/" + std::string(path) : std::string(path);
  url.text = std::string(text);
  return url;
}

Result<HostPort> parse_host_port(std::string_view text) {
  if (text.empty()) return fail(ErrorKind::invalid_input, "is empty; give host or host:port");
  if (!printable_ascii(text))
    return fail(ErrorKind::invalid_input,
                "contains whitespace, control or non-ASCII characters (often a trailing newline); remove them");
  if (text.find("://") != std::string_view::npos)
    return fail(ErrorKind::invalid_input, "must be host[:port] without a scheme; remove the scheme://");
  if (text.find_first_of("/?#@") != std::string_view::npos)
    return fail(ErrorKind::invalid_input, "must be host[:port] only; remove any path, query or credentials");
  auto split = split_authority(text);
  if (!split) return fail(ErrorKind::invalid_input, split.error().message);
  return HostPort{std::move(split->first), split->second};
}

}  // namespace nodeboot::bootstrap
