#pragma once

// The bootstrap Secret (DESIGN.md, seed 003): `nodeboot-system/nodeboot-<node>`, type
// `nodeboot.io/bootstrap`, label `nodeboot.io/node=<node>`.
//
//   os              rhcos | rhel
//   rhcos           ignition-url (https), ignition-token, ca.crt (PEM CA); optional
//                   mcd-image (registry/repo@sha256:<64 hex>: the image the agent extracts
//                   machine-config-daemon from; without it the host's own binary is used)
//   rhel            payload-url (https), payload-token, worker-id, cluster-id, region;
//                   optional payload-sha256 (64 hex), mirrors (comma-separated https URLs),
//                   ca.crt (PEM CA, for a payload server behind a private CA)
//   both, optional  registry (host[:port]), report-url (https) + report-token (together)
//
// One parser serves three readers: `kubectl nodeboot start` (before it touches the
// cluster), nodeboot-webhook's /validate/secrets, and nodeboot-agent. Every problem is
// reported at once, each naming its key and the fix; no message ever holds a value.

#include <chrono>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/bootstrap/url.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::bootstrap {

// A Secret's decoded data. Every value is held as a Secret until the schema says which
// ones are not confidential.
using SecretData = std::map<std::string, Secret, std::less<>>;

struct Problem {
  std::string key;      // the Secret key (or "metadata.name", "type", ...) at fault
  std::string message;  // what is wrong and how to fix it; never the value

  bool operator==(const Problem&) const = default;
};
using Problems = std::vector<Problem>;

// "<key>: <message>" one per line, for CLI errors and webhook denials.
std::string describe(const Problems& problems);

enum class Os { rhcos, rhel };
std::string_view to_string(Os os);

struct Rhcos {
  HttpsUrl ignition_url;
  Secret ignition_token;
  std::string ca_pem;
  // Where machine-config-daemon comes from (seed 003: "extracts the machine-config-daemon
  // from the release image"). Unset: a machine-config-daemon already on the host's PATH,
  // as on an install that put one there; RHCOS itself does not ship one.
  std::optional<DigestRef> mcd_image{};
};

struct Rhel {
  HttpsUrl payload_url;
  Secret payload_token;
  std::string worker_id;
  std::string cluster_id;
  std::string region;
  std::optional<std::string> payload_sha256;  // lower-case hex
  std::vector<HttpsUrl> mirrors;
  std::optional<std::string> ca_pem;
};

struct Report {
  HttpsUrl url;
  Secret token;
};

// The typed view of a valid bootstrap Secret: exactly one of rhcos / rhel is set, matching os.
struct BootstrapSpec {
  Os os = Os::rhcos;
  std::optional<Rhcos> rhcos;
  std::optional<Rhel> rhel;
  std::optional<HostPort> registry;
  std::optional<Report> report;
};

// Validates `data` against the schema; ca.crt validity is judged at `now`.
std::expected<BootstrapSpec, Problems> parse(
    const SecretData& data, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The data a Secret needs to carry `spec` (the inverse of parse).
SecretData to_data(const BootstrapSpec& spec);

// --- The Secret object around the data ---

std::string secret_name(std::string_view node);  // "nodeboot-<node>"

// The Secret to create for `node`: namespace, name, type, label and base64 data.
nlohmann::json make_secret(std::string_view node, const SecretData& data);

// `data` (base64) merged with `stringData` (which wins, as in the API server) of a Secret
// object; undecodable entries and non-string values are problems naming the key.
std::expected<SecretData, Problems> decode_data(const nlohmann::json& secret);

// Name, namespace, type and node label of a Secret object; messages may name the node
// (not confidential) but never data.
Problems check_metadata(const nlohmann::json& secret);

// Everything above at once: metadata problems plus data problems, or the spec.
std::expected<BootstrapSpec, Problems> parse_secret(
    const nlohmann::json& secret, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace nodeboot::bootstrap
