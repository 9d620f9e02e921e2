#pragma once

// The single-use join credential of a marooned pod's dedicated node (DESIGN.md, seed 004).
//
// The controller issues a random credential per pod into Secret
// nodeboot-marooned/marooned-join-<id>; the VM receives it in join-info.yaml (cloud-init).
// Once registered, the node (nodeboot-agent join, with the kubelet's own credentials)
// annotates its Node with join_proof(credential, id, node name). The controller checks the
// proof, vouches for the node and deletes the Secret: the credential works once, and the
// proof names the node, so reading it off the Node object lets nobody else join.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/util/result.hpp"
#include "nodeboot/util/secret.hpp"

namespace nodeboot::marooned {

// 32 random bytes, hex.
Secret new_join_credential();
// Name of the credential's Secret in nodeboot-marooned: marooned-join-<id>.
std::string join_secret_name(std::string_view id);
// The credential Secret for the pod (`pod`: its namespace, name and uid are recorded).
nlohmann::json join_secret(std::string_view id, const nlohmann::json& pod, const Secret& credential);
// metadata.uid of the pod a credential Secret was issued for ("" when not recorded).
std::string credential_owner_uid(const nlohmann::json& secret);
// The credential in a Secret read from the API server (data.credential, base64).
Result<Secret> credential_of(const nlohmann::json& secret);

// hex(HMAC-SHA256(key = credential, "nodeboot-join/v1\n" + id + "\n" + node_name)).
std::string join_proof(const Secret& credential, std::string_view id, std::string_view node_name);
// Whether `proof` is join_proof(credential, id, node_name), compared in constant time.
bool proof_matches(const Secret& credential, std::string_view id, std::string_view node_name, std::string_view proof);

}  // namespace nodeboot::marooned
