#include "nodeboot/webhook/admission.hpp"

#include <simdjson.h>

#include "json.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/webhook/log.hpp"
#include "pod_json.hpp"

namespace nodeboot::webhook {

namespace od = simdjson::ondemand;

AdmissionResponse AdmissionResponse::allow(std::string message) {
  AdmissionResponse r;
  r.message = std::move(message);
  return r;
}

AdmissionResponse AdmissionResponse::deny(std::string message) {
  AdmissionResponse r;
  r.allowed = false;
  r.code = 403;
  r.reason = "Forbidden";
  r.message = std::move(message);
  return r;
}

AdmissionResponse AdmissionResponse::errored(int code, std::string message) {
  AdmissionResponse r;
  r.allowed = false;
  r.code = code;
  r.reason = code >= 500 ? "InternalError" : "BadRequest";
  r.message = std::move(message);
  return r;
}

AdmissionResponse AdmissionResponse::patched(std::string json_patch) {
  AdmissionResponse r;
  r.patch = std::move(json_patch);
  return r;
}

char* PaddedBody::prepare(std::size_t size) {
  if (buffer_.size() < size + simdjson::SIMDJSON_PADDING) buffer_.resize(size + simdjson::SIMDJSON_PADDING);
  size_ = size;
  return buffer_.data();
}

void PaddedBody::assign(std::string_view body) { body.copy(prepare(body.size()), body.size()); }

void PaddedBody::release() {
  std::string().swap(buffer_);
  size_ = 0;
}

namespace {

// request.object or request.oldObject as a pod, in the review's pass: null leaves it unset;
// anything but an object is the review's error (as for a raw slice), a pod of the wrong
// shape the handler's. True on the review's error.
bool read_pod_member(od::value& v, std::optional<Result<PodView>>& out) {
  out.reset();
  return read_object_or_null(v, [&](od::object& pod) {
    out = read_pod(pod);
    return false;
  });
}

}  // namespace

std::expected<AdmissionRequest, DecodeError> decode_review(const PaddedBody& body, ReviewObjects objects) {
  AdmissionRequest req;
  DecodeError failure;
  const auto fail_with = [&](std::string message) {
    failure.message = std::move(message);
    failure.uid = req.uid;
    return std::unexpected(std::move(failure));
  };
  od::parser& parser = thread_parser();
  od::document doc;
  if (auto error = parser.iterate(body.view().data(), body.view().size(), body.capacity()).get(doc))
    return fail_with(std::string("the body is not JSON: ") + simdjson::error_message(error));
  od::object root;
  if (doc.get_object().get(root)) return fail_with("the body is not a JSON object");

  std::string api_version;
  std::string kind;
  bool have_request = false;
  // Field by field in document order: one pass whatever order the sender chose.
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return fail_with("the review has an undecodable key");
    od::value value;
    if (field.value().get(value)) return fail_with("the review is not valid JSON");
    if (key == "apiVersion") {
      if (read_string(value, api_version)) return fail_with("apiVersion must be a string");
    } else if (key == "kind") {
      if (read_string(value, kind)) return fail_with("kind must be a string");
    } else if (key == "request") {
      od::object request;
      if (value.get_object().get(request)) return fail_with("request must be an object");
      have_request = true;
      for (auto rf : request) {
        std::string_view rkey;
        if (rf.unescaped_key().get(rkey)) return fail_with("the request has an undecodable key");
        od::value rv;
        if (rf.value().get(rv)) return fail_with("the request is not valid JSON");
        bool bad = false;
        if (rkey == "uid") {
          bad = read_string(rv, req.uid);
        } else if (rkey == "kind") {
          bad = read_member_string(rv, "kind", req.kind);
        } else if (rkey == "operation") {
          bad = read_string(rv, req.operation);
        } else if (rkey == "namespace") {
          bad = read_string(rv, req.namespace_);
        } else if (rkey == "name") {
          bad = read_string(rv, req.name);
        } else if (rkey == "userInfo") {
          bad = read_member_string(rv, "username", req.username);
        } else if (rkey == "dryRun") {
          bool dry = false;
          if (!is_null(rv)) bad = rv.get_bool().get(dry) != simdjson::SUCCESS;
          req.dry_run = dry;
        } else if (rkey == "object" || rkey == "oldObject") {
          const bool old = rkey == "oldObject";
          if (objects == ReviewObjects::pods)
            bad = read_pod_member(rv, old ? req.old_pod : req.pod);
          else
            bad = read_raw_object(rv, old ? req.old_object : req.object);
        }
        if (bad) return fail_with("request." + std::string(rkey) + " has the wrong type or is not valid JSON");
      }
    }
  }
  if (kind != "AdmissionReview") return fail_with("kind must be AdmissionReview");
  if (api_version != review_api_version)
    return fail_with("apiVersion must be admission.k8s.io/v1 (set admissionReviewVersions: [v1])");
  if (!have_request) return fail_with("the review has no request");
  if (req.uid.empty()) return fail_with("request.uid is missing");
  return req;
}

std::string encode_review(std::string_view uid, const AdmissionResponse& response) {
  std::string out;
  out.reserve(192 + uid.size() + response.patch.size() * 4 / 3 + response.message.size());
  out += R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":)";
  append_json_string(out, uid);
  out += response.allowed ? R"(,"allowed":true)" : R"(,"allowed":false)";
  if (!response.patch.empty()) {
    out += R"(,"patchType":"JSONPatch","patch":")";
    out += base64_encode(response.patch);
    out += '"';
  }
  if (!response.allowed || !response.message.empty()) {
    out += R"(,"status":{)";
    bool first = true;
    if (!response.allowed) {
      out += R"("code":)" + std::to_string(response.code);
      first = false;
    }
    if (!response.message.empty()) {
      out += first ? R"("message":)" : R"(,"message":)";
      append_json_string(out, response.message);
      first = false;
    }
    if (!response.reason.empty()) {
      out += first ? R"("reason":)" : R"(,"reason":)";
      append_json_string(out, response.reason);
    }
    out += '}';
  }
  if (!response.warnings.empty()) {
    out += R"(,"warnings":[)";
    for (std::size_t i = 0; i < response.warnings.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, response.warnings[i]);
    }
    out += ']';
  }
  out += "}}";
  return out;
}

void append_patch_op(std::string& patch, std::string_view op, std::string_view path, std::string_view value_json) {
  patch += patch.empty() ? "[" : ",";
  patch += R"({"op":")";
  patch += op;
  patch += R"(","path":)";
  append_json_string(patch, path);
  patch += R"(,"value":)";
  patch += value_json;
  patch += '}';
}

std::string pointer_token(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 2);
  for (char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

namespace {

std::string decode_and_handle(const PaddedBody& padded,
                              const std::function<AdmissionResponse(const AdmissionRequest&)>& handler,
                              ReviewObjects objects) {
  auto request = decode_review(padded, objects);
  if (!request)
    return encode_review(request.error().uid, AdmissionResponse::errored(400, "cannot decode the AdmissionReview: " +
                                                                                  request.error().message));
  try {
    return encode_review(request->uid, handler(*request));
  } catch (const std::exception& e) {
    log_error("admission handler failed", {{"uid", request->uid}, {"error", e.what()}});
    return encode_review(request->uid,
                         AdmissionResponse::errored(500, "internal error in nodeboot-webhook; see its log"));
  } catch (...) {
    log_error("admission handler failed", {{"uid", request->uid}});
    return encode_review(request->uid,
                         AdmissionResponse::errored(500, "internal error in nodeboot-webhook; see its log"));
  }
}

}  // namespace

std::string serve_admission(PaddedBody& body, const std::function<AdmissionResponse(const AdmissionRequest&)>& handler,
                            const RequestLimits& limits, ReviewObjects objects) {
  // Before any parser builds anything: a DOM of a document nested millions deep (nlohmann,
  // in the Secret and Node handlers) costs hundreds of bytes per level.
  std::string answer;
  if (auto scan = scan_nesting(body.view(), limits.max_depth); scan.too_deep)
    answer = encode_review(
        scan.uid, AdmissionResponse::errored(
                      400, "the AdmissionReview nests arrays and objects " + std::to_string(scan.depth) +
                               " levels deep; nodeboot-webhook reads at most " + std::to_string(limits.max_depth)));
  else
    answer = decode_and_handle(body, handler, objects);
  if (body.view().size() > limits.shrink_after) {
    body.release();
    release_thread_parser();
  }
  return answer;
}

std::string serve_admission(std::string_view body,
                            const std::function<AdmissionResponse(const AdmissionRequest&)>& handler,
                            const RequestLimits& limits, ReviewObjects objects) {
  thread_local PaddedBody padded;
  padded.assign(body);
  return serve_admission(padded, handler, limits, objects);
}

}  // namespace nodeboot::webhook
