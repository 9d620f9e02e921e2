#pragma once

// Pure Ignition handling for the RHCOS path: check the spec version a machine config
// server sent, add the files machine-config-daemon's firstboot needs, and wrap the result
// as the MachineConfig that firstboot reads.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/util/result.hpp"

namespace nodeboot::agent::ignition {

// What nodeboot asks a machine config server for. Without a 3.x Accept header an MCS
// answers with spec 2.2.0, which firstboot on current RHCOS cannot apply.
inline constexpr std::string_view accept_header = "application/vnd.coreos.ignition+json;version=3.4.0, */*;q=0.1";

// Where machine-config-daemon firstboot-complete-machineconfig reads its MachineConfig
// (the MCO's constants.MachineConfigEncapsulatedPath); its removal marks firstboot done.
inline constexpr std::string_view encapsulated_path = "/etc/ignition-machine-config-encapsulated.json";
inline constexpr std::string_view kubeconfig_path = "/etc/kubernetes/kubeconfig";
inline constexpr std::string_view node_annotations_path = "/etc/machine-config-daemon/node-annotations.json";

// Parses an Ignition document and insists on spec 3.x; a 2.x answer gets an error that
// names the Accept header, since that is the usual cause.
Result<nlohmann::json> parse_v3(std::string_view body);

// "data:;base64,…" (RFC 2397), the form Ignition 3 takes inline file contents in.
std::string data_url(std::string_view bytes);

// Adds (or replaces) storage.files[path] with `contents`, mode 420 (0644), overwrite.
void put_file(nlohmann::json& config, std::string_view path, std::string_view contents);

// The rendered MachineConfig's name inside an MCS answer (from its own encapsulated file),
// "" when the answer does not carry one.
std::string rendered_config_name(const nlohmann::json& config);

// node-annotations.json as the MCD expects it: current = desired = `rendered`, state Done.
std::string node_annotations(std::string_view rendered);

// The MachineConfig firstboot reads, with `config` as its spec.config.
nlohmann::json encapsulate(const nlohmann::json& config, std::string_view name);

}  // namespace nodeboot::agent::ignition
