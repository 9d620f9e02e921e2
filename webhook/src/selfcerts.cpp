#include "nodeboot/webhook/selfcerts.hpp"

#include <arpa/inet.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/errors.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/sleep.hpp"
#include "nodeboot/webhook/log.hpp"

namespace nodeboot::webhook {
namespace {

using Clock = std::chrono::system_clock;

// The CA outlives ten serving certificates, so its rotation (a caBundle change that every
// API server must pick up) is rare.
constexpr int ca_lifetimes = 10;
// Issued a little in the past: API servers whose clocks lag still accept them.
constexpr auto backdate = std::chrono::minutes(5);

bool is_ip(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

Result<KeyPair> issue_serving(const KeyPair& ca, const CertPolicy& policy, Clock::time_point now) {
  CertificateRequest req;
  req.common_name = policy.hosts.empty() ? "nodeboot-webhook" : policy.hosts.front();
  for (const auto& h : policy.hosts) (is_ip(h) ? req.ip_addresses : req.dns_names).push_back(h);
  req.not_before = now - backdate;
  req.not_after = now + policy.validity;
  return issue_certificate(req, &ca);
}

Clock::time_point due(const std::string& cert_pem, Clock::time_point fallback) {
  auto not_after = certificate_not_after(cert_pem);
  return not_after ? *not_after : fallback;
}

// A third of the validity left: as cert-manager's default renewBefore for 90-day certificates.
Clock::time_point renew_at(const std::string& cert_pem, std::chrono::seconds validity) {
  return due(cert_pem, Clock::time_point{}) - validity / 3;
}

// The certificates in a PEM bundle, in order.
std::vector<std::string> split_bundle(const std::string& bundle) {
  std::vector<std::string> out;
  constexpr std::string_view end_marker = "-----END CERTIFICATE-----";
  std::size_t pos = 0;
  while (true) {
    const auto begin = bundle.find("-----BEGIN CERTIFICATE-----", pos);
    if (begin == std::string::npos) break;
    const auto end = bundle.find(end_marker, begin);
    if (end == std::string::npos) break;
    out.push_back(bundle.substr(begin, end + end_marker.size() - begin) + "\n");
    pos = end + end_marker.size();
  }
  return out;
}

bool hosts_match(const std::string& cert_pem, const CertPolicy& policy) {
  // A changed host list (a new --cert-hosts) needs a new certificate.
  auto bio = std::unique_ptr<BIO, decltype(&BIO_free)>(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), &BIO_free);
  auto cert =
      std::unique_ptr<X509, decltype(&X509_free)>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return false;
  return std::ranges::all_of(policy.hosts, [&](const std::string& h) {
    return (is_ip(h) ? X509_check_ip_asc(cert.get(), h.c_str(), 0)
                     : X509_check_host(cert.get(), h.c_str(), h.size(), 0, nullptr)) == 1;
  });
}

}  // namespace

Result<CertPlan> plan_certificates(const std::optional<CertMaterial>& stored, const CertPolicy& policy,
                                   Clock::time_point now) {
  CertPlan plan;
  const auto ca_validity = policy.validity * ca_lifetimes;
  bool new_ca = !stored || stored->ca.cert_pem.empty() || stored->ca.key_pem.empty() ||
                now >= renew_at(stored->ca.cert_pem, ca_validity);
  if (new_ca) {
    auto ca = issue_certificate({"nodeboot-webhook-ca", {}, {}, true, now - backdate, now + ca_validity}, nullptr);
    if (!ca) return std::unexpected(ca.error());
    plan.material.ca = std::move(*ca);
    plan.material.ca_bundle = plan.material.ca.cert_pem;
    // The old CA stays trusted while serving certificates it issued may still be in use.
    if (stored && !stored->ca.cert_pem.empty() && now < due(stored->ca.cert_pem, now))
      plan.material.ca_bundle += stored->ca.cert_pem;
    plan.changed = true;
  } else {
    plan.material.ca = stored->ca;
    // Drop a previous CA from the bundle once it has expired.
    for (const auto& c : split_bundle(stored->ca_bundle))
      if (c == stored->ca.cert_pem || now < due(c, now)) plan.material.ca_bundle += c;
    plan.changed = plan.material.ca_bundle != stored->ca_bundle;
  }
  const bool new_serving = new_ca || stored->serving.cert_pem.empty() || stored->serving.key_pem.empty() ||
                           now >= renew_at(stored->serving.cert_pem, policy.validity) ||
                           !hosts_match(stored->serving.cert_pem, policy);
  if (new_serving) {
    auto serving = issue_serving(plan.material.ca, policy, now);
    if (!serving) return std::unexpected(serving.error());
    plan.material.serving = std::move(*serving);
    plan.changed = true;
  } else {
    plan.material.serving = stored->serving;
  }
  return plan;
}

Clock::time_point renewal_due(const CertMaterial& material, const CertPolicy& policy) {
  return std::min(renew_at(material.serving.cert_pem, policy.validity),
                  renew_at(material.ca.cert_pem, policy.validity * ca_lifetimes));
}

SelfManagedCerts::SelfManagedCerts(kube::Client& client, SelfManagedOptions options)
    : client_(client), options_(std::move(options)) {}

SelfManagedCerts::~SelfManagedCerts() { thread_ = {}; }  // stops and joins before the members it uses go

namespace {

std::optional<CertMaterial> material_of(const nlohmann::json& secret) {
  const auto data = secret.value("data", nlohmann::json::object());
  const auto field = [&](const char* key) -> std::string {
    if (!data.contains(key) || !data[key].is_string()) return {};
    return base64_decode(data[key].get<std::string>()).value_or("");
  };
  CertMaterial m;
  m.ca_bundle = field("ca.crt");
  const auto certs = split_bundle(m.ca_bundle);
  m.ca.cert_pem = certs.empty() ? std::string() : certs.front();
  m.ca.key_pem = Secret(field("ca.key"));
  m.serving.cert_pem = field("tls.crt");
  m.serving.key_pem = Secret(field("tls.key"));
  return m;
}

void put_material(nlohmann::json& secret, const CertMaterial& m) {
  secret["type"] = "kubernetes.io/tls";
  secret["data"] = {{"ca.crt", base64_encode(m.ca_bundle)},
                    {"ca.key", base64_encode(m.ca.key_pem.reveal())},
                    {"tls.crt", base64_encode(m.serving.cert_pem)},
                    {"tls.key", base64_encode(m.serving.key_pem.reveal())}};
}

void write_atomically(const std::filesystem::path& file, const std::string& content) {
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::rename(tmp, file);
}

}  // namespace

Result<CertMaterial> SelfManagedCerts::ensure_secret() {
  // Replicas race here; the API server's resourceVersion picks one writer, the others
  // re-read and adopt what it stored.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto secret = client_.get(kube::resources::secrets, options_.namespace_, options_.secret_name);
    if (!secret && !kube::is_not_found(secret.error())) return std::unexpected(secret.error());
    std::optional<CertMaterial> stored;
    if (secret) stored = material_of(*secret);
    auto plan = plan_certificates(stored, options_.policy, Clock::now());
    if (!plan) return std::unexpected(plan.error());
    if (!plan->changed) return std::move(plan->material);
    Result<nlohmann::json> written;
    if (!secret) {
      nlohmann::json fresh = {{"apiVersion", "v1"},
                              {"kind", "Secret"},
                              {"metadata", {{"name", options_.secret_name}, {"namespace", options_.namespace_}}}};
      put_material(fresh, plan->material);
      written = client_.create(kube::resources::secrets, options_.namespace_, fresh);
    } else {
      put_material(*secret, plan->material);
      written = client_.update(kube::resources::secrets, options_.namespace_, *secret);
    }
    if (written) {
      log_info("self-managed certificate issued", {{"secret", options_.namespace_ + "/" + options_.secret_name}});
      return std::move(plan->material);
    }
    if (!kube::is_conflict(written.error()) && !kube::is_already_exists(written.error()))
      return std::unexpected(written.error());
  }
  return fail(ErrorKind::conflict, "the certificate Secret kept changing under us; will retry");
}

Result<void> SelfManagedCerts::patch_ca_bundles(const std::string& bundle) {
  const auto encoded = base64_encode(bundle);
  for (const auto* ref :
       {&kube::resources::mutatingwebhookconfigurations, &kube::resources::validatingwebhookconfigurations}) {
    auto r = kube::update_with_retry(client_, *ref, "", options_.configuration_name,
                                     [&](nlohmann::json& config) -> Result<bool> {
                                       bool changed = false;
                                       for (auto& w : config["webhooks"]) {
                                         if (w["clientConfig"].value("caBundle", "") != encoded) {
                                           w["clientConfig"]["caBundle"] = encoded;
                                           changed = true;
                                         }
                                       }
                                       return changed;
                                     });
    if (!r) return std::unexpected(r.error());
  }
  return {};
}

Result<Clock::time_point> SelfManagedCerts::sync() {
  auto material = ensure_secret();
  if (!material) return std::unexpected(material.error());
  std::filesystem::create_directories(options_.cert_dir);
  // Key first: until the certificate changes too the watcher sees a mismatched pair and
  // keeps serving the old one.
  write_atomically(options_.cert_dir / "tls.key", material->serving.key_pem.reveal());
  write_atomically(options_.cert_dir / "tls.crt", material->serving.cert_pem);
  if (auto patched = patch_ca_bundles(material->ca_bundle); !patched) return std::unexpected(patched.error());
  // Never sooner than 10 s: a clock far ahead must not turn this into a busy loop.
  return std::max(renewal_due(*material, options_.policy), Clock::now() + std::chrono::seconds(10));
}

void SelfManagedCerts::start(Clock::time_point first_due) {
  thread_ = std::jthread([this, first_due](const std::stop_token& stop) {
    auto next = first_due;
    while (sleep_until(stop, next)) {
      auto r = sync();
      if (r) {
        next = *r;
      } else {
        log_error("self-managed certificate sync failed", {{"error", r.error().message}});
        next = Clock::now() + std::chrono::minutes(1);  // retry soon; the current pair still serves
      }
    }
  });
}

}  // namespace nodeboot::webhook
