#include <boost/test/unit_test.hpp>

#include "nodeboot/bootstrap/url.hpp"

using nodeboot::bootstrap::parse_digest_ref;
using nodeboot::bootstrap::parse_host_port;
using nodeboot::bootstrap::parse_https_url;

BOOST_AUTO_TEST_SUITE(bootstrap_url)

BOOST_AUTO_TEST_CASE(https_urls_parse_into_host_port_and_path) {
  auto u = parse_https_url("https://Ignition.Example.com:22623/config/worker?x=1");
  BOOST_REQUIRE(u.has_value());
  BOOST_TEST(u->host == "ignition.example.com");
  BOOST_TEST(u->port == 22623);
  BOOST_TEST(u->path_and_query == "/config/worker?x=1");
  BOOST_TEST(u->text == "https://Ignition.Example.com:22623/config/worker?x=1");

  auto bare = parse_https_url("HTTPS://10.0.0.1");
  BOOST_REQUIRE(bare.has_value());
  BOOST_TEST(bare->port == 443);
  BOOST_TEST(bare->path_and_query == "/");

  auto v6 = parse_https_url("https://[fd00::1]:8443?token-free=query");
  BOOST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->host == "fd00::1");
  BOOST_TEST(v6->port == 8443);
  BOOST_TEST(v6->path_and_query == "/?token-free=query");
}

BOOST_AUTO_TEST_CASE(bad_urls_say_why_without_quoting_the_text) {
  const std::pair<const char*, const char*> cases[] = {
      {"http://example.com/x", "https://"},
      {"ftp://example.com", "https://"},
      {"example.com/x", "https://"},
      {"https://user:s3cret@example.com/x", "credentials"},
      {"https://example.com/x#frag", "fragment"},
      {"https://example.com/x\n", "newline"},
      {"https://exa mple.com", "whitespace"},
      {"https://", "host is missing"},
      {"https://:443/x", "host is missing"},
      {"https://example.com:0/x", "port"},
      {"https://example.com:65536/x", "port"},
      {"https://example.com:https/x", "port"},
      {"https://-bad-.example.com/", "DNS name"},
      {"https://under_score.example.com/", "DNS name"},
      {"https://[fd00::1/x", "closing"},
      {"https://[not-v6]/x", "IPv6"},
      {"", "empty"},
  };
  for (const auto& [text, expect] : cases) {
    auto u = parse_https_url(text);
    BOOST_TEST_INFO(text);
    BOOST_REQUIRE(!u.has_value());
    BOOST_TEST(u.error().message.find(expect) != std::string::npos, u.error().message);
    if (*text) BOOST_TEST(u.error().message.find(text) == std::string::npos);
  }
  BOOST_TEST(parse_https_url("https://user:s3cret@example.com/x").error().message.find("s3cret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(registry_is_host_with_optional_port) {
  auto plain = parse_host_port("quay.io");
  BOOST_REQUIRE(plain.has_value());
  BOOST_TEST(plain->host == "quay.io");
  BOOST_TEST(!plain->port.has_value());
  auto with_port = parse_host_port("Registry.local:5000");
  BOOST_REQUIRE(with_port.has_value());
  BOOST_TEST(with_port->host == "registry.local");
  BOOST_TEST(*with_port->port == 5000);
  auto v6 = parse_host_port("[::1]:5000");
  BOOST_REQUIRE(v6.has_value());
  BOOST_TEST(v6->host == "::1");

  BOOST_TEST(parse_host_port("https://quay.io").error().message.find("scheme") != std::string::npos);
  BOOST_TEST(parse_host_port("quay.io/openshift").error().message.find("path") != std::string::npos);
  BOOST_TEST(parse_host_port("quay.io:99999").error().message.find("port") != std::string::npos);
  BOOST_TEST(parse_host_port("quay.io\n").error().message.find("newline") != std::string::npos);
  BOOST_TEST(!parse_host_port("").has_value());
}

const std::string hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

BOOST_AUTO_TEST_CASE(image_pullspecs_are_pinned_by_digest) {
  const std::string quay = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + hex64;
  auto ref = parse_digest_ref(quay);
  BOOST_REQUIRE(ref.has_value());
  BOOST_TEST(ref->registry == "quay.io");
  BOOST_TEST(ref->repository == "openshift-release-dev/ocp-v4.0-art-dev");
  BOOST_TEST(ref->digest == "sha256:" + hex64);
  BOOST_TEST(ref->text == quay);
  for (const std::string ok : {"127.0.0.1:5000/ocp/mcd@sha256:", "localhost/mcd@sha256:",
                               "[::1]:5000/a/b_c__d--e.f@sha256:", "mirror.example.com:8443/ocp4/openshift4@sha256:"}) {
    auto r = parse_digest_ref(ok + hex64);
    BOOST_TEST(r.has_value(), ok << ": " << (r ? "" : r.error().message));
  }
  BOOST_TEST(parse_digest_ref("127.0.0.1:5000/ocp/mcd@sha256:" + hex64)->registry == "127.0.0.1:5000");
}

BOOST_AUTO_TEST_CASE(tags_short_names_and_bad_digests_are_refused_with_the_fix) {
  const auto message = [](const std::string& text) {
    auto r = parse_digest_ref(text);
    BOOST_REQUIRE_MESSAGE(!r.has_value(), text << " was accepted");
    return r.error().message;
  };
  BOOST_TEST(message("quay.io/ocp/mcd:4.16").find("pinned by a tag") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/mcd:4.16").find("@sha256:") != std::string::npos);
  BOOST_TEST(message("ubuntu:22.04").find("tag") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/mcd").find("no digest") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/mcd:4.16@sha256:" + hex64).find("remove the :tag") != std::string::npos);
  BOOST_TEST(message("ocp/mcd@sha256:" + hex64).find("registry") != std::string::npos);
  BOOST_TEST(message("mcd@sha256:" + hex64).find("registry") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/mcd@sha512:" + hex64 + hex64).find("sha256") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/mcd@sha256:" + hex64.substr(1)).find("64") != std::string::npos);
  std::string upper = hex64;
  upper[10] = 'A';
  BOOST_TEST(message("quay.io/ocp/mcd@sha256:" + upper).find("lower-case") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/MCD@sha256:" + hex64).find("repository") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp//mcd@sha256:" + hex64).find("repository") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/mcd-@sha256:" + hex64).find("repository") != std::string::npos);
  BOOST_TEST(message("quay.io/ocp/mcd@sha256:" + hex64 + "\n").find("newline") != std::string::npos);
  BOOST_TEST(message("docker://quay.io/ocp/mcd@sha256:" + hex64).find("scheme") != std::string::npos);
  BOOST_TEST(message("bad_host.io/ocp/mcd@sha256:" + hex64).find("registry") != std::string::npos);
  BOOST_TEST(message("").find("empty") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
