#include "nodeboot/plugin/cluster/generate.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "nodeboot/plugin/cluster/pins.hpp"
#include "nodeboot/plugin/cluster/upload.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/file.hpp"
#include "nodeboot/util/pki.hpp"
#include "nodeboot/util/private_file.hpp"
#include "nodeboot/util/random.hpp"

namespace nodeboot::plugin::cluster {
namespace fs = std::filesystem;
namespace {

// Plain (unquoted) YAML scalars keep their YAML types in JSON; quoted ones stay strings.
nlohmann::json scalar_to_json(const YAML::Node& n, std::string text) {
  if (n.Tag() != "?") return text;  // "!" marks a quoted scalar
  if (text.empty() || text == "~" || text == "null") return nullptr;
  if (text == "true") return true;
  if (text == "false") return false;
  static const std::regex decimal("-?(0|[1-9][0-9]{0,17})"), octal("0o?([0-7]{1,12})");
  std::smatch m;
  if (std::regex_match(text, decimal)) return std::stoll(text);
  // File modes: YAML 1.1 (0644) and 1.2 (0o644) octal, as Butane writes them.
  if (std::regex_match(text, m, octal)) return std::stoll(m[1].str(), nullptr, 8);
  return text;
}

struct Converter {
  const Variables& vars;
  const std::string& origin;
  bool ignition;

  Result<nlohmann::json> operator()(const YAML::Node& n, const std::string& path) const {
    switch (n.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
      case YAML::NodeType::Scalar:
        return scalar_to_json(n, substitute(n.Scalar(), vars));
      case YAML::NodeType::Sequence: {
        auto arr = nlohmann::json::array();
        for (std::size_t i = 0; i < n.size(); ++i) {
          auto v = (*this)(n[i], path + "[" + std::to_string(i) + "]");
          if (!v) return v;
          arr.push_back(std::move(*v));
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        auto obj = nlohmann::json::object();
        for (auto it = n.begin(); it != n.end(); ++it) {
          auto key = it->first.as<std::string>("");
          auto v = (*this)(it->second, std::string(path).append(".").append(key));
          if (!v) return v;
          obj[key] = std::move(*v);
        }
        // Butane's convenience: contents.inline → a data URL Ignition understands.
        if (ignition && obj.contains("inline") && path.ends_with(".contents")) {
          if (!obj["inline"].is_string())
            return fail(ErrorKind::invalid_input, origin + ": " + path + ".inline must be a string");
          obj["source"] = "data:;base64," + base64_encode(obj["inline"].get<std::string>());
          obj.erase("inline");
        }
        return obj;
      }
    }
    return nullptr;
  }
};

std::string netmask_text(const Cidr& c) { return format_ipv4(c.mask()); }

}  // namespace

std::string substitute(std::string_view text, const Variables& vars) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto start = text.find("${", i);
    if (start == std::string_view::npos) break;
    auto end = text.find('}', start + 2);
    if (end == std::string_view::npos) break;
    auto name = text.substr(start + 2, end - start - 2);
    out.append(text.substr(i, start - i));
    if (auto sec = vars.secrets.find(name); sec != vars.secrets.end() && sec->second) {
      out.append(sec->second->reveal());
    } else if (auto it = vars.values.find(name); it != vars.values.end()) {
      out.append(it->second);
    } else {
      out.append(text.substr(start, end - start + 1));
    }
    i = end + 1;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

Result<nlohmann::json> render_json_template(std::string_view text, const Variables& vars, const std::string& origin,
                                            bool ignition) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::invalid_input, origin + ":" + std::to_string(e.mark.line + 1) + ":" +
                                              std::to_string(e.mark.column + 1) + ": not valid YAML or JSON: " + e.msg);
  }
  if (!root.IsMap()) return fail(ErrorKind::invalid_input, origin + ": must be a mapping (a JSON object)");
  return Converter{vars, origin, ignition}(root, "");
}

namespace {

// cluster.yaml's value, else the one an earlier run saved in `file` (nodes already
// installed must keep matching), else a fresh one saved there.
Result<Secret> persistent_secret(Secret given, const fs::path& file, bool (*valid)(std::string_view), Secret (*make)(),
                                 SecretOrigin& origin) {
  if (!given.empty()) {
    origin = SecretOrigin::cluster_yaml;
    return given;
  }
  if (fs::exists(file)) {
    auto text = read_file(file);
    if (!text) return std::unexpected(text.error());
    while (!text->empty() && std::isspace(static_cast<unsigned char>(text->back()))) text->pop_back();
    if (!valid(*text))
      return fail(ErrorKind::invalid_input,
                  file.string() + " is not what nodeboot wrote there; delete it to generate a new one");
    origin = SecretOrigin::reused;
    return Secret(std::move(*text));
  }
  origin = SecretOrigin::generated;
  return make();
}

}  // namespace

Secret generate_kubeadm_token() {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  // 252 = 7 * 36: bytes at or above it are redrawn so every character is equally likely.
  static constexpr unsigned char limit = 252;
  std::string token;
  token.reserve(23);
  unsigned char buf[64];
  std::size_t used = sizeof buf;
  while (token.size() < 23) {
    if (token.size() == 6) {
      token.push_back('.');
      continue;
    }
    if (used == sizeof buf) {
      random_bytes(buf);
      used = 0;
    }
    unsigned char b = buf[used++];
    if (b < limit) token.push_back(alphabet[b % alphabet.size()]);
  }
  std::memset(buf, 0, sizeof buf);
  return Secret(std::move(token));
}

// kubeadm's certificate key: AES-256, 32 bytes as 64 hex digits.
Secret generate_certificate_key() { return Secret(random_hex(32)); }

// 32 bytes (256 bits) as 64 hex digits: the upload endpoint's single-use bearer token.
Secret generate_upload_token() { return Secret(random_hex(32)); }

namespace {

// The endpoint's certificate: reused while ca.crt, tls.crt and tls.key exist (installed
// first controllers carry the CA), else a new CA signs a new serving certificate for the
// bootstrap IP (and loopback, for a local client). The CA's key is never written: nothing
// else can be signed with it.
Result<std::optional<KeyPair>> upload_certificate(const UploadFiles& f, const std::string& bootstrap_ip,
                                                  std::string& ca_pem) {
  if (fs::exists(f.ca()) && fs::exists(f.cert()) && fs::exists(f.key())) {
    auto ca = read_file(f.ca());
    if (!ca) return std::unexpected(ca.error());
    ca_pem = std::move(*ca);
    return std::optional<KeyPair>{};
  }
  const auto now = std::chrono::system_clock::now();
  // A bootstrap takes hours; a year covers a rerun months later without new Ignition.
  const auto until = now + std::chrono::hours(24 * 365);
  CertificateRequest ca_req{"nodeboot bootstrap upload CA", {}, {}, true, now - std::chrono::minutes(5), until};
  auto ca = issue_certificate(ca_req, nullptr);
  if (!ca) return std::unexpected(ca.error());
  CertificateRequest leaf{"nodeboot bootstrap upload",   {"localhost"}, {bootstrap_ip, "127.0.0.1"}, false,
                          now - std::chrono::minutes(5), until};
  auto cert = issue_certificate(leaf, &*ca);
  if (!cert) return std::unexpected(cert.error());
  ca_pem = ca->cert_pem;
  return std::optional<KeyPair>{std::move(*cert)};
}

// For `cluster.cni: none` the first controller's CNI file and unit go, whatever a
// (possibly user-supplied) template holds.
void drop_cni(nlohmann::json& ign) {
  auto erase_if = [](nlohmann::json& list, const char* key, auto pred) {
    if (!list.is_array()) return;
    nlohmann::json kept = nlohmann::json::array();
    for (auto& e : list)
      if (!pred(e.value(key, std::string()))) kept.push_back(std::move(e));
    list = std::move(kept);
  };
  if (ign.contains("storage") && ign["storage"].contains("files"))
    erase_if(ign["storage"]["files"], "path", [](const std::string& p) { return p.starts_with("/opt/nodeboot/cni/"); });
  if (ign.contains("systemd") && ign["systemd"].contains("units"))
    erase_if(ign["systemd"]["units"], "name", [](const std::string& n) { return n == "nodeboot-cni.service"; });
}

// The sed expression that writes pod_subnet into the CNI's manifest (checked by the apply
// script: it refuses a result without the subnet).
}  // namespace

std::string cni_pod_subnet_sed(Cni cni, const std::string& pod_subnet) {
  switch (cni) {
    case Cni::flannel:  // net-conf.json: "Network": "10.244.0.0/16"
      return R"(s#"Network": "10.244.0.0/16"#"Network": ")" + pod_subnet + R"("#)";
    case Cni::calico:  // calico-node's commented CALICO_IPV4POOL_CIDR, uncommented
      return R"(s|# - name: CALICO_IPV4POOL_CIDR|- name: CALICO_IPV4POOL_CIDR|;s|#   value: "192.168.0.0/16"|  value: ")" +
             pod_subnet + R"("|)";
    case Cni::none:
      break;
  }
  return "";
}

Result<GenerateReport> generate(const ClusterConfig& config, const GenerateOptions& options) {
  GenerateReport report;
  const fs::path out_dir = fs::absolute(options.out_dir);

  auto token = persistent_secret(config.kubeadm_token, out_dir / "kubeadm-token", is_kubeadm_token,
                                 generate_kubeadm_token, report.token);
  if (!token) return std::unexpected(token.error());
  auto cert_key = persistent_secret(Secret(), out_dir / "certificate-key", is_hex64, generate_certificate_key,
                                    report.certificate_key);
  if (!cert_key) return std::unexpected(cert_key.error());
  const auto upload = UploadFiles::in(out_dir);
  auto upload_token = persistent_secret(Secret(), upload.token(), is_hex64, generate_upload_token, report.upload_token);
  if (!upload_token) return std::unexpected(upload_token.error());
  std::string upload_ca;
  auto upload_cert = upload_certificate(upload, config.bootstrap_ip, upload_ca);
  if (!upload_cert) return std::unexpected(upload_cert.error());
  const PinnedManifest& cni = config.cni == Cni::calico ? calico_manifest : flannel_manifest;

  auto load = [&](const std::string& name) -> Result<std::pair<std::string, std::string>> {
    if (options.templates_dir) {
      auto p = *options.templates_dir / name;
      if (fs::exists(p)) {
        auto text = read_file(p);
        if (!text) return std::unexpected(text.error());
        return std::pair{std::move(*text), p.string()};
      }
    }
    return std::pair{std::string(builtin_templates().at(name)), "built-in " + name};
  };

  auto net = *parse_cidr_loose(config.node_network);
  Variables vars;
  vars.secrets = {{"KUBEADM_TOKEN", &*token}, {"CERTIFICATE_KEY", &*cert_key}, {"UPLOAD_TOKEN", &*upload_token}};
  vars.values = {
      {"BOOTSTRAP_IP", config.bootstrap_ip},
      {"CLUSTER_NAME", config.name},
      {"CONTROL_PLANE_VIP", config.control_plane_vip},
      {"K8S_VERSION", config.k8s_version},
      {"K8S_SYSEXT_SHA256", config.kubernetes_sysext_sha256},
      {"FLATCAR_VERSION", config.flatcar_version},
      {"FLATCAR_CHANNEL", config.flatcar_channel},
      {"POD_SUBNET", config.pod_subnet},
      {"SERVICE_SUBNET", config.service_subnet},
      {"SSH_KEY", config.ssh_authorized_key},
      {"MATCHBOX_URL", "http://" + config.bootstrap_ip + ":" + std::to_string(matchbox_port)},
      {"NODE_NETWORK", config.node_network},
      {"NODE_NETWORK_ADDRESS", format_ipv4(net.base)},
      {"NODE_NETMASK", netmask_text(net)},
      {"TFTP_ROOT", (out_dir / "tftp").string()},
      {"VIP_INTERFACE", config.vip_interface},
      {"KUBE_VIP_IMAGE", config.kube_vip_image},
      {"CNI_NAME", std::string(cni_name(config.cni))},
      {"CNI_VERSION", std::string(cni.version)},
      {"CNI_URL", std::string(cni.url)},
      {"CNI_SHA256", std::string(cni.sha256)},
      {"CNI_POD_SUBNET_SED", cni_pod_subnet_sed(config.cni, config.pod_subnet)},
      {"UPLOAD_URL", "https://" + config.bootstrap_ip + ":" + std::to_string(upload_port) + std::string(upload_path)},
      {"UPLOAD_CA", upload_ca},
  };

  std::vector<std::pair<fs::path, std::string>> files;  // rendered in memory first
  auto render = [&](const std::string& tmpl, bool ignition) -> Result<nlohmann::json> {
    auto src = load(tmpl);
    if (!src) return std::unexpected(src.error());
    return render_json_template(src->first, vars, src->second, ignition);
  };
  const std::string bootstrap_node = config.bootstrap_controller().name;
  for (const auto& node : config.nodes) {
    vars.values["NODE_NAME"] = node.name;
    vars.values["NODE_IP"] = node.ip;
    vars.values["NODE_MAC"] = node.mac;
    vars.values["NODE_ROLE"] = node.role;
    vars.values["INSTALL_DISK"] = node.install_disk;
    const std::string role_tmpl = node.name == bootstrap_node ? "bootstrap" : node.role;
    const std::string install_id = "install-" + node.name;

    auto install_ign = render("ignition/install.yaml.tmpl", true);
    auto node_ign = render("ignition/" + role_tmpl + ".yaml.tmpl", true);
    auto install_profile = render("profiles/install.json.tmpl", false);
    auto node_profile = render("profiles/" + role_tmpl + ".json.tmpl", false);
    auto install_group = render("groups/install.json.tmpl", false);
    auto node_group = render("groups/node.json.tmpl", false);
    for (auto* r : {&install_ign, &node_ign, &install_profile, &node_profile, &install_group, &node_group})
      if (!*r) return std::unexpected(r->error());
    if (config.cni == Cni::none) drop_cni(*node_ign);

    // Ids and links are the generator's, whatever a template says: Matchbox needs group id
    // == file name, and each group must reach its own profile and Ignition.
    (*install_profile)["id"] = install_id;
    (*install_profile)["ignition_id"] = install_id + ".ign";
    (*node_profile)["id"] = node.name;
    (*node_profile)["ignition_id"] = node.name + ".ign";
    (*install_group)["id"] = install_id;
    (*install_group)["profile"] = install_id;
    (*install_group)["selector"] = {{"mac", node.mac}};
    (*node_group)["id"] = node.name;
    (*node_group)["profile"] = node.name;
    (*node_group)["selector"] = {{"mac", node.mac}, {"os", "installed"}};

    files.emplace_back(fs::path("ignition") / (install_id + ".ign"), install_ign->dump(2) + "\n");
    files.emplace_back(fs::path("ignition") / (node.name + ".ign"), node_ign->dump(2) + "\n");
    files.emplace_back(fs::path("profiles") / (install_id + ".json"), install_profile->dump(2) + "\n");
    files.emplace_back(fs::path("profiles") / (node.name + ".json"), node_profile->dump(2) + "\n");
    files.emplace_back(fs::path("groups") / (install_id + ".json"), install_group->dump(2) + "\n");
    files.emplace_back(fs::path("groups") / (node.name + ".json"), node_group->dump(2) + "\n");
  }
  for (const auto* k : {"NODE_NAME", "NODE_IP", "NODE_MAC", "NODE_ROLE", "INSTALL_DISK"}) vars.values.erase(k);
  auto conf = load("dnsmasq.conf.tmpl");
  if (!conf) return std::unexpected(conf.error());
  files.emplace_back("dnsmasq.conf", substitute(conf->first, vars));
  if (report.token == SecretOrigin::generated) files.emplace_back("kubeadm-token", token->reveal() + "\n");
  if (report.certificate_key == SecretOrigin::generated)
    files.emplace_back("certificate-key", cert_key->reveal() + "\n");
  if (report.upload_token == SecretOrigin::generated) files.emplace_back("upload/token", upload_token->reveal() + "\n");
  if (*upload_cert) {
    files.emplace_back("upload/ca.crt", upload_ca);
    files.emplace_back("upload/tls.crt", (*upload_cert)->cert_pem);
    files.emplace_back("upload/tls.key", (*upload_cert)->key_pem.reveal());
  }

  for (const auto& [rel, content] : files) {
    // The secret files (anything holding a token or key) and the rest alike: owner-only.
    auto w = replace_private_file(out_dir / rel, content);
    if (!w) return std::unexpected(w.error());
    report.files.push_back(rel);
  }

  // dnsmasq drops root for "nobody" before it opens the TFTP root: every folder above it
  // must be searchable by others.
  std::error_code ec;
  for (auto p = out_dir; p != p.root_path(); p = p.parent_path()) {
    auto perms = fs::status(p, ec).permissions();
    if (!ec && (perms & fs::perms::others_exec) == fs::perms::none) {
      report.notes.push_back(p.string() +
                             " is not searchable by other users, so dnsmasq (which runs as nobody) cannot serve " +
                             (out_dir / "tftp").string() + ": chmod o+x " + p.string() + " or generate elsewhere");
      break;
    }
  }

  // TFTP root: Debian's iPXE builds for firmware PXE to chainload (BIOS and UEFI).
  fs::create_directories(out_dir / "tftp", ec);
  if (ec) return fail(ErrorKind::io, "cannot create " + (out_dir / "tftp").string() + ": " + ec.message());
  for (const auto* name : {"undionly.kpxe", "ipxe.efi"}) {
    auto src = options.ipxe_dir / name;
    if (fs::exists(src)) {
      fs::copy_file(src, out_dir / "tftp" / name, fs::copy_options::overwrite_existing, ec);
      if (ec) return fail(ErrorKind::io, "cannot copy " + src.string() + ": " + ec.message());
      report.files.push_back(fs::path("tftp") / name);
    } else {
      report.notes.push_back("no " + src.string() +
                             ": install Debian's ipxe package so firmware PXE can chainload iPXE");
    }
  }
  return report;
}

}  // namespace nodeboot::plugin::cluster
