#include "nodeboot/webhook/pods.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>

#include "json.hpp"
#include "nodeboot/marooned/objects.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/random.hpp"
#include "nodeboot/webhook/cluster.hpp"
#include "pod_json.hpp"

namespace nodeboot::webhook {

namespace od = simdjson::ondemand;
namespace {

constexpr std::string_view hostname_label = "kubernetes.io/hostname";

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

// Each element of an array (null counts as empty); false on malformed input.
template <typename Fn>
bool each_element(od::value& v, Fn&& fn) {
  if (is_null(v)) return true;
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

bool string_list(od::value& v, std::vector<std::string>& out) {
  return each_element(v, [&](od::value& e) {
    std::string s;
    if (read_string(e, s)) return false;
    out.push_back(std::move(s));
    return true;
  });
}

bool is_marooned_key(std::string_view key) {
  return key == names::maroon_pod_uid || key == names::maroon_vouched_label;
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

// A requirement {key, operator, values} of a node selector term.
struct Requirement {
  std::string key, op;
  std::vector<std::string> values;
};

bool decode_requirement(od::value& v, Requirement& r) {
  return each_member(v, [&](std::string_view k, od::value& f) {
    if (k == "key") return !read_string(f, r.key);
    if (k == "operator") return !read_string(f, r.op);
    if (k == "values") return string_list(f, r.values);
    return true;
  });
}

bool decode_term(od::value& v, AffinityTerm& term) {
  return each_member(v, [&](std::string_view k, od::value& list) {
    if (k != "matchExpressions" && k != "matchFields") return true;
    const bool fields = k == "matchFields";
    return each_element(list, [&](od::value& e) {
      Requirement r;
      if (!decode_requirement(e, r)) return false;
      if (fields) {
        if (r.key == "metadata.name" && r.op == "In")
          term.node_names.insert(term.node_names.end(), r.values.begin(), r.values.end());
      } else if (r.key == hostname_label && r.op == "In") {
        term.hostnames.insert(term.hostnames.end(), r.values.begin(), r.values.end());
      } else if (is_marooned_key(r.key)) {
        if (r.key == names::maroon_vouched_label && r.op == "DoesNotExist")
          term.excludes_dedicated = true;
        else if (r.op != "DoesNotExist" && r.op != "NotIn")
          term.marooned_keys.push_back(r.key);
      }
      return true;
    });
  });
}

// spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms
bool decode_affinity(od::value& v, PodView& pod) {
  if (is_null(v)) return true;
  return each_member(v, [&](std::string_view k, od::value& node_affinity) {
    if (k != "nodeAffinity" || is_null(node_affinity)) return true;
    return each_member(node_affinity, [&](std::string_view k2, od::value& required) {
      if (k2 != "requiredDuringSchedulingIgnoredDuringExecution" || is_null(required)) return true;
      return each_member(required, [&](std::string_view k3, od::value& terms) {
        if (k3 != "nodeSelectorTerms") return true;
        return each_element(terms, [&](od::value& t) {
          AffinityTerm term;
          if (!decode_term(t, term)) return false;
          pod.required_terms.push_back(std::move(term));
          return true;
        });
      });
    });
  });
}

bool decode_toleration(od::value& t, Toleration& tol) {
  return each_member(t, [&](std::string_view k, od::value& f) {
    if (k == "key") return !read_string(f, tol.key);
    if (k == "operator") return !read_string(f, tol.op);
    if (k == "value") return !read_string(f, tol.value);
    if (k == "effect") return !read_string(f, tol.effect);
    if (k == "tolerationSeconds") {
      if (is_null(f)) return true;
      std::int64_t s = 0;
      if (f.get_int64().get(s)) return false;
      tol.seconds = s;
    }
    return true;
  });
}

bool decode_spec(od::value& v, PodView& pod) {
  return each_member(v, [&](std::string_view key, od::value& value) {
    if (key == "nodeSelector")
      return string_map(value, pod.node_selector_present, [&](std::string_view k, std::string s) {
        if (k == names::maroon_pod_uid)
          pod.node_selector_pod_uid = std::move(s);
        else if (k == names::maroon_vouched_label)
          pod.node_selector_vouched = std::move(s);
        else if (k == hostname_label)
          pod.node_selector_hostname = std::move(s);
      });
    if (key == "tolerations") {
      if (is_null(value)) return true;
      pod.tolerations_present = true;
      return each_element(value, [&](od::value& t) {
        Toleration tol;
        if (!decode_toleration(t, tol)) return false;
        pod.tolerations.push_back(std::move(tol));
        return true;
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
    if (key == "nodeName") return !read_string(value, pod.node_name);
    if (key == "affinity") return decode_affinity(value, pod);
    return true;
  });
}

std::string dedicated_key(std::string_view taint_key) { return std::string(taint_key) + "/dedicated"; }

std::string json_quoted(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// `t` as JSON, appended to `out`.
void append_toleration(std::string& out, const Toleration& t) {
  out += '{';
  bool first = true;
  const auto separate = [&] {
    if (!first) out += ',';
    first = false;
  };
  const auto member = [&](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    separate();
    append_json_string(out, name);
    out += ':';
    append_json_string(out, value);
  };
  member("key", t.key);
  member("operator", t.op);
  member("value", t.value);
  member("effect", t.effect);
  if (t.seconds) {
    separate();
    out += R"("tolerationSeconds":)";
    out += std::to_string(*t.seconds);
  }
  out += '}';
}

// What the webhook gives a marooned pod: one toleration per effect of the dedicated taint
// (NoSchedule keeps others off, NoExecute evicts whatever slipped past).
std::array<Toleration, 2> own_tolerations(std::string_view key, std::string_view id) {
  return {Toleration{std::string(key), "Equal", std::string(id), "NoSchedule", std::nullopt},
          Toleration{std::string(key), "Equal", std::string(id), "NoExecute", std::nullopt}};
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? std::string(sep) : "") + parts[i];
  return out;
}

// Why a marooned pod at CREATE is not what mutate_pod made it (empty: it is).
std::vector<std::string> marooned_shape_problems(const PodView& pod, std::string_view taint_key) {
  std::vector<std::string> problems;
  const std::string id = pod.pod_uid_annotation.value_or("");
  if (!marooned::is_marooned_id(id)) {
    problems.push_back("annotation " + std::string(names::maroon_pod_uid) + " is not a marooned id");
    return problems;
  }
  if (pod.node_selector_pod_uid != id || pod.node_selector_vouched != id)
    problems.push_back("its nodeSelector does not pin " + std::string(names::maroon_pod_uid) + " and " +
                       std::string(names::maroon_vouched_label) + " to its id");
  const auto key = dedicated_key(taint_key);
  const auto own = own_tolerations(key, id);
  const auto dedicated = pod.dedicated_tolerations(key);
  const bool exact = dedicated.size() == own.size() && std::ranges::all_of(own, [&](const Toleration& t) {
                       return std::ranges::count(dedicated, t) == 1;
                     });
  if (!exact) problems.push_back("its " + key + " tolerations are not exactly those for its own id");
  if (!pod.gated) problems.push_back("it lacks the scheduling gate " + std::string(names::maroon_gate));
  if (!pod.node_name.empty()) problems.push_back("it names a node (spec.nodeName " + pod.node_name + ")");
  return problems;
}

// Why an ordinary pod (not marooned, outside the node-agent namespaces) could reach a
// dedicated node. Each entry is one self-contained reason.
std::vector<std::string> placement_problems(const PodView& pod, std::string_view taint_key,
                                            const ClusterView& cluster) {
  std::vector<std::string> problems;
  const auto key = dedicated_key(taint_key);
  if (pod.node_selector_pod_uid)
    problems.push_back("its nodeSelector selects " + std::string(names::maroon_pod_uid) +
                       ", the label of marooned pods' dedicated nodes");
  if (pod.node_selector_vouched)
    problems.push_back("its nodeSelector selects " + std::string(names::maroon_vouched_label) +
                       ", the label of marooned pods' dedicated nodes");
  for (const auto& t : pod.tolerations)
    if (t.key == key) {
      problems.push_back("it tolerates " + key + ", the taint of marooned pods' dedicated nodes");
      break;
    }
  const auto dedicated = [&](const std::string& node) { return cluster.dedicated_node(node); };
  if (!pod.node_name.empty() && dedicated(pod.node_name))
    problems.push_back("spec.nodeName names " + pod.node_name + ", a marooned pod's dedicated node");
  if (pod.node_selector_hostname && dedicated(*pod.node_selector_hostname))
    problems.push_back("its nodeSelector " + std::string(hostname_label) + " names " + *pod.node_selector_hostname +
                       ", a marooned pod's dedicated node");
  for (const auto& term : pod.required_terms) {
    for (const auto& k : term.marooned_keys)
      problems.push_back("its node affinity selects " + k + ", the label of marooned pods' dedicated nodes");
    for (const auto* names : {&term.node_names, &term.hostnames})
      for (const auto& n : *names)
        if (dedicated(n)) problems.push_back("its node affinity names " + n + ", a marooned pod's dedicated node");
  }
  // A blanket toleration (no key, operator Exists) tolerates the dedicated taints too: the
  // pod must be confined to ordinary nodes some other way.
  const bool blanket =
      std::ranges::any_of(pod.tolerations, [](const Toleration& t) { return t.key.empty() && t.op == "Exists"; });
  if (blanket) {
    const bool confined = !pod.node_name.empty() || (!pod.required_terms.empty() &&
                                                     std::ranges::all_of(pod.required_terms, [](const AffinityTerm& t) {
                                                       return !t.node_names.empty() || t.excludes_dedicated;
                                                     }));
    if (!confined)
      problems.push_back(
          "it tolerates every taint (a toleration with operator Exists and no key), so it could land on a "
          "marooned pod's dedicated node: add a required node affinity term requirement {key: " +
          std::string(names::maroon_vouched_label) +
          ", operator: DoesNotExist} to each term, or run it in a namespace listed in MaroonedPodsConfig "
          "spec.nodeAgentNamespaces");
  }
  return problems;
}

// The pod of object (or oldObject): as decode_review read it (ReviewObjects::pods), or else
// decoded from the raw slice into `decoded`. Null when absent or null.
const Result<PodView>* pod_of(const std::optional<Result<PodView>>& read, std::string_view raw,
                              Result<PodView>& decoded) {
  if (read) return &*read;
  if (raw.empty()) return nullptr;
  decoded = decode_pod(raw);
  return &decoded;
}

AdmissionResponse deny_with(std::string prefix, const std::vector<std::string>& problems, std::string_view fix) {
  return AdmissionResponse::deny(std::move(prefix) + join(problems, "; ") + std::string(fix));
}

}  // namespace

std::vector<Toleration> PodView::dedicated_tolerations(std::string_view key) const {
  std::vector<Toleration> out;
  for (const auto& t : tolerations)
    if (t.key == key) out.push_back(t);
  return out;
}

Result<PodView> read_pod(od::object& pod_object) {
  PodView pod;
  for (auto field : pod_object) {
    std::string_view k;
    od::value value;
    if (field.unescaped_key().get(k) || field.value().get(value))
      return fail(ErrorKind::invalid_input, "the pod is not valid JSON");
    bool ok = true;
    if (k == "metadata")
      ok = decode_metadata(value, pod);
    else if (k == "spec")
      ok = decode_spec(value, pod);
    if (!ok) return fail(ErrorKind::invalid_input, "the pod's " + std::string(k) + " has fields of the wrong type");
  }
  return pod;
}

Result<PodView> decode_pod(std::string_view pod_json) {
  thread_local PaddedBody padded;
  padded.assign(pod_json);
  od::document doc;
  if (thread_parser().iterate(padded.view().data(), padded.view().size(), padded.capacity()).get(doc))
    return fail(ErrorKind::invalid_input, "the pod is not valid JSON");
  od::object root;
  if (doc.get_object().get(root)) return fail(ErrorKind::invalid_input, "the pod is not a JSON object");
  return read_pod(root);
}

std::string new_marooned_id() {
  // OpenSSL 3's RAND_bytes costs about 5 us a call here (provider dispatch, DRBG locking),
  // half of a pod mutation: draw CSPRNG bytes 256 ids at a time per thread instead.
  static constexpr std::size_t id_bytes = 16;
  static constexpr std::size_t batch = 256 * id_bytes;
  thread_local std::array<unsigned char, batch> pool{};
  thread_local std::size_t used = batch;
  if (used == batch) {
    random_bytes(pool);
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
  if (request.operation != "CREATE") return AdmissionResponse::allow();
  Result<PodView> decoded;
  const auto* read = pod_of(request.pod, request.object, decoded);
  if (read == nullptr) return AdmissionResponse::allow();
  if (!*read) return AdmissionResponse::errored(400, read->error().message);
  const PodView* pod = &**read;
  if (!pod->marooned()) return AdmissionResponse::allow();

  // Always a fresh id: whatever the client put in the annotation, the selector or the
  // tolerations is overwritten, so a pod can never claim another pod's node.
  const std::string id = make_id();
  const auto quoted_id = json_quoted(id);
  std::string patch;
  patch.reserve(1024);
  if (!pod->annotations_present)
    append_patch_op(patch, "add", "/metadata/annotations",
                    "{" + json_quoted(names::maroon_pod_uid) + ":" + quoted_id + "}");
  else  // `add` replaces an existing member
    append_patch_op(patch, "add", "/metadata/annotations/" + pointer_token(names::maroon_pod_uid), quoted_id);

  if (!pod->node_selector_present) {
    append_patch_op(patch, "add", "/spec/nodeSelector",
                    "{" + json_quoted(names::maroon_pod_uid) + ":" + quoted_id + "," +
                        json_quoted(names::maroon_vouched_label) + ":" + quoted_id + "}");
  } else {
    append_patch_op(patch, "add", "/spec/nodeSelector/" + pointer_token(names::maroon_pod_uid), quoted_id);
    append_patch_op(patch, "add", "/spec/nodeSelector/" + pointer_token(names::maroon_vouched_label), quoted_id);
  }

  // The tolerations list is rebuilt: every <taintKey>/dedicated toleration the client sent
  // (another pod's id, operator Exists) is dropped, the others are kept as they were.
  const auto key = dedicated_key(taint_key);
  std::string tolerations = "[";
  tolerations.reserve(128 * (pod->tolerations.size() + 2));
  const auto add = [&](const Toleration& t) {
    if (tolerations.size() > 1) tolerations += ',';
    append_toleration(tolerations, t);
  };
  for (const auto& t : pod->tolerations)
    if (t.key != key) add(t);
  for (const auto& t : own_tolerations(key, id)) add(t);
  tolerations += ']';
  append_patch_op(patch, "add", "/spec/tolerations", tolerations);

  const std::string gate = R"({"name":)" + json_quoted(names::maroon_gate) + "}";
  if (!pod->gates_present)
    append_patch_op(patch, "add", "/spec/schedulingGates", "[" + gate + "]");
  else if (!pod->gated)
    append_patch_op(patch, "add", "/spec/schedulingGates/-", gate);
  patch += ']';
  return AdmissionResponse::patched(std::move(patch));
}

AdmissionResponse validate_pod(const AdmissionRequest& request, const PodPolicy& policy) {
  const bool create = request.operation == "CREATE";
  if (!create && request.operation != "UPDATE") return AdmissionResponse::allow();
  Result<PodView> decoded_now;
  const auto* read_now = pod_of(request.pod, request.object, decoded_now);
  if (read_now == nullptr) return AdmissionResponse::allow();
  if (!*read_now) return AdmissionResponse::errored(400, read_now->error().message);
  const PodView* now = &**read_now;
  const PodView* before = nullptr;
  Result<PodView> decoded_old;
  if (!create) {
    const auto* read_old = pod_of(request.old_pod, request.old_object, decoded_old);
    if (read_old == nullptr) return AdmissionResponse::errored(400, "an UPDATE review without oldObject");
    if (!*read_old) return AdmissionResponse::errored(400, "oldObject: " + read_old->error().message);
    before = &**read_old;
  }
  const bool was_marooned = before && (before->marooned() || before->pod_uid_annotation || before->gated);

  if (create && now->marooned()) {
    const auto problems = marooned_shape_problems(*now, policy.taint_key);
    if (problems.empty()) return AdmissionResponse::allow();
    return deny_with("marooned pod refused: ", problems,
                     "; it must be created through nodeboot-webhook's mutating webhook (mutate.pods.maroonedpods.io), "
                     "and no later webhook may change what it set");
  }

  if (before && (was_marooned || now->marooned())) {
    const auto key = dedicated_key(policy.taint_key);
    std::vector<std::string> changes;
    std::vector<std::string> forbidden;  // for everyone, the controller included
    if (before->maroon_label != "true" && now->marooned() && !was_marooned)
      forbidden.push_back("add the label " + std::string(names::maroon_label) +
                          "=true to an existing pod (marooning happens at CREATE: create a new pod with the label)");
    // Dropping the label would take the pod out of the webhooks' objectSelector, after
    // which the gate could be removed unguarded.
    if (was_marooned && before->maroon_label != now->maroon_label)
      changes.push_back("change the label " + std::string(names::maroon_label));
    if (before->gated && !now->gated)
      changes.push_back("remove the scheduling gate " + std::string(names::maroon_gate));
    if (before->pod_uid_annotation != now->pod_uid_annotation)
      changes.push_back("change the annotation " + std::string(names::maroon_pod_uid));
    if (before->node_selector_pod_uid != now->node_selector_pod_uid)
      changes.push_back("change the nodeSelector " + std::string(names::maroon_pod_uid));
    // The controller adds the vouched entry to a pod created before it existed (same id).
    const bool vouched_added_for_own_id =
        !before->node_selector_vouched && now->node_selector_vouched == now->pod_uid_annotation;
    if (before->node_selector_vouched != now->node_selector_vouched &&
        !(vouched_added_for_own_id && request.username == policy.controller_username))
      changes.push_back("change the nodeSelector " + std::string(names::maroon_vouched_label));
    if (before->dedicated_tolerations(key) != now->dedicated_tolerations(key))
      changes.push_back("change the toleration " + key);
    if (!forbidden.empty()) return deny_with("marooned pod: nobody may ", forbidden, "");
    if (changes.empty() || request.username == policy.controller_username) return AdmissionResponse::allow();
    return deny_with("marooned pod: only " + std::string(policy.controller_username) + " may ", changes,
                     "; the gate-release controller removes the gate when the pod's dedicated node is Ready");
  }

  if (policy.cluster->node_agent_namespace(request.namespace_)) return AdmissionResponse::allow();
  auto problems = placement_problems(*now, policy.taint_key, *policy.cluster);
  if (before) {  // an UPDATE answers only for what it adds
    const auto old_problems = placement_problems(*before, policy.taint_key, *policy.cluster);
    std::erase_if(problems, [&](const std::string& p) { return std::ranges::count(old_problems, p) > 0; });
  }
  if (problems.empty()) return AdmissionResponse::allow();
  return deny_with("pod refused: ", problems,
                   " (dedicated nodes belong to one marooned pod each; namespaces that run node agents there are "
                   "listed in MaroonedPodsConfig spec.nodeAgentNamespaces)");
}

}  // namespace nodeboot::webhook
