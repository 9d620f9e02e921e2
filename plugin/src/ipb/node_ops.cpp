#include "nodeboot/plugin/ipb/node_ops.hpp"

#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/errors.hpp"
#include "nodeboot/kube/watch_event.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/sleep.hpp"

namespace nodeboot::plugin::ipb {
namespace {

using kube::resources::configmaps;
using kube::resources::nodes;
using kube::resources::pods;
using kube::resources::rolebindings;
using kube::resources::roles;
using kube::resources::secrets;
using nlohmann::json;

const std::string ns{names::system_namespace};

// kubectl drain retries a PodDisruptionBudget refusal every 5 seconds.
constexpr auto eviction_retry = std::chrono::seconds(5);
// How often a drained pod is checked for being gone (kubectl polls at 1 s too).
constexpr auto deletion_poll = std::chrono::seconds(1);

// States in which the agent owns the node: start must not label it again.
bool agent_running(std::string_view state) {
  return state == "Validating" || state == "Downloading" || state == "Applying" || state == "Rebooting" ||
         state == "Joining";
}

std::string suffix(const Context& ctx) {
  switch (ctx.dry_run) {
    case DryRun::client:
      return " (dry run)";
    case DryRun::server:
      return " (server dry run)";
    case DryRun::none:
      break;
  }
  return "";
}

kube::WriteOptions write_options(const Context& ctx) {
  return {.dry_run = ctx.dry_run == DryRun::server, .field_manager = std::string(names::plugin_field_manager)};
}
kube::PatchOptions patch_options(const Context& ctx) {
  return {.dry_run = ctx.dry_run == DryRun::server, .field_manager = std::string(names::plugin_field_manager)};
}

Change change(const Context& ctx, std::string kind, std::string name, const std::string& verb, json object = nullptr) {
  return Change{std::move(kind), std::move(name), verb + suffix(ctx), std::move(object)};
}

Result<json> get_node(Context& ctx, std::string_view node) {
  auto n = ctx.client.get(nodes, "", node);
  if (!n && kube::is_not_found(n.error()))
    return fail(ErrorKind::not_found, "node \"" + std::string(node) + "\" not found");
  return n;
}

// A merge patch of the node; in client dry run, the patch applied locally for output.
Result<json> patch_node(Context& ctx, std::string_view node, const json& patch, const json& current) {
  if (ctx.dry_run == DryRun::client) {
    json merged = current;
    merged.merge_patch(patch);
    return merged;
  }
  return ctx.client.patch(nodes, "", node, kube::PatchType::merge, patch, patch_options(ctx));
}

json annotations(std::string_view state, int progress, std::string_view message, std::string_view attempt) {
  return {{std::string(names::ann_state), state},
          {std::string(names::ann_progress), std::to_string(progress)},
          {std::string(names::ann_reason), ""},
          {std::string(names::ann_message), message},
          {std::string(names::ann_updated), rfc3339_now()},
          {std::string(names::ann_attempt), attempt}};
}

// GET, mutate, PUT, again on 409: restore writes the whole label and taint sets, which a
// merge patch cannot express without races.
Result<json> update_node(Context& ctx, std::string_view node, const std::function<bool(json&)>& mutate) {
  if (ctx.dry_run == DryRun::none)
    return kube::update_with_retry(ctx.client, nodes, "", node, [&](json& n) -> Result<bool> { return mutate(n); });
  auto n = get_node(ctx, node);
  if (!n) return n;
  if (!mutate(*n) || ctx.dry_run == DryRun::client) return n;
  return ctx.client.update(nodes, "", *n, write_options(ctx));
}

struct Written {
  json object;
  bool created = false;  // false: it existed already, `object` is what is stored
};

// Creates `object` in the system namespace, or reads the one already there (409
// AlreadyExists): one request in the common case instead of a GET before every POST. In
// client dry run nothing is written, so it only reads.
Result<Written> create_or_get(Context& ctx, const kube::ResourceRef& ref, const json& object) {
  const std::string name = object["metadata"]["name"];
  if (ctx.dry_run == DryRun::client) {
    auto existing = ctx.client.get(ref, ns, name);
    if (existing) return Written{std::move(*existing), false};
    if (!kube::is_not_found(existing.error())) return fail(existing.error());
    return Written{object, true};
  }
  auto created = ctx.client.create(ref, ns, object, write_options(ctx));
  if (created) return Written{std::move(*created), true};
  if (!kube::is_already_exists(created.error())) return fail(created.error());
  auto existing = ctx.client.get(ref, ns, name);
  if (!existing) return fail(existing.error());
  return Written{std::move(*existing), false};
}

Result<Change> delete_object(Context& ctx, const kube::ResourceRef& ref, std::string kind, const std::string& name) {
  if (ctx.dry_run != DryRun::client) {
    auto r = ctx.client.remove(ref, ns, name, kube::DeleteOptions{.dry_run = ctx.dry_run == DryRun::server});
    if (!r && kube::is_not_found(r.error())) return change(ctx, kind, name, "already gone");
    if (!r) return fail(r.error());
  }
  return change(ctx, std::move(kind), name, "deleted");
}

bool same_secret(const json& existing, const json& desired) {
  auto data = bootstrap::decode_data(existing);
  auto want = bootstrap::decode_data(desired);
  return data && want && *data == *want && existing.value("type", "") == desired.value("type", "") &&
         existing.value("/metadata/labels"_json_pointer, json::object()).value(std::string(names::node_label), "") ==
             desired["metadata"]["labels"].value(std::string(names::node_label), "");
}

}  // namespace

json redact_secret(json secret) {
  if (secret.contains("data")) {
    json keys = json::object();
    for (const auto& [k, v] : secret["data"].items()) keys[k] = "";  // the keys tell what is there; values never leave
    secret["data"] = keys;
  }
  secret.erase("stringData");
  return secret;
}

Result<PriorState> read_record(kube::Client& client, std::string_view node) {
  auto cm = client.get(configmaps, ns, record_name(node));
  if (!cm) return fail(cm.error());
  auto prior = prior_state_of_configmap(*cm);
  if (!prior)
    return fail(ErrorKind::internal, "ConfigMap " + ns + "/" + record_name(node) + " holds no readable prior state");
  return *prior;
}

// Cordons `current` (the node as just read); the change carries the node afterwards.
Result<Change> cordon_node(Context& ctx, std::string_view node, const json& current) {
  if (current.value("/spec/unschedulable"_json_pointer, false))
    return change(ctx, "node", std::string(node), "already cordoned", current);
  auto patched = patch_node(ctx, node, {{"spec", {{"unschedulable", true}}}}, current);
  if (!patched) return fail(patched.error());
  return change(ctx, "node", std::string(node), "cordoned", *patched);
}

Result<Change> cordon(Context& ctx, std::string_view node) {
  auto n = get_node(ctx, node);
  if (!n) return fail(n.error());
  return cordon_node(ctx, node, *n);
}

Result<std::vector<Change>> drain(Context& ctx, std::string_view node, const DrainOptions& o) {
  kube::ListOptions list;
  list.field_selector = "spec.nodeName=" + std::string(node);
  list.label_selector = o.pod_selector;
  auto listed = ctx.client.list(pods, "", list);
  if (!listed) return fail(listed.error());
  const json items = listed->value("items", json::array());
  const std::vector<json> on_node(items.begin(), items.end());
  auto plan = plan_drain(on_node, o);
  for (const auto& w : plan.warnings) ctx.notify(node, "Warning: " + w);
  if (!plan.errors.empty()) {
    std::string msg = "cannot drain node \"" + std::string(node) + "\":";
    for (const auto& e : plan.errors) msg += "\n  " + e;
    return fail(ErrorKind::invalid_input, msg);
  }
  std::vector<Change> changes;
  const auto deadline = o.timeout.count() > 0 ? std::chrono::steady_clock::now() + o.timeout
                                              : std::chrono::steady_clock::time_point::max();
  const std::string verb = o.disable_eviction ? "deleted" : "evicted";
  for (const auto& pod : plan.remove) {
    const std::string pns = pod["metadata"]["namespace"], pname = pod["metadata"]["name"];
    const std::string pod_ref = std::string(pns).append("/").append(pname);
    if (ctx.dry_run == DryRun::client) {
      changes.push_back(change(ctx, "pod", pod_ref, verb));
      continue;
    }
    kube::DeleteOptions del{.dry_run = ctx.dry_run == DryRun::server, .grace_period_seconds = o.grace_period_seconds};
    for (;;) {
      Result<void> r = o.disable_eviction ? [&]() -> Result<void> {
        auto d = ctx.client.remove(pods, pns, pname, del);
        if (!d) return fail(d.error());
        return {};
      }()
          : ctx.client.evict(pns, pname, del);
      if (r || kube::is_not_found(r.error())) break;
      if (!kube::is_too_many_requests(r.error())) return fail(r.error());
      // A PodDisruptionBudget says not now: say which pod waits, and try again.
      ctx.notify(node, "evicting pod " + pod_ref + " is blocked by a PodDisruptionBudget (" + r.error().message +
                           "); retrying in 5s");
      if (std::chrono::steady_clock::now() + eviction_retry > deadline)
        return fail(ErrorKind::transport, "drain of node \"" + std::string(node) + "\" timed out: pod " + pod_ref +
                                              " is still blocked by a PodDisruptionBudget: " + r.error().message);
      if (!sleep_for(ctx.stop, eviction_retry)) return fail(ErrorKind::internal, "interrupted while draining");
    }
    changes.push_back(change(ctx, "pod", pod_ref, verb));
  }
  if (ctx.dry_run != DryRun::none) return changes;
  // Wait until each pod is gone (or replaced by another of the same name: a new uid).
  for (const auto& pod : plan.remove) {
    const std::string pns = pod["metadata"]["namespace"], pname = pod["metadata"]["name"],
                      uid = pod["metadata"].value("uid", "");
    for (;;) {
      auto p = ctx.client.get(pods, pns, pname);
      if (!p && kube::is_not_found(p.error())) break;
      if (p && p->value("/metadata/uid"_json_pointer, std::string()) != uid) break;
      if (std::chrono::steady_clock::now() + deletion_poll > deadline)
        return fail(ErrorKind::transport, "drain of node \"" + std::string(node) + "\" timed out waiting for pod " +
                                              std::string(pns).append("/").append(pname) + " to be deleted");
      if (!sleep_for(ctx.stop, deletion_poll)) return fail(ErrorKind::internal, "interrupted while draining");
    }
  }
  return changes;
}

namespace {

// What one start did to a node, newest last, so a later failure can take back exactly that
// and nothing else (not what an earlier start did: `abort` is for that).
struct StartJournal {
  bool record_created = false;
  std::optional<json> cordoned_from;  // spec.unschedulable before the cordon (null: unset)
  std::vector<std::string> removed_pods;
  enum class SecretWrite { none, created, replaced } secret = SecretWrite::none;
  json previous_secret;                                // when replaced: what was stored before (never printed)
  std::string written_version;                         // when replaced: the resourceVersion of our write
  bool role_created = false, binding_created = false;  // the node's Secret reader
};

// The Secret as it was before `replaced`, to write back over `written_version`.
json secret_as_before(const json& previous, const std::string& written_version) {
  json meta = {{"name", previous["metadata"]["name"]}, {"namespace", ns}, {"resourceVersion", written_version}};
  for (const char* key : {"labels", "annotations"})
    if (previous["metadata"].contains(key)) meta[key] = previous["metadata"][key];
  json back = {
      {"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", meta}, {"type", previous.value("type", "Opaque")}};
  if (previous.contains("data")) back["data"] = previous["data"];
  return back;
}

// Takes back what `done` records, newest first, and says per object what it did. Pods a
// drain removed stay removed: their controllers have replaced them elsewhere.
std::string undo_start(Context& ctx, std::string_view node, const StartJournal& done) {
  const std::string name(node), secret = bootstrap::secret_name(node);
  std::vector<std::string> undone, failed;
  auto outcome = [&](const Result<json>& r, std::string what) {
    if (r || kube::is_not_found(r.error()))
      undone.push_back(std::move(what));
    else
      failed.push_back(what + " failed: " + kube::kubectl_message(r.error()));
  };
  const std::string reader = bootstrap::secret_name(node);
  if (done.binding_created) outcome(ctx.client.remove(rolebindings, ns, reader), "rolebinding/" + reader + " deleted");
  if (done.role_created) outcome(ctx.client.remove(roles, ns, reader), "role/" + reader + " deleted");
  using enum StartJournal::SecretWrite;
  if (done.secret == created) outcome(ctx.client.remove(secrets, ns, secret), "secret/" + secret + " deleted");
  if (done.secret == replaced)
    outcome(ctx.client.update(secrets, ns, secret_as_before(done.previous_secret, done.written_version),
                              write_options(ctx)),
            "secret/" + secret + " put back as it was");
  if (done.cordoned_from)
    outcome(ctx.client.patch(nodes, "", node, kube::PatchType::merge,
                             {{"spec", {{"unschedulable", *done.cordoned_from}}}}, patch_options(ctx)),
            "node/" + name + " uncordoned");
  // The record goes last: while anything above is still undone, `abort` needs it.
  if (done.record_created && failed.empty())
    outcome(ctx.client.remove(configmaps, ns, record_name(node)), "configmap/" + record_name(node) + " deleted");
  std::string report;
  if (!undone.empty()) {
    report += "\n  undone:";
    for (const auto& u : undone) report += " " + u + ";";
    report.pop_back();
  }
  if (!done.removed_pods.empty())
    report += "\n  not undone: " + std::to_string(done.removed_pods.size()) +
              " pod(s) the drain removed stay removed (their controllers replace them)";
  for (const auto& f : failed) report += "\n  " + f;
  if (!failed.empty())
    report += "\n  the node is not as it was: `kubectl nodeboot abort " + name +
              (done.secret == created ? " --delete-secret" : "") + "` restores it from its record";
  else if (undone.empty() && done.removed_pods.empty())
    report += "\n  nothing had been changed by this run";
  else
    report += "\n  node " + name + " is as it was before this start";
  return report;
}

// What to look at when the API server could not reach an admission webhook (failurePolicy
// Fail refuses the request then); "" for other errors.
std::string webhook_hint(const Error& e) {
  if (e.message.find("failed calling webhook") == std::string::npos) return "";
  return "\n  an admission webhook it needs is unreachable; for nodeboot's own check `kubectl -n " + ns +
         " get pods -l app.kubernetes.io/name=nodeboot-webhook`, then run start again";
}

// Asks the API server to admit the Secret without storing it: schema, RBAC and the
// admission webhooks answer now, before the node is touched. AlreadyExists comes only
// after admission has passed, so it counts as admitted (the real step then compares).
Result<void> secret_admitted(Context& ctx, std::string_view node, const json& desired) {
  auto r = ctx.client.create(secrets, ns, desired,
                             {.dry_run = true, .field_manager = std::string(names::plugin_field_manager)});
  if (r || kube::is_already_exists(r.error())) return {};
  const std::string what = "Secret " + ns + "/" + desired["metadata"]["name"].get<std::string>();
  if (kube::is_not_found(r.error()))
    return fail(ErrorKind::not_found,
                "namespace " + ns + " does not exist: install the DaemonSet first (kubectl apply -k manifests/ipb)");
  return fail(r.error().kind, "the API server refuses the bootstrap " + what + ": " + kube::kubectl_message(r.error()) +
                                  webhook_hint(r.error()) + "\n  nothing was changed on node " + std::string(node));
}

}  // namespace

Result<std::vector<Change>> start_node(Context& ctx, std::string_view node, const StartSpec& spec) {
  std::vector<Change> changes;
  auto n = get_node(ctx, node);
  if (!n) return fail(n.error());
  const std::string name(node);
  json desired = bootstrap::make_secret(node, spec.data);
  const std::string secret_name = desired["metadata"]["name"];

  // 0. What could be refused later is asked first (the run's own checks are preflight.hpp's).
  if (auto admitted = secret_admitted(ctx, node, desired); !admitted) return fail(admitted.error());

  // From here on every failure takes back what this run did to the node, and says so.
  StartJournal done;
  auto abandon = [&](std::string_view step, const Error& e) -> Result<std::vector<Change>> {
    Error out = e;
    out.message = std::string(step) + ": " + kube::kubectl_message(e) + webhook_hint(e);
    if (ctx.dry_run == DryRun::none) out.message += undo_start(ctx, node, done);
    return fail(std::move(out));
  };
  const Error interrupted(ErrorKind::internal, "interrupted (Ctrl-C)");

  // 1. The prior state, before anything changes; an existing record is the truth (a second
  //    start must not record the cordon it made itself). Create first and read only when
  //    it exists: a first start, the common case, costs one request instead of two.
  auto prior = record_prior_state(*n, rfc3339_now());
  prior.keep_secret = spec.keep_secret;
  auto cm = create_or_get(ctx, configmaps, prior_state_configmap(node, prior));
  if (!cm) return fail(cm.error());
  done.record_created = cm->created && ctx.dry_run == DryRun::none;
  changes.push_back(change(ctx, "configmap", record_name(node), cm->created ? "created" : "unchanged", cm->object));
  if (ctx.stop.stop_requested()) return abandon("before the cordon", interrupted);

  // 2. Cordon, 3. drain.
  auto c = cordon_node(ctx, node, *n);
  if (!c) return abandon("cordon", c.error());
  if (!n->value("/spec/unschedulable"_json_pointer, false))
    done.cordoned_from = n->value("/spec/unschedulable"_json_pointer, json());
  changes.push_back(*c);
  // The node as it is now: the cordon's answer, unless a drain ran meanwhile.
  json now = c->object;
  if (spec.drain) {
    auto d = drain(ctx, node, spec.drain_options);
    if (!d) return abandon("drain", d.error());
    for (const auto& removed : *d) done.removed_pods.push_back(removed.name);
    changes.insert(changes.end(), d->begin(), d->end());
    changes.push_back(change(ctx, "node", name, "drained"));
  }
  if (ctx.stop.stop_requested()) return abandon("before the Secret", interrupted);

  // 4. The Secret: created, replaced when different, left alone when equal.
  auto current = create_or_get(ctx, secrets, desired);
  if (!current) return abandon("bootstrap Secret", current.error());
  if (current->created || same_secret(current->object, desired)) {
    if (current->created) done.secret = StartJournal::SecretWrite::created;
    changes.push_back(
        change(ctx, "secret", secret_name, current->created ? "created" : "unchanged", redact_secret(current->object)));
  } else {
    desired["metadata"]["resourceVersion"] = current->object["metadata"]["resourceVersion"];
    Result<json> written = desired;
    if (ctx.dry_run != DryRun::client) written = ctx.client.update(secrets, ns, desired, write_options(ctx));
    if (!written) return abandon("bootstrap Secret", written.error());
    done.secret = StartJournal::SecretWrite::replaced;
    done.previous_secret = std::move(current->object);
    done.written_version = written->value("/metadata/resourceVersion"_json_pointer, std::string());
    changes.push_back(change(ctx, "secret", secret_name, "configured", redact_secret(*written)));
  }
  if (ctx.stop.stop_requested()) return abandon("before the Secret's reader", interrupted);

  // 4b. The node's kubelet may read that Secret (and no other): Role, then RoleBinding.
  bool role_new = false;
  for (const json& desired_rbac : {secret_reader_role(node), secret_reader_binding(node)}) {
    const bool is_role = desired_rbac["kind"] == "Role";
    const std::string kind = is_role ? "role" : "rolebinding";
    const std::string step = kind + " " + secret_name,
                      listed = kind + ".rbac.authorization.k8s.io";  // kubectl's -o name
    // RBAC checks a binding against its Role's rules, so a server dry run cannot ask about
    // the binding of a Role it did not store (unless the operator may `bind`): start's
    // SelfSubjectAccessReviews asked for it instead.
    if (!is_role && ctx.dry_run == DryRun::server && role_new) {
      changes.push_back(
          change(ctx, listed, secret_name, "created (not admitted: its Role is not stored)", desired_rbac));
      continue;
    }
    auto written = create_or_get(ctx, is_role ? roles : rolebindings, desired_rbac);
    if (!written) return abandon(step, written.error());
    if (!written->created && !same_grant(written->object, desired_rbac))
      return abandon(step, Error(ErrorKind::invalid_input,
                                 kind + " " + ns + "/" + secret_name + " exists but grants something else than read " +
                                     "access to Secret " + secret_name + " for system:node:" + name +
                                     ": it is not start's; delete it (kubectl -n " + ns + " delete " + kind + " " +
                                     secret_name + ") and run start again"));
    if (is_role) role_new = written->created;
    if (written->created && ctx.dry_run == DryRun::none) (is_role ? done.role_created : done.binding_created) = true;
    changes.push_back(change(ctx, listed, secret_name, written->created ? "created" : "unchanged", written->object));
  }
  if (ctx.stop.stop_requested()) return abandon("before the schedule label", interrupted);

  // 5. The schedule label (and state Pending), unless a run is already under way.
  Result<json> fresh = now;
  if (spec.drain) fresh = get_node(ctx, node);
  if (!fresh) return abandon("schedule label", fresh.error());
  const auto p = read_progress(*fresh, ctx.schedule_label);
  // clang-tidy: the branches differ; clang 14 misreads this unit (a front-end error in std::expected)
  // NOLINTNEXTLINE(bugprone-branch-clone)
  if ((p.scheduled && p.state == "Pending") || agent_running(p.state)) {
    changes.push_back(
        change(ctx, "node", name, "already scheduled (" + (p.state.empty() ? "Pending" : p.state) + ")", *fresh));
  } else if (p.state == "Failed") {
    changes.push_back(change(ctx, "node", name,
                             "failed earlier (" + p.reason + "): run `kubectl nodeboot retry " + name + "`", *fresh));
  } else {
    json patch = {{"metadata",
                   {{"labels", {{ctx.schedule_label, "true"}}},
                    {"annotations", annotations("Pending", 0, "waiting for the nodeboot-ipb DaemonSet's pod", "1")}}}};
    // A server dry run stored no cordon: ask for it again so the answer shows the end state.
    if (ctx.dry_run == DryRun::server && fresh->value("/spec/unschedulable"_json_pointer, false))
      patch["spec"] = {{"unschedulable", true}};
    auto labelled = patch_node(ctx, node, patch, *fresh);
    if (!labelled) return abandon("schedule label " + ctx.schedule_label, labelled.error());
    changes.push_back(change(ctx, "node", name, "labeled", *labelled));
  }
  return changes;
}

namespace {

// restore + Done (finish) or restore + annotations removed (abort).
Result<std::vector<Change>> put_back(Context& ctx, std::string_view node, bool finished, bool delete_secret) {
  std::vector<Change> changes;
  const std::string name(node);
  auto prior = read_record(ctx.client, node);
  if (!prior && !kube::is_not_found(prior.error())) return fail(prior.error());
  if (!prior) {
    auto n = get_node(ctx, node);
    if (!n) return fail(n.error());
    const auto p = read_progress(*n, ctx.schedule_label);
    if (finished && p.state == "Done") return std::vector<Change>{change(ctx, "node", name, "already finished", *n)};
    if (!p.scheduled && p.state.empty()) return std::vector<Change>{change(ctx, "node", name, "unchanged", *n)};
    if (finished)
      return fail(ErrorKind::not_found, "node \"" + name + "\" has no prior-state record (ConfigMap " + ns + "/" +
                                            record_name(node) + "): it was not started with `kubectl nodeboot start`");
  }
  auto updated = update_node(ctx, node, [&](json& n) {
    bool changed = false;
    // clang-tidy: the branches differ; clang 14 misreads this unit (a front-end error in std::expected)
    // NOLINTNEXTLINE(bugprone-branch-clone)
    if (prior) {
      changed = restore(n, *prior, ctx.schedule_label);
    } else if (n["metadata"].contains("labels")) {
      changed = n["metadata"]["labels"].erase(ctx.schedule_label) > 0;
    }
    json& ann = n["metadata"]["annotations"];
    if (!ann.is_object()) ann = json::object();
    if (finished) {
      const std::string attempt = ann.value(std::string(names::ann_attempt), std::string("1"));
      const json done = annotations("Done", 100, "back in service; prior labels, taints and cordon restored", attempt);
      for (const auto& [k, v] : done.items())
        if (k != names::ann_updated && ann.value(k, json()) != v) {
          ann[k] = v;
          changed = true;
        }
      if (changed) ann[std::string(names::ann_updated)] = rfc3339_now();
    } else {
      for (auto key : {names::ann_state, names::ann_reason, names::ann_message, names::ann_progress, names::ann_updated,
                       names::ann_attempt, names::ann_boot_id})
        changed |= ann.erase(std::string(key)) > 0;
    }
    return changed;
  });
  if (!updated) return fail(updated.error());
  changes.push_back(change(ctx, "node", name, finished ? "restored" : "restored (aborted)", *updated));
  if (delete_secret) {
    auto d = delete_object(ctx, secrets, "secret", bootstrap::secret_name(node));
    if (!d) return fail(d.error());
    changes.push_back(*d);
  }
  // The node's kubelet reads its Secret no more, kept or not.
  for (const auto& [ref, kind] : {std::pair{&rolebindings, "rolebinding.rbac.authorization.k8s.io"},
                                  std::pair{&roles, "role.rbac.authorization.k8s.io"}}) {
    auto d = delete_object(ctx, *ref, kind, bootstrap::secret_name(node));
    if (!d) return fail(d.error());
    changes.push_back(*d);
  }
  // The record goes last: until here, an interrupted finish/abort can simply be run again.
  if (prior) {
    auto d = delete_object(ctx, configmaps, "configmap", record_name(node));
    if (!d) return fail(d.error());
    changes.push_back(*d);
  }
  return changes;
}

}  // namespace

Result<std::vector<Change>> finish_node(Context& ctx, std::string_view node, bool keep_secret) {
  return put_back(ctx, node, true, !keep_secret);
}

Result<std::vector<Change>> abort_node(Context& ctx, std::string_view node, bool delete_secret) {
  return put_back(ctx, node, false, delete_secret);
}

Result<std::vector<Change>> retry_node(Context& ctx, std::string_view node) {
  const std::string name(node);
  auto n = get_node(ctx, node);
  if (!n) return fail(n.error());
  if (auto prior = read_record(ctx.client, node); !prior)
    return fail(ErrorKind::invalid_input, "node \"" + name + "\" has no in-place bootstrap to retry (no ConfigMap " +
                                              ns + "/" + record_name(node) + "); use `kubectl nodeboot start`");
  auto secret = ctx.client.get(secrets, ns, bootstrap::secret_name(node));
  if (!secret)
    return fail(ErrorKind::invalid_input, "Secret " + ns + "/" + bootstrap::secret_name(node) + ": " +
                                              kube::kubectl_message(secret.error()) +
                                              "; run `kubectl nodeboot start` again");
  const auto p = read_progress(*n, ctx.schedule_label);
  if (agent_running(p.state) || (p.state == "Pending" && p.scheduled))
    return fail(ErrorKind::invalid_input, "node \"" + name + "\" is " + p.state +
                                              ": an attempt is under way; wait, or `kubectl nodeboot abort " + name +
                                              "`");
  int attempt = 1;
  try {
    attempt = std::stoi(p.attempt) + 1;
  } catch (const std::exception&) {
    attempt = 2;  // no readable attempt: this is at least the second
  }
  std::vector<Change> changes;
  auto c = cordon(ctx, node);  // a failed node stays cordoned; make sure
  if (!c) return fail(c.error());
  changes.push_back(*c);
  json patch = {{"metadata",
                 {{"labels", {{ctx.schedule_label, "true"}}},
                  {"annotations", annotations("Pending", 0, "retry requested", std::to_string(attempt))}}}};
  auto labelled = patch_node(ctx, node, patch, *n);
  if (!labelled) return fail(labelled.error());
  changes.push_back(change(ctx, "node", name, "retrying (attempt " + std::to_string(attempt) + ")", *labelled));
  return changes;
}

// clang-tidy: `initial` is used; clang 14 misreads this unit (a front-end error in std::expected)
// NOLINTNEXTLINE(misc-unused-parameters)
Result<TrackResult> track(Context& ctx, std::vector<std::string> initial, const TrackOptions& o) {
  using Clock = std::chrono::steady_clock;
  struct Tracked {
    std::optional<PriorState> prior;  // a record at the time it was added: a bootstrap under way
    std::string last;                 // what on_progress saw last, to report changes only
    // A Done seen before any other state may be an earlier run's, still in the watch's
    // backlog; it counts once this run's own progress was seen (or the record is gone).
    bool armed = false;
    std::optional<Clock::time_point> back_since;  // Ready on a new boot, not Done yet
    bool hinted = false;
  };
  std::map<std::string, Tracked> tracked;
  TrackResult result;
  std::set<std::string> resolved;
  auto add = [&](const std::string& node) -> Result<void> {
    if (tracked.contains(node)) return {};
    auto prior = read_record(ctx.client, node);
    if (!prior && !kube::is_not_found(prior.error())) return fail(prior.error());
    tracked[node].prior = prior ? std::optional<PriorState>(*prior) : std::nullopt;
    return {};
  };
  for (const auto& n : initial)
    if (auto r = add(n); !r) return fail(r.error());

  Result<void> failure;
  auto finished = [&](const NodeProgress& p, Tracked& t) -> bool {
    if (p.state != "Done") return false;
    if (!t.prior || t.armed) return true;
    // Not seen in progress since it was added: Done counts only if the record is gone.
    auto record = read_record(ctx.client, p.name);
    if (record) return false;
    if (!kube::is_not_found(record.error())) failure = fail(record.error());
    return true;
  };
  auto handle = [&](const json& node) {
    const auto p = read_progress(node, ctx.schedule_label);
    auto it = tracked.find(p.name);
    if (it == tracked.end() || resolved.contains(p.name)) return;
    Tracked& t = it->second;
    const std::string seen =
        p.state + "|" + std::to_string(p.progress) + "|" + p.message + "|" + p.boot_id + (p.ready ? "|ready" : "");
    if (seen != t.last) {
      t.last = seen;
      o.on_progress(p);
    }
    if (p.state == "Failed") {
      resolved.insert(p.name);
      result.failed.push_back(p.name);
      return;
    }
    if (finished(p, t)) {
      resolved.insert(p.name);
      result.done.push_back(p.name);
      o.on_done(p.name);
      return;
    }
    if (p.state != "Done") t.armed = true;
    const bool back = t.prior && (p.state == "Rebooting" || p.state == "Joining") && rebooted(p, *t.prior);
    if (!back)
      t.back_since.reset();
    else if (!t.back_since)
      t.back_since = Clock::now();
  };
  // A node back for a while and still not Done: nobody is completing it. Say so once.
  auto hint = [&]() -> std::optional<Clock::time_point> {
    std::optional<Clock::time_point> next;
    for (auto& [name, t] : tracked) {
      if (!t.back_since || t.hinted || resolved.contains(name)) continue;
      const auto due = *t.back_since + o.waiting_hint_after;
      if (Clock::now() < due) {
        next = next ? std::min(*next, due) : due;
        continue;
      }
      t.hinted = true;
      ctx.notify(name,
                 "back on a new boot but not restored after " +
                     format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(o.waiting_hint_after)) +
                     ": is nodeboot-webhook running with --enable-completion-controller? "
                     "`kubectl nodeboot finish " +
                     name + "` restores it by hand");
    }
    return next;
  };
  auto all_resolved = [&] { return resolved.size() == tracked.size() && !o.keep_going(); };
  auto tick = [&]() -> bool {
    hint();
    for (const auto& n : o.on_tick(result)) {
      if (auto r = add(n); !r) {
        failure = r;
        return false;
      }
    }
    return failure.has_value();
  };

  std::string version;  // "" = list first
  while (true) {
    if (!tick()) break;
    if (all_resolved() || ctx.stop.stop_requested() || std::chrono::steady_clock::now() >= o.deadline) break;
    if (version.empty()) {
      auto listed = ctx.client.list(nodes, "");
      if (!listed) {
        // The API server may be restarting: keep trying until the deadline.
        if (!sleep_for(ctx.stop, std::chrono::seconds(1))) break;
        continue;
      }
      for (const auto& n : listed->value("items", json::array())) handle(n);
      version = listed->value("/metadata/resourceVersion"_json_pointer, std::string());
      continue;
    }
    // Watch until something resolves everything, the deadline, Ctrl-C or a roll's wake-up.
    std::stop_source stopper;
    std::stop_callback on_ctrl_c(ctx.stop, [&] { stopper.request_stop(); });
    // A soak may end with no event to wake us: the caller says when.
    const auto wake = std::min({o.deadline, o.next_wakeup().value_or(o.deadline), hint().value_or(o.deadline)});
    std::jthread timer([&stopper, wake](const std::stop_token& self) {
      if (sleep_until(self, wake)) stopper.request_stop();  // else the watch ended by itself
    });
    kube::WatchOptions wo;
    wo.resource_version = version;
    auto watched = ctx.client.watch(
        nodes, "", wo,
        [&](const kube::WatchEvent& ev) {
          if (ev.type == kube::WatchEventType::added || ev.type == kube::WatchEventType::modified) {
            handle(ev.object);
            if (!tick()) return false;
          }
          return !all_resolved() && failure.has_value();
        },
        kube::WatchControl{.stop = stopper.get_token(), .give_up_after = std::chrono::milliseconds(0)});
    timer.request_stop();
    if (watched) {
      version = *watched;
    } else if (kube::is_gone(watched.error())) {
      version.clear();  // compacted: list again
    } else if (!sleep_for(ctx.stop, std::chrono::seconds(1))) {
      break;
    }
  }
  if (!failure) return fail(failure.error());
  for (const auto& [name, t] : tracked)
    if (!resolved.contains(name)) result.pending.push_back(name);
  return result;
}

}  // namespace nodeboot::plugin::ipb
