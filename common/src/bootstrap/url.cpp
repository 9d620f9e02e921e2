#include "nodeboot/bootstrap/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "ascii.hpp"

namespace nodeboot::bootstrap {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::ranges::transform(out, out.begin(),
                         [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
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

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A repository path component (distribution/reference): lower-case letters and digits,
// joined by one '.', one or two '_', or any run of '-'.
bool valid_path_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size();) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    const auto sep = c.substr(i, j - i);
    const bool dashes = std::ranges::all_of(sep, [](char ch) { return ch == '-'; });
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
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

Result<DigestRef> parse_digest_ref(std::string_view text) {
  constexpr std::string_view example = "registry.example.com/repository@sha256:<64 hex digits>";
  if (text.empty()) return fail(ErrorKind::invalid_input, "is empty; give " + std::string(example));
  if (!printable_ascii(text))
    return fail(ErrorKind::invalid_input,
                "contains whitespace, control or non-ASCII characters (often a trailing newline); remove them");
  if (text.find("://") != std::string_view::npos)
    return fail(ErrorKind::invalid_input, "must be an image pullspec without a scheme; remove the scheme://");
  const auto at = text.find('@');
  const auto name = text.substr(0, at);
  const auto last_slash = name.rfind('/');
  // A ':' after the last '/' starts a tag (before it, it would be the registry's port).
  const bool tagged = name.find(':', last_slash == std::string_view::npos ? 0 : last_slash) != std::string_view::npos;
  if (at == std::string_view::npos)
    return fail(ErrorKind::invalid_input,
                std::string(tagged ? "is pinned by a tag, which can be moved to another image; " : "has no digest; ") +
                    "name the image by its digest: " + std::string(example) +
                    " (`oc adm release info --image-for=machine-config-operator RELEASE` prints it)");
  const auto digest = text.substr(at + 1);
  constexpr std::string_view algorithm = "sha256:";
  constexpr std::size_t sha256_hex = 64;
  if (!digest.starts_with(algorithm))
    return fail(ErrorKind::invalid_input,
                "must end in @sha256:<64 hex digits>; other digest algorithms are not accepted");
  const auto hex = digest.substr(algorithm.size());
  if (hex.size() != sha256_hex ||
      !std::ranges::all_of(hex, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
    return fail(ErrorKind::invalid_input, "the digest after @sha256: must be exactly 64 lower-case hex digits");
  if (tagged)
    return fail(ErrorKind::invalid_input,
                "has both a tag and a digest; remove the :tag, the digest alone names the image");
  // 255: distribution's limit on a repository name including its registry.
  constexpr std::size_t max_name = 255;
  if (name.size() > max_name)
    return fail(ErrorKind::invalid_input, "the name before '@' is longer than 255 characters");
  const auto first_slash = name.find('/');
  const auto registry = name.substr(0, first_slash);
  const bool looks_like_registry = first_slash != std::string_view::npos &&
                                   (registry.find_first_of(".:[") != std::string_view::npos || registry == "localhost");
  if (!looks_like_registry)
    return fail(ErrorKind::invalid_input, "must start with its registry host (" + std::string(example) +
                                              "): a short name would be resolved by the node's registries.conf");
  if (auto split = split_authority(registry); !split)
    return fail(ErrorKind::invalid_input, "the registry: " + split.error().message);
  const auto repository = name.substr(first_slash + 1);
  for (std::size_t start = 0; start <= repository.size();) {
    const auto slash = std::min(repository.find('/', start), repository.size());
    if (!valid_path_component(repository.substr(start, slash - start)))
      return fail(
          ErrorKind::invalid_input,
          "the repository must be '/'-separated parts of lower-case letters and digits joined by '.', '_' or '-'");
    start = slash + 1;
  }
  return DigestRef{std::string(registry), std::string(repository), std::string(digest), std::string(text)};
}

}  // namespace nodeboot::bootstrap
