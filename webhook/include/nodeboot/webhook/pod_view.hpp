#pragma once

// What the pod handlers (pods.hpp) read from a Pod. Its own header because decoding fills it
// in the review's single pass (AdmissionRequest::pod, admission.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nodeboot::webhook {

struct Toleration {
  std::string key;
  std::string op;  // "" means Equal
  std::string value;
  std::string effect;  // "" means every effect
  std::optional<std::int64_t> seconds;
  bool operator==(const Toleration&) const = default;
};

// One required node-affinity term, as far as placement on dedicated nodes goes.
struct AffinityTerm {
  std::vector<std::string> node_names;     // matchFields metadata.name In
  std::vector<std::string> hostnames;      // matchExpressions kubernetes.io/hostname In
  bool excludes_dedicated = false;         // <vouched label> DoesNotExist
  std::vector<std::string> marooned_keys;  // requirements on the marooned labels other than excluding them
  bool operator==(const AffinityTerm&) const = default;
};

// The marooned-relevant parts of a Pod. "present" flags distinguish a missing (or null)
// map/list, which a JSON Patch must create, from an empty one, which it appends to.
struct PodView {
  std::optional<std::string> maroon_label;  // value of maroonedpods.io/maroon
  bool annotations_present = false;
  std::optional<std::string> pod_uid_annotation;  // maroonedpods.io/pod-uid
  bool node_selector_present = false;
  std::optional<std::string> node_selector_pod_uid;   // nodeSelector maroonedpods.io/pod-uid
  std::optional<std::string> node_selector_vouched;   // nodeSelector <vouched label>
  std::optional<std::string> node_selector_hostname;  // nodeSelector kubernetes.io/hostname
  bool tolerations_present = false;
  std::vector<Toleration> tolerations;
  bool gates_present = false;
  bool gated = false;  // maroonedpods.io/gate among the gates
  std::string node_name;
  std::vector<AffinityTerm> required_terms;  // required node affinity, one per nodeSelectorTerm

  bool operator==(const PodView&) const = default;
  bool marooned() const { return maroon_label == "true"; }
  // The tolerations keyed `dedicated_key` (<taintKey>/dedicated), in order.
  std::vector<Toleration> dedicated_tolerations(std::string_view dedicated_key) const;
};

}  // namespace nodeboot::webhook
