// kubectl's configuration rules (client-go tools/clientcmd), checked without a network.
// The same situations are compared with kubectl itself in e2e/kube_differential.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <map>

#include "nodeboot/kube/config.hpp"
#include "nodeboot/kube/mounted_kubeconfig.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::kube;

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
  cluster: {server: "https://127.0.0.1:6443/", certificate-authority: ca.crt, tls-server-name: kubernetes}
- name: c2
  cluster: {server: "https://10.0.0.1", insecure-skip-tls-verify: true}
users:
- name: u1
  user: {token: abc}
)";

// A process environment made of a map, and an in-cluster folder under a temp dir.
struct FakeEnv {
  std::map<std::string, std::string> vars;
  test::TempDir sa;
  Environment env() const {
    Environment e;
    e.getenv = [this](const std::string& k) -> std::optional<std::string> {
      auto it = vars.find(k);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    e.service_account_dir = sa.path();
    return e;
  }
};

std::string message(const Result<RestConfig>& r) { return r ? std::string("(no error)") : r.error().message; }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

BOOST_AUTO_TEST_SUITE(kube_config)

// A node's kubelet kubeconfig read through the host's / mounted elsewhere: the files it
// names, absolute or relative, are the host's.
BOOST_AUTO_TEST_CASE(a_mounted_kubeconfig_reads_its_files_under_the_mount) {
  test::TempDir host;
  host.write("var/lib/kubelet/pki/client.pem", "CERT");
  host.write("var/lib/kubelet/pki/client.key", "KEY");
  host.write("etc/kubernetes/ca.crt", "CA");
  const std::string kubelet = R"(apiVersion: v1
kind: Config
current-context: k
contexts: [{name: k, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://api:6443", certificate-authority: /etc/kubernetes/ca.crt}}]
users: [{name: u, user: {client-certificate: /var/lib/kubelet/pki/client.pem, client-key: pki/client.key}}]
)";
  auto cfg = parse_kubeconfig_under(kubelet, "/var/lib/kubelet/kubeconfig", host.path());
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  BOOST_TEST(cfg->ca_pem == "CA");
  BOOST_TEST(cfg->client_cert_pem == "CERT");
  BOOST_TEST(cfg->client_key_pem.reveal() == "KEY");

  // The kubelet's client certificate is an absolute link (kubelet-client-current.pem ->
  // /var/lib/kubelet/pki/kubelet-client-<date>.pem): followed under the mount, not here.
  host.write("var/lib/kubelet/pki/kubelet-client-2026.pem", "CERT+KEY");
  std::filesystem::create_symlink("/var/lib/kubelet/pki/kubelet-client-2026.pem",
                                  host.path() / "var/lib/kubelet/pki/kubelet-client-current.pem");
  std::filesystem::create_symlink("pki", host.path() / "var/lib/kubelet/certs");  // relative, a directory
  const std::string rotated = R"(apiVersion: v1
kind: Config
current-context: k
contexts: [{name: k, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://api:6443", certificate-authority: /etc/kubernetes/ca.crt}}]
users: [{name: u, user: {client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem, client-key: certs/kubelet-client-current.pem}}]
)";
  auto linked = parse_kubeconfig_under(rotated, "/var/lib/kubelet/kubeconfig", host.path());
  BOOST_REQUIRE_MESSAGE(linked.has_value(), message(linked));
  BOOST_TEST(linked->client_cert_pem == "CERT+KEY");
  BOOST_TEST(linked->client_key_pem.reveal() == "CERT+KEY");
  BOOST_TEST(path_under(host.path(), "/var/lib/kubelet/nothing/../pki/kubelet-client-current.pem") ==
             host.path() / "var/lib/kubelet/pki/kubelet-client-2026.pem");

  // A file missing under the mount is named by its path there.
  auto missing = parse_kubeconfig_under(kubelet, "/var/lib/kubelet/kubeconfig", host.path() / "elsewhere");
  BOOST_REQUIRE(!missing.has_value());
  BOOST_TEST(contains(missing.error().message, (host.path() / "elsewhere/etc/kubernetes/ca.crt").string()),
             missing.error().message);

  // An exec plugin would run in the wrong place.
  const std::string exec = R"(apiVersion: v1
kind: Config
current-context: k
contexts: [{name: k, context: {cluster: c, user: u}}]
clusters: [{name: c, cluster: {server: "https://api:6443"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/cred}}}]
)";
  auto refused = parse_kubeconfig_under(exec, "/var/lib/kubelet/kubeconfig", host.path());
  BOOST_REQUIRE(!refused.has_value());
  BOOST_TEST(contains(refused.error().message, "users[u].user.exec"), refused.error().message);
}

BOOST_AUTO_TEST_CASE(current_context_with_relative_ca_file) {
  test::TempDir dir;
  dir.write("ca.crt", "PEM");
  auto cfg = parse_kubeconfig(kKubeconfig, dir.path() / "config", {});
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  BOOST_TEST(cfg->server == "https://127.0.0.1:6443");
  BOOST_TEST(cfg->ca_pem == "PEM");
  BOOST_TEST(cfg->namespace_ == "team");
  BOOST_TEST(cfg->bearer_token.reveal() == "abc");
  BOOST_TEST(cfg->tls_server_name == "kubernetes");
  BOOST_TEST(cfg->context_name == "dev");
}

BOOST_AUTO_TEST_CASE(flags_override_context_server_and_namespace) {
  ConnectionFlags f;
  f.context = "other";
  f.namespace_ = "ns";
  auto cfg = parse_kubeconfig(kKubeconfig, "/x/config", f);
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  BOOST_TEST(cfg->server == "https://10.0.0.1");
  BOOST_TEST(cfg->insecure_skip_tls_verify);
  BOOST_TEST(cfg->namespace_ == "ns");
  f.server = "https://override:1";
  BOOST_TEST(parse_kubeconfig(kKubeconfig, "/x/config", f)->server == "https://override:1");
}

BOOST_AUTO_TEST_CASE(server_flag_clears_the_kubeconfig_tls_server_name) {
  test::TempDir dir;
  dir.write("ca.crt", "PEM");
  ConnectionFlags f;
  f.server = "https://127.0.0.2:6443";
  auto cfg = parse_kubeconfig(kKubeconfig, dir.path() / "config", f);
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  BOOST_TEST(cfg->tls_server_name.empty());
  f.tls_server_name = "other-name";
  BOOST_TEST(parse_kubeconfig(kKubeconfig, dir.path() / "config", f)->tls_server_name == "other-name");
}

BOOST_AUTO_TEST_CASE(ca_and_insecure_flags_replace_the_kubeconfig_trust) {
  test::TempDir dir;
  dir.write("ca.crt", "PEM");
  auto flag_ca = dir.write("flag-ca.crt", "FLAG-PEM");
  ConnectionFlags f;
  f.insecure_skip_tls_verify = true;
  auto insecure = parse_kubeconfig(kKubeconfig, dir.path() / "config", f);
  BOOST_REQUIRE_MESSAGE(insecure.has_value(), message(insecure));
  BOOST_TEST(insecure->insecure_skip_tls_verify);
  BOOST_TEST(insecure->ca_pem.empty());

  ConnectionFlags g;
  g.context = "other";  // insecure in the kubeconfig; a CA flag turns verification back on
  g.certificate_authority = flag_ca.string();
  auto ca = parse_kubeconfig(kKubeconfig, dir.path() / "config", g);
  BOOST_REQUIRE_MESSAGE(ca.has_value(), message(ca));
  BOOST_TEST(!ca->insecure_skip_tls_verify);
  BOOST_TEST(ca->ca_pem == "FLAG-PEM");
}

BOOST_AUTO_TEST_CASE(kubeconfig_list_merges_first_definition_wins) {
  test::TempDir a, b;
  a.write("a-ca.crt", "CA-A");
  b.write("b-ca.crt", "CA-B");
  b.write("token", "file-token\n");
  auto fa = a.write("config", R"(
clusters:
- name: shared
  cluster: {server: "https://a.example:6443", certificate-authority: a-ca.crt}
contexts:
- name: ctx-a
  context: {cluster: shared, user: only-b, namespace: from-a}
)");
  auto fb = b.write("config", R"(
current-context: ctx-a
clusters:
- name: shared
  cluster: {server: "https://b.example:6443", certificate-authority: b-ca.crt}
- name: only-b
  cluster: {server: "https://only-b.example", certificate-authority: b-ca.crt}
users:
- name: only-b
  user: {tokenFile: token}
contexts:
- name: ctx-a
  context: {cluster: only-b, user: only-b, namespace: from-b}
- name: ctx-b
  context: {cluster: only-b, user: only-b}
)");
  FakeEnv env;
  // Duplicates dropped, missing files skipped, empty entries ignored.
  env.vars["KUBECONFIG"] = fa.string() + "::" + "/nonexistent/config:" + fb.string() + ":" + fa.string();
  auto cfg = resolve_config({}, env.env());
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  // The current-context came from the second file, but the first file's ctx-a and
  // cluster "shared" win whole; a relative CA resolves against the file that defined it.
  BOOST_TEST(cfg->context_name == "ctx-a");
  BOOST_TEST(cfg->server == "https://a.example:6443");
  BOOST_TEST(cfg->ca_pem == "CA-A");
  BOOST_TEST(cfg->namespace_ == "from-a");
  BOOST_TEST(cfg->token_file == (b.path() / "token"));

  ConnectionFlags f;
  f.context = "ctx-b";
  auto other = resolve_config(f, env.env());
  BOOST_REQUIRE_MESSAGE(other.has_value(), message(other));
  BOOST_TEST(other->ca_pem == "CA-B");
  BOOST_TEST(other->namespace_ == "default");
}

BOOST_AUTO_TEST_CASE(explicit_kubeconfig_must_exist) {
  ConnectionFlags f;
  f.kubeconfig = "/nonexistent/kubeconfig";
  auto cfg = resolve_config(f, FakeEnv{}.env());
  BOOST_REQUIRE(!cfg);
  BOOST_TEST(contains(cfg.error().message, "/nonexistent/kubeconfig"));
}

BOOST_AUTO_TEST_CASE(in_cluster_when_no_kubeconfig) {
  FakeEnv env;
  env.vars["HOME"] = env.sa.path().string();  // no .kube/config there
  env.vars["KUBERNETES_SERVICE_HOST"] = "10.0.0.1";
  env.vars["KUBERNETES_SERVICE_PORT"] = "443";
  env.sa.write("token", "sa-token");
  env.sa.write("ca.crt", "SA-CA");
  env.sa.write("namespace", "pod-ns\n");
  auto cfg = resolve_config({}, env.env());
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  BOOST_TEST(cfg->in_cluster);
  BOOST_TEST(cfg->server == "https://10.0.0.1:443");
  BOOST_TEST(cfg->ca_pem == "SA-CA");
  BOOST_TEST(cfg->token_file == env.sa.path() / "token");
  BOOST_TEST(cfg->namespace_ == "pod-ns");

  env.vars["POD_NAMESPACE"] = "downward";
  BOOST_TEST(resolve_config({}, env.env())->namespace_ == "downward");
  ConnectionFlags f;
  f.namespace_ = "flag-ns";
  f.server = "https://other:6443";
  auto flagged = resolve_config(f, env.env());
  BOOST_TEST(flagged->namespace_ == "flag-ns");
  BOOST_TEST(flagged->server == "https://other:6443");

  env.vars["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  BOOST_TEST(resolve_config({}, env.env())->server == "https://[fd00::1]:443");
}

BOOST_AUTO_TEST_CASE(kubeconfig_in_a_pod_takes_the_pods_namespace_unless_the_context_names_one) {
  FakeEnv env;
  env.vars["KUBERNETES_SERVICE_HOST"] = "10.0.0.1";
  env.vars["KUBERNETES_SERVICE_PORT"] = "443";
  env.sa.write("token", "sa-token");
  env.sa.write("namespace", "pod-ns");
  test::TempDir d;
  auto write = [&](const std::string& ns) {
    return d.write("config", "current-context: c\ncontexts: [{name: c, context: {cluster: k" +
                                 (ns.empty() ? std::string() : ", namespace: " + ns) +
                                 "}}]\nclusters: [{name: k, cluster: {server: https://k}}]\n");
  };
  env.vars["KUBECONFIG"] = write("").string();
  BOOST_TEST(resolve_config({}, env.env())->namespace_ == "pod-ns");
  write("default");
  BOOST_TEST(resolve_config({}, env.env())->namespace_ == "default");
  write("team");
  BOOST_TEST(resolve_config({}, env.env())->namespace_ == "team");
}

BOOST_AUTO_TEST_CASE(when_both_fail_the_error_carries_both_causes) {
  FakeEnv env;
  env.vars["KUBECONFIG"] = "/nonexistent/a:/nonexistent/b";
  auto cfg = resolve_config({}, env.env());
  BOOST_REQUIRE(!cfg);
  BOOST_TEST(contains(cfg.error().message, "KUBECONFIG=/nonexistent/a:/nonexistent/b"));
  BOOST_TEST(contains(cfg.error().message, "KUBERNETES_SERVICE_HOST"));
}

BOOST_AUTO_TEST_CASE(user_credentials_follow_client_go) {
  test::TempDir dir;
  dir.write("token", "from-file");
  dir.write("c.crt", "CERT");
  dir.write("c.key", "KEY");
  auto cfg = parse_kubeconfig(R"(
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k"}}]
users:
- name: u
  user: {token: inline, tokenFile: token, client-certificate: c.crt, client-key: c.key, as: alice, as-groups: [g1, g2]}
)",
                              dir.path() / "config", {});
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  BOOST_TEST(cfg->bearer_token.reveal() == "inline");  // used only if the file cannot be read
  BOOST_TEST(cfg->token_file == dir.path() / "token");
  BOOST_TEST(cfg->client_cert_pem == "CERT");
  BOOST_TEST(cfg->client_key_pem.reveal() == "KEY");
  BOOST_TEST(cfg->impersonate_user == "alice");
  BOOST_TEST(cfg->impersonate_groups == (std::vector<std::string>{"g1", "g2"}));

  ConnectionFlags f;
  f.as = "bob";
  f.as_groups = {"devs"};
  f.username = "basic";
  auto clash = parse_kubeconfig(R"(
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k"}}]
users: [{name: u, user: {token: t}}]
)",
                                "/x/config", f);
  BOOST_REQUIRE(!clash);
  BOOST_TEST(contains(clash.error().message, "users[u]"));
  BOOST_TEST(contains(clash.error().message, "username/password"));
}

BOOST_AUTO_TEST_CASE(client_certificate_flag_on_a_user_with_data_is_an_error) {
  // kubectl 1.32 behaviour (FACTS.md): not an override.
  ConnectionFlags f;
  f.client_certificate = "/tmp/other.crt";
  auto cfg = parse_kubeconfig(R"(
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k"}}]
users: [{name: u, user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}}]
)",
                              "/x/config", f);
  BOOST_REQUIRE(!cfg);
  BOOST_TEST(contains(cfg.error().message, "client-certificate-data and client-certificate"));
}

BOOST_AUTO_TEST_CASE(impersonating_groups_without_a_user_is_an_error) {
  ConnectionFlags f;
  f.context = "other";
  f.as_groups = {"g"};
  auto cfg = parse_kubeconfig(kKubeconfig, "/x/config", f);
  BOOST_REQUIRE(!cfg);
  BOOST_TEST(contains(cfg.error().message, "--as"));
}

BOOST_AUTO_TEST_CASE(exec_plugins_parse_and_validate) {
  const char* v1 = R"(
current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters:
- name: k
  cluster:
    server: https://k
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: nodeboot}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/cred
      args: [get, --x]
      env: [{name: A, value: b}]
      provideClusterInfo: true
      installHint: install cred
)";
  auto missing_mode = parse_kubeconfig(v1, "/x/config", {});
  BOOST_REQUIRE(!missing_mode);
  BOOST_TEST(contains(missing_mode.error().message, "/x/config: users[u].user.exec.interactiveMode"));

  std::string with_mode = std::string(v1) + "      interactiveMode: Never\n";
  auto cfg = parse_kubeconfig(with_mode, "/x/config", {});
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), message(cfg));
  BOOST_REQUIRE(cfg->exec.has_value());
  BOOST_TEST(cfg->exec->command == "./bin/cred");
  BOOST_TEST(cfg->exec->base_dir == "/x");
  BOOST_TEST(cfg->exec->args.size() == 2u);
  BOOST_TEST(cfg->exec->env[0].first == "A");
  BOOST_TEST(cfg->exec->provide_cluster_info);
  BOOST_TEST(nlohmann::json::parse(cfg->exec->cluster_config)["audience"] == "nodeboot");

  // v1beta1 defaults interactiveMode to IfAvailable.
  std::string beta = v1;
  beta.replace(beta.find("k8s.io/v1\n"), 10, "k8s.io/v1beta1\n");
  auto b = parse_kubeconfig(beta, "/x/config", {});
  BOOST_REQUIRE_MESSAGE(b.has_value(), message(b));
  BOOST_TEST(b->exec->interactive_mode == "IfAvailable");
}

BOOST_AUTO_TEST_CASE(malformed_kubeconfigs_name_the_file_and_the_key) {
  struct Case {
    const char* yaml;
    const char* expect;
  };
  const Case cases[] = {
      {"a: [", "/x/bad: not valid YAML"},
      {"- 1\n- 2\n", "expected a mapping at the top"},
      {"clusters: {a: b}\n", "/x/bad: clusters: expected a list"},
      {"clusters: [{cluster: {server: x}}]\n", "clusters[0].name: missing"},
      {"clusters: [{name: c, cluster: [1]}]\n", "clusters[c].cluster: expected a mapping"},
      {"clusters: [{name: c, cluster: {server: {a: b}}}]\n", "clusters[c].cluster.server: expected a string"},
      {"clusters: [{name: c, cluster: {certificate-authority-data: \"!!notbase64\"}}]\n",
       "clusters[c].cluster.certificate-authority-data is not valid base64"},
      {"clusters: [{name: c, cluster: {insecure-skip-tls-verify: maybe}}]\n",
       "clusters[c].cluster.insecure-skip-tls-verify: expected true or false"},
      {"users: [{name: u, user: {as-groups: x}}]\n", "users[u].user.as-groups: expected a list of strings"},
      {"users: [{name: u, user: {exec: {env: [1]}}}]\n", "users[u].user.exec.env"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: nope}}]\n",
       "contexts[c].context.cluster: cluster \"nope\" is not defined under clusters"},
      {"current-context: gone\n", "current-context \"gone\" is not defined under contexts"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: "
       "{certificate-authority: /nonexistent/ca.crt}}]\n",
       "clusters[k].cluster.server: no server is set"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: "
       "{server: https://k, certificate-authority: /nonexistent/ca.crt}}]\n",
       "clusters[k].cluster.certificate-authority: cannot read /nonexistent/ca.crt"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: "
       "{server: https://k}}]\nusers: [{name: u, user: {tokenFile: /nonexistent/token}}]\n",
       "users[u].user.tokenFile: cannot read /nonexistent/token"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: "
       "{server: https://k, proxy-url: ftp://p}}]\n",
       "clusters[k].cluster.proxy-url"},
  };
  for (const auto& c : cases) {
    auto cfg = parse_kubeconfig(c.yaml, "/x/bad", {});
    BOOST_TEST_CONTEXT(c.yaml) {
      BOOST_REQUIRE(!cfg);
      BOOST_TEST(contains(cfg.error().message, c.expect), cfg.error().message);
      BOOST_TEST(contains(cfg.error().message, "/x/bad"), cfg.error().message);
    }
  }
}

BOOST_AUTO_TEST_CASE(secrets_never_reach_error_messages) {
  auto cfg = parse_kubeconfig(
      "current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\nclusters: [{name: k, cluster: "
      "{server: https://k}}]\nusers: [{name: u, user: {token: s3cr3t-token, password: s3cr3t-pw}}]\n",
      "/x/config", {});
  BOOST_REQUIRE(!cfg);
  BOOST_TEST(!contains(cfg.error().message, "s3cr3t"));
}

BOOST_AUTO_TEST_CASE(request_timeout_syntax) {
  BOOST_TEST(parse_timeout("0")->count() == 0);
  BOOST_TEST(parse_timeout("5")->count() == 5000);
  BOOST_TEST(parse_timeout("1m30s")->count() == 90000);
  BOOST_TEST(parse_timeout("250ms")->count() == 250);
  BOOST_TEST(!parse_timeout("soon"));
  BOOST_TEST(!parse_timeout("5 s"));
}

BOOST_AUTO_TEST_SUITE_END()
