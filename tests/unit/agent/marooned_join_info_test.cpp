#include <sstream>

#include <boost/test/unit_test.hpp>

#include "nodeboot/agent/app.hpp"
#include "nodeboot/agent/join.hpp"

using namespace nodeboot::agent;

namespace {
const std::string cred(64, 'a');
}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_join_info)

BOOST_AUTO_TEST_CASE(parses_what_the_plugin_writes_and_plain_yaml) {
  auto a = parse_join_info(
      "server_url: \"https://10.0.0.1:6443\"\ntoken: \"abcdef.0123456789abcdef\"\n"
      "pod_uid: \"0b7c1e3a-1111-4222-8333-444455556666\"\ntaint_key: \"maroonedpods.io\"\n"
      "credential: \"" +
      cred + "\"\n");
  BOOST_TEST_REQUIRE(a.has_value(), a.error().message);
  BOOST_TEST(a->server_url == "https://10.0.0.1:6443");
  BOOST_TEST(a->token.reveal() == "abcdef.0123456789abcdef");
  BOOST_TEST(a->credential.reveal() == cred);
  auto b = parse_join_info(
      "# cloud-init\nserver_url: https://k:6443\ntoken: 'K10x::server:y'\n"
      "pod_uid: 0b7c1e3a-1111-4222-8333-444455556666  # id\ncredential: " +
      cred + "\n");
  BOOST_TEST_REQUIRE(b.has_value(), b.error().message);
  BOOST_TEST(b->taint_key == "maroonedpods.io");  // the default when absent
  BOOST_TEST(b->pod_uid == "0b7c1e3a-1111-4222-8333-444455556666");
}

BOOST_AUTO_TEST_CASE(reports_every_bad_field_without_the_token) {
  auto r = parse_join_info(
      "server_url: http://k\ntoken: \"sec ret\"\npod_uid: Pod-1\ntaint_key: Bad_Key\nextra: 1\ncredential: "
      "not-hex-secret\n");
  BOOST_TEST_REQUIRE(!r.has_value());
  const auto& m = r.error().message;
  for (const char* field :
       {"server_url:", "token:", "pod_uid:", "taint_key:", "credential:", "unknown field \"extra\""})
    BOOST_TEST(m.find(field) != std::string::npos, field << " missing in: " << m);
  BOOST_TEST(m.find("sec ret") == std::string::npos);
  BOOST_TEST(m.find("not-hex-secret") == std::string::npos);
  // A join-info without a credential cannot join: the controller would never vouch for it.
  auto missing =
      parse_join_info("server_url: https://k:6443\ntoken: t.k\npod_uid: 0b7c1e3a-1111-4222-8333-444455556666\n");
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST(missing.error().message.find("credential:") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(k3s_config_carries_the_pods_label_and_taint) {
  JoinInfo info{"https://k:6443", nodeboot::Secret("t.k"), "0b7c1e3a-1111-4222-8333-444455556666", "example.com",
                nodeboot::Secret(cred)};
  const auto c = k3s_config(info, "vm-1").reveal();
  BOOST_TEST(c.find("server: \"https://k:6443\"\n") != std::string::npos);
  BOOST_TEST(c.find("node-name: \"vm-1\"\n") != std::string::npos);
  BOOST_TEST(c.find("node-label:\n  - \"maroonedpods.io/pod-uid=0b7c1e3a-1111-4222-8333-444455556666\"\n") !=
             std::string::npos);
  BOOST_TEST(c.find("node-taint:\n  - \"example.com/dedicated=0b7c1e3a-1111-4222-8333-444455556666:NoSchedule\"\n"
                    "  - \"example.com/dedicated=0b7c1e3a-1111-4222-8333-444455556666:NoExecute\"\n") !=
             std::string::npos);
  BOOST_TEST(c.find(cred) == std::string::npos);  // the credential is for the proof, not for k3s
}

BOOST_AUTO_TEST_CASE(join_refuses_bad_flags_before_reading_join_info) {
  // --host-root points nowhere: a flag check that ran after reading join-info would say so instead.
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--timeout", "0"}, {"--timeout", "soon"}, {"--service-manager", ""}}) {
    std::ostringstream out, err;
    const int code = nodeboot::agent::main({"nodeboot-agent", "join", "--host-root", "/nonexistent", "--node-name",
                                            "n1", std::string(flag).append("=").append(value)},
                                           out, err);
    BOOST_TEST(code == 2, flag << "=" << value << ": " << err.str());
    BOOST_TEST(err.str().find(flag.substr(2)) != std::string::npos, err.str());
    BOOST_TEST(err.str().find("join-info") == std::string::npos, err.str());
  }
}

BOOST_AUTO_TEST_SUITE_END()
