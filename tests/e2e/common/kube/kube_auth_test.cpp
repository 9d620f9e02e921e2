// Authentication and impersonation against the real API server: client certificate, static
// token (--token-auth-file), exec credential plugins (caching, expiry, one refresh on 401,
// installHint, bad output), and impersonation denied by RBAC, then allowed.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <sstream>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/test/support.hpp"

#include "kube_e2e.hpp"

using namespace nodeboot;
using namespace nodeboot::kube;
using namespace nodeboot::test;
using e2e::admin_config;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

RestConfig anonymous_config() {
  RestConfig cfg = admin_config();
  cfg.client_cert_pem.clear();
  cfg.client_key_pem = Secret();
  return cfg;
}

std::string static_token(const std::string& user) {
  std::istringstream tokens(read_file(cluster().state_dir / "tokens.csv"));
  for (std::string line; std::getline(tokens, line);)
    if (line.find("," + user + ",") != std::string::npos) return line.substr(0, line.find(','));
  BOOST_FAIL("no token for " << user);
  return "";
}

Result<std::string> whoami(Client& c) {
  auto r = c.create(resources::selfsubjectreviews, "",
                    {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  if (!r) return std::unexpected(r.error());
  return (*r)["status"]["userInfo"].value("username", "");
}

std::string must(const Result<std::string>& r) {
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : kubectl_message(r.error())));
  return *r;
}

// A credential plugin whose answers the test scripts through files: each run appends to
// `runs`, then prints the token in `token` (with the expiry in `expiry`, if any).
struct Plugin {
  TempDir dir;
  Plugin() {
    dir.write("plugin", R"SH(#!/bin/sh
echo run >> "$DIR/runs"
if [ -f "$DIR/exit" ]; then exit "$(cat "$DIR/exit")"; fi
if [ -f "$DIR/garbage" ]; then echo "this is not json"; exit 0; fi
exp=""
if [ -f "$DIR/expiry" ]; then exp=",\"expirationTimestamp\":\"$(cat "$DIR/expiry")\""; fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"%s}}\n' "$(cat "$DIR/token")" "$exp"
)SH");
    fs::permissions(dir.path() / "plugin", fs::perms::owner_all);
  }
  RestConfig config() const {
    RestConfig cfg = anonymous_config();
    cfg.user_name = "exec-user";
    cfg.exec = ExecConfig{.api_version = "client.authentication.k8s.io/v1",
                          .command = (dir.path() / "plugin").string(),
                          .env = {{"DIR", dir.path().string()}},
                          .install_hint = "install it with: apt-get install nodeboot-cred",
                          .interactive_mode = "Never"};
    return cfg;
  }
  int runs() const {
    std::istringstream in(read_file(dir.path() / "runs"));
    int n = 0;
    for (std::string l; std::getline(in, l);) ++n;
    return n;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(kube_auth)

BOOST_AUTO_TEST_CASE(client_certificate) {
  Client c(admin_config());
  BOOST_TEST(must(whoami(c)) == "nodeboot-e2e-admin");
}

BOOST_AUTO_TEST_CASE(static_token_and_unauthorized) {
  RestConfig cfg = anonymous_config();
  cfg.bearer_token = Secret(static_token("token-user"));
  Client c(cfg);
  BOOST_TEST(must(whoami(c)) == "token-user");

  RestConfig bad = anonymous_config();
  bad.bearer_token = Secret("not-a-valid-token");
  Client b(bad);
  auto r = whoami(b);
  BOOST_REQUIRE(!r);
  BOOST_TEST(is_unauthorized(r.error()));
  BOOST_TEST(r.error().message.find("not-a-valid-token") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(token_file_is_read_and_cached) {
  TempDir d;
  auto file = d.write("token", static_token("token-user") + "\n");
  RestConfig cfg = anonymous_config();
  cfg.token_file = file;
  Client c(cfg);
  BOOST_TEST(must(whoami(c)) == "token-user");
  // Re-read at most once a minute (client-go's period), so a rewrite shows up later, not now.
  d.write("token", static_token("token-admin"));
  BOOST_TEST(must(whoami(c)) == "token-user");
  // A fresh client reads the file again.
  Client fresh(cfg);
  BOOST_TEST(must(whoami(fresh)) == "token-admin");
}

BOOST_AUTO_TEST_CASE(exec_plugin_is_cached_until_expiry) {
  Plugin p;
  p.dir.write("token", static_token("token-user"));
  Client c(p.config());
  BOOST_TEST(must(whoami(c)) == "token-user");
  BOOST_TEST(must(whoami(c)) == "token-user");
  BOOST_TEST(p.runs() == 1);  // no expirationTimestamp: cached

  Plugin expiring;
  expiring.dir.write("token", static_token("token-admin"));
  expiring.dir.write("expiry", "2000-01-01T00:00:00Z");  // already expired: every call runs it again
  Client e(expiring.config());
  BOOST_TEST(must(whoami(e)) == "token-admin");
  BOOST_TEST(must(whoami(e)) == "token-admin");
  BOOST_TEST(expiring.runs() == 2);

  Plugin lasting;
  lasting.dir.write("token", static_token("token-admin"));
  lasting.dir.write("expiry", "2999-01-01T00:00:00+01:00");
  Client l(lasting.config());
  BOOST_TEST(must(whoami(l)) == "token-admin");
  BOOST_TEST(must(whoami(l)) == "token-admin");
  BOOST_TEST(lasting.runs() == 1);
}

BOOST_AUTO_TEST_CASE(exec_plugin_refreshed_once_on_401) {
  Plugin p;
  p.dir.write("token", "stale-token");
  Client c(p.config());
  auto first = whoami(c);  // stale → 401 → one forced run → still stale → the 401 stands
  BOOST_REQUIRE(!first);
  BOOST_TEST(is_unauthorized(first.error()));
  BOOST_TEST(p.runs() == 2);
  p.dir.write("token", static_token("token-user"));  // the plugin's source of truth rotates
  BOOST_TEST(must(whoami(c)) == "token-user");       // cached stale → 401 → refresh → valid
  BOOST_TEST(p.runs() == 3);
}

BOOST_AUTO_TEST_CASE(exec_plugin_failures_name_the_user_and_never_crash) {
  Plugin p;
  p.dir.write("token", "x");
  p.dir.write("exit", "1");
  Client failing(p.config());
  auto r = whoami(failing);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("exec plugin for user \"exec-user\"") != std::string::npos, r.error().message);
  BOOST_TEST(r.error().message.find("exit code 1") != std::string::npos, r.error().message);

  Plugin g;
  g.dir.write("garbage", "");
  Client garbage(g.config());
  auto gr = whoami(garbage);
  BOOST_REQUIRE(!gr);
  BOOST_TEST(gr.error().message.find("did not print an ExecCredential") != std::string::npos, gr.error().message);

  RestConfig missing = p.config();
  missing.exec->command = "nodeboot-no-such-credential-plugin";
  Client m(missing);
  auto mr = whoami(m);
  BOOST_REQUIRE(!mr);
  BOOST_TEST(mr.error().message.find("not found") != std::string::npos, mr.error().message);
  BOOST_TEST(mr.error().message.find("apt-get install nodeboot-cred") != std::string::npos, mr.error().message);
}

BOOST_AUTO_TEST_CASE(impersonation_denied_then_allowed_by_rbac) {
  const std::string target = unique_name("imp-target");
  RestConfig cfg = anonymous_config();
  cfg.bearer_token = Secret(static_token("token-user"));
  cfg.impersonate_user = target;
  Client c(cfg);
  auto denied = whoami(c);
  BOOST_REQUIRE(!denied);
  BOOST_TEST(is_forbidden(denied.error()));
  BOOST_TEST(kubectl_message(denied.error()) ==
             "Error from server (Forbidden): users \"" + target +
                 "\" is forbidden: User \"token-user\" cannot impersonate resource \"users\" in API group \"\" at the "
                 "cluster scope");

  Client admin(admin_config());
  const std::string role = unique_name("impersonate");
  auto cr = admin.create(resources::clusterroles, "",
                         {{"metadata", {{"name", role}}},
                          {"rules", json::array({{{"apiGroups", {""}},
                                                  {"resources", {"users"}},
                                                  {"verbs", {"impersonate"}},
                                                  {"resourceNames", {target}}}})}});
  BOOST_REQUIRE_MESSAGE(cr.has_value(), (cr ? "" : cr.error().message));
  auto crb =
      admin.create(resources::clusterrolebindings, "",
                   {{"metadata", {{"name", role}}},
                    {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
                    {"subjects", json::array({{{"kind", "User"}, {"name", "token-user"}}})}});
  BOOST_REQUIRE_MESSAGE(crb.has_value(), (crb ? "" : crb.error().message));
  // RBAC changes reach the authorizer through its informer: shortly, not instantly.
  std::string who;
  BOOST_TEST(eventually([&] {
    auto r = whoami(c);
    who = r ? *r : "";
    return r.has_value();
  }));
  BOOST_TEST(who == target);
  (void)admin.remove(resources::clusterrolebindings, "", role);
  (void)admin.remove(resources::clusterroles, "", role);
}

BOOST_AUTO_TEST_SUITE_END()
