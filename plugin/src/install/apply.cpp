#include "nodeboot/plugin/install/apply.hpp"

#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"

namespace nodeboot::plugin::install {
namespace {

std::string_view outcome_text(Outcome o) {
  switch (o) {
    case Outcome::created:
      return "created";
    case Outcome::configured:
      return "configured";
    case Outcome::unchanged:
      return "unchanged";
    case Outcome::namespace_pending:
      return "created";
  }
  return "";
}

// What the server keeps for itself: an apply that changed nothing leaves the rest as it was.
nlohmann::json comparable(nlohmann::json object) {
  if (object.contains("metadata")) {
    for (const char* k : {"managedFields", "resourceVersion", "generation"}) object["metadata"].erase(k);
  }
  return object;
}

}  // namespace

Result<kube::Request> apply_request(const Object& object, bool dry_run) {
  auto ref = resource_for(object);
  if (!ref) return std::unexpected(ref.error());
  kube::PatchOptions options{.dry_run = dry_run, .field_manager = std::string(field_manager), .force = true};
  auto request =
      kube::patch_request(*ref, object.ns, object.name, kube::PatchType::apply, nlohmann::json::object(), options);
  request.body = object.yaml;  // the apply content type is YAML: the bundle's text, as rendered
  return request;
}

Result<void> check_apis(kube::Client& client, const std::vector<Object>& objects) {
  std::set<std::string> groups;
  for (const auto& o : objects)
    if (o.api_version.starts_with("cert-manager.io/")) groups.insert(o.api_version);
  for (const auto& gv : groups) {
    auto r = client.get_json("/apis/" + gv);
    if (r) continue;
    if (kube::is_not_found(r.error()))
      return fail(ErrorKind::invalid_input, "--certs cert-manager: the cluster serves no " + gv +
                                                " API; install cert-manager first, or use --certs self-managed");
    return std::unexpected(r.error());
  }
  return {};
}

Result<std::vector<Applied>> apply(kube::Client& client, const std::vector<Object>& objects, bool dry_run,
                                   std::ostream& out) {
  std::set<std::string> missing_namespaces;  // created by this bundle, not yet in the cluster
  std::vector<Applied> applied;
  const std::string suffix = dry_run ? " (server dry run)" : "";
  for (const auto& object : objects) {
    auto ref = resource_for(object);
    if (!ref) return std::unexpected(ref.error());
    Applied a{display_name(object), Outcome::created};
    if (dry_run && !object.ns.empty() && missing_namespaces.contains(object.ns)) {
      a.outcome = Outcome::namespace_pending;
      out << a.name << " created (server dry run: not checked, namespace " << object.ns
          << " is created by this install)\n";
      applied.push_back(std::move(a));
      continue;
    }
    auto live = client.get(*ref, object.ns, object.name);
    if (!live && !kube::is_not_found(live.error())) return std::unexpected(live.error());
    auto request = apply_request(object, dry_run);
    if (!request) return std::unexpected(request.error());
    auto result = client.call(*request);
    if (!result) {
      Error e = result.error();
      e.message = a.name + ": " + kube::kubectl_message(e);
      return fail(std::move(e));
    }
    if (!live) {
      if (object.kind == "Namespace" && dry_run) missing_namespaces.insert(object.name);
    } else {
      a.outcome = comparable(*live) == comparable(*result) ? Outcome::unchanged : Outcome::configured;
    }
    out << a.name << ' ' << outcome_text(a.outcome) << suffix << '\n';
    applied.push_back(std::move(a));
  }
  return applied;
}

Result<void> wait_ready(kube::Client& client, std::chrono::seconds timeout, std::ostream& out) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string ns(names::system_namespace);
  // Poll: two cheap reads every two seconds for a few minutes at most.
  constexpr auto poll = std::chrono::seconds(2);
  std::string last = "no answer yet";
  bool rolled_out = false;
  while (true) {
    if (!rolled_out) {
      auto d = client.get(kube::resources::deployments, ns, "nodeboot-webhook");
      if (d) {
        const auto& s = (*d)["status"];
        const auto want = d->value("/spec/replicas"_json_pointer, 1);
        const bool observed = s.value("observedGeneration", 0) >= d->value("/metadata/generation"_json_pointer, 0);
        const auto updated = s.value("updatedReplicas", 0), available = s.value("availableReplicas", 0);
        last = "deployment nodeboot-webhook: " + std::to_string(updated) + " of " + std::to_string(want) +
               " updated, " + std::to_string(available) + " available";
        if (observed && updated == want && available == want && s.value("replicas", 0) == want) {
          rolled_out = true;
          out << "deployment.apps/nodeboot-webhook rolled out (" << want << " replicas available)\n";
        }
      } else {
        last = kube::kubectl_message(d.error());
      }
    }
    if (rolled_out) {
      auto health = client.send(kube::Request{
          .method = "GET", .path = "/api/v1/namespaces/" + ns + "/services/https:nodeboot-webhook:443/proxy/healthz"});
      if (health && health->status == 200) {
        out << "service/nodeboot-webhook answers /healthz\n";
        return {};
      }
      last = "the webhook's Service does not answer /healthz yet (" +
             (health ? kube::kubectl_message(kube::api_error(health->status, health->body)) : health.error().message) +
             ")";
    }
    if (std::chrono::steady_clock::now() + poll > deadline)
      return fail(ErrorKind::transport,
                  "timed out after " + std::to_string(timeout.count()) + "s waiting for the webhook: " + last);
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace nodeboot::plugin::install
