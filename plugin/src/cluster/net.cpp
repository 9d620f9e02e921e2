// Address, name, key and token syntax for cluster.yaml: small pure parsers, no I/O.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/util/base64.hpp"

namespace nodeboot::plugin::cluster {
namespace {

std::optional<unsigned> parse_decimal(std::string_view s, unsigned max) {
  // Leading zeros are refused: "010" is octal to inet_aton and decimal to others.
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// An SSH wire-format string: uint32 big-endian length, then the bytes.
std::optional<std::string_view> read_ssh_string(std::string_view& blob) {
  if (blob.size() < 4) return std::nullopt;
  std::uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len = (len << 8) | static_cast<unsigned char>(blob[static_cast<std::size_t>(i)]);
  if (blob.size() - 4 < len) return std::nullopt;
  auto s = blob.substr(4, len);
  blob.remove_prefix(4 + static_cast<std::size_t>(len));
  return s;
}

}  // namespace

std::optional<std::uint32_t> parse_ipv4(std::string_view text) {
  std::uint32_t ip = 0;
  for (int i = 0; i < 4; ++i) {
    auto dot = text.find('.');
    if ((i < 3) == (dot == std::string_view::npos)) return std::nullopt;
    auto part = parse_decimal(text.substr(0, dot), 255);
    if (!part) return std::nullopt;
    ip = (ip << 8) | *part;
    text = i < 3 ? text.substr(dot + 1) : std::string_view{};
  }
  return ip;
}

std::string format_ipv4(std::uint32_t ip) {
  return std::to_string(ip >> 24) + '.' + std::to_string((ip >> 16) & 0xff) + '.' + std::to_string((ip >> 8) & 0xff) +
         '.' + std::to_string(ip & 0xff);
}

std::optional<Cidr> parse_cidr_loose(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = parse_ipv4(text.substr(0, slash));
  auto prefix = parse_decimal(text.substr(slash + 1), 32);
  if (!ip || !prefix) return std::nullopt;
  return Cidr{*ip, static_cast<int>(*prefix)};
}

std::optional<std::string> normalise_mac(std::string_view text) {
  std::string hex;
  if (text.size() == 17 && (text[2] == ':' || text[2] == '-')) {
    char sep = text[2];
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (i % 3 == 2) {
        if (text[i] != sep) return std::nullopt;
      } else {
        hex.push_back(text[i]);
      }
    }
  } else if (text.size() == 14 && text[4] == '.' && text[9] == '.') {  // Cisco aabb.ccdd.eeff
    for (std::size_t i = 0; i < text.size(); ++i)
      if (i != 4 && i != 9) hex.push_back(text[i]);
  } else {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = 0; i < hex.size(); ++i) {
    int v = hex_value(hex[i]);
    if (v < 0) return std::nullopt;
    if (i > 0 && i % 2 == 0) out.push_back(':');
    out.push_back("0123456789abcdef"[v]);
  }
  return out;
}

bool is_dns1123_label(std::string_view s) {
  // RFC 1123 label as Kubernetes checks it (IsDNS1123Label): at most 63 characters.
  if (s.empty() || s.size() > 63) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  return std::ranges::all_of(s, [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns1123_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;  // Kubernetes' IsDNS1123Subdomain limit
  while (true) {
    auto dot = s.find('.');
    if (!is_dns1123_label(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

std::string check_ssh_public_key(std::string_view line) {
  static constexpr std::array<std::string_view, 7> known{"ssh-ed25519",
                                                         "ssh-rsa",
                                                         "ecdsa-sha2-nistp256",
                                                         "ecdsa-sha2-nistp384",
                                                         "ecdsa-sha2-nistp521",
                                                         "sk-ssh-ed25519@openssh.com",
                                                         "sk-ecdsa-sha2-nistp256@openssh.com"};
  auto ws = std::string_view(" \t");
  auto trim_left = [&](std::string_view s) {
    auto p = s.find_first_not_of(ws);
    return p == std::string_view::npos ? std::string_view{} : s.substr(p);
  };
  line = trim_left(line);
  if (line.starts_with("-----BEGIN")) return "this is a private key, which must never leave your machine";
  if (line.find('\n') != std::string_view::npos && line.find('\n') + 1 < line.size())
    return "holds more than one line; give exactly one public key";
  auto sp = line.find_first_of(ws);
  auto type = line.substr(0, sp);
  if (sp == std::string_view::npos) return "expected \"TYPE BASE64 [comment]\"";
  bool known_type = false;
  for (auto k : known) known_type = known_type || k == type;
  if (!known_type) return "unknown key type \"" + std::string(type) + "\"";
  auto rest = trim_left(line.substr(sp));
  auto b64 = rest.substr(0, rest.find_first_of(" \t\n"));
  auto blob = nodeboot::base64_decode(b64);
  if (!blob) return "the key data is not valid base64";
  std::string_view view(*blob);
  auto embedded = read_ssh_string(view);
  if (!embedded) return "the key data is truncated";
  if (*embedded != type)
    return "the key data is a \"" + std::string(*embedded) + "\" key but the line says \"" + std::string(type) + "\"";
  if (type == "ssh-ed25519") {
    auto key = read_ssh_string(view);
    if (!key || key->size() != 32 || !view.empty()) return "the ed25519 key data is not 32 bytes";  // RFC 8709
  }
  return {};
}

bool is_kubeadm_token(std::string_view s) {
  // kubeadm's bootstrap token format: [a-z0-9]{6}\.[a-z0-9]{16}
  if (s.size() != 23 || s[6] != '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (i != 6 && !is_lower_alnum(s[i])) return false;
  return true;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace nodeboot::plugin::cluster
