#pragma once

// Building a Kubernetes API request is a pure function: a Request value (method, path,
// ordered query, headers, body) that unit tests compare exactly and kube::Client sends.
// Paths follow the API server's layout: core resources under /api/v1, everything else
// under /apis/<group>/<version>; namespaced resources under namespaces/<ns>/ (or across
// all namespaces when the namespace is empty), then <resource>[/<name>[/<subresource>]].

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace nodeboot::kube {

// Ordered name/value pairs: the query string and headers keep the order they were built in,
// so a Request compares (and prints in a test failure) deterministically.
using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string path{};  // absolute and already escaped, e.g. /api/v1/namespaces/default/pods/p
  Pairs query{};       // unescaped; target() escapes
  Pairs headers{};     // besides the ones the transport adds (Accept, auth, User-Agent)
  std::string body{};
  bool watch = false;  // a streaming response: no overall timeout, events delivered as they arrive

  // path?query with the query percent-encoded, as sent on the wire.
  std::string target() const;
  bool operator==(const Request&) const = default;
};

// Which collection: group/version/resource (plural, lower case) and whether it lives in a namespace.
struct ResourceRef {
  std::string group{};  // "" = the core group
  std::string version{};
  std::string resource{};  // plural: "nodes", "pods"
  bool namespaced = true;
  std::string kind{};  // singular kind for the objects ("Node"), used for apply bodies and messages

  // "v1" or "apps/v1": the apiVersion field of an object of this resource.
  std::string api_version() const;
  // "/api/v1" or "/apis/apps/v1".
  std::string prefix() const;
  bool operator==(const ResourceRef&) const = default;
};

// The resources nodeboot touches. Add here rather than spelling a group/version elsewhere.
namespace resources {
inline const ResourceRef namespaces{"", "v1", "namespaces", false, "Namespace"};
inline const ResourceRef nodes{"", "v1", "nodes", false, "Node"};
inline const ResourceRef pods{"", "v1", "pods", true, "Pod"};
inline const ResourceRef secrets{"", "v1", "secrets", true, "Secret"};
inline const ResourceRef configmaps{"", "v1", "configmaps", true, "ConfigMap"};
inline const ResourceRef events{"", "v1", "events", true, "Event"};
inline const ResourceRef serviceaccounts{"", "v1", "serviceaccounts", true, "ServiceAccount"};
inline const ResourceRef services{"", "v1", "services", true, "Service"};
inline const ResourceRef events_v1{"events.k8s.io", "v1", "events", true, "Event"};
inline const ResourceRef leases{"coordination.k8s.io", "v1", "leases", true, "Lease"};
inline const ResourceRef daemonsets{"apps", "v1", "daemonsets", true, "DaemonSet"};
inline const ResourceRef deployments{"apps", "v1", "deployments", true, "Deployment"};
inline const ResourceRef replicasets{"apps", "v1", "replicasets", true, "ReplicaSet"};
inline const ResourceRef poddisruptionbudgets{"policy", "v1", "poddisruptionbudgets", true, "PodDisruptionBudget"};
inline const ResourceRef customresourcedefinitions{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
                                                   "CustomResourceDefinition"};
inline const ResourceRef mutatingwebhookconfigurations{
    "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", false, "MutatingWebhookConfiguration"};
inline const ResourceRef validatingwebhookconfigurations{
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", false, "ValidatingWebhookConfiguration"};
inline const ResourceRef clusterroles{"rbac.authorization.k8s.io", "v1", "clusterroles", false, "ClusterRole"};
inline const ResourceRef clusterrolebindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", false,
                                             "ClusterRoleBinding"};
inline const ResourceRef roles{"rbac.authorization.k8s.io", "v1", "roles", true, "Role"};
inline const ResourceRef rolebindings{"rbac.authorization.k8s.io", "v1", "rolebindings", true, "RoleBinding"};
inline const ResourceRef selfsubjectreviews{"authentication.k8s.io", "v1", "selfsubjectreviews", false,
                                            "SelfSubjectReview"};
inline const ResourceRef selfsubjectaccessreviews{"authorization.k8s.io", "v1", "selfsubjectaccessreviews", false,
                                                  "SelfSubjectAccessReview"};
// KubeVirt's (seed 004's dedicated VMs) and nodeboot's own MaroonedPodsConfig.
inline const ResourceRef virtualmachineinstances{"kubevirt.io", "v1", "virtualmachineinstances", true,
                                                 "VirtualMachineInstance"};
inline const ResourceRef maroonedpodsconfigs{"maroonedpods.io", "v1alpha1", "maroonedpodsconfigs", false,
                                             "MaroonedPodsConfig"};
}  // namespace resources

struct GetOptions {
  std::string resource_version{};  // "" = the latest (a quorum read); "0" = any cached version
};

struct ListOptions {
  std::string label_selector{};  // e.g. "type=kwok,!nodeboot.io/skip"
  std::string field_selector{};  // e.g. "spec.nodeName=kwok-node-0"
  std::int64_t limit = 0;        // page size; 0 = no paging (Client::list pages with 500 anyway)
  std::string continue_token{};
  std::string resource_version{};
  std::string resource_version_match{};  // "", "NotOlderThan" or "Exact"
};

struct WriteOptions {
  bool dry_run = false;            // dryRun=All: validated and admitted, never stored
  std::string field_manager{};     // fieldManager (managedFields owner)
  std::string field_validation{};  // "", "Ignore", "Warn" or "Strict"
};

enum class PatchType {
  json,       // RFC 6902 JSON Patch: application/json-patch+json
  merge,      // RFC 7386 JSON Merge Patch: application/merge-patch+json
  strategic,  // Kubernetes strategic merge patch: application/strategic-merge-patch+json
  apply,      // server-side apply: application/apply-patch+yaml (JSON is YAML); needs a field manager
};

struct PatchOptions {
  bool dry_run = false;
  std::string field_manager{};  // required for PatchType::apply
  bool force = false;           // apply only: take ownership of conflicting fields
  std::string field_validation{};
};

enum class Propagation { unset, orphan, background, foreground };

struct DeleteOptions {
  bool dry_run = false;
  std::optional<std::int64_t> grace_period_seconds{};  // 0 = immediately
  Propagation propagation = Propagation::unset;
  std::string precondition_uid{};               // delete only this incarnation of the object
  std::string precondition_resource_version{};  // delete only if unchanged
};

struct LogOptions {
  std::string container{};
  std::optional<std::int64_t> tail_lines{};
  std::optional<std::int64_t> since_seconds{};
  std::optional<std::int64_t> limit_bytes{};
  bool previous = false;
  bool timestamps = false;
};

struct WatchOptions {
  std::string label_selector{};
  std::string field_selector{};
  std::string resource_version{};  // start after this version; "" = the current state, as ADDED events first
  bool bookmarks = true;           // allowWatchBookmarks: the server reports progress so a resume is cheap
  // timeoutSeconds per connection. The server ends the watch after it; Client::watch then
  // reconnects from the last version seen. 5 minutes is client-go's reflector range.
  std::int64_t timeout_seconds = 300;
};

// The path of a collection, an object or an object's subresource. `ns` is ignored for
// cluster-scoped resources; for namespaced ones an empty `ns` means all namespaces (valid for
// list and watch only). Name and namespace are percent-escaped as path segments.
std::string resource_path(const ResourceRef& ref, std::string_view ns, std::string_view name = {},
                          std::string_view subresource = {});

Request get_request(const ResourceRef& ref, std::string_view ns, std::string_view name, const GetOptions& options = {},
                    std::string_view subresource = {});
Request list_request(const ResourceRef& ref, std::string_view ns, const ListOptions& options = {});
Request watch_request(const ResourceRef& ref, std::string_view ns, const WatchOptions& options);
Request create_request(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                       const WriteOptions& options = {});
// PUT of the whole object (metadata.resourceVersion makes it conditional). `subresource`
// "status" replaces only the status.
Request update_request(const ResourceRef& ref, std::string_view ns, std::string_view name, const nlohmann::json& object,
                       const WriteOptions& options = {}, std::string_view subresource = {});
Request patch_request(const ResourceRef& ref, std::string_view ns, std::string_view name, PatchType type,
                      const nlohmann::json& patch, const PatchOptions& options = {}, std::string_view subresource = {});
Request delete_request(const ResourceRef& ref, std::string_view ns, std::string_view name,
                       const DeleteOptions& options = {});
// DELETE of a whole collection (by selector).
Request delete_collection_request(const ResourceRef& ref, std::string_view ns, const ListOptions& selector,
                                  const DeleteOptions& options = {});
// POST pods/<name>/eviction: a delete that honours PodDisruptionBudgets (429 while one blocks it).
Request eviction_request(std::string_view ns, std::string_view pod, const DeleteOptions& options = {});
Request log_request(std::string_view ns, std::string_view pod, const LogOptions& options = {});

std::string content_type(PatchType type);
// The DeleteOptions object the API server expects as a DELETE body ("" when all defaults).
std::string delete_options_body(const DeleteOptions& options);
// RFC 3986 percent-encoding of everything but unreserved characters.
std::string percent_encode(std::string_view s);

}  // namespace nodeboot::kube
