#include <boost/test/unit_test.hpp>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;

namespace {
const char* kKubeconfig = R"(apiVersion: v1
kind: Config
current-context: dev
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team}
- name: other
  context: {cluster: c2, user: u1}
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:6443/", certificate-authority: ca.crt}
- name: c2
  cluster: {server: "https://10.0.0.1", insecure-skip-tls-verify: true}
users:
- name: u1
  user: {token: abc}
)";
}

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(current_context_with_relative_ca_file) {
  test::TempDir dir;
  dir.write("ca.crt", "PEM");
  auto cfg = kube::parse_kubeconfig(kKubeconfig, dir.path() / "config", {});
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), (cfg ? "" : cfg.error().message));
  BOOST_TEST(cfg->server == "https://127.0.0.1:6443");
  BOOST_TEST(cfg->ca_pem == "PEM");
  BOOST_TEST(cfg->namespace_ == "team");
  BOOST_TEST(cfg->bearer_token.reveal() == "abc");
}

BOOST_AUTO_TEST_CASE(flags_override_context_server_and_namespace) {
  kube::ConnectionFlags f;
  f.context = "other";
  f.namespace_ = "ns";
  auto cfg = kube::parse_kubeconfig(kKubeconfig, "/x/config", f);
  BOOST_REQUIRE(cfg.has_value());
  BOOST_TEST(cfg->server == "https://10.0.0.1");
  BOOST_TEST(cfg->insecure_skip_tls_verify);
  BOOST_TEST(cfg->namespace_ == "ns");
  f.server = "https://override:1";
  BOOST_TEST(kube::parse_kubeconfig(kKubeconfig, "/x/config", f)->server == "https://override:1");
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_and_the_entry) {
  kube::ConnectionFlags f;
  f.context = "missing";
  auto cfg = kube::parse_kubeconfig(kKubeconfig, "/x/config", f);
  BOOST_REQUIRE(!cfg.has_value());
  BOOST_TEST(cfg.error().message.find("/x/config") != std::string::npos);
  BOOST_TEST(cfg.error().message.find("\"missing\"") != std::string::npos);

  auto unreadable = kube::parse_kubeconfig(kKubeconfig, "/nonexistent/config", {});
  BOOST_REQUIRE(!unreadable.has_value());
  BOOST_TEST(unreadable.error().message.find("certificate-authority") != std::string::npos);

  auto bad = kube::parse_kubeconfig("a: [", "/x/bad", {});
  BOOST_REQUIRE(!bad.has_value());
  BOOST_TEST(bad.error().message.find("/x/bad") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
