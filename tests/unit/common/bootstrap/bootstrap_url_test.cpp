#include <boost/test/unit_test.hpp>

#include "nodeboot/bootstrap/url.hpp"

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

BOOST_AUTO_TEST_SUITE_END()
