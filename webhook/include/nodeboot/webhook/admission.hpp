#pragma once

// AdmissionReview admission.k8s.io/v1, the controller-runtime way: a handler is one
// function from AdmissionRequest to AdmissionResponse, built with named constructors;
// the transport (server.hpp) turns every failure into an in-band response.
//
// Decoding uses simdjson On-Demand: a review is read in one pass that copies only the
// request's scalars. `object` and `oldObject` are either remembered as slices, which the
// handlers decode themselves (Secrets, Nodes), or, for the pod routes, read as pods in that
// same pass (ReviewObjects::pods): one stage 1 over the body, no copy of the pod.

#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/util/result.hpp"
#include "nodeboot/webhook/limits.hpp"
#include "nodeboot/webhook/pod_view.hpp"

namespace nodeboot::webhook {

inline constexpr std::string_view review_api_version = "admission.k8s.io/v1";

// How decode_review reads request.object and request.oldObject.
enum class ReviewObjects {
  raw,   // slices (AdmissionRequest::object, old_object)
  pods,  // pods (AdmissionRequest::pod, old_pod), read in the review's own pass
};

struct AdmissionRequest {
  std::string uid;
  std::string kind;       // request.kind.kind, e.g. "Pod"
  std::string operation;  // CREATE, UPDATE, DELETE, CONNECT
  std::string namespace_;
  std::string name;      // empty for generateName objects at CREATE
  std::string username;  // request.userInfo.username
  bool dry_run = false;
  // ReviewObjects::raw: slices of the review body (valid as long as the body is), the raw
  // JSON objects, empty when absent or null. The body is padded for simdjson (see
  // decode_review). Empty with ReviewObjects::pods.
  std::string_view object;
  std::string_view old_object;
  // ReviewObjects::pods: the pods, unset when absent or null; an error when a pod has
  // fields of the wrong type (the handler reports it, as it would its own decoding's).
  std::optional<Result<PodView>> pod;
  std::optional<Result<PodView>> old_pod;
};

struct AdmissionResponse {
  bool allowed = true;
  int code = 200;       // status.code when not allowed or errored
  std::string message;  // status.message
  std::string reason;   // status.reason (Forbidden, BadRequest, InternalError)
  std::string patch;    // a JSON Patch document; empty = no patch
  std::vector<std::string> warnings;

  static AdmissionResponse allow(std::string message = {});
  static AdmissionResponse deny(std::string message);  // 403 Forbidden
  static AdmissionResponse errored(int code, std::string message);
  static AdmissionResponse patched(std::string json_patch);
};

// A request body with the trailing bytes simdjson may read past the end. Kept per thread
// and reused, so decoding does not allocate once warm.
class PaddedBody {
 public:
  void assign(std::string_view body);
  // Room for a body of `size` bytes, to be written there before it is decoded (the
  // transport reads a body straight into it).
  char* prepare(std::size_t size);
  // Gives the buffer back (after a large body).
  void release();
  std::string_view view() const noexcept { return {buffer_.data(), size_}; }
  std::size_t capacity() const noexcept { return buffer_.size(); }

 private:
  std::string buffer_;
  std::size_t size_ = 0;
};

struct DecodeError {
  std::string message;
  std::string uid;  // echoed when it could be read before the error
};

// Decodes an AdmissionReview v1 from `body` (which must outlive the request's slices).
std::expected<AdmissionRequest, DecodeError> decode_review(const PaddedBody& body,
                                                           ReviewObjects objects = ReviewObjects::raw);

// The AdmissionReview v1 JSON answering `uid`.
std::string encode_review(std::string_view uid, const AdmissionResponse& response);

// One JSON Patch operation in a patch being built; `value_json` is already JSON.
void append_patch_op(std::string& patch, std::string_view op, std::string_view path, std::string_view value_json);

// Runs one admission body through decoding and `handler`, always producing a review
// (in-band errors, uid echoed when readable). A body nested deeper than limits.max_depth is
// refused before any parser sees it; after a body over limits.shrink_after this thread's
// decoding buffers are released. `objects` as in decode_review. The transport calls it; so
// do the fuzz targets and tests.
std::string serve_admission(std::string_view body,
                            const std::function<AdmissionResponse(const AdmissionRequest&)>& handler,
                            const RequestLimits& limits = {}, ReviewObjects objects = ReviewObjects::raw);
// The same for a body already in `body` (the transport's per-thread buffer), which is released
// after a body over limits.shrink_after.
std::string serve_admission(PaddedBody& body, const std::function<AdmissionResponse(const AdmissionRequest&)>& handler,
                            const RequestLimits& limits, ReviewObjects objects);

// A JSON Pointer token: "~" → "~0", "/" → "~1" (RFC 6901).
std::string pointer_token(std::string_view key);

}  // namespace nodeboot::webhook
