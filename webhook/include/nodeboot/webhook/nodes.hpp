#pragma once

#include <string_view>

#include "nodeboot/webhook/admission.hpp"
#include "nodeboot/webhook/cluster.hpp"

namespace nodeboot::webhook {

// /validate/nodes: adding `schedule_label`=true at UPDATE needs the node cordoned and its
// bootstrap Secret in place (the order `kubectl nodeboot start` follows). API errors
// deny: the label starts a reinstall, so doubt means no.
AdmissionResponse validate_node(const AdmissionRequest& request, std::string_view schedule_label, ClusterView& cluster);

}  // namespace nodeboot::webhook
