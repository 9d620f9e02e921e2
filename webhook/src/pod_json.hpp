#pragma once

// A Pod read from simdjson On-Demand: decode_review calls it on request.object and
// request.oldObject in the review's own pass (ReviewObjects::pods); decode_pod on a
// document of its own.

#include <simdjson.h>

#include "nodeboot/util/result.hpp"
#include "nodeboot/webhook/pod_view.hpp"

namespace nodeboot::webhook {

// Reads the pod's members; an error when one has the wrong type or is not valid JSON.
Result<PodView> read_pod(simdjson::ondemand::object& pod);

}  // namespace nodeboot::webhook
