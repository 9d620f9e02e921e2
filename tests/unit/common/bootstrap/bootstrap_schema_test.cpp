#include <algorithm>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/bootstrap/schema.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/pki.hpp"

namespace bs = nodeboot::bootstrap;
using namespace std::chrono_literals;
using nodeboot::Secret;

namespace {

const auto now = std::chrono::system_clock::now();

std::string certificate(bool ca, std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) {
  nodeboot::CertificateRequest req{"test", {"example.com"}, {}, ca, from, to};
  auto pair = nodeboot::issue_certificate(req, nullptr);
  BOOST_REQUIRE(pair.has_value());
  return pair->cert_pem;
}

const std::string& valid_ca() {
  static const std::string pem = certificate(true, now - 1h, now + 24h);
  return pem;
}

bs::SecretData data(std::initializer_list<std::pair<std::string, std::string>> entries) {
  bs::SecretData out;
  for (const auto& [k, v] : entries) out.emplace(k, Secret(v));
  return out;
}

bs::SecretData rhcos() {
  return data({{"os", "rhcos"},
               {"ignition-url", "https://api.example.com:22623/config/worker"},
               {"ignition-token", "ign-TOKEN-123"},
               {"ca.crt", valid_ca()}});
}

bs::SecretData rhel() {
  return data({{"os", "rhel"},
               {"payload-url", "https://bootstrap.example.com/v1/payload"},
               {"payload-token", "pay-TOKEN-456"},
               {"worker-id", "kube-c1abc2de0-prod-default-00000123"},
               {"cluster-id", "c1abc2de0xyz"},
               {"region", "us-south"}});
}

bs::Problems problems_of(const bs::SecretData& d) {
  auto r = bs::parse(d, now);
  BOOST_REQUIRE(!r.has_value());
  return r.error();
}

bool has(const bs::Problems& ps, const std::string& key, const std::string& fragment) {
  return std::ranges::any_of(
      ps, [&](const auto& p) { return p.key == key && p.message.find(fragment) != std::string::npos; });
}

// Boost evaluates a REQUIRE_MESSAGE message even when the check passes.
template <typename T>
std::string why(const std::expected<T, bs::Problems>& r) {
  return r ? std::string() : bs::describe(r.error());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bootstrap_schema)

BOOST_AUTO_TEST_CASE(valid_rhcos_becomes_a_typed_spec_and_round_trips) {
  auto d = rhcos();
  d.emplace("registry", Secret("quay.io:443"));
  d.emplace("report-url", Secret("https://satellite.example.com/v2/progress"));
  d.emplace("report-token", Secret("rep-TOKEN"));
  auto spec = bs::parse(d, now);
  BOOST_REQUIRE_MESSAGE(spec.has_value(), why(spec));
  BOOST_TEST((spec->os == bs::Os::rhcos));
  BOOST_REQUIRE(spec->rhcos.has_value());
  BOOST_TEST(!spec->rhel.has_value());
  BOOST_TEST(spec->rhcos->ignition_url.port == 22623);
  BOOST_TEST(spec->rhcos->ignition_token.reveal() == "ign-TOKEN-123");
  BOOST_TEST(spec->rhcos->ca_pem == valid_ca());
  BOOST_TEST(spec->registry->host == "quay.io");
  BOOST_TEST(spec->report->token.reveal() == "rep-TOKEN");
  BOOST_TEST((bs::to_data(*spec) == d));
}

BOOST_AUTO_TEST_CASE(valid_rhel_with_every_optional_key) {
  auto d = rhel();
  d.emplace("payload-sha256", Secret(std::string(64, 'A')));
  d.emplace("mirrors", Secret("https://mirror1.example.com/rhel, https://mirror2.example.com/rhel"));
  d.emplace("ca.crt", Secret(valid_ca()));
  d.emplace("registry", Secret("[fd00::5]:5000"));
  auto spec = bs::parse(d, now);
  BOOST_REQUIRE_MESSAGE(spec.has_value(), why(spec));
  BOOST_REQUIRE(spec->rhel.has_value());
  BOOST_TEST(*spec->rhel->payload_sha256 == std::string(64, 'a'));
  BOOST_TEST(spec->rhel->mirrors.size() == 2u);
  BOOST_TEST(spec->rhel->mirrors[1].host == "mirror2.example.com");
  BOOST_TEST(spec->rhel->region == "us-south");
  BOOST_TEST(spec->registry->port.value() == 5000);
  auto again = bs::parse(bs::to_data(*spec), now);
  BOOST_REQUIRE(again.has_value());
  BOOST_TEST((again->rhel->mirrors == spec->rhel->mirrors));
  BOOST_TEST((again->registry == spec->registry));
}

BOOST_AUTO_TEST_CASE(missing_os_is_named_and_present_keys_are_still_checked) {
  auto ps = problems_of(data({{"ignition-url", "http://x.example.com"}}));
  BOOST_TEST(has(ps, "os", "is missing"));
  BOOST_TEST(has(ps, "ignition-url", "https://"));
  BOOST_TEST(ps.size() == 2u, bs::describe(ps));
  BOOST_TEST(has(problems_of(data({{"os", "RHCOS"}})), "os", "\"rhcos\" or \"rhel\""));
  BOOST_TEST(has(problems_of(data({{"os", "rhcos\n"}})), "os", "trailing newline"));
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_at_once_and_no_value_leaks) {
  const std::string token = "tok en-SECRET";
  const std::string url = "http://leaky.example.com/path?sig=SIGNATURE";
  auto d = data({{"os", "rhcos"},
                 {"ignition-url", url},
                 {"ignition-token", token},
                 {"ca.crt", certificate(true, now - 48h, now - 24h)},
                 {"payload-token", "SECRET-2"},
                 {"ignition_url", "SECRET-3"},
                 {"report-token", "SECRET-4"}});
  auto ps = problems_of(d);
  BOOST_TEST(has(ps, "ignition-url", "must start with https://"));
  BOOST_TEST(has(ps, "ignition-token", "whitespace"));
  BOOST_TEST(has(ps, "ca.crt", "expired"));
  BOOST_TEST(has(ps, "payload-token", "only when os is rhel"));
  BOOST_TEST(has(ps, "ignition_url", "not a bootstrap Secret key"));
  BOOST_TEST(has(ps, "report-url", "go together"));
  BOOST_TEST(ps.size() == 6u, bs::describe(ps));
  const auto text = bs::describe(ps);
  for (const auto* leak : {"SECRET", "leaky", "SIGNATURE", "tok en", "BEGIN"})
    BOOST_TEST(text.find(leak) == std::string::npos, leak);
}

BOOST_AUTO_TEST_CASE(required_keys_per_os) {
  auto ps = problems_of(data({{"os", "rhcos"}}));
  for (const auto* k : {"ignition-url", "ignition-token", "ca.crt"})
    BOOST_TEST(has(ps, k, "is missing; os rhcos needs it"));
  ps = problems_of(data({{"os", "rhel"}}));
  for (const auto* k : {"payload-url", "payload-token", "worker-id", "cluster-id", "region"})
    BOOST_TEST(has(ps, k, "is missing; os rhel needs it"));
  BOOST_TEST(ps.size() == 5u);
  auto with_rhel_only = rhcos();
  with_rhel_only.emplace("mirrors", Secret("https://m.example.com"));
  BOOST_TEST(has(problems_of(with_rhel_only), "mirrors", "only when os is rhel"));
}

BOOST_AUTO_TEST_CASE(mcd_image_is_an_optional_rhcos_key_pinned_by_digest) {
  const std::string hex = "3f2a6f3c4b8d9e0a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899";
  const std::string pinned = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + hex.substr(0, 64);
  // Without it the Secret stays valid: the host's own machine-config-daemon is used.
  auto without = bs::parse(rhcos(), now);
  BOOST_REQUIRE_MESSAGE(without.has_value(), why(without));
  BOOST_TEST(!without->rhcos->mcd_image.has_value());

  auto d = rhcos();
  d.emplace("mcd-image", Secret(pinned));
  auto spec = bs::parse(d, now);
  BOOST_REQUIRE_MESSAGE(spec.has_value(), why(spec));
  BOOST_REQUIRE(spec->rhcos->mcd_image.has_value());
  BOOST_TEST(spec->rhcos->mcd_image->text == pinned);
  BOOST_TEST(spec->rhcos->mcd_image->digest == "sha256:" + hex.substr(0, 64));
  BOOST_TEST((bs::to_data(*spec) == d));

  auto tagged = rhcos();
  tagged.emplace("mcd-image", Secret("quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64"));
  auto ps = problems_of(tagged);
  BOOST_REQUIRE(ps.size() == 1u);
  BOOST_TEST(has(ps, "mcd-image", "pinned by a tag"));
  BOOST_TEST(has(ps, "mcd-image", "@sha256:"));

  auto on_rhel = rhel();
  on_rhel.emplace("mcd-image", Secret(pinned));
  BOOST_TEST(has(problems_of(on_rhel), "mcd-image", "only when os is rhcos"));
}

BOOST_AUTO_TEST_CASE(ca_crt_must_be_a_current_ca_certificate) {
  const auto with_ca = [](const std::string& pem) {
    auto d = rhcos();
    d.insert_or_assign("ca.crt", Secret(pem));
    return problems_of(d);
  };
  BOOST_TEST(has(with_ca(certificate(false, now - 1h, now + 1h)), "ca.crt", "not a CA"));
  BOOST_TEST(has(with_ca(certificate(true, now + 1h, now + 2h)), "ca.crt", "not valid yet"));
  BOOST_TEST(has(with_ca(certificate(true, now - 2h, now - 1h)), "ca.crt", "expired"));
  BOOST_TEST(has(with_ca("just some text"), "ca.crt", "no PEM certificate"));
  BOOST_TEST(has(with_ca(""), "ca.crt", "no PEM certificate"));
  BOOST_TEST(
      has(with_ca("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"), "ca.crt", "damaged"));
  BOOST_TEST(has(with_ca("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "ca.crt",
                 "not a certificate OpenSSL can parse"));
  nodeboot::CertificateRequest req{"k", {}, {}, true, now - 1h, now + 1h};
  auto pair = nodeboot::issue_certificate(req, nullptr);
  BOOST_REQUIRE(pair.has_value());
  auto key_problems = with_ca(valid_ca() + pair->key_pem.reveal());
  BOOST_TEST(has(key_problems, "ca.crt", "PEM block 2 is a private key"));
  BOOST_TEST(bs::describe(key_problems).find("PRIVATE KEY-----") == std::string::npos);
  // A bundle of two good CAs is fine.
  auto bundle = rhcos();
  bundle.insert_or_assign("ca.crt", Secret(valid_ca() + certificate(true, now - 1h, now + 1h)));
  BOOST_TEST(bs::parse(bundle, now).has_value());
}

BOOST_AUTO_TEST_CASE(rhel_ids_checksum_mirrors_and_registry_forms) {
  auto d = rhel();
  d.insert_or_assign("worker-id", Secret("-bad id"));
  d.insert_or_assign("cluster-id", Secret(std::string(129, 'c')));
  d.insert_or_assign("region", Secret("US_South"));
  d.emplace("payload-sha256", Secret("abc123  payload.tar.gz"));
  d.emplace("mirrors", Secret("https://ok.example.com,,http://plain.example.com"));
  d.emplace("registry", Secret("https://quay.io"));
  auto ps = problems_of(d);
  BOOST_TEST(has(ps, "worker-id", "letters, digits"));
  BOOST_TEST(has(ps, "cluster-id", "1-128"));
  BOOST_TEST(has(ps, "region", "lower-case"));
  BOOST_TEST(has(ps, "payload-sha256", "64 hexadecimal"));
  BOOST_TEST(has(ps, "mirrors", "entry 2 is empty"));
  BOOST_TEST(has(ps, "mirrors", "entry 3 must start with https://"));
  BOOST_TEST(has(ps, "registry", "without a scheme"));
  BOOST_TEST(ps.size() == 7u, bs::describe(ps));
}

BOOST_AUTO_TEST_CASE(tokens_must_be_non_empty_without_whitespace) {
  auto d = rhel();
  d.insert_or_assign("payload-token", Secret(""));
  BOOST_TEST(has(problems_of(d), "payload-token", "is empty"));
  d.insert_or_assign("payload-token", Secret("abc\n"));
  BOOST_TEST(has(problems_of(d), "payload-token", "trailing newline"));
  d.insert_or_assign("payload-token", Secret("a\tb"));
  BOOST_TEST(has(problems_of(d), "payload-token", "whitespace"));
  d = rhel();
  d.emplace("report-url", Secret("https://r.example.com"));
  BOOST_TEST(has(problems_of(d), "report-token", "go together"));
}

BOOST_AUTO_TEST_CASE(secret_objects_round_trip_through_make_and_parse) {
  auto secret = bs::make_secret("worker-1", rhcos());
  BOOST_TEST(secret["metadata"]["name"] == "nodeboot-worker-1");
  BOOST_TEST(secret["metadata"]["namespace"] == "nodeboot-system");
  BOOST_TEST(secret["metadata"]["labels"]["nodeboot.io/node"] == "worker-1");
  BOOST_TEST(secret["type"] == "nodeboot.io/bootstrap");
  BOOST_TEST(secret["data"]["os"] == nodeboot::base64_encode("rhcos"));
  auto spec = bs::parse_secret(secret, now);
  BOOST_REQUIRE_MESSAGE(spec.has_value(), why(spec));

  // stringData wins over data, as in the API server.
  secret["stringData"] = {{"ignition-token", "from-string-data"}};
  BOOST_TEST(bs::parse_secret(secret, now)->rhcos->ignition_token.reveal() == "from-string-data");
}

BOOST_AUTO_TEST_CASE(secret_object_problems_include_metadata_and_encoding) {
  auto secret = bs::make_secret("worker-1", rhcos());
  secret["metadata"]["namespace"] = "default";
  secret["metadata"]["labels"]["nodeboot.io/node"] = "worker-2";
  secret["type"] = "Opaque";
  secret["data"]["ignition-token"] = "not base64!";
  secret["data"]["region"] = 7;
  auto r = bs::parse_secret(secret, now);
  BOOST_REQUIRE(!r.has_value());
  const auto& ps = r.error();
  BOOST_TEST(has(ps, "type", "nodeboot.io/bootstrap"));
  BOOST_TEST(has(ps, "metadata.namespace", "nodeboot-system"));
  BOOST_TEST(has(ps, "metadata.labels", "make them agree"));
  BOOST_TEST(has(ps, "ignition-token", "not valid base64"));
  BOOST_TEST(has(ps, "region", "must be a string"));

  nlohmann::json generated = {{"type", "nodeboot.io/bootstrap"}, {"metadata", {{"generateName", "nodeboot-"}}}};
  auto meta = bs::check_metadata(generated);
  BOOST_TEST(has(meta, "metadata.name", "generateName"));
  BOOST_TEST(has(meta, "metadata.labels", "needs label"));
}

BOOST_AUTO_TEST_SUITE_END()
