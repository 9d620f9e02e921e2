#include "nodeboot/kube/request.hpp"

#include <nlohmann/json.hpp>

namespace nodeboot::kube {
namespace {

void add_write_options(Request& r, bool dry_run, const std::string& field_manager,
                       const std::string& field_validation) {
  if (dry_run) r.query.emplace_back("dryRun", "All");
  if (!field_manager.empty()) r.query.emplace_back("fieldManager", field_manager);
  if (!field_validation.empty()) r.query.emplace_back("fieldValidation", field_validation);
}

void add_selectors(Request& r, const std::string& label_selector, const std::string& field_selector) {
  if (!label_selector.empty()) r.query.emplace_back("labelSelector", label_selector);
  if (!field_selector.empty()) r.query.emplace_back("fieldSelector", field_selector);
}

Request json_body(Request r, const nlohmann::json& body) {
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump();
  return r;
}

}  // namespace

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 0xF]);
    }
  }
  return out;
}

std::string Request::target() const {
  std::string out = path;
  char sep = '?';
  for (const auto& [k, v] : query) {
    out += sep;
    out += percent_encode(k);
    out += '=';
    out += percent_encode(v);
    sep = '&';
  }
  return out;
}

std::string ResourceRef::api_version() const { return group.empty() ? version : group + "/" + version; }

std::string ResourceRef::prefix() const { return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version; }

std::string resource_path(const ResourceRef& ref, std::string_view ns, std::string_view name,
                          std::string_view subresource) {
  std::string p = ref.prefix();
  if (ref.namespaced && !ns.empty()) p += "/namespaces/" + percent_encode(ns);
  p += "/" + ref.resource;
  if (!name.empty()) {
    p += "/" + percent_encode(name);
    if (!subresource.empty()) p += "/" + std::string(subresource);
  }
  return p;
}

Request get_request(const ResourceRef& ref, std::string_view ns, std::string_view name, const GetOptions& options,
                    std::string_view subresource) {
  Request r{.method = "GET", .path = resource_path(ref, ns, name, subresource)};
  if (!options.resource_version.empty()) r.query.emplace_back("resourceVersion", options.resource_version);
  return r;
}

Request list_request(const ResourceRef& ref, std::string_view ns, const ListOptions& options) {
  Request r{.method = "GET", .path = resource_path(ref, ns)};
  add_selectors(r, options.label_selector, options.field_selector);
  if (options.limit > 0) r.query.emplace_back("limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) r.query.emplace_back("continue", options.continue_token);
  if (!options.resource_version.empty()) r.query.emplace_back("resourceVersion", options.resource_version);
  if (!options.resource_version_match.empty())
    r.query.emplace_back("resourceVersionMatch", options.resource_version_match);
  return r;
}

Request watch_request(const ResourceRef& ref, std::string_view ns, const WatchOptions& options) {
  Request r{.method = "GET", .path = resource_path(ref, ns)};
  r.watch = true;
  r.query.emplace_back("watch", "1");
  add_selectors(r, options.label_selector, options.field_selector);
  if (!options.resource_version.empty()) r.query.emplace_back("resourceVersion", options.resource_version);
  if (options.bookmarks) r.query.emplace_back("allowWatchBookmarks", "true");
  if (options.timeout_seconds > 0) r.query.emplace_back("timeoutSeconds", std::to_string(options.timeout_seconds));
  return r;
}

Request create_request(const ResourceRef& ref, std::string_view ns, const nlohmann::json& object,
                       const WriteOptions& options) {
  Request r{.method = "POST", .path = resource_path(ref, ns)};
  add_write_options(r, options.dry_run, options.field_manager, options.field_validation);
  return json_body(std::move(r), object);
}

Request update_request(const ResourceRef& ref, std::string_view ns, std::string_view name, const nlohmann::json& object,
                       const WriteOptions& options, std::string_view subresource) {
  Request r{.method = "PUT", .path = resource_path(ref, ns, name, subresource)};
  add_write_options(r, options.dry_run, options.field_manager, options.field_validation);
  return json_body(std::move(r), object);
}

std::string content_type(PatchType type) {
  switch (type) {
    case PatchType::json:
      return "application/json-patch+json";
    case PatchType::merge:
      return "application/merge-patch+json";
    case PatchType::strategic:
      return "application/strategic-merge-patch+json";
    case PatchType::apply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

Request patch_request(const ResourceRef& ref, std::string_view ns, std::string_view name, PatchType type,
                      const nlohmann::json& patch, const PatchOptions& options, std::string_view subresource) {
  Request r{.method = "PATCH", .path = resource_path(ref, ns, name, subresource)};
  add_write_options(r, options.dry_run, options.field_manager, options.field_validation);
  // force is only meaningful (and only accepted) for apply patches.
  if (type == PatchType::apply && options.force) r.query.emplace_back("force", "true");
  r.headers.emplace_back("Content-Type", content_type(type));
  r.body = patch.dump();
  return r;
}

std::string delete_options_body(const DeleteOptions& options) {
  nlohmann::json body = nlohmann::json::object();
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  switch (options.propagation) {
    case Propagation::unset:
      break;
    case Propagation::orphan:
      body["propagationPolicy"] = "Orphan";
      break;
    case Propagation::background:
      body["propagationPolicy"] = "Background";
      break;
    case Propagation::foreground:
      body["propagationPolicy"] = "Foreground";
      break;
  }
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  if (!options.precondition_resource_version.empty())
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  if (options.dry_run) body["dryRun"] = nlohmann::json::array({"All"});
  if (body.empty()) return "";
  body["kind"] = "DeleteOptions";
  body["apiVersion"] = "v1";
  return body.dump();
}

Request delete_request(const ResourceRef& ref, std::string_view ns, std::string_view name,
                       const DeleteOptions& options) {
  Request r{.method = "DELETE", .path = resource_path(ref, ns, name)};
  r.body = delete_options_body(options);
  if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

Request delete_collection_request(const ResourceRef& ref, std::string_view ns, const ListOptions& selector,
                                  const DeleteOptions& options) {
  Request r = list_request(ref, ns, selector);
  r.method = "DELETE";
  r.body = delete_options_body(options);
  if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

Request eviction_request(std::string_view ns, std::string_view pod, const DeleteOptions& options) {
  nlohmann::json eviction = {
      {"apiVersion", "policy/v1"}, {"kind", "Eviction"}, {"metadata", {{"name", pod}, {"namespace", ns}}}};
  if (std::string opts = delete_options_body(options); !opts.empty())
    eviction["deleteOptions"] = nlohmann::json::parse(opts);
  Request r{.method = "POST", .path = resource_path(resources::pods, ns, pod, "eviction")};
  return json_body(std::move(r), eviction);
}

Request log_request(std::string_view ns, std::string_view pod, const LogOptions& options) {
  Request r{.method = "GET", .path = resource_path(resources::pods, ns, pod, "log")};
  if (!options.container.empty()) r.query.emplace_back("container", options.container);
  if (options.tail_lines) r.query.emplace_back("tailLines", std::to_string(*options.tail_lines));
  if (options.since_seconds) r.query.emplace_back("sinceSeconds", std::to_string(*options.since_seconds));
  if (options.limit_bytes) r.query.emplace_back("limitBytes", std::to_string(*options.limit_bytes));
  if (options.previous) r.query.emplace_back("previous", "true");
  if (options.timestamps) r.query.emplace_back("timestamps", "true");
  return r;
}

}  // namespace nodeboot::kube
