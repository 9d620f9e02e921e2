// The in-place bootstrap completion controller on the real control plane: `kubectl
// nodeboot start`, then nobody watches. The real nodeboot-webhook runs with
// --enable-completion-controller as its ServiceAccount, under the shipped RBAC and
// ValidatingAdmissionPolicies. The node side is played here (kwok cannot reboot): the
// state the agent reports before its final reboot, then the reboot as a kubelet shows it.
// The last cases run the real nodeboot-agent as the DaemonSet pod would, handing the steps
// that reboot to a host "unit" (standin_systemd_run.sh: no systemd here) whose reboot
// (standin_reboot.sh) kills it as a reboot would; the host is a directory, its boot id a
// file; the pod's token is bound to a pod on the node, and the agent reads its Secret and the
// host unit reports with a system:node certificate in the host's /, as the kubelet's.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "../marooned/marooned_env.hpp"
#include "ipb_env.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/util/duration.hpp"

#include <unistd.h>

#include <fstream>
#include <thread>

using namespace nodeboot;
using namespace nodeboot::test;
using namespace nodeboot::test::ipb;
using nlohmann::json;

namespace {

// One nodeboot-webhook with the completion controller (and no admission registered: the
// pod webhooks are marooned suites' business). A short progress deadline for the stuck case.
struct Completion {
  CompletionController controller{{"--ipb-progress-deadline", "30s"}};
  test::marooned::Env& env = controller.env;
  TempDir dir;
  std::string token_file, ca_file;
  HttpsServer servers;
  std::string payload;  // served at /payload (the RHEL case sets it)
  Completion() {
    cluster().kubectl_ok({"apply", "-k", (source_dir() / "manifests/ipb").string()});
    token_file = dir.write("ignition.token", "e2e-completion-token\n").string();
    ca_file = test_pki().ca.string();
    const auto authorized = [](const httplib::Request& req) {
      return req.get_header_value("Authorization") == "Bearer e2e-completion-token";
    };
    servers.server.Get("/ignition", [authorized](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req)) {
        res.status = 401;
        return;
      }
      res.set_content(R"({"ignition":{"version":"3.4.0"},"storage":{"files":[]}})", "application/json");
    });
    servers.server.Get("/payload", [this, authorized](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req)) {
        res.status = 401;
        return;
      }
      res.set_content(payload, "application/x-tar");
    });
    servers.start();
  }
  std::vector<std::string> start(const std::string& node, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"nodeboot",
                               "start",
                               node,
                               "--os",
                               "rhcos",
                               "--ignition-url",
                               servers.url("/ignition"),
                               "--ignition-token-file",
                               token_file,
                               "--ca-cert",
                               ca_file};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::string log() const { return controller.log(); }
};

Completion& completion() {
  static Completion c;
  return c;
}

int event_count(const std::string& node, const std::string& reason) {
  const auto events = get({"events", "-n", "default", "--field-selector", "involvedObject.name=" + node});
  int count = 0;
  for (const auto& e : events["items"])
    if (e.value("reason", "") == reason) count += e.value("count", 1);
  return count;
}
bool has_event(const std::string& node, const std::string& reason) { return event_count(node, reason) > 0; }

// A node's host: a directory as its /, a boot id file, the stand-ins on PATH, the kubelet's
// credentials (system:node:<name>) in it and the pod's token (AgentIdentity).
struct Host {
  TempDir root;
  std::filesystem::path bin, units;
  std::string node;
  AgentIdentity id;
  int boot = 1;
  Host(Completion& c, std::string name) : node(std::move(name)), id(c.dir, root.path(), node) {
    root.write("etc/kubernetes/kubeconfig", "apiVersion: v1\nkind: Config\n");
    root.write("boot_id", boot_id() + "\n");
    bin = root.path() / "standin-bin";
    std::filesystem::create_directories(bin);
    std::filesystem::create_symlink(source_dir() / "tests/e2e/plugin/standin_systemd_run.sh", bin / "systemd-run");
    units = root.path() / "units.log";
  }
  std::string boot_id() const { return node + "-boot-" + std::to_string(boot); }
  std::string path(const std::string& rel) const { return (root.path() / rel).string(); }
  std::string reboot_command() const {
    return (source_dir() / "tests/e2e/plugin/standin_reboot.sh").string() + " " + root.path().string();
  }
  ProcessOptions env() const {
    ProcessOptions o;
    o.env_set["PATH"] = bin.string() + ":" + std::getenv("PATH");
    o.env_set["NODEBOOT_STANDIN_UNITS"] = units.string();
    o.env_set["NODEBOOT_STANDIN_TEST_SID"] = std::to_string(::getsid(0));
    o.env_set["NODE_NAME"] = node;
    o.timeout = std::chrono::minutes(2);
    return o;
  }
  // The DaemonSet pod's run of the agent: its ServiceAccount, the host's / mounted.
  ProcessResult agent(std::vector<std::string> extra) const {
    std::vector<std::string> argv{(bin_dir() / "nodeboot-agent").string(),
                                  "bootstrap",
                                  "--kubeconfig",
                                  id.kubeconfig.string(),
                                  "--host-root",
                                  root.path().string(),
                                  "--host-exec",
                                  "",
                                  "--host-unit",
                                  "nodeboot-ipb",
                                  "--host-kubeconfig",
                                  id.host_kubeconfig,
                                  "--host-root-on-host",
                                  root.path().string(),
                                  "--boot-id-file",
                                  path("boot_id"),
                                  "--reboot-command",
                                  reboot_command(),
                                  "--http-timeout",
                                  "5s",
                                  "--attempts",
                                  "1"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv, env());
  }
  bool has(const std::string& rel) const { return std::filesystem::exists(root.path() / rel); }
  // Waits for the stand-in reboot, then plays the new boot: a new boot id, the Node Ready
  // with a new bootID, and the boot-time unit started (as systemd would, from its file).
  void reboot_and_boot() {
    BOOST_REQUIRE_MESSAGE(eventually([&] { return has("reboot-requested"); }, std::chrono::seconds(90)),
                          "no reboot was requested; units:\n"
                              << read_file(units.string() + ".out"));
    std::filesystem::remove(root.path() / "reboot-requested");
    ++boot;
    root.write("boot_id", boot_id() + "\n");
    play_reboot(node, boot_id());  // the kubelet reports the kernel's boot id
    const auto unit = read_file(root.path() / "etc/systemd/system/nodeboot-ipb-resume.service");
    BOOST_REQUIRE(has("etc/systemd/system/multi-user.target.wants/nodeboot-ipb-resume.service"));
    const auto at = unit.find("ExecStart=");
    BOOST_REQUIRE(at != std::string::npos);
    const std::string exec = unit.substr(at + 10, unit.find('\n', at) - at - 10);
    BOOST_REQUIRE(run({"/bin/sh", "-c", "systemd-run --unit=nodeboot-ipb-resume " + exec}, env()).exit_code == 0);
  }
  std::vector<std::string> lines(const std::string& rel) const {
    std::vector<std::string> out;
    std::ifstream in(root.path() / rel);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

bool ds_pod_on(const std::string& node) {
  const auto pods = get(
      {"pods", "-n", sys, "-l", "app.kubernetes.io/name=nodeboot-ipb", "--field-selector", "spec.nodeName=" + node});
  return !pods["items"].empty();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipb_completion)

// The operator runs start and closes the laptop: the node comes back and is put back as it
// was (labels, taints, cordon), Done, its Secret and record gone, an Event on the Node.
BOOST_AUTO_TEST_CASE(a_node_back_on_a_new_boot_is_restored_with_nobody_watching) {
  auto& c = completion();
  Nodes nodes("complete", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok({"label", "node", n, "tier=gold"});
  cluster().kubectl_ok({"taint", "node", n, "dedicated=db:NoSchedule"});
  const json before = node_config(n);
  cluster().kubectl_ok(c.start(n));
  BOOST_TEST(node(n)["spec"].value("unschedulable", false));

  agent_before_reboot(n);
  play_reboot(n, "boot-after-" + n);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }), "never Done:\n"
                                                                                                         << c.log());
  const json after = node(n);
  BOOST_TEST(!after["spec"].value("unschedulable", false));
  BOOST_TEST(after["metadata"]["labels"].value("tier", "") == "gold");
  BOOST_TEST(!after["metadata"]["labels"].contains(schedule));
  BOOST_TEST(node_config(n)["spec"] == before["spec"]);
  BOOST_TEST(!exists({"secret", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(!exists({"configmap", "-n", sys, "nodeboot-" + n}));
  // The node's Secret reader went too, under the controller's own RBAC.
  BOOST_TEST(!exists({"role", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(!exists({"rolebinding", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(eventually([&] { return has_event(n, "BootstrapCompleted"); }));
  // Completed once: the controller's own finish, seen again before its record's deletion
  // reached the cache, is not taken for an interrupted one (that made a second Event).
  std::this_thread::sleep_for(std::chrono::seconds(2));
  BOOST_TEST(event_count(n, "BootstrapCompleted") == 1);
}

// A node cordoned before start stays cordoned; --keep-secret is recorded and honoured.
BOOST_AUTO_TEST_CASE(a_cordon_from_before_and_keep_secret_are_honoured) {
  auto& c = completion();
  Nodes nodes("complete-keep", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok({"cordon", n});
  cluster().kubectl_ok(c.start(n, {"--keep-secret"}));
  agent_before_reboot(n);
  play_reboot(n, "boot-kept-" + n);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }), c.log());
  BOOST_TEST(node(n)["spec"].value("unschedulable", false));
  BOOST_TEST(exists({"secret", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(!exists({"configmap", "-n", sys, "nodeboot-" + n}));
  cluster().kubectl({"delete", "secret", "-n", sys, "nodeboot-" + n});
}

// The Node object is deleted and registers again (annotations gone) on its new boot.
BOOST_AUTO_TEST_CASE(a_node_that_re_registers_is_seen_as_back) {
  auto& c = completion();
  Nodes nodes("complete-rereg", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok({"label", "node", n, "tier=silver"});
  cluster().kubectl_ok(c.start(n));
  json fresh = node(n);
  cluster().kubectl_ok({"delete", "node", n});
  for (const auto* key : {"uid", "resourceVersion", "creationTimestamp", "managedFields"}) fresh["metadata"].erase(key);
  fresh["metadata"].erase("annotations");
  fresh["metadata"]["annotations"] = {{"kwok.x-k8s.io/status", "custom"}};
  fresh["metadata"]["labels"].erase("tier");  // a new registration has the kubelet's labels only
  fresh["metadata"]["labels"].erase(schedule);
  fresh["spec"].erase("unschedulable");
  fresh["spec"].erase("taints");
  fresh.erase("status");
  cluster().kubectl_ok({"create", "-f", "-"}, fresh.dump());
  play_reboot(n, "boot-rereg-" + n);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }), c.log());
  BOOST_TEST(node(n)["metadata"]["labels"].value("tier", "") == "silver");
  BOOST_TEST(!node(n)["spec"].value("unschedulable", false));
  BOOST_TEST(!exists({"configmap", "-n", sys, "nodeboot-" + n}));
}

// Nothing ever runs on the node (no DaemonSet pod here): past the deadline it is Failed with
// a reason, and the schedule label goes so no late pod starts behind the operator's back.
BOOST_AUTO_TEST_CASE(a_node_without_progress_is_failed_with_a_reason) {
  auto& c = completion();
  Nodes nodes("complete-stuck", 1);
  const auto& n = nodes.names[0];
  cluster().kubectl_ok(c.start(n));
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return annotation(node(n), names::ann_state) == "Failed"; }, std::chrono::seconds(120)),
      c.log());
  const json failed = node(n);
  BOOST_TEST(annotation(failed, names::ann_reason) == "NoProgress");
  BOOST_TEST(annotation(failed, names::ann_message).find("no progress reported for 30s") != std::string::npos);
  BOOST_TEST(!failed["metadata"]["labels"].contains(schedule));
  BOOST_TEST(failed["spec"].value("unschedulable", false));       // stays out of service for the operator
  BOOST_TEST(exists({"configmap", "-n", sys, "nodeboot-" + n}));  // abort and retry still work
  cluster().kubectl_ok({"nodeboot", "abort", n, "--delete-secret"});
  BOOST_TEST(!node(n)["spec"].value("unschedulable", false));
}

// The controller's token, as a thief would use it: RBAC lets it update every node; the
// policies leave it putting nodes under bootstrap back, and nothing else.
BOOST_AUTO_TEST_CASE(the_controllers_token_cannot_rewrite_nodes_beyond_completion) {
  auto& c = completion();
  Nodes nodes("complete-thief", 1);
  const auto& n = nodes.names[0];
  const auto as_controller = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", c.env.sa_kubeconfig.string()});
    return cluster().kubectl(args);
  };
  ProcessResult r;
  BOOST_TEST(eventually([&] {
               r = as_controller({"label", "node", n, "stolen=1"});
               return r.exit_code != 0;
             }),
             r.out);
  BOOST_TEST(r.err.find("only nodes that claim a marooned id") != std::string::npos, r.err);
  cluster().kubectl_ok(c.start(n));
  r = as_controller({"label", "node", n, "node-restriction.kubernetes.io/trusted=yes"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("node-restriction.kubernetes.io/ labels") != std::string::npos, r.err);
  r = as_controller({"annotate", "node", n, "other.example/owner=me"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("only nodeboot.io/ annotations") != std::string::npos, r.err);
  r = as_controller({"label", "node", n, "maroonedpods.io/pod-uid=0123"});
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.err.find("may not change marooned nodes") != std::string::npos, r.err);
  cluster().kubectl_ok({"nodeboot", "abort", n, "--delete-secret"});
}

// RHCOS: firstboot persists the config and reboots the node itself. The real agent hands
// it to the host unit after removing the label; the pod goes (the real DaemonSet
// controller deletes it) and a restarted container does nothing; after the boot the host
// says Joining, and the controller restores the node with nobody watching. firstboot ran once.
BOOST_AUTO_TEST_CASE(rhcos_firstboot_that_reboots_runs_once_and_the_node_is_restored) {
  auto& c = completion();
  Nodes nodes("resume-rhcos", 1);
  const auto& n = nodes.names[0];
  Host host(c, n);
  host.root.write("firstboot.sh",
                  "#!/bin/sh\necho run >> " + host.path("firstboot.runs") + "\nexec " + host.reboot_command() + "\n");
  cluster().kubectl_ok(c.start(n));
  BOOST_REQUIRE(eventually([&] { return ds_pod_on(n); }));  // the real DaemonSet controller's pod

  auto first = host.agent({"--firstboot-command", "/bin/sh " + host.path("firstboot.sh")});
  BOOST_TEST(first.exit_code == 0, first.err);
  BOOST_TEST(first.err.find("e2e-completion-token") == std::string::npos);
  BOOST_TEST(!node(n)["metadata"]["labels"].contains(schedule));  // gone before anything may reboot
  BOOST_TEST(eventually([&] { return !ds_pod_on(n); }));          // so the DaemonSet controller deletes the pod

  // A restarted container of that pod finds the attempt handed over.
  auto again = host.agent({"--firstboot-command", "/bin/sh " + host.path("firstboot.sh")});
  BOOST_TEST(again.exit_code == 0, again.err);
  BOOST_TEST(again.err.find("belongs to the host unit") != std::string::npos, again.err);

  host.reboot_and_boot();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }),
                        "never Done; host:\n"
                            << read_file(host.units.string() + ".out") << "\ncontroller:\n"
                            << c.log());
  BOOST_TEST(host.lines("firstboot.runs").size() == 1u);
  BOOST_TEST(host.lines("units.log").size() == 2u);  // the handover and the one boot
  BOOST_TEST(!node(n)["spec"].value("unschedulable", false));
  BOOST_TEST(!exists({"secret", "-n", sys, "nodeboot-" + n}));
  BOOST_TEST(!host.has("etc/systemd/system/nodeboot-ipb-resume.service"));  // nothing left to resume
}

// RHEL: the payload reboots mid-way (kernel updates) and goes on after the boot. The node is
// Ready on a new boot while still Applying: the controller must wait. The entrypoint runs
// twice (NODEBOOT_ENTRYPOINT_RUN 1, 2), then the final reboot, then the node is restored.
BOOST_AUTO_TEST_CASE(rhel_payload_that_reboots_mid_way_continues_and_the_node_is_restored) {
  auto& c = completion();
  Nodes nodes("resume-rhel", 1);
  const auto& n = nodes.names[0];
  Host host(c, n);
  host.root.write("payload-src/entrypoint.sh",
                  "#!/bin/bash\nset -e\necho \"run $NODEBOOT_ENTRYPOINT_RUN $WORKER_ID\" >> " +
                      host.path("entrypoint.runs") + "\nif [ \"$NODEBOOT_ENTRYPOINT_RUN\" = 1 ]; then touch " +
                      host.path("phase1") + "; exec " + host.reboot_command() + "; fi\ntest -f " + host.path("phase1") +
                      "\ntouch " + host.path("phase2") + "\n");
  BOOST_REQUIRE(
      run({"tar", "-cf", host.path("payload.tar"), "-C", host.path("payload-src"), "entrypoint.sh"}).exit_code == 0);
  c.payload = read_file(host.path("payload.tar"));
  cluster().kubectl_ok({"nodeboot", "start", n, "--os", "rhel", "--payload-url", c.servers.url("/payload"),
                        "--payload-token-file", c.token_file, "--ca-cert", c.ca_file, "--worker-id", "w-17",
                        "--cluster-id", "c-1", "--region", "eu-de"});
  auto first = host.agent({"--entrypoint-command", "/bin/bash " + host.path("var/lib/nodeboot/payload/entrypoint.sh")});
  BOOST_TEST(first.exit_code == 0, first.err);

  host.reboot_and_boot();  // the payload's own reboot
  BOOST_REQUIRE(eventually([&] { return host.has("reboot-requested"); }, std::chrono::seconds(90)));
  // Ready on a new boot, but the agent had said Applying: not finished by the controller.
  BOOST_TEST(annotation(node(n), names::ann_state) == "Rebooting");
  BOOST_TEST(node(n)["spec"].value("unschedulable", false));
  host.reboot_and_boot();  // the final reboot
  BOOST_REQUIRE_MESSAGE(eventually([&] { return annotation(node(n), names::ann_state) == "Done"; }),
                        "never Done; host:\n"
                            << read_file(host.units.string() + ".out") << "\nunits:\n"
                            << read_file(host.units) << "\nprogress:\n"
                            << read_file(host.path("var/lib/nodeboot/progress.json")) << "\nnode:\n"
                            << node(n).dump() << "\ncontroller:\n"
                            << c.log());
  BOOST_TEST(host.lines("entrypoint.runs") == (std::vector<std::string>{"run 1 w-17", "run 2 w-17"}));
  BOOST_TEST(host.has("phase2"));
  BOOST_TEST(!node(n)["spec"].value("unschedulable", false));
  BOOST_TEST(!exists({"secret", "-n", sys, "nodeboot-" + n}));
}

BOOST_AUTO_TEST_SUITE_END()
