#pragma once

// API errors: the Status object the server sends, decoded into nodeboot::Error (kind,
// one-line message, the Status kept), and predicates callers branch on.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "nodeboot/util/result.hpp"

namespace nodeboot::kube {

// Decodes an HTTP error answer. `body` is usually a metav1.Status; when it is not (a proxy's
// HTML page, an empty 401), the message is the one client-go uses for that HTTP status.
// `retry_after` is the Retry-After header ("" if absent). 404 → not_found, 409 → conflict,
// everything else → api; the Status is always attached (code = the HTTP status).
Error api_error(long http_status, std::string_view body, std::string_view retry_after = {});

// A Status object (also the `object` of a watch ERROR event) as an ApiStatus.
ApiStatus parse_status(const nlohmann::json& status, long http_status = 0);

// Error from a decoded Status, with the kind and message rules of api_error.
Error status_error(ApiStatus status);

bool is_not_found(const Error& e);          // 404
bool is_already_exists(const Error& e);     // 409 AlreadyExists (create of an existing name)
bool is_conflict(const Error& e);           // 409 Conflict (stale resourceVersion): re-read and retry
bool is_gone(const Error& e);               // 410 Gone / Expired: the resourceVersion is compacted; re-list
bool is_unauthorized(const Error& e);       // 401
bool is_forbidden(const Error& e);          // 403
bool is_invalid(const Error& e);            // 422
bool is_too_many_requests(const Error& e);  // 429 (also an eviction blocked by a PodDisruptionBudget)

// The line kubectl prints for an API error, "Error from server (NotFound): nodes "x" not found";
// for other errors, just the message.
std::string kubectl_message(const Error& e);

}  // namespace nodeboot::kube
