#include "nodeboot/plugin/cluster/generate.hpp"

#include <sys/random.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace nodeboot::plugin::cluster {
namespace fs = std::filesystem;
namespace {

std::string base64_encode(std::string_view in) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) n |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(table[(n >> 18) & 63]);
    out.push_back(table[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? table[(n >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? table[n & 63] : '=');
  }
  return out;
}

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
          auto v = (*this)(it->second, path + "." + key);
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

Result<std::string> read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return fail(ErrorKind::io, "cannot read " + p.string() + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The secret files (anything holding the token) and the rest alike: owner-only.
Result<void> write_private(const fs::path& p, std::string_view content) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) return fail(ErrorKind::io, "cannot create " + p.parent_path().string() + ": " + ec.message());
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return fail(ErrorKind::io, "cannot write " + tmp.string() + ": " + std::strerror(errno));
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, ec);
    out << content;
    if (!out.flush()) return fail(ErrorKind::io, "cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  fs::rename(tmp, p, ec);
  if (ec) return fail(ErrorKind::io, "cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

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
    if (name == "KUBEADM_TOKEN" && vars.kubeadm_token) {
      out.append(vars.kubeadm_token->reveal());
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

Secret generate_kubeadm_token() {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  // 252 = 7 * 36: bytes at or above it are redrawn so every character is equally likely.
  static constexpr unsigned char limit = 252;
  std::string token;
  token.reserve(23);
  unsigned char buf[64];
  std::size_t have = 0, used = 0;
  while (token.size() < 23) {
    if (token.size() == 6) {
      token.push_back('.');
      continue;
    }
    if (used == have) {
      auto n = ::getrandom(buf, sizeof buf, 0);
      if (n <= 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
      }
      have = static_cast<std::size_t>(n);
      used = 0;
    }
    unsigned char b = buf[used++];
    if (b < limit) token.push_back(alphabet[b % alphabet.size()]);
  }
  std::memset(buf, 0, sizeof buf);
  return Secret(std::move(token));
}

Result<GenerateReport> generate(const ClusterConfig& config, const GenerateOptions& options) {
  GenerateReport report;
  const fs::path out_dir = fs::absolute(options.out_dir);

  // The token: cluster.yaml's, else the one an earlier run wrote here (nodes already
  // installed must keep matching), else a fresh one.
  Secret token = config.kubeadm_token;
  const fs::path token_file = out_dir / "kubeadm-token";
  if (token.empty() && fs::exists(token_file)) {
    auto text = read_text(token_file);
    if (!text) return std::unexpected(text.error());
    while (!text->empty() && std::isspace(static_cast<unsigned char>(text->back()))) text->pop_back();
    if (!is_kubeadm_token(*text))
      return fail(ErrorKind::invalid_input, token_file.string() + " does not hold a kubeadm token; delete it to generate a new one");
    token = Secret(std::move(*text));
    report.token_reused = true;
  }
  if (token.empty()) {
    token = generate_kubeadm_token();
    report.token_generated = true;
  }

  auto load = [&](const std::string& name) -> Result<std::pair<std::string, std::string>> {
    if (options.templates_dir) {
      auto p = *options.templates_dir / name;
      if (fs::exists(p)) {
        auto text = read_text(p);
        if (!text) return std::unexpected(text.error());
        return std::pair{std::move(*text), p.string()};
      }
    }
    return std::pair{std::string(builtin_templates().at(name)), "built-in " + name};
  };

  auto net = *parse_cidr_loose(config.node_network);
  Variables vars;
  vars.kubeadm_token = &token;
  vars.values = {
      {"BOOTSTRAP_IP", config.bootstrap_ip},
      {"CLUSTER_NAME", config.name},
      {"CONTROL_PLANE_VIP", config.control_plane_vip},
      {"K8S_VERSION", config.k8s_version},
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
  for (const auto* k : {"NODE_NAME", "NODE_IP", "NODE_MAC", "NODE_ROLE"}) vars.values.erase(k);
  auto conf = load("dnsmasq.conf.tmpl");
  if (!conf) return std::unexpected(conf.error());
  files.emplace_back("dnsmasq.conf", substitute(conf->first, vars));
  if (report.token_generated) files.emplace_back("kubeadm-token", token.reveal() + "\n");

  for (const auto& [rel, content] : files) {
    auto w = write_private(out_dir / rel, content);
    if (!w) return std::unexpected(w.error());
    report.files.push_back(rel);
  }

  // dnsmasq drops root for "nobody" before it opens the TFTP root: every folder above it
  // must be searchable by others.
  std::error_code ec;
  for (auto p = out_dir; p != p.root_path(); p = p.parent_path()) {
    auto perms = fs::status(p, ec).permissions();
    if (!ec && (perms & fs::perms::others_exec) == fs::perms::none) {
      report.notes.push_back(p.string() + " is not searchable by other users, so dnsmasq (which runs as nobody) cannot serve " +
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
      report.notes.push_back("no " + src.string() + ": install Debian's ipxe package so firmware PXE can chainload iPXE");
    }
  }
  return report;
}

}  // namespace nodeboot::plugin::cluster
