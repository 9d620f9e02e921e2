// Issue 19 against real peers: the Ignition each role gets (checked by Ignition's own
// validator, the CNI and kube-vip pins in it, the pinned flannel manifest run through the
// first controller's own sed), and the kubeconfig upload end to end: `cluster serve` runs
// the HTTPS endpoint on loopback, and the first controller's upload script, taken out of
// its Ignition, sends admin.conf with curl. Stand-ins, named: `kubectl get --raw=/readyz`
// in that script is replaced by `true` (no API server here), and curl reaches the
// bootstrap IP 192.168.1.10 on loopback through --connect-to (TLS still checks that IP).
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "cluster_env.hpp"
#include "nodeboot/plugin/cluster/pins.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
using namespace nodeboot::test::cluster_env;
using nlohmann::json;
namespace fs = std::filesystem;
namespace cl = nodeboot::plugin::cluster;

namespace {

bool has_unit(const json& ign, const std::string& name) {
  return std::any_of(ign["systemd"]["units"].begin(), ign["systemd"]["units"].end(),
                     [&](const json& u) { return u["name"] == name; });
}

void validate_all(const fs::path& out) {
  for (const auto& e : fs::directory_iterator(out / "ignition")) {
    auto r = run({(tools_dir() / "ignition-validate").string(), e.path().string()});
    BOOST_TEST(r.exit_code == 0, e.path().filename() << ": " << r.out << r.err);
    BOOST_TEST(r.out + r.err == "", e.path().filename() << " has warnings: " << r.out << r.err);
  }
}

// The endpoint beside Matchbox, stopped however the test ends.
struct Serving {
  fs::path dir;
  int upload_port = free_loopback_port();
  explicit Serving(fs::path d) : dir(std::move(d)) {
    auto s = plugin({"cluster", "serve", "-o", dir.string(), "--no-dnsmasq", "--matchbox",
                     (tools_dir() / "matchbox").string(), "--matchbox-address",
                     "127.0.0.1:" + std::to_string(free_loopback_port()), "--upload-address",
                     "127.0.0.1:" + std::to_string(upload_port)});
    BOOST_REQUIRE_MESSAGE(s.exit_code == 0, s.out << s.err);
    BOOST_TEST(s.out.find("upload started") != std::string::npos, s.out);
  }
  ~Serving() { plugin({"cluster", "teardown", "-o", dir.string()}); }
  // As the first controller would: the CA and the header file from its Ignition.
  nodeboot::ProcessResult post(const fs::path& auth_header, const fs::path& body, const fs::path& ca) const {
    return run({"curl", "-sS", "-o", "/dev/stderr", "-w", "%{http_code}", "--connect-to",
                "192.168.1.10:8443:127.0.0.1:" + std::to_string(upload_port), "--cacert", ca.string(), "-H",
                "@" + auth_header.string(), "-H", "Content-Type: application/yaml", "--data-binary",
                "@" + body.string(), "https://192.168.1.10:8443/v1/kubeconfig"});
  }
};

const std::string admin_conf =
    "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: https://192.168.1.100:6443\n"
    "    certificate-authority-data: Zm9v\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: "
    "YmFy\n"
    "    client-key-data: c2VjcmV0LWtleS1tYXRlcmlhbA==\ncontexts:\n- name: admin@lab\n  context: {cluster: lab, user: "
    "kubernetes-admin}\n"
    "current-context: admin@lab\n";

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_upload)

BOOST_AUTO_TEST_CASE(each_role_gets_kube_vip_and_the_pinned_cni_where_it_belongs) {
  Generated g;
  validate_all(g.out);
  const json first = g.ign("cp-1"), second = g.ign("cp-2"), worker = g.ign("worker-2");

  // kube-vip on both controllers, on the VIP; the first on super-admin.conf until init is done.
  for (const auto* ign : {&first, &second}) {
    auto vip = text_of(*ign, "/etc/kubernetes/manifests/kube-vip.yaml");
    BOOST_TEST(vip.find("image: " + std::string(cl::kube_vip_image)) != std::string::npos);
    BOOST_TEST(vip.find("{name: address, value: \"192.168.1.100\"}") != std::string::npos);
    BOOST_TEST(vip.find("{name: vip_arp, value: \"true\"}") != std::string::npos);
    BOOST_TEST(vip.find("{name: vip_leaderelection, value: \"true\"}") != std::string::npos);
  }
  BOOST_TEST(text_of(first, "/etc/kubernetes/manifests/kube-vip.yaml").find("path: /etc/kubernetes/super-admin.conf") !=
             std::string::npos);
  BOOST_TEST(text_of(second, "/etc/kubernetes/manifests/kube-vip.yaml").find("path: /etc/kubernetes/admin.conf") !=
             std::string::npos);
  BOOST_TEST(!file_in(worker, "/etc/kubernetes/manifests/kube-vip.yaml"));
  BOOST_TEST(text_of(first, "/etc/kubeadm/init.yaml").find("controlPlaneEndpoint: 192.168.1.100:6443") !=
             std::string::npos);
  BOOST_TEST(text_of(first, "/etc/kubeadm/init.yaml").find("podSubnet: 10.32.0.0/16") != std::string::npos);
  BOOST_TEST(text_of(first, "/opt/nodeboot/post-init").find("super-admin.conf#path: /etc/kubernetes/admin.conf") !=
             std::string::npos);

  // The CNI: fetched by Ignition against its pin, checked again and applied by the first controller only.
  const json* manifest = file_in(first, "/opt/nodeboot/cni/manifest.yaml");
  BOOST_REQUIRE(manifest);
  BOOST_TEST((*manifest)["contents"]["source"] == std::string(cl::flannel_manifest.url));
  BOOST_TEST((*manifest)["contents"]["verification"]["hash"] == "sha256-" + std::string(cl::flannel_manifest.sha256));
  const auto apply = text_of(first, "/opt/nodeboot/cni/apply");
  BOOST_TEST(apply.find("echo '" + std::string(cl::flannel_manifest.sha256) +
                        "  manifest.yaml' | sha256sum --check --strict") != std::string::npos);
  BOOST_TEST(apply.find("kubectl apply") > apply.find("sha256sum --check"));
  BOOST_TEST(has_unit(first, "nodeboot-cni.service"));
  for (const auto* ign : {&second, &worker}) {
    BOOST_TEST(!file_in(*ign, "/opt/nodeboot/cni/manifest.yaml"));
    BOOST_TEST(!file_in(*ign, "/etc/nodeboot/upload-auth"));
    BOOST_TEST(!has_unit(*ign, "nodeboot-cni.service"));
  }

  // The pinned flannel manifest (the module proxy's copy) hashes to the pin, and the first
  // controller's own sed writes pod_subnet into it.
  const auto flannel = source_dir() / "tests/support/data/cni/kube-flannel-v0.28.10.yml";
  BOOST_TEST(sha256_hex(read_file(flannel)) == std::string(cl::flannel_manifest.sha256));
  auto sed_start = apply.find("sed -e '") + 8;
  auto expr = apply.substr(sed_start, apply.find('\'', sed_start) - sed_start);
  auto sed = run({"sed", "-e", expr, flannel.string()});
  BOOST_REQUIRE(sed.exit_code == 0);
  BOOST_TEST(sed.out.find("\"Network\": \"10.32.0.0/16\"") != std::string::npos);
  BOOST_TEST(sed.out.find("10.244.0.0/16") == std::string::npos);

  // The install disk reaches flatcar-install.
  BOOST_TEST(text_of(g.ign("install-worker-2"), "/opt/nodeboot/install").find("flatcar-install -d /dev/nvme0n1 ") !=
             std::string::npos);
  BOOST_TEST(text_of(g.ign("install-cp-1"), "/opt/nodeboot/install").find("flatcar-install -d /dev/sda ") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(calico_and_none_change_only_the_first_controllers_cni) {
  Generated calico(Variant{"calico"});
  validate_all(calico.out);
  const json calico_first = calico.ign("cp-1");  // kept alive: file_in points into it
  const json* m = file_in(calico_first, "/opt/nodeboot/cni/manifest.yaml");
  BOOST_REQUIRE(m);
  BOOST_TEST((*m)["contents"]["verification"]["hash"] == "sha256-" + std::string(cl::calico_manifest.sha256));
  BOOST_TEST(text_of(calico_first, "/opt/nodeboot/cni/apply").find("value: \"10.32.0.0/16\"") != std::string::npos);

  Generated none(Variant{"none"});
  validate_all(none.out);
  const json first = none.ign("cp-1");
  BOOST_TEST(!file_in(first, "/opt/nodeboot/cni/manifest.yaml"));
  BOOST_TEST(!file_in(first, "/opt/nodeboot/cni/apply"));
  BOOST_TEST(!has_unit(first, "nodeboot-cni.service"));
  BOOST_TEST(has_unit(first, "nodeboot-kubeconfig-upload.service"));  // the rest stays
}

BOOST_AUTO_TEST_CASE(the_endpoint_takes_the_right_token_once_and_refuses_the_rest) {
  Generated g;
  const json first = g.ign("cp-1");
  TempDir node;  // the first controller's files, from its Ignition
  const auto ca = node.write("upload-ca.crt", text_of(first, "/etc/nodeboot/upload-ca.crt"));
  const auto auth = node.write("upload-auth", text_of(first, "/etc/nodeboot/upload-auth"));
  // Parenthesised: a failure must not print the file or the token.
  BOOST_TEST((read_file(auth) == "Authorization: Bearer " + g.token + "\n"), "the header file holds the token");
  const auto wrong = node.write("wrong-auth", "Authorization: Bearer " + std::string(64, '0') + "\n");
  const auto admin = node.write("admin.conf", admin_conf);
  const auto big = node.write("big.conf", admin_conf + "# " + std::string(std::size_t{70} * 1024, 'x') + "\n");
  const auto junk = node.write("junk.conf", "kind: Pod\n");
  Serving s(g.out);
  const auto received = g.out / "admin.conf";

  BOOST_TEST(s.post(wrong, admin, ca).out == "401");
  BOOST_TEST(s.post(auth, big, ca).out == "413");   // the cap, from Content-Length
  BOOST_TEST(s.post(auth, junk, ca).out == "400");  // not a kubeconfig: the token is kept
  BOOST_TEST(!fs::exists(received));
  // Without the CA from the Ignition, curl does not trust the endpoint.
  auto untrusted = run({"curl", "-sS", "--connect-to", "192.168.1.10:8443:127.0.0.1:" + std::to_string(s.upload_port),
                        "https://192.168.1.10:8443/v1/kubeconfig"});
  BOOST_TEST(untrusted.exit_code == 60, untrusted.err);  // CURLE_PEER_FAILED_VERIFICATION

  // The first controller's own script, with its paths under `node` (stand-ins named above).
  auto script = text_of(first, "/opt/nodeboot/upload-kubeconfig");
  script = replace_all(script, "until kubectl get --raw=/readyz >/dev/null 2>&1; do sleep 5; done", "true");
  script = replace_all(script, "/etc/nodeboot/", node.path().string() + "/");
  script = replace_all(script, "/etc/kubernetes/admin.conf", admin.string());
  script = replace_all(script, "curl ",
                       "curl --connect-to 192.168.1.10:8443:127.0.0.1:" + std::to_string(s.upload_port) + " ");
  auto sent = run({"bash", "-c", script});
  BOOST_TEST_REQUIRE(sent.exit_code == 0, sent.out << sent.err);
  BOOST_TEST(sent.out.find("kubeconfig received") != std::string::npos, sent.out);
  BOOST_TEST(!fs::exists(auth));  // the script deletes the token once sent
  BOOST_TEST(read_file(received) == admin_conf);
  BOOST_TEST(
      ((fs::status(received).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write)));
  BOOST_TEST(!fs::exists(g.out / "upload/token"));  // revoked on disk

  // A replay of the right token, and then anything else, is refused.
  const auto replay = node.write("replay-auth", "Authorization: Bearer " + g.token + "\n");
  BOOST_TEST(s.post(replay, admin, ca).out == "410");
  BOOST_TEST(s.post(wrong, admin, ca).out == "410");
  BOOST_TEST(read_file(received) == admin_conf);

  // The log tells what happened without the token or a byte of the kubeconfig.
  const auto log = read_file(g.out / "logs/upload.log");
  BOOST_TEST(log.find("201 from 127.0.0.1") != std::string::npos, log);
  BOOST_TEST(log.find("401 from") != std::string::npos, log);
  BOOST_TEST(log.find("413 from") != std::string::npos, log);
  BOOST_TEST(log.find("410 from") != std::string::npos, log);
  BOOST_TEST(log.find(g.token) == std::string::npos);
  BOOST_TEST(log.find("c2VjcmV0LWtleS1tYXRlcmlhbA") == std::string::npos);
  BOOST_TEST(log.find("192.168.1.100") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(wait_revokes_the_token_after_saving) {
  // wait on a prepared directory waits for the upload; with nothing answering it times out
  // naming where the kubeconfig comes from.
  Generated g;
  nodeboot::ProcessOptions no_env;
  no_env.env_unset = {"KUBECONFIG"};
  auto r = plugin({"cluster", "wait", "-o", g.out.string(), "--timeout", "2s"}, no_env);
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.out.find("waiting for " + (g.out / "admin.conf").string()) != std::string::npos, r.out);
  BOOST_TEST(r.out.find("nodeboot-kubeconfig-upload.service") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(teardown_from_another_pid_namespace_reaches_the_supervisor) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: unshare --pid needs root");
    return;
  }
  Generated g;
  const auto port = free_loopback_port();
  // `serve --foreground` in a PID namespace of its own, as in the bootstrap container.
  nodeboot::ProcessOptions bounded;
  bounded.timeout = std::chrono::seconds(120);
  // The command line is built here and the thread only runs it (run_process, not the test
  // helper run()): Boost.Test's assertions, and its checkpoints, are for the main thread.
  const std::vector<std::string> serve{"unshare",
                                       "--pid",
                                       "--fork",
                                       "--mount-proc",
                                       (bin_dir() / "kubectl-nodeboot").string(),
                                       "cluster",
                                       "serve",
                                       "--foreground",
                                       "-o",
                                       g.out.string(),
                                       "--no-dnsmasq",
                                       "--matchbox",
                                       (tools_dir() / "matchbox").string(),
                                       "--matchbox-address",
                                       "127.0.0.1:" + std::to_string(free_loopback_port()),
                                       "--upload-address",
                                       "127.0.0.1:" + std::to_string(port)};
  auto serving = std::async(std::launch::async, [&] { return nodeboot::run_process(serve, bounded); });
  BOOST_REQUIRE(eventually(
      [&] {
        return fs::exists(g.out / "run/upload.pid") &&
               run({"curl", "-sk", "https://127.0.0.1:" + std::to_string(port) + "/"}).exit_code == 0;
      },
      std::chrono::seconds(30)));
  // The recorded pids are the other namespace's: signalling them here would hit other processes.
  auto t = plugin({"cluster", "teardown", "-o", g.out.string()});
  BOOST_TEST(t.exit_code == 0, t.out << t.err);
  BOOST_TEST(t.out.find("upload stopped") != std::string::npos, t.out);
  BOOST_TEST(t.out.find("matchbox stopped") != std::string::npos, t.out);
  auto served_or = serving.get();
  BOOST_REQUIRE_MESSAGE(served_or.has_value(), "cannot run unshare: " << (served_or ? "" : served_or.error().message));
  const auto& served = *served_or;
  BOOST_TEST(served.exit_code == 0, served.out << served.err);
  BOOST_TEST(!fs::exists(g.out / "run/upload.pid"));
  BOOST_TEST(!fs::exists(g.out / "run/stop-request"));
  BOOST_TEST(run({"curl", "-sk", "https://127.0.0.1:" + std::to_string(port) + "/"}).exit_code != 0);
}

BOOST_AUTO_TEST_SUITE_END()
