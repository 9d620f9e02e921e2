#include "nodeboot/agent/ignition.hpp"

#include <nlohmann/json.hpp>

#include "nodeboot/util/base64.hpp"

namespace nodeboot::agent::ignition {
namespace {

// The bytes of a data: URL (base64 or percent-encoded); "" for any other source.
std::string data_url_bytes(std::string_view url) {
  if (!url.starts_with("data:")) return {};
  const auto comma = url.find(',');
  if (comma == std::string_view::npos) return {};
  const std::string_view meta = url.substr(0, comma), payload = url.substr(comma + 1);
  if (meta.ends_with(";base64")) return base64_decode(payload).value_or("");
  std::string out;
  for (std::size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] == '%' && i + 2 < payload.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(payload.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(payload[i]);
    }
  }
  return out;
}

}  // namespace

Result<nlohmann::json> parse_v3(std::string_view body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return fail(ErrorKind::invalid_input, "the answer is not an Ignition document (not a JSON object)");
  const auto version = doc.value("/ignition/version"_json_pointer, std::string());
  if (version.empty()) return fail(ErrorKind::invalid_input, "the answer has no ignition.version");
  if (!version.starts_with("3."))
    return fail(ErrorKind::invalid_input, "the server sent Ignition spec " + version +
                                              ", not 3.x; a machine config server does that when "
                                              "the request lacks `Accept: " +
                                              std::string(accept_header) + "` (a proxy may be dropping it)");
  return doc;
}

std::string data_url(std::string_view bytes) { return "data:;base64," + base64_encode(bytes); }

void put_file(nlohmann::json& config, std::string_view path, std::string_view contents) {
  auto& files = config["storage"]["files"];
  if (!files.is_array()) files = nlohmann::json::array();
  nlohmann::json entry = {{"path", path},
                          {"mode", 420},  // 0644: Ignition takes decimal modes
                          {"overwrite", true},
                          {"contents", {{"source", data_url(contents)}}}};
  for (auto& f : files)
    if (f.value("path", "") == path) {
      f = std::move(entry);
      return;
    }
  files.push_back(std::move(entry));
}

std::string rendered_config_name(const nlohmann::json& config) {
  const auto files = config.value("/storage/files"_json_pointer, nlohmann::json::array());
  for (const auto& f : files) {
    if (f.value("path", "") != encapsulated_path) continue;
    const auto mc =
        nlohmann::json::parse(data_url_bytes(f.value("/contents/source"_json_pointer, std::string())), nullptr, false);
    if (mc.is_object()) return mc.value("/metadata/name"_json_pointer, std::string());
  }
  return {};
}

std::string node_annotations(std::string_view rendered) {
  return nlohmann::json{{"machineconfiguration.openshift.io/currentConfig", rendered},
                        {"machineconfiguration.openshift.io/desiredConfig", rendered},
                        {"machineconfiguration.openshift.io/state", "Done"}}
      .dump();
}

nlohmann::json encapsulate(const nlohmann::json& config, std::string_view name) {
  return {{"apiVersion", "machineconfiguration.openshift.io/v1"},
          {"kind", "MachineConfig"},
          {"metadata", {{"name", name}}},
          {"spec", {{"config", config}}}};
}

}  // namespace nodeboot::agent::ignition
