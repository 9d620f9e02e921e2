#pragma once

// The address forms a bootstrap Secret holds: https URLs, registry host[:port] and image
// pullspecs pinned by digest.
// Parse errors describe the defect and the fix but never repeat the text (a URL may carry
// a signed query string).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nodeboot/util/result.hpp"

namespace nodeboot::bootstrap {

struct HttpsUrl {
  std::string host;  // lower-cased; an IPv6 literal without brackets
  std::uint16_t port = 443;
  std::string path_and_query;  // "/" when the URL has no path
  std::string text;            // exactly as given, for transports

  bool operator==(const HttpsUrl&) const = default;
};

struct HostPort {
  std::string host;  // lower-cased; an IPv6 literal without brackets
  std::optional<std::uint16_t> port;

  bool operator==(const HostPort&) const = default;
};

// An image named by registry, repository and content digest: what a node pulls is exactly
// what the operator named, whatever a tag points to later.
struct DigestRef {
  std::string registry;    // host[:port] as given (podman compares it as text)
  std::string repository;  // the path below the registry, e.g. openshift-release-dev/ocp-v4.0-art-dev
  std::string digest;      // "sha256:" + 64 lower-case hex
  std::string text;        // exactly as given, for podman

  bool operator==(const DigestRef&) const = default;
};

// https://host[:port][/path][?query]; no user info, no fragment, ASCII without spaces.
Result<HttpsUrl> parse_https_url(std::string_view text);

// host[:port] or [v6]:port, no scheme and no path.
Result<HostPort> parse_host_port(std::string_view text);

// registry[:port]/repository@sha256:<64 hex> (the distribution reference grammar, with the
// registry required: a short name would be resolved by the host's registries.conf). Tags,
// with or without a digest, are refused.
Result<DigestRef> parse_digest_ref(std::string_view text);

}  // namespace nodeboot::bootstrap
