#pragma once

// Marooned pods (seed 004, DESIGN.md): what the webhook reads from a Pod, the mutation it
// applies at CREATE, and what it forbids.
//
// Threat model: any tenant may create and update pods in its own namespaces (and their
// status, where RBAC allows it). The marooned id is minted here at CREATE and never taken
// from the client (reinvocationPolicy Never: a second call would see the client's values
// and ours alike, and cannot tell them apart). The validating side then checks, for every
// pod that could reach a dedicated node, that nothing but the owning marooned pod does.

#include <string>
#include <string_view>

#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/pod_view.hpp"

namespace nodeboot::webhook {

class ClusterView;

// Decodes `pod` (raw JSON of a Pod object).
Result<PodView> decode_pod(std::string_view pod);

// A fresh marooned id: a random (version 4) UUID from OpenSSL's CSPRNG.
std::string new_marooned_id();

// /mutate/pods: gate, pin and tolerate a marooned pod at CREATE, under a fresh id. Any
// id the client supplied (annotation, nodeSelector entries, <taintKey>/dedicated
// tolerations) is replaced. `make_id` is injectable so tests get stable ids.
AdmissionResponse mutate_pod(const AdmissionRequest& request, std::string_view taint_key,
                             std::string (*make_id)() = &new_marooned_id);

struct PodPolicy {
  std::string_view taint_key;
  std::string_view controller_username;  // the only user that may release a gate
  const ClusterView* cluster;            // dedicated nodes, node-agent namespaces
};

// /validate/pods:
// - CREATE of a marooned pod: it must carry exactly what mutate_pod gives it (a later
//   webhook may not have undone it), and no nodeName.
// - UPDATE (also of pods/status) of a marooned pod: only the controller may remove the
//   gate or change the id, the nodeSelector entries or the dedicated tolerations; nobody
//   may add or remove the maroon label once the pod exists.
// - CREATE or UPDATE of any other pod outside the node-agent namespaces: it may not
//   select the marooned labels, tolerate <taintKey>/dedicated, name a dedicated node
//   (nodeName, nodeSelector hostname, affinity), or tolerate every taint without being
//   confined to ordinary nodes. An UPDATE is refused only for what it newly adds.
AdmissionResponse validate_pod(const AdmissionRequest& request, const PodPolicy& policy);

}  // namespace nodeboot::webhook
