#pragma once
// Server-side apply of the install bundle's objects, for real or as a server dry run
// (dryRun=All: validated, defaulted and admitted by the API server, never stored), and the
// wait for the webhook to come up. No argv, no terminal: results are returned or streamed to
// `out` one line per object, as kubectl apply prints them (never an object's contents).
#include <chrono>
#include <ostream>
#include <vector>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/plugin/install/bundle.hpp"

namespace nodeboot::plugin::install {

inline constexpr std::string_view field_manager = "kubectl-nodeboot-install";

// Requests are values: the server-side apply of one object (body = its YAML verbatim).
Result<kube::Request> apply_request(const Object& object, bool dry_run);

// The API groups the bundle needs beyond the built-in ones (cert-manager's, for --certs
// cert-manager), checked before anything is applied.
Result<void> check_apis(kube::Client& client, const std::vector<Object>& objects);

enum class Outcome { created, configured, unchanged, namespace_pending };
struct Applied {
  std::string name;  // display_name
  Outcome outcome;
};
// Applies every object in order (the bundle's order: namespaces and CRDs first, webhook
// configurations last); stops at the first refusal. In a dry run, an object whose namespace
// the bundle creates and the cluster lacks yet cannot be checked by the server:
// namespace_pending.
Result<std::vector<Applied>> apply(kube::Client& client, const std::vector<Object>& objects, bool dry_run,
                                   std::ostream& out);

// `--wait`: the webhook Deployment rolled out (kubectl rollout status: observed, updated and
// available replicas) and the webhook answering /healthz through its Service (the API
// server's service proxy).
Result<void> wait_ready(kube::Client& client, std::chrono::seconds timeout, std::ostream& out);

}  // namespace nodeboot::plugin::install
