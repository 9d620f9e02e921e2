#include "nodeboot/marooned/vmi.hpp"

#include <array>
#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/json_fields.hpp"
#include "nodeboot/util/random.hpp"

namespace nodeboot::marooned {
namespace {

// A YAML double-quoted scalar (JSON strings are valid YAML).
std::string yaml_quoted(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

// Number and suffix of a quantity, as a multiplier of the base unit.
Result<long double> quantity(const nlohmann::json& q, std::string_view what) {
  if (q.is_number()) return q.get<long double>();
  if (!q.is_string())
    return fail(ErrorKind::invalid_input, std::string(what) + ": expected a quantity such as 500m or 1Gi");
  const std::string s = q.get<std::string>();
  static const std::array<std::pair<std::string_view, long double>, 14> suffixes{{{"Ki", 1024.0L},
                                                                                  {"Mi", 1048576.0L},
                                                                                  {"Gi", 1073741824.0L},
                                                                                  {"Ti", 1099511627776.0L},
                                                                                  {"Pi", 1125899906842624.0L},
                                                                                  {"Ei", 1152921504606846976.0L},
                                                                                  {"m", 1e-3L},
                                                                                  {"k", 1e3L},
                                                                                  {"M", 1e6L},
                                                                                  {"G", 1e9L},
                                                                                  {"T", 1e12L},
                                                                                  {"P", 1e15L},
                                                                                  {"E", 1e18L},
                                                                                  {"", 1.0L}}};
  for (const auto& [suffix, factor] : suffixes) {
    if (s.size() <= suffix.size() || !s.ends_with(suffix)) continue;
    const std::string number = s.substr(0, s.size() - suffix.size());
    if (number.find_first_not_of("0123456789.eE+-") != std::string::npos) continue;
    try {
      std::size_t used = 0;
      const long double v = std::stold(number, &used);
      if (used == number.size() && v >= 0) return v * factor;
    } catch (const std::exception&) {
    }
  }
  return fail(ErrorKind::invalid_input,
              std::string(what) + ": \"" + s + "\" is not a quantity (e.g. 500m, 2, 512Mi, 1Gi)");
}

}  // namespace

std::string random_lowercase_alnum(std::size_t n) {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  // 252 = 7 * 36: bytes at or above it would make the first 4 characters likelier.
  constexpr unsigned limit = 252;
  std::string out;
  std::array<unsigned char, 64> buf{};
  while (out.size() < n) {
    random_bytes(buf);
    for (unsigned char b : buf)
      if (b < limit && out.size() < n) out += alphabet[b % alphabet.size()];
  }
  return out;
}

BootstrapToken new_bootstrap_token() {
  // The bootstrap token format: [a-z0-9]{6}.[a-z0-9]{16} (kubeadm, k3s).
  return {random_lowercase_alnum(6), Secret(random_lowercase_alnum(16))};
}

std::string bootstrap_token_secret_name(std::string_view token_id) {
  return "bootstrap-token-" + std::string(token_id);
}

nlohmann::json bootstrap_token_secret(const BootstrapToken& token, std::chrono::system_clock::time_point expires,
                                      std::string_view extra_groups, std::string_view description,
                                      std::string_view pod_id) {
  nlohmann::json data = {{"token-id", base64_encode(token.id)},
                         {"token-secret", base64_encode(token.secret.reveal())},
                         {"expiration", base64_encode(format_rfc3339(expires))},
                         {"usage-bootstrap-authentication", base64_encode("true")},
                         {"usage-bootstrap-signing", base64_encode("true")},
                         {"description", base64_encode(description)}};
  if (!extra_groups.empty()) data["auth-extra-groups"] = base64_encode(extra_groups);
  nlohmann::json secret = {
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata", {{"name", bootstrap_token_secret_name(token.id)}, {"namespace", "kube-system"}}},
      {"type", "bootstrap.kubernetes.io/token"},
      {"data", data}};
  if (!pod_id.empty()) secret["metadata"]["labels"] = {{std::string(names::maroon_pod_uid), std::string(pod_id)}};
  return secret;
}

Secret join_info_yaml(const JoinInfo& info) {
  return Secret("server_url: " + yaml_quoted(info.server_url) + "\ntoken: " + yaml_quoted(info.token.reveal()) +
                "\npod_uid: " + yaml_quoted(info.pod_uid) + "\ntaint_key: " + yaml_quoted(info.taint_key) +
                "\ncredential: " + yaml_quoted(info.credential.reveal()) + "\n");
}

Secret cloud_init(const JoinInfo& info) {
  std::string out = "#cloud-config\nwrite_files:\n- path: " + std::string(names::join_info_path) +
                    "\n  owner: root:root\n  permissions: '0600'\n  content: |\n";
  const auto yaml = join_info_yaml(info);
  std::size_t start = 0;
  while (start < yaml.reveal().size()) {
    const auto end = yaml.reveal().find('\n', start);
    out += "    " + yaml.reveal().substr(start, end - start) + "\n";
    start = end + 1;
  }
  return Secret(std::move(out));
}

Result<std::int64_t> cpu_millis(const nlohmann::json& q) {
  auto v = quantity(q, "cpu");
  if (!v) return std::unexpected(v.error());
  return static_cast<std::int64_t>(std::ceil(*v * 1000.0L - 1e-9L));
}

Result<std::int64_t> memory_bytes(const nlohmann::json& q) {
  auto v = quantity(q, "memory");
  if (!v) return std::unexpected(v.error());
  return static_cast<std::int64_t>(std::ceil(*v - 1e-9L));
}

Result<Resources> pod_requests(const nlohmann::json& pod) {
  const auto requests_of = [](const nlohmann::json& resources) -> Result<Resources> {
    Resources one;
    if (const auto& cpu = field(resources, "cpu"); !cpu.is_null()) {
      auto v = cpu_millis(cpu);
      if (!v) return std::unexpected(v.error());
      one.cpu_millis = *v;
    }
    if (const auto& mem = field(resources, "memory"); !mem.is_null()) {
      auto v = memory_bytes(mem);
      if (!v) return std::unexpected(v.error());
      one.memory_bytes = *v;
    }
    return one;
  };
  const auto add = [](Resources& to, const Resources& r) {
    to.cpu_millis += r.cpu_millis;
    to.memory_bytes += r.memory_bytes;
  };
  const auto raise = [](Resources& to, const Resources& r) {
    to.cpu_millis = std::max(to.cpu_millis, r.cpu_millis);
    to.memory_bytes = std::max(to.memory_bytes, r.memory_bytes);
  };
  const auto& spec = field(pod, "spec");
  // k8s.io/component-helpers/resource PodRequests: the containers and the sidecars (init
  // containers with restartPolicy Always, which keep running beside them) add up; while the
  // i-th ordinary init container runs, it and the sidecars started before it do; the pod
  // needs the larger, plus its RuntimeClass overhead (spec.overhead).
  Resources total;
  if (const auto& containers = field(spec, "containers"); containers.is_array())
    for (const auto& c : containers) {
      auto r = requests_of(field(field(c, "resources"), "requests"));
      if (!r) return r;
      add(total, *r);
    }
  Resources sidecars;
  Resources init_peak;
  if (const auto& init = field(spec, "initContainers"); init.is_array())
    for (const auto& c : init) {
      auto r = requests_of(field(field(c, "resources"), "requests"));
      if (!r) return r;
      if (field(c, "restartPolicy") == "Always") {
        add(total, *r);
        add(sidecars, *r);
        raise(init_peak, sidecars);
      } else {
        add(*r, sidecars);
        raise(init_peak, *r);
      }
    }
  raise(total, init_peak);
  if (const auto& overhead = field(spec, "overhead"); !overhead.is_null()) {
    auto r = requests_of(overhead);
    if (!r) return r;
    add(total, *r);
  }
  return total;
}

std::string vmi_name(std::string_view pod_uid) { return "marooned-" + std::string(pod_uid); }
std::string userdata_secret_name(std::string_view pod_uid) { return "marooned-" + std::string(pod_uid) + "-userdata"; }

Result<nlohmann::json> render_vmi(const nlohmann::json& pod, const nlohmann::json& spec,
                                  std::string_view userdata_secret) {
  const auto id = pod_id(pod);
  if (id.empty())
    return fail(ErrorKind::invalid_input, "the pod has no " + std::string(names::maroon_pod_uid) + " annotation");
  const auto& image = field(spec, "nodeImage");
  if (!image.is_string() || image.get<std::string>().empty())
    return fail(ErrorKind::invalid_input,
                "MaroonedPodsConfig default has no spec.nodeImage: set the node image to boot");
  auto requests = pod_requests(pod);
  if (!requests) return std::unexpected(requests.error());
  // The schema's defaults, for a config written before they existed.
  const auto& overhead = field(spec, "resourceOverhead");
  const auto& base = field(spec, "baseVMResources");
  auto overhead_cpu = cpu_millis(field(overhead, "cpu").is_null() ? nlohmann::json("500m") : field(overhead, "cpu"));
  auto overhead_mem =
      memory_bytes(field(overhead, "memory").is_null() ? nlohmann::json("512Mi") : field(overhead, "memory"));
  auto base_cpu = cpu_millis(field(base, "cpu").is_null() ? nlohmann::json(1) : field(base, "cpu"));
  if (!overhead_cpu) return std::unexpected(overhead_cpu.error());
  if (!overhead_mem) return std::unexpected(overhead_mem.error());
  if (!base_cpu) return std::unexpected(base_cpu.error());
  const std::int64_t base_mem_mi =
      field(base, "memoryMi").is_number_integer() ? field(base, "memoryMi").get<std::int64_t>() : 1024;
  const std::int64_t cpu = std::max(requests->cpu_millis + *overhead_cpu, *base_cpu);
  constexpr std::int64_t mi = std::int64_t{1024} * 1024;
  const std::int64_t mem_mi = std::max((requests->memory_bytes + *overhead_mem + mi - 1) / mi, base_mem_mi);

  // The VM (and its user-data Secret, which holds the join token and credential) lives in
  // nodeboot's namespace, out of the tenant's reach.
  const std::string ns(names::marooned_namespace);
  const std::string pod_ref =
      field(pod, "metadata").value("namespace", "default") + "/" + field(pod, "metadata").value("name", "");
  nlohmann::json domain = {
      {"cpu", {{"cores", (cpu + 999) / 1000}}},  // whole cores for the guest; the request below keeps the millis
      {"resources", {{"requests", {{"cpu", std::to_string(cpu) + "m"}, {"memory", std::to_string(mem_mi) + "Mi"}}}}},
      {"devices",
       {{"disks",
         {{{"name", "rootdisk"}, {"disk", {{"bus", "virtio"}}}},
          {{"name", "cloudinit"}, {"disk", {{"bus", "virtio"}}}}}},
        {"interfaces", {{{"name", "default"}, {"masquerade", nlohmann::json::object()}}}}}}};
  if (field(spec, "enableKernelBoot").is_boolean() && field(spec, "enableKernelBoot").get<bool>()) {
    const auto& kb = field(spec, "kernelBootConfig");
    domain["firmware"]["kernelBoot"] = {
        {"container",
         {{"image", image},
          {"kernelPath", field(kb, "kernelPath").is_string() ? field(kb, "kernelPath") : nlohmann::json("/vmlinuz")},
          {"initrdPath",
           field(kb, "initrdPath").is_string() ? field(kb, "initrdPath") : nlohmann::json("/initrd.img")}}},
        {"kernelArgs", field(kb, "kernelArgs").is_string() ? field(kb, "kernelArgs")
                                                           : nlohmann::json("console=ttyS0 root=/dev/vda rw")}};
  }
  return nlohmann::json{
      {"apiVersion", "kubevirt.io/v1"},
      {"kind", "VirtualMachineInstance"},
      {"metadata",
       {{"name", vmi_name(id)},
        {"namespace", ns},
        {"labels", {{std::string(names::maroon_pod_uid), id}}},
        {"annotations", {{std::string(names::maroon_owner_pod), pod_ref}}}}},
      {"spec",
       {{"domain", domain},
        {"networks", {{{"name", "default"}, {"pod", nlohmann::json::object()}}}},
        {"volumes",
         {{{"name", "rootdisk"}, {"containerDisk", {{"image", image}}}},
          {{"name", "cloudinit"}, {"cloudInitNoCloud", {{"secretRef", {{"name", std::string(userdata_secret)}}}}}}}}}}};
}

nlohmann::json vm_record(const VmRecord& r, const nlohmann::json& pod) {
  const auto& meta = field(pod, "metadata");
  std::string ids;
  for (const auto& t : r.token_ids) ids += (ids.empty() ? "" : ",") + t;
  nlohmann::json annotations = {
      {std::string(names::maroon_owner_pod), string_field(meta, "namespace") + "/" + string_field(meta, "name")},
      {std::string(names::maroon_owner_pod_uid), string_field(meta, "uid")},
      {std::string(names::maroon_vm_attempt), std::to_string(r.attempt)},
      {std::string(names::maroon_bootstrap_tokens), ids}};
  if (r.failed_to_place) annotations[std::string(names::maroon_vm_state)] = names::maroon_failed_to_place;
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata",
           {{"name", userdata_secret_name(r.id)},
            {"namespace", std::string(names::marooned_namespace)},
            {"labels", {{std::string(names::maroon_pod_uid), r.id}}},
            {"annotations", annotations}}},
          {"type", "Opaque"},
          {"data",
           {{std::string(names::maroon_userdata_key), base64_encode(r.userdata.reveal())},
            {std::string(names::maroon_token_key), base64_encode(r.token.token().reveal())}}}};
}

Result<VmRecord> read_vm_record(const nlohmann::json& secret) {
  const auto& meta = field(secret, "metadata");
  const std::string name = string_field(meta, "name");
  const auto bad = [&](const std::string& what) {
    return fail(ErrorKind::invalid_input, "the VM record Secret " + std::string(names::marooned_namespace) + "/" +
                                              name + " " + what + ": delete it and the controller writes a new one");
  };
  VmRecord r;
  r.id = string_field(field(meta, "labels"), names::maroon_pod_uid);
  if (r.id.empty()) return bad("has no " + std::string(names::maroon_pod_uid) + " label");
  const auto& data = field(secret, "data");
  const auto decoded = [&](std::string_view key) -> std::optional<std::string> {
    const auto& v = field(data, std::string(key).c_str());
    if (!v.is_string()) return std::nullopt;
    auto d = base64_decode(v.get<std::string>());
    if (!d) return std::nullopt;
    return std::move(*d);
  };
  auto userdata = decoded(names::maroon_userdata_key);
  if (!userdata) return bad("has no readable `" + std::string(names::maroon_userdata_key) + "`");
  r.userdata = Secret(std::move(*userdata));
  // A record written by hand (`marooned vmi --apply --token-file`) may hold no token of ours.
  if (auto token = decoded(names::maroon_token_key)) {
    const auto dot = token->find('.');
    if (dot != std::string::npos) r.token = {token->substr(0, dot), Secret(token->substr(dot + 1))};
  }
  const auto& annotations = field(meta, "annotations");
  std::string attempt = string_field(annotations, names::maroon_vm_attempt);
  if (attempt.empty()) attempt = "1";
  try {
    r.attempt = std::stoi(attempt);
  } catch (const std::exception&) {
    return bad("has a " + std::string(names::maroon_vm_attempt) + " that is not a number");
  }
  if (r.attempt < 1) return bad("has a " + std::string(names::maroon_vm_attempt) + " below 1");
  const std::string ids = string_field(annotations, names::maroon_bootstrap_tokens);
  for (std::size_t start = 0; start < ids.size();) {
    const auto comma = std::min(ids.find(',', start), ids.size());
    if (comma > start) r.token_ids.push_back(ids.substr(start, comma - start));
    start = comma + 1;
  }
  r.failed_to_place = string_field(annotations, names::maroon_vm_state) == names::maroon_failed_to_place;
  return r;
}

nlohmann::json owned_by_record(nlohmann::json vmi, const nlohmann::json& record) {
  const auto& meta = field(record, "metadata");
  vmi["metadata"]["ownerReferences"] = nlohmann::json::array({{{"apiVersion", "v1"},
                                                               {"kind", "Secret"},
                                                               {"name", string_field(meta, "name")},
                                                               {"uid", string_field(meta, "uid")},
                                                               {"controller", true}}});
  return vmi;
}

}  // namespace nodeboot::marooned
