#pragma once

// cluster.yaml → a Matchbox data directory (profiles/, groups/, ignition/), dnsmasq.conf and
// a TFTP root, rendered from templates (built in, each overridable from --templates).
//
// Two stages, as Typhoon does: a node's MAC first matches its install group, whose profile
// PXE-boots Flatcar with flatcar.config.url pointing back at Matchbox; that live system
// runs flatcar-install with the node's installed Ignition (/ignition?mac=..&os=installed,
// matched by the installed group) and reboots from disk.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::plugin::cluster {

// Matchbox's HTTP port (seed 002: "Port 8080 Matchbox HTTP").
inline constexpr int matchbox_port = 8080;

// Template variables: seed 002's names (BOOTSTRAP_IP ... NODE_ROLE) plus nodeboot's
// additions (MATCHBOX_URL, FLATCAR_CHANNEL, NODE_NETWORK, NODE_NETWORK_ADDRESS,
// NODE_NETMASK, TFTP_ROOT, INSTALL_DISK, VIP_INTERFACE, KUBE_VIP_IMAGE, CNI_NAME,
// CNI_VERSION, CNI_URL, CNI_SHA256, CNI_POD_SUBNET_SED, UPLOAD_URL, UPLOAD_CA, and the
// secrets CERTIFICATE_KEY (kubeadm's key for sharing the control-plane certificates with
// joining controllers) and UPLOAD_TOKEN). Secrets are held apart.
struct Variables {
  std::map<std::string, std::string, std::less<>> values;
  std::map<std::string, const Secret*, std::less<>> secrets;  // KUBEADM_TOKEN, CERTIFICATE_KEY
};

// Replaces ${NAME} for every known NAME; anything else (iPXE's ${mac:hexhyp}, shell
// variables) is left as written.
std::string substitute(std::string_view text, const Variables& vars);

// A YAML (or JSON) template → JSON, substituting inside each string value after parsing,
// so no value can change the document's structure. For Ignition, files'
// `contents.inline` becomes a data URL as Butane does. `origin` names the template in errors.
Result<nlohmann::json> render_json_template(std::string_view text, const Variables& vars, const std::string& origin,
                                            bool ignition);

// The built-in templates, by relative path (e.g. "ignition/worker.yaml.tmpl").
const std::map<std::string, std::string_view>& builtin_templates();

// A kubeadm bootstrap token, [a-z0-9]{6}.[a-z0-9]{16}, from the kernel's CSPRNG with
// rejection sampling (no modulo bias).
Secret generate_kubeadm_token();
// kubeadm's --certificate-key: 32 random bytes as 64 lowercase hex digits.
Secret generate_certificate_key();
// The kubeconfig upload's single-use token: 32 random bytes as 64 lowercase hex digits.
Secret generate_upload_token();
// The sed expression the first controller runs on the pinned CNI manifest to write
// pod_subnet into it (empty for Cni::none).
std::string cni_pod_subnet_sed(Cni cni, const std::string& pod_subnet);

struct GenerateOptions {
  std::filesystem::path out_dir;
  std::optional<std::filesystem::path> templates_dir;
  std::filesystem::path ipxe_dir = "/usr/lib/ipxe";  // Debian's ipxe package
};

// Where a secret came from; generated ones are saved (0600) in the output directory
// and reused by the next generate there.
enum class SecretOrigin { cluster_yaml, reused, generated };

struct GenerateReport {
  std::vector<std::filesystem::path> files;  // relative to out_dir
  SecretOrigin token = SecretOrigin::generated;
  SecretOrigin certificate_key = SecretOrigin::generated;
  SecretOrigin upload_token = SecretOrigin::generated;
  std::vector<std::string> notes;  // warnings for the operator (e.g. no iPXE binaries)
};

// Renders everything in memory first; writes nothing when any template fails.
Result<GenerateReport> generate(const ClusterConfig& config, const GenerateOptions& options);

}  // namespace nodeboot::plugin::cluster
