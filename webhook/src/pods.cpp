#include "nodeboot/webhook/pods.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "nodeboot/names.hpp"
#include "nodeboot/webhook/json.hpp"

namespace nodeboot::webhook {

namespace od = simdjson::ondemand;
namespace {

// Walks an object's members, calling fn(key, value) for each; false on malformed input.
template <typename Fn>
bool each_member(od::value& v, Fn&& fn) {
  od::object obj;
  if (v.get_object().get(obj)) return false;
  for (auto field : obj) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) return false;
    if (!fn(key, value)) return false;
  }
  return true;
}

template <typename Fn>
bool each_element(od::value& v, Fn&& fn) {
  od::array arr;
  if (v.get_array().get(arr)) return false;
  for (auto element : arr) {
    od::value value;
    if (element.get(value)) return false;
    if (!fn(value)) return false;
  }
  return true;
}

// A map of string to string: fn(key, value) for each; null counts as absent.
template <typename Fn>
bool string_map(od::value& v, bool& present, Fn&& fn) {
  if (is_null(v)) return true;
  present = true;
  return each_member(v, [&](std::string_view key, od::value& value) {
    std::string s;
    if (read_string(value, s)) return false;
    fn(key, std::move(s));
    return true;
  });
}

bool decode_metadata(od::value& v, PodView& pod) {
  return each_member(v, [&](std::string_view key, od::value& value) {
    bool ignored = false;
    if (key == "labels")
      return string_map(value, ignored, [&](std::string_view k, std::string s) {
        if (k == names::maroon_label) pod.maroon_label = std::move(s);
      });
    if (key == "annotations")
      return string_map(value, pod.annotations_present, [&](std::string_view k, std::string s) {
        if (k == names::maroon_pod_uid) pod.pod_uid_annotation = std::move(s);
      });
    return true;
  });
}

bool decode_spec(od::value& v, PodView& pod, std::string_view dedicated_key) {
  return each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "nodeSelector")
      return string_map(value, pod.node_selector_present, [&](std::string_view k, std::string s) {
        if (k == names::maroon_pod_uid) pod.node_selector_pod_uid = std::move(s);
      });
    if (key == "tolerations") {
      if (is_null(value)) return true;
      pod.tolerations_present = true;
      return each_element(value, [&](od::value& t) {
        Toleration tol;
        const bool ok = each_member(t, [&](std::string_view k, od::value& f) {
          if (k == "key") return !read_string(f, tol.key);
          if (k == "operator") return !read_string(f, tol.op);
          if (k == "value") return !read_string(f, tol.value);
          if (k == "effect") return !read_string(f, tol.effect);
          return true;
        });
        if (ok && tol.key == dedicated_key) pod.dedicated_tolerations.push_back(std::move(tol));
        return ok;
      });
    }
    if (key == "schedulingGates") {
      if (is_null(value)) return true;
      pod.gates_present = true;
      return each_element(value, [&](od::value& g) {
        std::string name;
        if (read_member_string(g, "name", name)) return false;
        if (name == names::maroon_gate) pod.gated = true;
        return true;
      });
    }
    return true;
  });
}

std::string dedicated_key(std::string_view taint_key) { return std::string(taint_key) + "/dedicated"; }

std::string toleration_json(std::string_view key, std::string_view id) {
  std::string out = R"({"key":)";
  append_json_string(out, key);
  out += R"(,"operator":"Equal","value":)";
  append_json_string(out, id);
  out += R"(,"effect":"NoSchedule"})";
  return out;
}

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace

Result<PodView> decode_pod(std::string_view pod_json, std::string_view taint_key) {
  thread_local PaddedBody padded;
  padded.assign(pod_json);
  const auto key = dedicated_key(taint_key);
  PodView pod;
  od::document doc;
  if (thread_parser().iterate(padded.view().data(), padded.view().size(), padded.capacity()).get(doc))
    return fail(ErrorKind::invalid_input, "the pod is not valid JSON");
  od::object root;
  if (doc.get_object().get(root)) return fail(ErrorKind::invalid_input, "the pod is not a JSON object");
  for (auto field : root) {
    std::string_view k;
    od::value value;
    if (field.unescaped_key().get(k) || field.value().get(value))
      return fail(ErrorKind::invalid_input, "the pod is not valid JSON");
    bool ok = true;
    if (k == "metadata")
      ok = decode_metadata(value, pod);
    else if (k == "spec")
      ok = decode_spec(value, pod, key);
    if (!ok) return fail(ErrorKind::invalid_input, "the pod's " + std::string(k) + " has fields of the wrong type");
  }
  return pod;
}

std::string new_marooned_id() {
  // OpenSSL 3's RAND_bytes costs about 5 us a call here (provider dispatch, DRBG locking),
  // half of a pod mutation: draw CSPRNG bytes 256 ids at a time per thread instead.
  static constexpr std::size_t id_bytes = 16;
  static constexpr std::size_t batch = 256 * id_bytes;
  thread_local std::array<unsigned char, batch> pool{};
  thread_local std::size_t used = batch;
  if (used == batch) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) throw std::runtime_error("the CSPRNG failed");
    used = 0;
  }
  std::array<unsigned char, id_bytes> b{};
  std::copy_n(pool.begin() + static_cast<std::ptrdiff_t>(used), id_bytes, b.begin());
  OPENSSL_cleanse(pool.data() + used, id_bytes);  // each id leaves the pool once
  used += id_bytes;
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < id_bytes; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';  // 8-4-4-4-12
    out += hex[b[i] >> 4];
    out += hex[b[i] & 15];
  }
  return out;
}

AdmissionResponse mutate_pod(const AdmissionRequest& request, std::string_view taint_key, std::string (*make_id)()) {
  if (request.operation != "CREATE" || request.object.empty()) return AdmissionResponse::allow();
  auto pod = decode_pod(request.object, taint_key);
  if (!pod) return AdmissionResponse::errored(400, pod.error().message);
  if (!pod->marooned()) return AdmissionResponse::allow();

  // Reinvocation (reinvocationPolicy: IfNeeded) hands us our own earlier output: reuse its id.
  const std::string id =
      pod->pod_uid_annotation && !pod->pod_uid_annotation->empty() ? *pod->pod_uid_annotation : make_id();
  const auto uid_token = pointer_token(names::maroon_pod_uid);
  std::string patch;
  if (!pod->annotations_present)
    append_patch_op(patch, "add", "/metadata/annotations", "{" + json_quoted(names::maroon_pod_uid) + ":" + json_quoted(id) + "}");
  else if (!pod->pod_uid_annotation || *pod->pod_uid_annotation != id)
    append_patch_op(patch, "add", "/metadata/annotations/" + uid_token, json_quoted(id));

  if (!pod->node_selector_present)
    append_patch_op(patch, "add", "/spec/nodeSelector", "{" + json_quoted(names::maroon_pod_uid) + ":" + json_quoted(id) + "}");
  else if (pod->node_selector_pod_uid != id)
    append_patch_op(patch, "add", "/spec/nodeSelector/" + uid_token, json_quoted(id));  // add replaces a member

  const auto key = dedicated_key(taint_key);
  const bool tolerated = std::ranges::any_of(pod->dedicated_tolerations, [&](const Toleration& t) {
    return t.value == id && t.effect == "NoSchedule" && (t.op == "Equal" || t.op.empty());
  });
  if (!pod->tolerations_present)
    append_patch_op(patch, "add", "/spec/tolerations", "[" + toleration_json(key, id) + "]");
  else if (!tolerated)
    append_patch_op(patch, "add", "/spec/tolerations/-", toleration_json(key, id));

  const std::string gate = R"({"name":)" + json_quoted(names::maroon_gate) + "}";
  if (!pod->gates_present)
    append_patch_op(patch, "add", "/spec/schedulingGates", "[" + gate + "]");
  else if (!pod->gated)
    append_patch_op(patch, "add", "/spec/schedulingGates/-", gate);

  if (patch.empty()) return AdmissionResponse::allow();
  patch += ']';
  return AdmissionResponse::patched(std::move(patch));
}

AdmissionResponse validate_pod(const AdmissionRequest& request, std::string_view taint_key,
                               std::string_view controller_username) {
  if (request.operation != "UPDATE" || request.object.empty() || request.old_object.empty())
    return AdmissionResponse::allow();
  auto now = decode_pod(request.object, taint_key);
  if (!now) return AdmissionResponse::errored(400, now.error().message);
  auto before = decode_pod(request.old_object, taint_key);
  if (!before) return AdmissionResponse::errored(400, "oldObject: " + before.error().message);
  std::vector<std::string> changes;
  if (before->gated && !now->gated) changes.push_back("remove the scheduling gate " + std::string(names::maroon_gate));
  if (before->pod_uid_annotation != now->pod_uid_annotation)
    changes.push_back("change the annotation " + std::string(names::maroon_pod_uid));
  if (before->node_selector_pod_uid != now->node_selector_pod_uid)
    changes.push_back("change the nodeSelector " + std::string(names::maroon_pod_uid));
  if (before->dedicated_tolerations != now->dedicated_tolerations)
    changes.push_back("change the toleration " + dedicated_key(taint_key));
  // Dropping the label would take the pod out of the webhooks' objectSelector, after which
  // the gate could be removed unguarded.
  if (before->maroon_label != now->maroon_label && (before->pod_uid_annotation || before->gated))
    changes.push_back("change the label " + std::string(names::maroon_label));
  if (changes.empty() || request.username == controller_username) return AdmissionResponse::allow();
  std::string message = "marooned pod: only " + std::string(controller_username) + " may ";
  for (std::size_t i = 0; i < changes.size(); ++i) message += (i ? ", " : "") + changes[i];
  message += "; the gate-release controller removes the gate when the pod's dedicated node is Ready";
  return AdmissionResponse::deny(std::move(message));
}

}  // namespace nodeboot::webhook
