#include "nodeboot/plugin/ipb/preflight.hpp"

#include <future>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/errors.hpp"
#include "nodeboot/names.hpp"

namespace nodeboot::plugin::ipb {
namespace {

using nlohmann::json;

constexpr std::string_view label_flag = "--schedule-label";
// The kustomize component that switches the whole installation to the seed's label.
constexpr std::string_view ibm_component = "manifests/ipb/components/ibm-schedule-label";

// The value of --schedule-label in a container's command and args ("--f=v" or "--f v").
std::optional<std::string> agent_label_flag(const json& container) {
  std::vector<std::string> argv;
  for (const char* key : {"command", "args"})
    for (const auto& a : container.value(key, json::array()))
      if (a.is_string()) argv.push_back(a.get<std::string>());
  const std::string prefix = std::string(label_flag) + "=";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].starts_with(prefix)) return argv[i].substr(prefix.size());
    if (argv[i] == label_flag && i + 1 < argv.size()) return argv[i + 1];
  }
  return std::nullopt;
}

std::string selector_text(const json& selector) {
  std::string out;
  for (const auto& [k, v] : selector.items())
    out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return out.empty() ? "(none)" : out;
}

std::string fix_for(std::string_view selected, std::string_view wanted) {
  return "pass --schedule-label " + std::string(selected) + ", or install nodeboot with " + std::string(wanted) +
         " everywhere (for ibm-cloud.kubernetes.io/ipb-schedule the kustomize component " + std::string(ibm_component) +
         " switches the DaemonSet, the agent and the webhook together)";
}

}  // namespace

Result<std::optional<DaemonSetRef>> parse_daemonset_flag(std::string_view value) {
  if (value == "none") return std::optional<DaemonSetRef>{};
  const auto slash = value.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == value.size() ||
      value.find('/', slash + 1) != std::string_view::npos)
    return fail(ErrorKind::invalid_input, "--daemonset: \"" + std::string(value) + "\" is not NAMESPACE/NAME (e.g. " +
                                              std::string(default_daemonset) + "), nor none");
  return std::optional<DaemonSetRef>{
      DaemonSetRef{std::string(value.substr(0, slash)), std::string(value.substr(slash + 1))}};
}

std::optional<std::string> schedule_label_problem(const json& daemonset, std::string_view daemonset_name,
                                                  std::string_view schedule_label) {
  const json pod_spec = daemonset.value("/spec/template/spec"_json_pointer, json::object());
  const json selector = pod_spec.value("nodeSelector", json::object());
  const std::string ds = "DaemonSet " + std::string(daemonset_name);
  const std::string wanted(schedule_label);
  const auto it = selector.find(wanted);
  if (it == selector.end()) {
    // Name the label it does select when there is an obvious one, so the fix is concrete.
    std::string selected = "LABEL";
    for (const auto& [k, v] : selector.items())
      if (v == "true") selected = k;
    return "--schedule-label " + wanted + " does not match " + ds + ", whose nodeSelector is " +
           selector_text(selector) + ": its pod would never run on the nodes start labels; " +
           fix_for(selected, wanted);
  }
  if (*it != "true")
    return ds + " selects " + wanted + "=" + (it->is_string() ? it->get<std::string>() : it->dump()) +
           " but start labels nodes " + wanted + "=true, so its pod would never run on them: set its nodeSelector to " +
           wanted + ": \"true\"";
  for (const auto& c : pod_spec.value("containers", json::array())) {
    const auto agent = agent_label_flag(c);
    // The message is built once, on the way out of the loop.
    // NOLINTBEGIN(performance-inefficient-string-concatenation)
    if (agent && *agent != wanted)
      return ds + " selects nodes by " + wanted + " but its container " + c.value("name", std::string("?")) +
             " runs with " + std::string(label_flag) + "=" + *agent + ", so the agent would not remove " + wanted +
             " before the reboot and the node would be bootstrapped again: give both the same label (" +
             std::string(ibm_component) + " switches them together)";
    // NOLINTEND(performance-inefficient-string-concatenation)
  }
  return std::nullopt;
}

std::string Access::str() const {
  return verb + " " + resource + (group.empty() ? "" : "." + group) + (subresource.empty() ? "" : "/" + subresource) +
         (ns.empty() ? "" : " in " + ns);
}

std::vector<Access> start_access(bool drain, bool disable_eviction) {
  const std::string sys(names::system_namespace);
  std::vector<Access> a{
      {"patch", "nodes", "", "", "to cordon the node and add the schedule label"},
      {"create", "configmaps", "", sys, "to record the node's prior state"},
      {"get", "configmaps", "", sys, "to read an existing prior-state record"},
      {"delete", "configmaps", "", sys, "to remove the record when a later step fails"},
      {"create", "secrets", "", sys, "to create the bootstrap Secret"},
      {"get", "secrets", "", sys, "to compare an existing bootstrap Secret"},
      {"update", "secrets", "", sys, "to replace a bootstrap Secret that differs"},
      {"delete", "secrets", "", sys, "to remove the Secret when a later step fails"},
  };
  const std::string rbac = "rbac.authorization.k8s.io";
  for (const char* resource : {"roles", "rolebindings"}) {
    a.push_back({"create", resource, "", sys, "to let the node's kubelet read its Secret", rbac});
    a.push_back({"get", resource, "", sys, "to compare an existing one", rbac});
    a.push_back({"delete", resource, "", sys, "to remove it when a later step fails", rbac});
  }
  if (drain) {
    a.push_back({"list", "pods", "", "", "to find the pods --drain removes"});
    if (disable_eviction)
      a.push_back({"delete", "pods", "", "", "to delete pods (--disable-eviction)"});
    else
      a.push_back({"create", "pods", "eviction", "", "to evict pods (--drain)"});
  }
  return a;
}

json access_review(const Access& a) {
  json attrs = {{"verb", a.verb}, {"group", a.group}, {"resource", a.resource}};
  if (!a.subresource.empty()) attrs["subresource"] = a.subresource;
  if (!a.ns.empty()) attrs["namespace"] = a.ns;
  return {{"apiVersion", "authorization.k8s.io/v1"},
          {"kind", "SelfSubjectAccessReview"},
          {"spec", {{"resourceAttributes", attrs}}}};
}

Result<void> check_start(kube::Client& client, const StartChecks& checks) {
  // The reviews go out together with the DaemonSet read: one round trip of wall time.
  const auto access = start_access(checks.drain, checks.disable_eviction);
  std::vector<std::future<Result<json>>> reviews;
  for (const auto& a : access)
    reviews.push_back(std::async(std::launch::async, [&client, review = access_review(a)] {
      return client.create(kube::resources::selfsubjectaccessreviews, "", review);
    }));

  std::vector<Error> problems;
  if (checks.daemonset) {
    const auto& ds = *checks.daemonset;
    auto got = client.get(kube::resources::daemonsets, ds.ns, ds.name);
    // clang-tidy: the branches differ; clang 14 misreads this unit (a front-end error in std::expected)
    // NOLINTNEXTLINE(bugprone-branch-clone)
    if (got) {
      if (auto p = schedule_label_problem(*got, ds.str(), checks.schedule_label))
        problems.emplace_back(ErrorKind::invalid_input, *p);
    } else if (kube::is_not_found(got.error())) {
      problems.emplace_back(ErrorKind::not_found,
                            "DaemonSet " + ds.str() +
                                " is not installed, so nothing would run the bootstrap on the nodes: install it "
                                "(kubectl apply -k manifests/ipb), name yours with --daemonset NAMESPACE/NAME, or "
                                "pass --daemonset=none if the bootstrap runs some other way");
    } else {
      problems.emplace_back(got.error().kind, "cannot read DaemonSet " + ds.str() + " to check its nodeSelector (" +
                                                  kube::kubectl_message(got.error()) +
                                                  "); pass --daemonset=none to skip the check");
    }
  }

  std::string denied;
  for (std::size_t i = 0; i < access.size(); ++i) {
    auto r = reviews[i].get();
    if (!r) {
      problems.emplace_back(r.error().kind,
                            "cannot check permissions (SelfSubjectAccessReview): " + kube::kubectl_message(r.error()));
      break;
    }
    if (!r->value("/status/allowed"_json_pointer, false)) denied += "\n    " + access[i].str() + ": " + access[i].why;
  }
  if (!denied.empty())
    problems.emplace_back(ErrorKind::api, "you lack permissions start needs (`kubectl auth can-i` confirms):" + denied);
  if (problems.empty()) return {};
  if (problems.size() == 1) return fail(problems[0].kind, problems[0].message + "\nNothing was changed.");
  std::string msg = "start cannot run:";
  for (const auto& p : problems) msg += "\n  " + p.message;
  return fail(problems[0].kind, msg + "\nNothing was changed.");
}

}  // namespace nodeboot::plugin::ipb
