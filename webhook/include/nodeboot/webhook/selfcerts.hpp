#pragma once

// Self-managed certificates (manifests/webhook/self-managed): the replicas share one Secret
// holding a CA and a serving certificate for the Service's DNS names; each replica writes
// the pair into its --cert-dir (the CertWatcher reloads it) and keeps the CA in the
// caBundle of the webhook configurations. Renewal happens when a third of the validity is
// left; a new CA keeps the old one in the bundle until the old one expires, so the API
// server trusts both serving certificates during the change-over.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/util/pki.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::webhook {

struct CertMaterial {
  KeyPair ca;             // the current CA (issues serving certificates)
  std::string ca_bundle;  // current CA, then a previous one still valid
  KeyPair serving;
};

struct CertPolicy {
  std::vector<std::string> hosts;                              // DNS names and IP addresses for the serving certificate
  std::chrono::seconds validity{std::chrono::hours(24 * 90)};  // serving; the CA gets 10x
};

// What to store, given what is stored (nullopt: nothing yet). `changed` says whether it
// differs from `stored`: a new CA and/or serving certificate was issued.
struct CertPlan {
  CertMaterial material;
  bool changed = false;
};
Result<CertPlan> plan_certificates(const std::optional<CertMaterial>& stored, const CertPolicy& policy,
                                   std::chrono::system_clock::time_point now);

// When `material` next needs renewing: a third of the serving (or CA) validity left.
std::chrono::system_clock::time_point renewal_due(const CertMaterial& material, const CertPolicy& policy);

struct SelfManagedOptions {
  std::string namespace_ = "nodeboot-system";
  std::string secret_name = "nodeboot-webhook-tls";
  std::string configuration_name = "nodeboot-webhook";  // both Mutating and Validating
  std::filesystem::path cert_dir;
  CertPolicy policy;
};

class SelfManagedCerts {
 public:
  SelfManagedCerts(kube::Client& client, SelfManagedOptions options);
  ~SelfManagedCerts();
  SelfManagedCerts(const SelfManagedCerts&) = delete;
  SelfManagedCerts& operator=(const SelfManagedCerts&) = delete;

  // One round: ensure the Secret (create / renew, conflict-safe between replicas), write the
  // pair into cert_dir, patch caBundle. Returns when to run again.
  Result<std::chrono::system_clock::time_point> sync();
  // Runs sync() again when due (or every minute after a failure) until destroyed.
  void start(std::chrono::system_clock::time_point first_due);

 private:
  Result<CertMaterial> ensure_secret();
  Result<void> patch_ca_bundles(const std::string& bundle);

  kube::Client& client_;
  SelfManagedOptions options_;
  std::jthread thread_;  // the renewer; last, so that it stops before the members it uses go
};

}  // namespace nodeboot::webhook
