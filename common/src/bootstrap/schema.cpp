#include "nodeboot/bootstrap/schema.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "ascii.hpp"
#include "nodeboot/bootstrap/ca.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/base64.hpp"

namespace nodeboot::bootstrap {
namespace key = names::key;
namespace {

constexpr std::array common_keys{key::os, key::registry, key::report_url, key::report_token};
constexpr std::array rhcos_keys{key::ignition_url, key::ignition_token, key::ca_crt, key::mcd_image};
constexpr std::array rhel_keys{key::payload_url, key::payload_token,  key::worker_id, key::cluster_id,
                               key::region,      key::payload_sha256, key::mirrors,   key::ca_crt};
constexpr std::array rhcos_required{key::ignition_url, key::ignition_token, key::ca_crt};
constexpr std::array rhel_required{key::payload_url, key::payload_token, key::worker_id, key::cluster_id, key::region};

// 128: IBM Cloud worker ids (the longest ids seen in seed 003's world) stay well below it.
constexpr std::size_t max_id_length = 128;
// 63: a region is a DNS label (us-south, eu-de).
constexpr std::size_t max_region_length = 63;
constexpr std::size_t sha256_hex_length = 64;

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& keys, std::string_view k) {
  return std::ranges::find(keys, k) != keys.end();
}

std::string known_keys() {
  std::string out;
  for (auto k : {key::os, key::ignition_url, key::ignition_token, key::ca_crt, key::mcd_image, key::payload_url,
                 key::payload_token, key::worker_id, key::cluster_id, key::region, key::payload_sha256, key::mirrors,
                 key::registry, key::report_url, key::report_token}) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// Collects problems while reading values out of the data.
class Checker {
 public:
  Checker(const SecretData& data, std::chrono::system_clock::time_point now) : data_(data), now_(now) {}

  Problems& problems() { return problems_; }

  void add(std::string_view k, std::string message) { problems_.push_back({std::string(k), std::move(message)}); }

  const std::string* get(std::string_view k) const {
    const auto it = data_.find(k);
    return it == data_.end() ? nullptr : &it->second.reveal();
  }

  const std::string* require(std::string_view k, std::string_view os) {
    const auto* v = get(k);
    if (!v) add(k, "is missing; os " + std::string(os) + " needs it");
    return v;
  }

  // A present value through `parse` (text → Result<T>); its error becomes the key's problem.
  template <typename Parse>
  auto parsed(std::string_view k, Parse parse)
      -> std::optional<typename decltype(parse(std::string_view()))::value_type> {
    const auto* v = get(k);
    if (!v) return std::nullopt;
    auto result = parse(*v);
    if (!result) {
      add(k, result.error().message);
      return std::nullopt;
    }
    return std::move(*result);
  }

  std::optional<HttpsUrl> url(std::string_view k) { return parsed(k, parse_https_url); }

  std::optional<Secret> token(std::string_view k) {
    const auto* v = get(k);
    if (!v) return std::nullopt;
    if (v->empty()) {
      add(k, "is empty; give the token");
      return std::nullopt;
    }
    if (std::ranges::any_of(*v, [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
      add(k,
          "contains whitespace or control characters (often a trailing newline from echo); "
          "remove them, e.g. write the file with printf '%s' or echo -n");
      return std::nullopt;
    }
    return Secret(*v);
  }

  std::optional<std::string> id(std::string_view k, std::size_t max_length, bool dns_label) {
    const auto* v = get(k);
    if (!v) return std::nullopt;
    const auto inner_ok = [&](char c) {
      return dns_label ? (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
                       : is_alnum(c) || c == '.' || c == '_' || c == '-';
    };
    const auto edge_ok = [&](char c) {
      return dns_label ? (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') : is_alnum(c);
    };
    const bool ok = !v->empty() && v->size() <= max_length && std::ranges::all_of(*v, inner_ok) &&
                    edge_ok(v->front()) && edge_ok(v->back());
    if (!ok) {
      add(k, dns_label ? "must be 1-" + std::to_string(max_length) +
                             " lower-case letters, digits and '-', starting and ending with a letter or digit "
                             "(e.g. us-south)"
                       : "must be 1-" + std::to_string(max_length) +
                             " letters, digits, '.', '_' and '-', starting and ending with a letter or digit "
                             "(check for a trailing newline)");
      return std::nullopt;
    }
    return *v;
  }

  std::optional<std::string> ca(std::string_view k) {
    const auto* v = get(k);
    if (!v) return std::nullopt;
    const auto defects = check_ca_bundle(*v, now_);
    for (const auto& d : defects) add(k, d);
    return defects.empty() ? std::optional(*v) : std::nullopt;
  }

  std::optional<std::string> sha256(std::string_view k) {
    const auto* v = get(k);
    if (!v) return std::nullopt;
    if (v->size() != sha256_hex_length || !std::ranges::all_of(*v, is_hex)) {
      add(k, "must be exactly 64 hexadecimal characters (the output of sha256sum, without the file name or a newline)");
      return std::nullopt;
    }
    std::string out = *v;
    std::ranges::transform(out, out.begin(),
                           [](char c) { return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c; });
    return out;
  }

  std::optional<std::vector<HttpsUrl>> url_list(std::string_view k) {
    const auto* v = get(k);
    if (!v) return std::nullopt;
    std::vector<HttpsUrl> urls;
    bool ok = true;
    std::size_t start = 0;
    for (int entry = 1; start <= v->size(); ++entry) {
      const auto comma = std::min(v->find(',', start), v->size());
      std::string_view item(v->data() + start, comma - start);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      const std::string where = "entry " + std::to_string(entry) + " ";
      if (item.empty()) {
        add(k, where + "is empty; list https URLs separated by single commas, without a trailing comma");
        ok = false;
      } else if (auto parsed = parse_https_url(item)) {
        urls.push_back(std::move(*parsed));
      } else {
        add(k, where + parsed.error().message);
        ok = false;
      }
      start = comma + 1;
    }
    return ok ? std::optional(std::move(urls)) : std::nullopt;
  }

 private:
  const SecretData& data_;
  std::chrono::system_clock::time_point now_;
  Problems problems_;
};

}  // namespace

std::string describe(const Problems& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.key + ": " + p.message;
  }
  return out;
}

std::string_view to_string(Os os) { return os == Os::rhcos ? "rhcos" : "rhel"; }

std::expected<BootstrapSpec, Problems> parse(const SecretData& data, std::chrono::system_clock::time_point now) {
  Checker c(data, now);
  std::optional<Os> os;
  if (const auto* v = c.get(key::os); !v) {
    c.add(key::os, R"(is missing; set it to "rhcos" or "rhel")");
  } else if (*v == "rhcos") {
    os = Os::rhcos;
  } else if (*v == "rhel") {
    os = Os::rhel;
  } else {
    c.add(key::os, R"(must be "rhcos" or "rhel" (lower case, no trailing newline))");
  }

  for (const auto& [k, value] : data) {
    const bool known = contains(common_keys, k) || contains(rhcos_keys, k) || contains(rhel_keys, k);
    if (!known) {
      c.add(k, "is not a bootstrap Secret key; remove it or fix its spelling (keys: " + known_keys() + ")");
    } else if (os == Os::rhcos && !contains(common_keys, k) && !contains(rhcos_keys, k)) {
      c.add(k, "applies only when os is rhel; remove it");
    } else if (os == Os::rhel && !contains(common_keys, k) && !contains(rhel_keys, k)) {
      c.add(k, "applies only when os is rhcos; remove it");
    }
  }
  if (os == Os::rhcos)
    for (auto k : rhcos_required) c.require(k, "rhcos");
  if (os == Os::rhel)
    for (auto k : rhel_required) c.require(k, "rhel");

  // Every present key is checked for its form even when os is wrong, so one round trip
  // shows every problem.
  auto ignition_url = c.url(key::ignition_url);
  auto ignition_token = c.token(key::ignition_token);
  auto ca = c.ca(key::ca_crt);
  auto mcd_image = c.parsed(key::mcd_image, parse_digest_ref);
  auto payload_url = c.url(key::payload_url);
  auto payload_token = c.token(key::payload_token);
  auto worker_id = c.id(key::worker_id, max_id_length, false);
  auto cluster_id = c.id(key::cluster_id, max_id_length, false);
  auto region = c.id(key::region, max_region_length, true);
  auto sha = c.sha256(key::payload_sha256);
  auto mirrors = c.url_list(key::mirrors);
  auto report_url = c.url(key::report_url);
  auto report_token = c.token(key::report_token);

  auto registry = c.parsed(key::registry, parse_host_port);
  const bool has_report_url = c.get(key::report_url) != nullptr;
  const bool has_report_token = c.get(key::report_token) != nullptr;
  if (has_report_url && !has_report_token)
    c.add(key::report_token,
          "is missing; report-url and report-token go together: add report-token or remove report-url");
  if (has_report_token && !has_report_url)
    c.add(key::report_url,
          "is missing; report-url and report-token go together: add report-url or remove report-token");

  if (!c.problems().empty()) return std::unexpected(std::move(c.problems()));

  BootstrapSpec spec;
  spec.os = *os;
  if (*os == Os::rhcos) {
    spec.rhcos = Rhcos{std::move(*ignition_url), std::move(*ignition_token), std::move(*ca), std::move(mcd_image)};
  } else {
    Rhel rhel{std::move(*payload_url),
              std::move(*payload_token),
              std::move(*worker_id),
              std::move(*cluster_id),
              std::move(*region),
              std::move(sha),
              {},
              std::move(ca)};
    if (mirrors) rhel.mirrors = std::move(*mirrors);
    spec.rhel = std::move(rhel);
  }
  spec.registry = std::move(registry);
  if (report_url) spec.report = Report{std::move(*report_url), std::move(*report_token)};
  return spec;
}

SecretData to_data(const BootstrapSpec& spec) {
  SecretData data;
  const auto put = [&](std::string_view k, std::string v) {
    data.insert_or_assign(std::string(k), Secret(std::move(v)));
  };
  put(key::os, std::string(to_string(spec.os)));
  if (spec.rhcos) {
    put(key::ignition_url, spec.rhcos->ignition_url.text);
    put(key::ignition_token, spec.rhcos->ignition_token.reveal());
    put(key::ca_crt, spec.rhcos->ca_pem);
    if (spec.rhcos->mcd_image) put(key::mcd_image, spec.rhcos->mcd_image->text);
  }
  if (spec.rhel) {
    const auto& r = *spec.rhel;
    put(key::payload_url, r.payload_url.text);
    put(key::payload_token, r.payload_token.reveal());
    put(key::worker_id, r.worker_id);
    put(key::cluster_id, r.cluster_id);
    put(key::region, r.region);
    if (r.payload_sha256) put(key::payload_sha256, *r.payload_sha256);
    if (r.ca_pem) put(key::ca_crt, *r.ca_pem);
    if (!r.mirrors.empty()) {
      std::string joined;
      for (const auto& m : r.mirrors) joined += (joined.empty() ? "" : ",") + m.text;
      put(key::mirrors, std::move(joined));
    }
  }
  if (spec.registry) {
    const auto& h = spec.registry->host;
    std::string text = h.find(':') != std::string::npos ? "[" + h + "]" : h;
    if (spec.registry->port) text += ":" + std::to_string(*spec.registry->port);
    put(key::registry, std::move(text));
  }
  if (spec.report) {
    put(key::report_url, spec.report->url.text);
    put(key::report_token, spec.report->token.reveal());
  }
  return data;
}

std::string secret_name(std::string_view node) {
  return std::string(names::bootstrap_secret_prefix) + std::string(node);
}

nlohmann::json make_secret(std::string_view node, const SecretData& data) {
  nlohmann::json encoded = nlohmann::json::object();
  for (const auto& [k, v] : data) encoded[k] = base64_encode(v.reveal());
  return {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata",
       {{"name", secret_name(node)},
        {"namespace", names::system_namespace},
        {"labels", {{std::string(names::node_label), node}}}}},
      {"type", names::bootstrap_secret_type},
      {"data", std::move(encoded)},
  };
}

std::expected<SecretData, Problems> decode_data(const nlohmann::json& secret) {
  SecretData data;
  Problems problems;
  const auto section = [&](std::string_view field, bool base64) {
    const auto it = secret.find(field);
    if (it == secret.end() || it->is_null()) return;
    if (!it->is_object()) {
      problems.push_back({std::string(field), "must be a map of key to string"});
      return;
    }
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        problems.push_back({k, "must be a string value in " + std::string(field)});
        continue;
      }
      if (!base64) {
        data.insert_or_assign(k, Secret(v.get<std::string>()));
      } else if (auto bytes = base64_decode(v.get_ref<const std::string&>())) {
        data.insert_or_assign(k, Secret(std::move(*bytes)));
      } else {
        problems.push_back(
            {k, "is not valid base64 in data; encode it with base64 -w0, or put plain text in stringData"});
      }
    }
  };
  section("data", true);
  section("stringData", false);  // stringData wins over data, as in the API server
  if (!problems.empty()) return std::unexpected(std::move(problems));
  return data;
}

Problems check_metadata(const nlohmann::json& secret) {
  Problems problems;
  const auto str = [&](const nlohmann::json::json_pointer& ptr) -> std::string {
    if (!secret.contains(ptr) || !secret.at(ptr).is_string()) return {};
    return secret.at(ptr).get<std::string>();
  };
  using ptr = nlohmann::json::json_pointer;
  if (str(ptr("/type")) != names::bootstrap_secret_type)
    problems.push_back({"type", "must be " + std::string(names::bootstrap_secret_type)});
  const auto ns = str(ptr("/metadata/namespace"));
  if (!ns.empty() && ns != names::system_namespace)
    problems.push_back({"metadata.namespace",
                        "bootstrap Secrets live in " + std::string(names::system_namespace) + "; create it there"});
  const auto name = str(ptr("/metadata/name"));
  const auto prefix = names::bootstrap_secret_prefix;
  std::string node;
  if (!name.starts_with(prefix) || name.size() == prefix.size()) {
    problems.push_back({"metadata.name", "must be " + std::string(prefix) + "<node> (generateName cannot be used)"});
  } else {
    node = name.substr(prefix.size());
  }
  std::string label;
  if (const auto labels = secret.find("metadata"); labels != secret.end() && labels->is_object()) {
    if (const auto l = labels->find("labels"); l != labels->end() && l->is_object()) {
      if (const auto v = l->find(names::node_label); v != l->end() && v->is_string()) label = v->get<std::string>();
    }
  }
  if (label.empty()) {
    problems.push_back({"metadata.labels", "needs label " + std::string(names::node_label) + "=<node>"});
  } else if (!node.empty() && label != node) {
    problems.push_back({"metadata.labels", "label " + std::string(names::node_label) + " is '" + label +
                                               "' but the name says node '" + node + "'; make them agree"});
  }
  return problems;
}

std::expected<BootstrapSpec, Problems> parse_secret(const nlohmann::json& secret,
                                                    std::chrono::system_clock::time_point now) {
  auto problems = check_metadata(secret);
  auto data = decode_data(secret);
  if (!data) {
    problems.insert(problems.end(), data.error().begin(), data.error().end());
    return std::unexpected(std::move(problems));
  }
  auto spec = parse(*data, now);
  if (!spec) problems.insert(problems.end(), spec.error().begin(), spec.error().end());
  if (!problems.empty()) return std::unexpected(std::move(problems));
  return spec;
}

}  // namespace nodeboot::bootstrap
