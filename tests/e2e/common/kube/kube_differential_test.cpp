// Differential suite: for each kubeconfig situation, nodeboot (nodeboot-kube-probe) must
// resolve the server, namespace and identity kubectl resolves, under the same environment.
//   kubectl side: `kubectl get configmaps -v=6` (the URL it requests: server + namespace),
//   `kubectl config view --minify --raw` (when no flag overrides the kubeconfig) and
//   `kubectl auth whoami -o json` (who the real API server says we are).
// In-cluster situations run both programs in a private mount namespace (unshare -m) whose
// /run holds a service-account folder, so nothing on the host changes.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <map>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Facts {
  std::string server, ca_b64, admin_crt_b64, admin_key_b64;
  std::string user_token, admin_token;  // from tokens.csv: token-user, token-admin
  fs::path pki;
};

std::string b64(const std::string& s) {
  ProcessOptions o;
  o.stdin_data = s;
  return run({"base64", "-w0"}, o).out;
}

const Facts& facts() {
  static const Facts f = [] {
    Facts x;
    const fs::path state = cluster().state_dir;
    x.pki = state / "pki";
    std::istringstream env(read_file(state / "env"));
    for (std::string line; std::getline(env, line);)
      if (line.starts_with("NODEBOOT_E2E_SERVER=")) x.server = line.substr(line.find('=') + 1);
    x.ca_b64 = b64(read_file(x.pki / "ca.crt"));
    x.admin_crt_b64 = b64(read_file(x.pki / "admin.crt"));
    x.admin_key_b64 = b64(read_file(x.pki / "admin.key"));
    std::istringstream tokens(read_file(state / "tokens.csv"));
    for (std::string line; std::getline(tokens, line);) {
      auto token = line.substr(0, line.find(','));
      if (line.find(",token-user,") != std::string::npos) x.user_token = token;
      if (line.find(",token-admin,") != std::string::npos) x.admin_token = token;
    }
    BOOST_REQUIRE(!x.server.empty() && !x.user_token.empty() && !x.admin_token.empty());
    return x;
  }();
  return f;
}

std::string port() { return facts().server.substr(facts().server.rfind(':') + 1); }
const std::string kBogusServer = "https://127.0.0.1:1";  // nothing listens on port 1

// One situation: files in a temp dir, environment, flags, and who the server must say we are.
struct Situation {
  std::string name;
  std::function<void(const TempDir&, std::map<std::string, std::string>& env, std::vector<std::string>& args)> setup;
  std::string expect_user;      // sanity: the situation really authenticates as this user
  bool flags_override = false;  // flags change the kubeconfig's answer: skip `config view`
  bool in_cluster = false;
  bool expect_failure = false;  // both must refuse
  // The cluster's CA is in the system trust store (/etc/ssl/certs, replaced in a private
  // mount namespace by run_in, so nothing on the host changes).
  bool system_trusts_cluster_ca = false;
};

std::string cluster_entry(const std::string& name, const std::string& server, const std::string& extra = "") {
  return "- name: " + name + "\n  cluster:\n    server: " + server + "\n" +
         (extra.empty() ? "    certificate-authority-data: " + facts().ca_b64 + "\n" : extra);
}
std::string admin_user(const std::string& name) {
  return "- name: " + name + "\n  user:\n    client-certificate-data: " + facts().admin_crt_b64 +
         "\n    client-key-data: " + facts().admin_key_b64 + "\n";
}
std::string token_user(const std::string& name, const std::string& token) {
  return "- name: " + name + "\n  user:\n    token: " + token + "\n";
}
std::string context(const std::string& name, const std::string& cl, const std::string& user,
                    const std::string& ns = "") {
  return "- name: " + name + "\n  context:\n    cluster: " + cl + "\n    user: " + user + "\n" +
         (ns.empty() ? "" : "    namespace: " + ns + "\n");
}
std::string kubeconfig(const std::string& current, const std::string& clusters, const std::string& users,
                       const std::string& contexts) {
  auto list = [](const char* key, const std::string& items) {
    return std::string(key) + (items.empty() ? ": []\n" : ":\n" + items);
  };
  return "apiVersion: v1\nkind: Config\n" + (current.empty() ? "" : "current-context: " + current + "\n") +
         list("clusters", clusters) + list("users", users) + list("contexts", contexts);
}

// A credential plugin: prints an ExecCredential of the requested apiVersion holding the token
// (or client certificate) read from the files named in its environment; never on argv.
const char* kExecPlugin = R"(#!/usr/bin/env python3
import json, os, sys
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
status = {}
if "TOKEN_FILE" in os.environ:
    status["token"] = open(os.environ["TOKEN_FILE"]).read().strip()
else:
    status["clientCertificateData"] = open(os.environ["CERT_FILE"]).read()
    status["clientKeyData"] = open(os.environ["KEY_FILE"]).read()
if os.environ.get("WANT_CLUSTER_INFO") and "cluster" not in info["spec"]:
    sys.exit("no cluster info in KUBERNETES_EXEC_INFO")
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential", "status": status}))
)";

// What a pod sees: a service-account folder (mounted at the real path by run_in) and the
// service environment variables; no kubeconfig.
void pod(const TempDir& d, std::map<std::string, std::string>& env, const std::string& token) {
  d.write("sa/token", token);
  d.write("sa/ca.crt", read_file(facts().pki / "ca.crt"));
  d.write("sa/namespace", "sa-ns\n");
  env["HOME"] = (d.path() / "home").string();
  env["KUBERNETES_SERVICE_HOST"] = "127.0.0.1";
  env["KUBERNETES_SERVICE_PORT"] = port();
}

std::vector<Situation> situations() {
  const auto& f = facts();
  std::vector<Situation> s;
  s.push_back({"explicit --kubeconfig with client certificate data",
               [](const TempDir&, auto&, auto& args) {
                 args = {"--kubeconfig", cluster().kubeconfig.string()};
               },
               "nodeboot-e2e-admin"});
  s.push_back({"KUBECONFIG merge: the first file wins overlapping cluster, user and context",
               [&](const TempDir& d, auto& env, auto&) {
                 auto a = d.write("a/config", kubeconfig("", cluster_entry("shared", f.server),
                                                         token_user("shared-user", f.user_token),
                                                         context("main", "shared", "shared-user")));
                 auto b = d.write("b/config", kubeconfig("main", cluster_entry("shared", kBogusServer),
                                                         token_user("shared-user", f.admin_token),
                                                         context("main", "shared", "shared-user", "wrong")));
                 env["KUBECONFIG"] = a.string() + ":" + b.string();
               },
               "token-user"});
  s.push_back(
      {"KUBECONFIG: duplicates and missing files skipped, context from the second file",
       [&](const TempDir& d, auto& env, auto&) {
         auto a = d.write("a/config", kubeconfig("", cluster_entry("c1", f.server), "", ""));
         auto b = d.write("b/config", kubeconfig("second", "", admin_user("u2"), context("second", "c1", "u2", "ns2")));
         env["KUBECONFIG"] = a.string() + ":" + (d.path() / "missing").string() + ":" + b.string() + ":" + a.string();
       },
       "nodeboot-e2e-admin"});
  s.push_back({"relative CA and client certificate paths resolve against the defining file",
               [&](const TempDir& d, auto& env, auto&) {
                 d.write("pki/ca.crt", read_file(f.pki / "ca.crt"));
                 d.write("conf/certs/admin.crt", read_file(f.pki / "admin.crt"));
                 d.write("conf/certs/admin.key", read_file(f.pki / "admin.key"));
                 auto c = d.write(
                     "conf/config",
                     kubeconfig("rel", cluster_entry("rel", f.server, "    certificate-authority: ../pki/ca.crt\n"),
                                "- name: rel\n  user:\n    client-certificate: certs/admin.crt\n"
                                "    client-key: ./certs/admin.key\n",
                                context("rel", "rel", "rel", "relative-ns")));
                 env["KUBECONFIG"] = c.string();
               },
               "nodeboot-e2e-admin"});
  s.push_back({"--context selects a context other than the current one",
               [&](const TempDir& d, auto&, auto& args) {
                 auto c =
                     d.write("config",
                             kubeconfig("bad", cluster_entry("bad", kBogusServer) + cluster_entry("good", f.server),
                                        admin_user("admin"),
                                        context("bad", "bad", "admin") + context("good", "good", "admin", "good-ns")));
                 args = {"--kubeconfig", c.string(), "--context", "good"};
               },
               "nodeboot-e2e-admin"});
  s.push_back({"--cluster and --user override the context's",
               [&](const TempDir& d, auto&, auto& args) {
                 auto c = d.write(
                     "config", kubeconfig("ctx", cluster_entry("bad", kBogusServer) + cluster_entry("good", f.server),
                                          token_user("user", f.user_token) + token_user("admin", f.admin_token),
                                          context("ctx", "bad", "user", "ctx-ns")));
                 args = {"--kubeconfig", c.string(), "--cluster", "good", "--user", "admin"};
               },
               "token-admin", true});
  s.push_back({"-n overrides the context's namespace",
               [&](const TempDir& d, auto&, auto& args) {
                 auto c = d.write("config", kubeconfig("ctx", cluster_entry("c", f.server), admin_user("admin"),
                                                       context("ctx", "c", "admin", "ctx-ns")));
                 args = {"--kubeconfig", c.string(), "-n", "flag-ns"};
               },
               "nodeboot-e2e-admin", true});
  s.push_back({"--server overrides the cluster's server",
               [&](const TempDir& d, auto&, auto& args) {
                 auto c = d.write("config", kubeconfig("ctx", cluster_entry("c", kBogusServer), admin_user("admin"),
                                                       context("ctx", "c", "admin")));
                 args = {"--kubeconfig", c.string(), "--server", f.server};
               },
               "nodeboot-e2e-admin", true});
  s.push_back({"in-cluster: service-account token, ca.crt and namespace file",
               [&](const TempDir& d, auto& env, auto&) { pod(d, env, f.user_token); }, "token-user", false, true});
  s.push_back({"in-cluster: POD_NAMESPACE and -n",
               [&](const TempDir& d, auto& env, auto& args) {
                 pod(d, env, f.admin_token);
                 env["POD_NAMESPACE"] = "pod-ns";
                 args = {"-n", "flag-ns"};
               },
               "token-admin", true, true});
  s.push_back({"in-cluster: POD_NAMESPACE wins over the namespace file",
               [&](const TempDir& d, auto& env, auto&) {
                 pod(d, env, f.admin_token);
                 env["POD_NAMESPACE"] = "pod-ns";
               },
               "token-admin", true, true});
  s.push_back({"kubeconfig inside a pod: no context namespace, so the pod's namespace",
               [&](const TempDir& d, auto& env, auto&) {
                 pod(d, env, f.admin_token);
                 env["KUBECONFIG"] = d.write("config", kubeconfig("ctx", cluster_entry("c", f.server), admin_user("u"),
                                                                  context("ctx", "c", "u")))
                                         .string();
               },
               "nodeboot-e2e-admin", true, true});
  s.push_back({"kubeconfig inside a pod: the context's namespace wins, even \"default\"",
               [&](const TempDir& d, auto& env, auto&) {
                 pod(d, env, f.admin_token);
                 env["KUBECONFIG"] = d.write("config", kubeconfig("ctx", cluster_entry("c", f.server), admin_user("u"),
                                                                  context("ctx", "c", "u", "default")))
                                         .string();
               },
               "nodeboot-e2e-admin", true, true});
  s.push_back({"static token in the kubeconfig",
               [&](const TempDir& d, auto& env, auto&) {
                 env["KUBECONFIG"] =
                     d.write("config", kubeconfig("ctx", cluster_entry("c", f.server), token_user("u", f.user_token),
                                                  context("ctx", "c", "u")))
                         .string();
               },
               "token-user"});
  s.push_back({"tokenFile (relative) in the kubeconfig",
               [&](const TempDir& d, auto& env, auto&) {
                 d.write("tokens/admin", f.admin_token + "\n");
                 env["KUBECONFIG"] = d.write("config", kubeconfig("ctx", cluster_entry("c", f.server),
                                                                  "- name: u\n  user:\n    tokenFile: tokens/admin\n",
                                                                  context("ctx", "c", "u")))
                                         .string();
               },
               "token-admin"});
  s.push_back({"token and tokenFile both set: the file wins",
               [&](const TempDir& d, auto& env, auto&) {
                 d.write("admin-token", f.admin_token);
                 env["KUBECONFIG"] = d.write("config", kubeconfig("ctx", cluster_entry("c", f.server),
                                                                  "- name: u\n  user:\n    token: " + f.user_token +
                                                                      "\n    tokenFile: admin-token\n",
                                                                  context("ctx", "c", "u")))
                                         .string();
               },
               "token-admin"});
  s.push_back({"client certificate and key as files, absolute",
               [&](const TempDir& d, auto& env, auto&) {
                 env["KUBECONFIG"] =
                     d.write("config", kubeconfig("ctx", cluster_entry("c", f.server),
                                                  "- name: u\n  user:\n    client-certificate: " +
                                                      (f.pki / "admin.crt").string() +
                                                      "\n    client-key: " + (f.pki / "admin.key").string() + "\n",
                                                  context("ctx", "c", "u")))
                         .string();
               },
               "nodeboot-e2e-admin"});
  s.push_back(
      {"exec plugin v1 returning a token (relative command)",
       [&](const TempDir& d, auto& env, auto&) {
         d.write("bin/cred", kExecPlugin);
         fs::permissions(d.path() / "bin/cred", fs::perms::owner_all);
         d.write("user-token", f.user_token);
         env["KUBECONFIG"] =
             d.write("config",
                     kubeconfig("ctx", cluster_entry("c", f.server),
                                "- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                "      command: ./bin/cred\n      interactiveMode: Never\n"
                                "      env:\n      - {name: TOKEN_FILE, value: " +
                                    (d.path() / "user-token").string() + "}\n",
                                context("ctx", "c", "u")))
                 .string();
       },
       "token-user"});
  s.push_back(
      {"exec plugin v1beta1 returning a client certificate, with cluster info",
       [&](const TempDir& d, auto& env, auto&) {
         d.write("cred.py", kExecPlugin);
         fs::permissions(d.path() / "cred.py", fs::perms::owner_all);
         env["KUBECONFIG"] =
             d.write(
                  "config",
                  kubeconfig("ctx", cluster_entry("c", f.server),
                             "- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                             "      command: " +
                                 (d.path() / "cred.py").string() +
                                 "\n      provideClusterInfo: true\n      env:\n"
                                 "      - {name: CERT_FILE, value: " +
                                 (f.pki / "admin.crt").string() + "}\n      - {name: KEY_FILE, value: " +
                                 (f.pki / "admin.key").string() + "}\n      - {name: WANT_CLUSTER_INFO, value: '1'}\n",
                             context("ctx", "c", "u")))
                 .string();
       },
       "nodeboot-e2e-admin"});
  s.push_back({"--as and --as-group impersonate",
               [&](const TempDir&, auto&, auto& args) {
                 args = {"--kubeconfig", cluster().kubeconfig.string(), "--as", "someone", "--as-group",
                         "nodeboot-e2e"};
               },
               "someone", true});
  s.push_back({"as / as-groups in the kubeconfig impersonate",
               [&](const TempDir& d, auto& env, auto&) {
                 env["KUBECONFIG"] =
                     d.write("config", kubeconfig("ctx", cluster_entry("c", f.server),
                                                  admin_user("u") + "    as: kc-someone\n    as-groups: [g1, g2]\n",
                                                  context("ctx", "c", "u")))
                         .string();
               },
               "kc-someone"});
  s.push_back({"~/.kube/config when KUBECONFIG is unset",
               [&](const TempDir& d, auto& env, auto&) {
                 d.write("home/.kube/config", kubeconfig("ctx", cluster_entry("c", f.server), admin_user("u"),
                                                         context("ctx", "c", "u", "home-ns")));
                 env["HOME"] = (d.path() / "home").string();
               },
               "nodeboot-e2e-admin"});
  s.push_back({"--kubeconfig wins over KUBECONFIG",
               [&](const TempDir& d, auto& env, auto& args) {
                 env["KUBECONFIG"] = d.write("env-config", kubeconfig("ctx", cluster_entry("c", kBogusServer),
                                                                      admin_user("u"), context("ctx", "c", "u")))
                                         .string();
                 args = {"--kubeconfig", d.write("flag-config", kubeconfig("ctx", cluster_entry("c", f.server),
                                                                           token_user("u", f.user_token),
                                                                           context("ctx", "c", "u", "flag-file-ns")))
                                             .string()};
               },
               "token-user"});
  s.push_back({"tls-server-name verifies a name the server address does not carry",
               [&](const TempDir& d, auto& env, auto&) {
                 // The address is the IP; the certificate's DNS name is what gets verified (and sent as SNI).
                 env["KUBECONFIG"] =
                     d.write("config", kubeconfig("ctx",
                                                  cluster_entry("c", f.server,
                                                                "    certificate-authority-data: " + f.ca_b64 +
                                                                    "\n    tls-server-name: kubernetes.default\n"),
                                                  admin_user("u"), context("ctx", "c", "u")))
                         .string();
               },
               "nodeboot-e2e-admin"});
  s.push_back({"--insecure-skip-tls-verify drops the kubeconfig's (wrong) CA",
               [&](const TempDir& d, auto&, auto& args) {
                 auto c = d.write("config",
                                  kubeconfig("ctx",
                                             cluster_entry("c", f.server,
                                                           "    certificate-authority-data: " + f.admin_crt_b64 + "\n"),
                                             admin_user("u"), context("ctx", "c", "u")));
                 args = {"--kubeconfig", c.string(), "--insecure-skip-tls-verify"};
               },
               "nodeboot-e2e-admin", true});
  s.push_back({"--certificate-authority replaces the kubeconfig's (wrong) CA",
               [&](const TempDir& d, auto&, auto& args) {
                 auto c = d.write("config",
                                  kubeconfig("ctx",
                                             cluster_entry("c", f.server,
                                                           "    certificate-authority-data: " + f.admin_crt_b64 + "\n"),
                                             admin_user("u"), context("ctx", "c", "u")));
                 args = {"--kubeconfig", c.string(), "--certificate-authority", (f.pki / "ca.crt").string()};
               },
               "nodeboot-e2e-admin", true});
  s.push_back({"refused: --user names no user",
               [&](const TempDir&, auto&, auto& args) {
                 args = {"--kubeconfig", cluster().kubeconfig.string(), "--user", "nobody"};
               },
               "", true, false, true});
  s.push_back({"refused: current-context names no context",
               [&](const TempDir& d, auto& env, auto&) {
                 env["KUBECONFIG"] = d.write("config", kubeconfig("missing", cluster_entry("c", f.server),
                                                                  admin_user("u"), context("ctx", "c", "u")))
                                         .string();
               },
               "", false, false, true});
  // The system store holds the cluster's CA. Without a CA in the kubeconfig both use it;
  // with another CA named there, both trust only that one and refuse the server.
  const auto with_ca = [&](const std::string& ca_lines) {
    return [&f, ca_lines](const TempDir& d, auto& env, auto&) {
      env["KUBECONFIG"] = d.write("config", kubeconfig("ctx", cluster_entry("c", f.server, ca_lines), admin_user("u"),
                                                       context("ctx", "c", "u")))
                              .string();
    };
  };
  s.push_back({"no CA in the kubeconfig: the system trust store", with_ca("\n"), "nodeboot-e2e-admin", false, false,
               false, true});
  s.push_back({"refused: a server whose CA only the system trusts, the kubeconfig naming another",
               with_ca("    certificate-authority-data: " + f.admin_crt_b64 + "\n"), "", false, false, true, true});
  s.push_back({"refused: a wrong CA in the kubeconfig",
               [&](const TempDir& d, auto& env, auto&) {
                 env["KUBECONFIG"] =
                     d.write("config",
                             kubeconfig("ctx",
                                        cluster_entry("c", f.server,
                                                      "    certificate-authority-data: " + f.admin_crt_b64 + "\n"),
                                        admin_user("u"), context("ctx", "c", "u")))
                         .string();
               },
               "", false, false, true});
  return s;
}

struct Outcome {
  int exit_code = 0;
  std::string out, err;
};

// Runs argv with exactly `env` (plus PATH), in a private mount namespace for in-cluster cases.
Outcome run_in(const Situation& s, const TempDir& d, const std::map<std::string, std::string>& env,
               std::vector<std::string> argv) {
  ProcessOptions o;
  o.timeout = std::chrono::seconds(60);
  o.env_unset = {"KUBECONFIG",
                 "KUBERNETES_SERVICE_HOST",
                 "KUBERNETES_SERVICE_PORT",
                 "POD_NAMESPACE",
                 "HTTPS_PROXY",
                 "https_proxy",
                 "HTTP_PROXY",
                 "http_proxy"};
  o.env_set = env;
  o.env_set["PATH"] = path_with_bin_dir();
  if (!env.contains("HOME")) o.env_set["HOME"] = (d.path() / "home").string();
  o.working_dir = "/";  // relative paths must resolve against the kubeconfig, not the cwd
  if (s.in_cluster) {
    std::vector<std::string> wrapped = {
        "unshare",
        "-m",
        "sh",
        "-c",
        "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && "
        "mount --bind \"$0\" /run/secrets/kubernetes.io/serviceaccount && exec \"$@\"",
        (d.path() / "sa").string()};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    argv = std::move(wrapped);
  }
  if (s.system_trusts_cluster_ca) {
    // A system store holding only the cluster's CA, as a bundle and as a hashed name (the
    // two places libcurl and Go look), bind-mounted over /etc/ssl/certs.
    const auto store = d.path() / "system-certs";
    fs::create_directories(store);
    const auto ca = read_file(facts().pki / "ca.crt");
    d.write("system-certs/ca-certificates.crt", ca);
    auto hash = run({"openssl", "x509", "-hash", "-noout", "-in", (facts().pki / "ca.crt").string()});
    BOOST_REQUIRE(hash.exit_code == 0);
    d.write("system-certs/" + hash.out.substr(0, hash.out.find('\n')) + ".0", ca);
    std::vector<std::string> wrapped = {
        "unshare", "-m", "sh", "-c", "mount --bind \"$0\" /etc/ssl/certs && exec \"$@\"", store.string()};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    argv = std::move(wrapped);
  }
  auto r = run(argv, o);
  return {r.exit_code, r.out, r.err};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kube_differential)

BOOST_AUTO_TEST_CASE(nodeboot_resolves_what_kubectl_resolves) {
  auto all = situations();
  BOOST_TEST_MESSAGE(all.size() << " kubeconfig situations");
  BOOST_TEST(all.size() >= 17u);
  for (const auto& s : all) {
    BOOST_TEST_CONTEXT("situation: " << s.name) {
      TempDir d;
      std::map<std::string, std::string> env;
      std::vector<std::string> args;
      s.setup(d, env, args);
      auto with = [&](std::vector<std::string> head) {
        head.insert(head.end(), args.begin(), args.end());
        return head;
      };
      Outcome probe = run_in(s, d, env, with({(bin_dir() / "nodeboot-kube-probe").string()}));
      Outcome whoami = run_in(s, d, env, with({"kubectl", "auth", "whoami", "-o", "json"}));
      if (s.expect_failure) {
        BOOST_TEST(probe.exit_code != 0, "nodeboot accepted it: " << probe.out);
        BOOST_TEST(whoami.exit_code != 0, "kubectl accepted it: " << whoami.out);
        BOOST_TEST(probe.err.find("error: ") == 0, probe.err);
        BOOST_TEST_MESSAGE(s.name << ": nodeboot says " << probe.err << "  kubectl says " << whoami.err);
        continue;
      }
      BOOST_REQUIRE_MESSAGE(whoami.exit_code == 0, "kubectl auth whoami: " << whoami.err);
      BOOST_REQUIRE_MESSAGE(probe.exit_code == 0, "nodeboot: " << probe.err << probe.out);
      json mine = json::parse(probe.out);
      json theirs = json::parse(whoami.out)["status"]["userInfo"];
      BOOST_TEST(mine["username"] == theirs["username"]);
      BOOST_TEST(mine["groups"] == theirs.value("groups", json::array()));
      BOOST_TEST(mine["username"] == s.expect_user);

      // The URL kubectl requests tells its server and namespace, flags included.
      Outcome get = run_in(s, d, env, with({"kubectl", "get", "configmaps", "-v=6"}));
      std::smatch m;
      static const std::regex url(R"((https://\S+?)/api/v1/namespaces/([^/?\s]+)/configmaps)");
      BOOST_REQUIRE_MESSAGE(std::regex_search(get.err, m, url), "no request URL in kubectl -v=6 output: " << get.err);
      BOOST_TEST(mine["server"] == m[1].str());
      BOOST_TEST(mine["namespace"] == m[2].str());

      if (!s.flags_override && !s.in_cluster) {
        Outcome view = run_in(s, d, env, with({"kubectl", "config", "view", "--minify", "--raw", "-o", "json"}));
        BOOST_REQUIRE_MESSAGE(view.exit_code == 0, view.err);
        json v = json::parse(view.out);
        BOOST_TEST(mine["server"] == v["clusters"][0]["cluster"]["server"]);
        BOOST_TEST(mine["namespace"] == v["contexts"][0]["context"].value("namespace", "default"));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
