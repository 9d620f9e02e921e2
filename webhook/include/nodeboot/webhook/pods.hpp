#pragma once

// Marooned pods (seed 004, DESIGN.md): what the webhook reads from a Pod, the mutation it
// applies at CREATE and the changes it forbids at UPDATE.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/webhook/admission.hpp"

namespace nodeboot::webhook {

struct Toleration {
  std::string key;
  std::string op;  // "" means Equal
  std::string value;
  std::string effect;
  bool operator==(const Toleration&) const = default;
};

// The marooned-relevant parts of a Pod. "present" flags distinguish a missing (or null)
// map/list, which a JSON Patch must create, from an empty one, which it appends to.
struct PodView {
  std::optional<std::string> maroon_label;        // value of maroonedpods.io/maroon
  bool annotations_present = false;
  std::optional<std::string> pod_uid_annotation;  // maroonedpods.io/pod-uid
  bool node_selector_present = false;
  std::optional<std::string> node_selector_pod_uid;
  bool tolerations_present = false;
  std::vector<Toleration> dedicated_tolerations;  // those whose key is <taintKey>/dedicated
  bool gates_present = false;
  bool gated = false;                             // maroonedpods.io/gate among the gates

  bool marooned() const { return maroon_label == "true"; }
};

// Decodes `pod` (raw JSON of a Pod object); dedicated tolerations are those keyed
// `<taint_key>/dedicated`.
Result<PodView> decode_pod(std::string_view pod, std::string_view taint_key);

// A fresh marooned id: a random (version 4) UUID from OpenSSL's CSPRNG.
std::string new_marooned_id();

// /mutate/pods: gate, pin and tolerate a marooned pod at CREATE. `make_id` is injectable
// so tests get stable ids.
AdmissionResponse mutate_pod(const AdmissionRequest& request, std::string_view taint_key,
                             std::string (*make_id)() = &new_marooned_id);

// /validate/pods: at UPDATE only `controller_username` may remove the gate or change the
// marooned id, nodeSelector, toleration or the maroon label itself.
AdmissionResponse validate_pod(const AdmissionRequest& request, std::string_view taint_key,
                               std::string_view controller_username);

}  // namespace nodeboot::webhook
