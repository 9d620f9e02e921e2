// The node layer: real worker VMs (tests/nodes/up.sh: QEMU, a Debian kernel, systemd,
// containerd, the kubelet) joined to the real control plane (tests/cluster/up.sh) by the
// ctest fixture node/vms_up. What kwok cannot show: a real kernel and boot ID, a container
// that runs and logs through the kubelet, a privileged pod in the host's PID namespace, and
// a real reboot, a marooned pod's dedicated VM joining through nodeboot-agent.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "../e2e/marooned/marooned_env.hpp"
#include "../e2e/plugin/ipb_env.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/test/support.hpp"

namespace {

using nodeboot::test::cluster;
using nodeboot::test::eventually;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// NAME=value lines of an env file written by up.sh (values may be quoted).
std::string env_value(const std::filesystem::path& file, const std::string& name) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "=", 0) != 0) continue;
    auto v = line.substr(name.size() + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return {};
}

const char* required_env(const char* name) {
  const char* v = std::getenv(name);
  BOOST_REQUIRE_MESSAGE(v && *v, name << " is not set (run through ctest: the node/vms_up fixture)");
  return v;
}

std::vector<std::string> node_names() {
  const auto env = std::filesystem::path(required_env("NODEBOOT_VM_STATE")) / "env";
  std::istringstream names(env_value(env, "NODEBOOT_VM_NODES"));
  std::vector<std::string> out;
  for (std::string n; names >> n;) out.push_back(n);
  BOOST_REQUIRE_MESSAGE(!out.empty(), "no VM nodes in " << env);
  return out;
}

// The test workload's image: the release's nodeboot-agent by digest (imported into each VM by
// up.sh --images), or, without a release, the sandbox image (busybox) built with the disk.
struct Workload {
  std::string image;
  std::string shell;  // a POSIX shell in that image
};
Workload workload() {
  const char* dist = std::getenv("NODEBOOT_DIST");
  if (dist && *dist && std::filesystem::exists(std::filesystem::path(dist) / "images.txt")) {
    std::ifstream in(std::filesystem::path(dist) / "images.txt");
    std::string key, value, registry;
    while (in >> key >> value) {
      if (key == "registry") registry = value;
      if (key == "nodeboot-agent") return {registry.append("/nodeboot-agent@").append(value), "/bin/sh"};
    }
  }
  return {"nodeboot.test/pause:3.10", "/bin/sh"};
}

nlohmann::json node_json(const std::string& node) {
  return nlohmann::json::parse(cluster().kubectl_ok({"get", "node", node, "-o", "json"}));
}

bool node_ready(const nlohmann::json& node) {
  for (const auto& c : node["status"].value("conditions", nlohmann::json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

std::string boot_id(const std::string& node) { return node_json(node)["status"]["nodeInfo"].value("bootID", ""); }

// The non-empty lines of `text`.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

long seconds_since(Clock::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - t).count());
}

// A pod pinned to `node` running `script` with the workload's shell, never restarted.
std::string pod_yaml(const std::string& name, const std::string& node, const std::string& script, bool host) {
  const auto w = workload();
  nlohmann::json container = {
      {"name", "main"}, {"image", w.image}, {"imagePullPolicy", "Never"}, {"command", {w.shell, "-c", script}}};
  nlohmann::json spec = {{"nodeName", node},          {"dnsPolicy", "Default"},  // no cluster DNS here
                         {"restartPolicy", "Never"},  {"terminationGracePeriodSeconds", 5},
                         {"containers", {container}}, {"tolerations", {{{"operator", "Exists"}}}}};
  if (host) {
    spec["hostPID"] = true;
    spec["containers"][0]["securityContext"] = {{"privileged", true}};
  }
  return nlohmann::json{
      {"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"namespace", "default"}}}, {"spec", spec}}
      .dump();
}

std::string pod_phase(const std::string& ns, const std::string& name) {
  auto r = cluster().kubectl({"get", "pod", "-n", ns, name, "-o", "jsonpath={.status.phase}"});
  return r.exit_code == 0 ? r.out : "";
}

// Waits up to 5 minutes for the pod to finish; its phase then (Succeeded, Failed, or the
// phase it was still in).
std::string finished_phase(const std::string& ns, const std::string& name) {
  std::string phase;
  eventually(
      [&] {
        phase = pod_phase(ns, name);
        return phase == "Succeeded" || phase == "Failed";
      },
      300s, 2s);
  return phase;
}

struct PodRun {
  std::string name, node, yaml;
};

void create_pods(const std::vector<PodRun>& pods) {
  for (const auto& p : pods) cluster().kubectl_ok({"apply", "-f", "-"}, p.yaml);
}

// Waits until the pod has run to completion (created at `created`) and returns its logs
// (kubectl logs: API server -> the kubelet's port on the node's loopback address -> the VM),
// then deletes it.
std::string completed_logs(const PodRun& p, Clock::time_point created) {
  const auto phase = finished_phase("default", p.name);
  auto describe = cluster().kubectl({"describe", "pod", "-n", "default", p.name});
  BOOST_REQUIRE_MESSAGE(phase == "Succeeded", "pod " << p.name << " on " << p.node << ": phase '" << phase << "'\n"
                                                     << describe.out);
  auto logs = cluster().kubectl_ok({"logs", "-n", "default", p.name});
  std::cout << "node/vm_nodes: pod " << p.name << " ran to completion on " << p.node << " within "
            << seconds_since(created) << "s; logs: " << logs << std::flush;
  cluster().kubectl({"delete", "pod", "-n", "default", p.name, "--wait=false"});
  return logs;
}

// Creates the pods at once and waits until each has run to completion; returns their logs
// in order. Pods on different VMs start in parallel: under TCG a pod takes 20 s or more.
std::vector<std::string> run_pods_to_completion(const std::vector<PodRun>& pods) {
  const auto start = Clock::now();
  create_pods(pods);
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(completed_logs(p, start));
  return out;
}

// A pod of the seeds' image stand-in (bash) that sends plain HTTP to the API server's TLS
// port through the kubernetes Service, from the pod network or the host's.
std::string service_pod_yaml(const std::string& name, const std::string& node, bool host_network) {
  auto pod = nlohmann::json::parse(pod_yaml(name, node, "", false));
  auto& container = pod["spec"]["containers"][0];
  container["image"] = "docker.io/library/ubuntu:24.04";
  container["command"] = {"/bin/bash", "-c",
                          "exec 3<>/dev/tcp/$KUBERNETES_SERVICE_HOST/$KUBERNETES_SERVICE_PORT && "
                          "printf 'GET /version HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"};
  pod["spec"]["hostNetwork"] = host_network;
  return pod.dump();
}

// The first three cases' four pods, all created when the first of those cases runs, two on
// each VM; each case then waits for its own. Started one after another they took 186 s
// (session 24's cold run: 45 + 54 + 87 s), each pod's start mostly the kubelet's and
// containerd's waits; started together the VMs work on them at once.
class FirstPods {
 public:
  static FirstPods& get() {
    static FirstPods pods;
    return pods;
  }

  // The pod's logs once it has run to completion (it is deleted then).
  std::string logs(const std::string& name) const {
    for (const auto& p : pods_)
      if (p.name == name) return completed_logs(p, created_);
    BOOST_FAIL("no first pod named " << name);
    return {};
  }

 private:
  FirstPods() {
    const auto nodes = node_names();
    const auto& one = nodes.front();
    const auto& two = nodes.back();
    // Shell builtins only in vm-hello: the agent image has dash and util-linux, no coreutils.
    // In the host's PID namespace (vm-host), PID 1 is the VM's systemd and its boot ID the node's.
    pods_ = {
        {"vm-hello", one,
         pod_yaml(
             "vm-hello", one,
             "read -r k </proc/sys/kernel/osrelease; read -r h </proc/sys/kernel/hostname; echo hello from $k on $h",
             false)},
        {"vm-host", two,
         pod_yaml("vm-host", two,
                  "read -r c </proc/1/comm; echo init=$c; nsenter -t 1 -m -u -i -n -p -- cat "
                  "/proc/sys/kernel/random/boot_id",
                  true)},
        {"vm-svc-pod", one, service_pod_yaml("vm-svc-pod", one, false)},
        {"vm-svc-host", two, service_pod_yaml("vm-svc-host", two, true)},
    };
    std::cout << "node/vm_nodes: workload image " << workload().image << "; creating the first four pods at once"
              << std::endl;
    created_ = Clock::now();
    create_pods(pods_);
  }

  std::vector<PodRun> pods_;
  Clock::time_point created_;
};

// Every version of the nodeboot-ipb DaemonSet's pods the API server showed while it lives,
// from a watch (re-opened if the server ends it). A poll would miss the pod the kubelet
// rejects at admission: the DaemonSet controller deletes and replaces it within seconds.
// That happens when the kubelet admits the pod before its node informer has seen the schedule
// label that `start` just added (kubernetes/kubernetes#93338); the rejected pod never runs.
class IpbPodHistory {
 public:
  struct Pod {
    std::string name, node, created, phase, reason;
    bool started = false;  // a container of it ever ran
  };

  explicit IpbPodHistory(const nodeboot::test::TempDir& dir)
      : log_(dir.path() / "ipb-pods.watch"),
        watch_({"/bin/sh", "-c", script, "sh", cluster().kubeconfig.string(), nodeboot::test::ipb::sys}, log_) {}

  static constexpr const char* script =
      "trap 'kill $k 2>/dev/null; exit 0' TERM; while :; do kubectl --kubeconfig \"$1\" get pods -n \"$2\" "
      "-l app.kubernetes.io/name=nodeboot-ipb --watch --output-watch-events -o json 2>/dev/null & k=$!; wait $k; "
      "sleep 1; done";

  // By UID, each pod as its last version showed it.
  std::map<std::string, Pod> pods() const {
    std::ifstream in(log_);
    std::map<std::string, Pod> out;
    nlohmann::json event;
    while (in >> std::ws && in.peek() != std::ifstream::traits_type::eof()) {
      try {
        in >> event;
      } catch (const nlohmann::json::exception&) {
        break;  // the last event, cut off mid-write
      }
      using nlohmann::json_pointer;
      const auto& obj = event.contains("object") ? event["object"] : event;
      if (!obj.is_object()) continue;
      auto& pod = out[obj.value(json_pointer<std::string>("/metadata/uid"), "")];
      pod.name = obj.value(json_pointer<std::string>("/metadata/name"), "");
      pod.created = obj.value(json_pointer<std::string>("/metadata/creationTimestamp"), "");
      pod.node = obj.value(json_pointer<std::string>("/spec/nodeName"), pod.node);
      pod.phase = obj.value(json_pointer<std::string>("/status/phase"), pod.phase);
      pod.reason = obj.value(json_pointer<std::string>("/status/reason"), pod.reason);
      const auto statuses = obj.value(json_pointer<std::string>("/status/containerStatuses"), nlohmann::json::array());
      for (const auto& c : statuses) {
        const auto state = c.value("state", nlohmann::json::object());
        const auto last = c.value("lastState", nlohmann::json::object());
        pod.started = pod.started || c.value("restartCount", 0) > 0 || state.contains("running") ||
                      state.contains("terminated") || last.contains("terminated");
      }
    }
    return out;
  }

 private:
  std::filesystem::path log_;
  nodeboot::test::Background watch_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(vm_nodes)

BOOST_AUTO_TEST_CASE(nodes_are_ready_on_a_real_kernel) {
  const std::regex debian_kernel(R"(^6\.1\.\d+-\d+-amd64$)");  // bookworm's linux-image-amd64
  const auto nodes = node_names();
  BOOST_TEST(nodes.size() >= 2u);
  for (const auto& node : nodes) {
    const auto n = node_json(node);
    const auto& info = n["status"]["nodeInfo"];
    std::cout << "node/vm_nodes: " << node << " kernel " << info.value("kernelVersion", "") << ", "
              << info.value("osImage", "") << ", " << info.value("containerRuntimeVersion", "") << ", kubelet "
              << info.value("kubeletVersion", "") << ", bootID " << info.value("bootID", "") << std::endl;
    BOOST_TEST(node_ready(n), node << " is not Ready");
    BOOST_TEST(std::regex_match(info.value("kernelVersion", ""), debian_kernel), node << ": not Debian 12's kernel");
    BOOST_TEST(info.value("osImage", "").find("Debian GNU/Linux 12") != std::string::npos);
    BOOST_TEST(info.value("containerRuntimeVersion", "").rfind("containerd://", 0) == 0);
    BOOST_TEST(!info.value("bootID", "").empty());
    BOOST_TEST(info.value("kubeletVersion", "").rfind("v1.33.", 0) == 0,
               "kubelet " << info.value("kubeletVersion", ""));
  }
}

BOOST_AUTO_TEST_CASE(a_pod_runs_to_completion_and_its_logs_come_back) {
  const auto logs = FirstPods::get().logs("vm-hello");
  BOOST_TEST(logs.find("hello from 6.1.") != std::string::npos, logs);
}

BOOST_AUTO_TEST_CASE(a_privileged_pod_sees_the_host) {
  const auto logs = FirstPods::get().logs("vm-host");
  BOOST_TEST(logs.find("init=systemd") != std::string::npos, logs);
  BOOST_TEST(logs.find(boot_id(node_names().back())) != std::string::npos, logs);
}

// In-cluster clients on the VMs (the kubelet gives every pod KUBERNETES_SERVICE_HOST=10.0.0.1)
// reach the API server through the kubernetes Service: nodeboot-control's DNAT stands in for
// kube-proxy. From the pod network (vm-svc-pod, on the first VM) and from the host's
// (vm-svc-host, hostNetwork as the in-place bootstrap agent runs, on the second), with bash
// from the seeds' image stand-in. A TCP connection proves nothing here (this sandbox's
// network accepts any: 10.0.0.1:443 from the host answers "426 Upgrade Required" from a
// proxy), so the pod sends plain HTTP to the TLS port and the answer must be the one Go's TLS
// server gives, as the API server does.
BOOST_AUTO_TEST_CASE(pods_reach_the_api_server_through_the_kubernetes_service) {
  for (const std::string name : {"vm-svc-pod", "vm-svc-host"}) {
    const auto logs = FirstPods::get().logs(name);
    BOOST_TEST(logs.find("Client sent an HTTP request to an HTTPS server.") != std::string::npos, name << ": " << logs);
  }
}

// Seed 004 on a VM of its own: a marooned pod, gated and pinned by the real nodeboot-webhook
// (on the host, registered with the API server; the gate-release controller beside it as its
// ServiceAccount), the join-info `kubectl nodeboot marooned join-info` renders for it, and a
// third VM booted with that file only (up.sh --join-info): the shipped
// marooned-node-boot.service runs the release's `nodeboot-agent join`, which starts
// k3s-agent (a stand-in running the real kubelet: TLS bootstrap with the join token, the
// pod's label and taints), presents the join proof as that kubelet, and waits to be vouched
// for. The controller vouches and releases the gate once the node is Ready; the scheduler
// binds the pod there and nowhere else; it runs on the VM's kernel. Early in the suite, while
// the other two VMs are idle: three emulated VMs share two cores.
BOOST_AUTO_TEST_CASE(a_marooned_pod_runs_on_the_vm_that_joined_for_it) {
  namespace mr = nodeboot::test::marooned;
  namespace names = nodeboot::names;
  const auto start = Clock::now();
  mr::Installation nb("vm-join");
  auto& env = nb.env;
  auto manifest = env.pod(true, "vm-marooned-");
  auto& container = manifest["spec"]["containers"][0];
  container["image"] = "nodeboot.test/pause:3.10";  // on every VM's disk (busybox: sh, cat)
  container["imagePullPolicy"] = "Never";
  container["command"] = {"/bin/sh", "-c", "echo marooned pod on boot $(cat /proc/sys/kernel/random/boot_id)"};
  manifest["spec"]["restartPolicy"] = "Never";
  manifest["spec"]["dnsPolicy"] = "Default";  // no cluster DNS here
  const auto created = mr::create_pod(manifest);
  const std::string pod = created["metadata"]["name"];
  const auto id = mr::pod_uid_of(created);
  BOOST_TEST_REQUIRE(id.size() == 36u, "the webhook assigned no marooned id: " << created.dump());
  BOOST_TEST(mr::has_gate(created));
  env.credential(id);  // issued by the controller

  // What the controller (issue 18) will do for it: render the VM's join-info, boot the VM.
  // The token's group is the one tests/nodes/up.sh bound to kubelet TLS bootstrap.
  nodeboot::test::TempDir dir;
  const auto join_info = dir.path() / "join-info.yaml";
  const std::string port = env.server.substr(env.server.rfind(':') + 1);
  const auto rendered = cluster().kubectl(
      {"nodeboot", "marooned", "join-info", pod, "-n", env.ns, "--server-url", "https://10.0.2.2:" + port,
       "--token-groups", "system:bootstrappers:nodeboot:worker-vm", "--output-file", join_info.string()});
  BOOST_REQUIRE_MESSAGE(rendered.exit_code == 0, rendered.err);
  const auto state = std::filesystem::path(required_env("NODEBOOT_VM_STATE")) / "marooned";
  // The VM stops when the case ends, passed or failed, not with the suite: the cases after
  // this one need both cores.
  struct StopVm {
    std::filesystem::path state;
    ~StopVm() {
      nodeboot::test::run(
          {(nodeboot::test::source_dir() / "tests/nodes/down.sh").string(), "--state-dir", state.string(), "--quiet"});
    }
  } const stop_vm{state};
  const auto up = nodeboot::test::run({(nodeboot::test::source_dir() / "tests/nodes/up.sh").string(), "--vm-nodes", "1",
                                       "--join-info", join_info.string(), "--images", required_env("NODEBOOT_DIST"),
                                       "--state-dir", state.string(), "--cluster-state",
                                       required_env("NODEBOOT_E2E_STATE"), "--watch-pid", std::to_string(getpid())});
  std::cout << up.err << std::flush;  // its phases and times
  BOOST_REQUIRE_MESSAGE(up.exit_code == 0, "the marooned VM did not join:\n" << env.diagnostics());
  const auto node = env_value(state / "env", "NODEBOOT_VM_NODES");
  std::cout << "node/vm_nodes: marooned VM " << node << " Ready " << seconds_since(start) << "s after its pod"
            << std::endl;

  // The pod runs there, on the VM's kernel, and only because the controller released it.
  const auto phase = finished_phase(env.ns, pod);
  const auto ran = mr::get_pod(env.ns, pod);
  BOOST_REQUIRE_MESSAGE(phase == "Succeeded", "marooned pod: phase '"
                                                  << phase << "'\n"
                                                  << cluster().kubectl({"describe", "pod", "-n", env.ns, pod}).out
                                                  << env.diagnostics());
  std::cout << "node/vm_nodes: marooned pod Succeeded " << seconds_since(start) << "s after its creation" << std::endl;
  BOOST_TEST(ran["spec"].value("nodeName", "") == node);
  BOOST_TEST(!mr::has_gate(ran));
  const auto logs = cluster().kubectl_ok({"logs", "-n", env.ns, pod});
  BOOST_TEST(logs == "marooned pod on boot " + boot_id(node) + "\n", logs);
  const auto events = mr::events_of(env.ns, pod);
  for (const auto* reason : {"NodeVouched", "NodeReady", "GateRemoved"})
    BOOST_TEST(events.contains(reason), reason << " missing from the pod's events");

  // The node as its kubelet registered it and the controller vouched for it: the pod's
  // label and both taints, the vouched label, the proof used up, the credential spent.
  const auto n = node_json(node);
  const auto labels = n["metadata"].value("labels", nlohmann::json::object());
  BOOST_TEST(labels.value(std::string(names::maroon_pod_uid), "") == id);
  BOOST_TEST(labels.value(std::string(names::maroon_vouched_label), "") == id);
  BOOST_TEST(
      !n["metadata"].value("annotations", nlohmann::json::object()).contains(std::string(names::maroon_join_proof)));
  std::set<std::string> taints;
  for (const auto& t : n["spec"].value("taints", nlohmann::json::array()))
    if (t.value("key", "") == "maroonedpods.io/dedicated" && t.value("value", "") == id)
      taints.insert(t.value("effect", ""));
  BOOST_TEST((taints == std::set<std::string>{"NoExecute", "NoSchedule"}));
  const auto credential =
      mr::kubectl_json({"get", "secrets", "-n", std::string(names::marooned_namespace), "--field-selector",
                        "metadata.name=" + nodeboot::marooned::join_secret_name(id)});
  BOOST_TEST(credential["items"].empty(), "the join credential was not spent");

  // Nobody else got onto it: every pod bound there is the marooned pod or a node agent from
  // a namespace MaroonedPodsConfig allows; a tenant's pod naming the node outright is refused.
  const auto bound = mr::kubectl_json({"get", "pods", "-A", "--field-selector", "spec.nodeName=" + node});
  for (const auto& p : bound["items"]) {
    const std::string ns = p["metadata"]["namespace"], name = p["metadata"]["name"];
    BOOST_TEST((name == pod || ns == "kube-system" || ns == std::string(names::system_namespace)),
               ns << "/" << name << " is bound to the dedicated node");
  }
  auto intruder = env.pod(false, "vm-intruder-");
  intruder["spec"]["nodeName"] = node;
  const auto refused = cluster().kubectl({"create", "-f", "-"}, intruder.dump());
  BOOST_TEST(refused.exit_code != 0, "a tenant's pod was admitted onto the dedicated node: " << refused.out);
  BOOST_TEST(refused.err.find("spec.nodeName names " + node) != std::string::npos, refused.err);

  // Its pod done, the node is cordoned and marked for deletion.
  BOOST_TEST(eventually([&] {
    const auto after = node_json(node);
    return after["spec"].value("unschedulable", false) &&
           after["metadata"]["annotations"].value(std::string(names::maroon_cleanup), "") == "true";
  }));
}

// Seeds 000/001 on a real kernel: the DaemonSets of manifests/node-bootstrap exactly as
// shipped. Their image, docker.io/library/ubuntu:24.04 (also verify --deep's probe image),
// is the stand-in tests/nodes/build-image.sh imports (bash, nsenter, busybox): no registry
// here. What runs on the host is the VM's own: Debian's apt-get from the mirror, systemd,
// modprobe, the kernel's iscsi_tcp.
namespace {

const std::string iscsi_app = "rke2-node-bootstrap-iscsi";
const std::string gpu_app = "rke2-node-bootstrap-gpu";

nlohmann::json verify_json(const std::vector<std::string>& extra) {
  std::vector<std::string> args{"nodeboot", "verify", "--checks", "iscsi,quicksync", "-o", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto start = Clock::now();
  const auto r = cluster().kubectl(args);
  std::cout << "node/vm_nodes: kubectl nodeboot verify " << (extra.empty() ? "" : extra.front()) << " in "
            << seconds_since(start) << "s, exit " << r.exit_code << std::endl;
  BOOST_TEST_INFO("stderr: " << r.err);
  BOOST_REQUIRE(!r.out.empty());
  return nlohmann::json::parse(r.out);
}

std::map<std::string, nlohmann::json> verify_rows(const nlohmann::json& report) {
  std::map<std::string, nlohmann::json> rows;
  for (const auto& n : report["nodes"]) rows[n["name"]] = n["checks"];
  return rows;
}

// A seed DaemonSet's pods (a PodList).
nlohmann::json daemonset_pods(const std::string& app) {
  return nlohmann::json::parse(
      cluster().kubectl_ok({"get", "pods", "-n", "kube-system", "-l", "app=" + app, "-o", "json"}));
}

// The one-line JSON result each DaemonSet pod's bootstrap init container left as its
// termination message, by node.
std::map<std::string, nlohmann::json> bootstrap_results(const nlohmann::json& pods) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& pod : pods["items"]) {
    for (const auto& s : pod["status"].value("initContainerStatuses", nlohmann::json::array())) {
      const auto message = s["state"]["terminated"].value("message", "");
      if (s.value("name", "") == "bootstrap" && !message.empty())
        out[pod["spec"].value("nodeName", "")] = nlohmann::json::parse(message);
    }
  }
  return out;
}

// Where a DaemonSet's time went on each node: the pod's creation, its bootstrap init
// container's run, and when the pod became Ready (the readiness probe's first pass).
void print_pod_times(const std::string& app, const nlohmann::json& pods) {
  using nlohmann::json_pointer;
  for (const auto& pod : pods["items"]) {
    std::string ready;
    for (const auto& c : pod.value(json_pointer<std::string>("/status/conditions"), nlohmann::json::array()))
      if (c.value("type", "") == "Ready") ready = c.value("lastTransitionTime", "");
    std::cout << "node/vm_nodes: " << app << " on " << pod.value(json_pointer<std::string>("/spec/nodeName"), "")
              << ": created " << pod.value(json_pointer<std::string>("/metadata/creationTimestamp"), "");
    for (const auto& s : pod.value(json_pointer<std::string>("/status/initContainerStatuses"), nlohmann::json::array()))
      std::cout << ", init " << s.value("name", "") << " "
                << s.value(json_pointer<std::string>("/state/terminated/startedAt"), "?") << " -> "
                << s.value(json_pointer<std::string>("/state/terminated/finishedAt"), "?");
    std::cout << ", Ready " << ready << std::endl;
  }
}

int number_ready(const std::string& app) {
  auto r = cluster().kubectl({"get", "daemonset", "-n", "kube-system", app, "-o", "jsonpath={.status.numberReady}"});
  return r.exit_code == 0 && !r.out.empty() ? std::stoi(r.out) : 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(verify_deep_finds_no_iscsi_before_the_seed_daemonsets) {
  // The VM image has no open-iscsi: a real probe pod on each node says so.
  const auto rows = verify_rows(verify_json({"--deep", "--deep-timeout", "10m"}));
  for (const auto& node : node_names()) {
    BOOST_REQUIRE_MESSAGE(rows.contains(node), node << " missing from verify's report");
    BOOST_TEST(rows.at(node)["iscsi"].value("verdict", "") == "fail", node << ": " << rows.at(node).dump());
    BOOST_TEST(rows.at(node)["iscsi"].value("reason", "").find("not installed") != std::string::npos,
               node << ": " << rows.at(node).dump());
    BOOST_TEST(rows.at(node)["quicksync"].value("verdict", "") == "not-applicable",
               node << ": " << rows.at(node).dump());
  }
}

// The DaemonSets through tests/node/tcg, which raises only their probes' timeouts: on
// these TCG VMs the exec probe's runc exec alone takes 5 to 16 s (the overlay says more).
BOOST_AUTO_TEST_CASE(the_seed_daemonsets_install_iscsi_and_find_no_intel_gpu) {
  const auto nodes = node_names();
  const auto start = Clock::now();
  cluster().kubectl_ok({"apply", "-k", (nodeboot::test::source_dir() / "tests/node/tcg").string()});
  const int want = static_cast<int>(nodes.size());
  const bool ready =
      eventually([&] { return number_ready(iscsi_app) == want && number_ready(gpu_app) == want; }, 1500s, 5s);
  std::cout << "node/vm_nodes: seed DaemonSets " << (ready ? "ready" : "NOT ready") << " on " << want << " nodes after "
            << seconds_since(start) << "s" << std::endl;
  if (!ready) {
    std::cout << cluster()
                     .kubectl(
                         {"describe", "pods", "-n", "kube-system", "-l", "app in (" + iscsi_app + "," + gpu_app + ")"})
                     .out
              << cluster().kubectl({"logs", "-n", "kube-system", "-l", "app=" + iscsi_app, "--tail=-1"}).out
              << std::endl;
  }
  BOOST_REQUIRE(ready);
  const auto iscsi_pods = daemonset_pods(iscsi_app);
  const auto gpu_pods = daemonset_pods(gpu_app);
  print_pod_times(iscsi_app, iscsi_pods);
  print_pod_times(gpu_app, gpu_pods);

  // Each node's bootstrap result, from the init container's termination message.
  const auto iscsi = bootstrap_results(iscsi_pods);
  const auto gpu = bootstrap_results(gpu_pods);
  for (const auto& node : nodes) {
    BOOST_REQUIRE_MESSAGE(iscsi.contains(node) && gpu.contains(node), node << ": no bootstrap result");
    std::cout << "node/vm_nodes: " << node << " iscsi " << iscsi.at(node).dump() << "\nnode/vm_nodes: " << node
              << " quicksync " << gpu.at(node).dump() << std::endl;
    BOOST_TEST(iscsi.at(node).value("status", "") == "ok");
    BOOST_TEST(iscsi.at(node).value("iscsid", "") == "active");
    BOOST_TEST(iscsi.at(node).value("iscsiTcp", false));
    BOOST_TEST(iscsi.at(node).value("os", "").find("Debian GNU/Linux 12") != std::string::npos);
    BOOST_TEST(gpu.at(node).value("status", "") == "not-applicable");
    BOOST_TEST(gpu.at(node).value("reason", "") == "NoIntelGPU");
  }

  // The seed's own command shows the bootstrap's output (apt-get's, through the host unit).
  const auto logs = cluster().kubectl_ok({"logs", "-n", "kube-system", "-l", "app=" + iscsi_app, "--tail=-1"});
  BOOST_TEST(logs.find("installing open-iscsi") != std::string::npos, logs);
  BOOST_TEST(logs.find(R"("status":"ok")") != std::string::npos, logs);

  // Asked of the host itself, not through the scripts: its systemd and its kernel; and the
  // install ran as the host's transient unit (its journal), outside the pod's 64Mi.
  std::vector<PodRun> checks;
  for (const auto& node : nodes) {
    const auto name = "vm-iscsi-" + std::to_string(checks.size());
    checks.push_back(
        {name, node,
         pod_yaml(
             name, node,
             "nsenter -t 1 -m -u -i -n -p -- sh -c 'systemctl is-active iscsid; grep -c \"^iscsi_tcp \" "
             "/proc/modules; journalctl -q -o cat -u nodeboot-iscsi-bootstrap | grep -c "
             "\"^nodeboot-iscsi-bootstrap.service: Deactivated successfully\"; journalctl -q -o short-monotonic -u "
             "nodeboot-iscsi-bootstrap'",
             true)});
  }
  const auto outs = run_pods_to_completion(checks);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& node = nodes[i];
    const auto& out = outs[i];
    // The unit's journal lines (when it started and ended, the CPU it used) are printed with
    // the logs: where the case's time goes on an emulated CPU.
    const auto got = lines(out);
    BOOST_REQUIRE_MESSAGE(got.size() >= 3u, node << ": " << out);
    BOOST_TEST(got[0] == "active", node << ": " << out);
    BOOST_TEST(got[1] == "1", node << ": " << out);
    BOOST_TEST(got[2] != "0", node << ": " << out);
  }
}

// Needs the DaemonSets' install above.
BOOST_AUTO_TEST_CASE(verify_reports_what_the_vms_have) {
  // From the DaemonSets' results, then from fresh probe pods (--deep): iSCSI works, no GPU.
  for (const auto& extra : {std::vector<std::string>{}, std::vector<std::string>{"--deep", "--deep-timeout", "10m"}}) {
    const auto rows = verify_rows(verify_json(extra));
    for (const auto& node : node_names()) {
      BOOST_REQUIRE_MESSAGE(rows.contains(node), node << " missing from verify's report");
      BOOST_TEST(rows.at(node)["iscsi"].value("verdict", "") == "pass", node << ": " << rows.at(node).dump());
      BOOST_TEST(rows.at(node)["quicksync"].value("verdict", "") == "not-applicable",
                 node << ": " << rows.at(node).dump());
    }
  }
  std::cout << cluster().kubectl({"nodeboot", "verify", "--checks", "iscsi,quicksync"}).out << std::flush;
  // Their use ends here. Each of their pods runs an exec probe every 20 s on average (the
  // seeds' periods), about 10 s of emulated CPU each: left running, they took half of each
  // VM's one vCPU from the cases below (seed 003's RHCOS node Done at 214 s alone, at
  // 450 s after them).
  cluster().kubectl_ok({"delete", "-k", (nodeboot::test::source_dir() / "tests/node/tcg").string(),
                        "--cascade=foreground", "--timeout=180s"});
}

// Seed 003 on real reboots, both OS paths at once: `kubectl nodeboot start` with the RHEL
// path on one VM (tests/node/seed003/entrypoint.sh, served over HTTPS from the host, reboots
// the VM mid-way and finishes after the boot) and the RHCOS path on the other (the stand-in
// tests/node/seed003/machine-config-daemon reboots it), through the shipped DaemonSet with the
// release's agent image by digest, the host's real systemd (systemd-run, the boot-time resume
// unit) and the completion controller, the real nodeboot-webhook on the host as its
// ServiceAccount. Nobody runs `watch`.
namespace {

std::string schedule_label_of(const nlohmann::json& node) {
  return node["metadata"]
      .value("labels", nlohmann::json::object())
      .value(std::string(nodeboot::names::schedule_label), "");
}

// Runs `script` with the host's sh in all the host's namespaces, from a privileged pod (the
// agent image has no coreutils); `env` reaches it as environment variables (file contents).
PodRun host_pod(const std::string& name, const std::string& node, const std::string& script,
                const std::map<std::string, std::string>& env = {}) {
  auto pod =
      nlohmann::json::parse(pod_yaml(name, node, "exec nsenter -t 1 -m -u -i -n -p -- sh -c \"$HOST_SCRIPT\"", true));
  auto& vars = pod["spec"]["containers"][0]["env"];
  vars.push_back({{"name", "HOST_SCRIPT"}, {"value", script}});
  for (const auto& [k, v] : env) vars.push_back({{"name", k}, {"value", v}});
  return {name, node, pod.dump()};
}

std::string on_host(const std::string& name, const std::string& node, const std::string& script,
                    const std::map<std::string, std::string>& env = {}) {
  return run_pods_to_completion({host_pod(name, node, script, env)}).front();
}

struct Watched {
  std::string name, os, state;
  std::vector<std::string> boots;  // every boot ID seen, in order
  bool label_gone_at_first_new_boot = false;
};

}  // namespace

BOOST_AUTO_TEST_CASE(seed_003_reboots_the_vms_and_the_completion_controller_restores_them) {
  namespace ipb = nodeboot::test::ipb;
  namespace names = nodeboot::names;
  const auto nodes = node_names();
  const auto start = Clock::now();
  std::vector<Watched> watched{{nodes[0], "rhel", "", {boot_id(nodes[0])}, false},
                               {nodes[1], "rhcos", "", {boot_id(nodes[1])}, false}};
  const auto& rhel = watched[0];
  const auto& rhcos = watched[1];
  const auto seed003 = nodeboot::test::source_dir() / "tests/node/seed003";

  // RHCOS's own pieces on the Debian VM: machine-config-daemon (a stand-in) and the node's
  // kubeconfig the agent puts into the Ignition config (no credentials in it).
  on_host("vm-rhcos-parts", rhcos.name,
          "printf '%s' \"$MCD\" >/usr/local/bin/machine-config-daemon && "
          "chmod 0755 /usr/local/bin/machine-config-daemon && mkdir -p /etc/kubernetes && "
          "printf 'apiVersion: v1\\nkind: Config\\n' >/etc/kubernetes/kubeconfig && echo installed",
          {{"MCD", nodeboot::test::read_file(seed003 / "machine-config-daemon")}});

  // The payload and the Ignition config, over HTTPS from the host (10.0.2.2 from the VMs),
  // behind the bearer token the Secret carries.
  nodeboot::test::TempDir dir;
  const IpbPodHistory ipb_pods(dir);
  const std::string token = "node-layer-payload-token";
  const auto token_file = dir.write("payload.token", token + "\n");
  dir.write("payload-src/entrypoint.sh", nodeboot::test::read_file(seed003 / "entrypoint.sh"));
  BOOST_REQUIRE(nodeboot::test::run({"tar", "-cf", (dir.path() / "payload.tar").string(), "-C",
                                     (dir.path() / "payload-src").string(), "entrypoint.sh"})
                    .exit_code == 0);
  const std::string payload = nodeboot::test::read_file(dir.path() / "payload.tar");
  nodeboot::test::HttpsServer server;
  std::atomic<int> payload_gets{0}, ignition_gets{0};
  const auto authorized = [&](const httplib::Request& req) {
    return req.get_header_value("Authorization") == "Bearer " + token;
  };
  server.server.Get("/payload", [&](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) return void(res.status = 401);
    ++payload_gets;
    res.set_content(payload, "application/x-tar");
  });
  server.server.Get("/ignition", [&](const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) return void(res.status = 401);
    ++ignition_gets;
    res.set_content(R"({"ignition":{"version":"3.4.0"},"storage":{"files":[]}})", "application/json");
  });
  server.start();
  const std::string base = "https://10.0.2.2:" + std::to_string(server.port());
  const std::string ca = nodeboot::test::test_pki().ca.string();

  // Who puts the nodes back, and the DaemonSet as the release renders it (images by digest).
  ipb::CompletionController controller;
  const auto rendered =
      nodeboot::test::run({(nodeboot::test::source_dir() / "packaging/images/render-install.sh").string(), "--images",
                           (std::filesystem::path(required_env("NODEBOOT_DIST")) / "images.txt").string(), "--base",
                           (nodeboot::test::source_dir() / "manifests/ipb").string()});
  BOOST_REQUIRE_MESSAGE(rendered.exit_code == 0, rendered.err);
  BOOST_TEST(rendered.out.find("/nodeboot-agent@sha256:") != std::string::npos);
  cluster().kubectl_ok({"apply", "-f", "-"}, rendered.out);

  cluster().kubectl_ok({"nodeboot", "start", rhel.name, "--os", "rhel", "--payload-url", base + "/payload",
                        "--payload-token-file", token_file.string(), "--ca-cert", ca, "--worker-id", "w-17",
                        "--cluster-id", "c-1", "--region", "eu-de", "--ignore-daemonsets"});
  cluster().kubectl_ok({"nodeboot", "start", rhcos.name, "--os", "rhcos", "--ignition-url", base + "/ignition",
                        "--ignition-token-file", token_file.string(), "--ca-cert", ca, "--ignore-daemonsets"});
  std::cout << "node/vm_nodes: seed 003 started: " << rhel.name << " RHEL (bootID " << rhel.boots[0] << "), "
            << rhcos.name << " RHCOS (bootID " << rhcos.boots[0] << ")" << std::endl;

  // Until both are Done: each new state and boot as it appears.
  const bool done = eventually(
      [&] {
        for (auto& w : watched) {
          const auto n = node_json(w.name);
          const auto state = ipb::annotation(n, names::ann_state);
          const auto boot = n["status"]["nodeInfo"].value("bootID", "");
          if (state != w.state) {
            std::cout << "node/vm_nodes: " << seconds_since(start) << "s " << w.name << " (" << w.os << ") " << state
                      << ": " << ipb::annotation(n, names::ann_message) << std::endl;
            w.state = state;
          }
          if (!boot.empty() && boot != w.boots.back()) {
            if (w.boots.size() == 1) w.label_gone_at_first_new_boot = schedule_label_of(n).empty();
            std::cout << "node/vm_nodes: " << seconds_since(start) << "s " << w.name << " (" << w.os
                      << ") rebooted: bootID " << w.boots.back() << " -> " << boot << std::endl;
            w.boots.push_back(boot);
          }
          BOOST_REQUIRE_MESSAGE(state != "Failed", w.name << " failed: " << ipb::annotation(n, names::ann_reason)
                                                          << ": " << ipb::annotation(n, names::ann_message)
                                                          << "\ncontroller:\n"
                                                          << controller.log());
        }
        return watched[0].state == "Done" && watched[1].state == "Done";
      },
      1800s, 5s);
  BOOST_REQUIRE_MESSAGE(done, "not Done after " << seconds_since(start) << "s: " << rhel.name << " " << rhel.state
                                                << ", " << rhcos.name << " " << rhcos.state << "\ncontroller:\n"
                                                << controller.log());
  std::cout << "node/vm_nodes: seed 003 Done on both nodes after " << seconds_since(start) << "s" << std::endl;

  for (const auto& w : watched) {
    // Back as before: uncordoned, no schedule label, its Secret, reader Role and record gone.
    const auto n = node_json(w.name);
    BOOST_TEST(!n["spec"].value("unschedulable", false), w.name << " still cordoned");
    BOOST_TEST(schedule_label_of(n).empty(), w.name);
    BOOST_TEST(w.label_gone_at_first_new_boot, w.name << ": the schedule label outlived the boot");
    BOOST_TEST(!ipb::exists({"secret", "-n", ipb::sys, "nodeboot-" + w.name}), w.name);
    BOOST_TEST(!ipb::exists({"role", "-n", ipb::sys, "nodeboot-" + w.name}), w.name);
    BOOST_TEST(!ipb::exists({"configmap", "-n", ipb::sys, "nodeboot-" + w.name}), w.name);
    BOOST_TEST(node_ready(n), w.name);
  }
  // RHCOS boots once more (firstboot's reboot) and never again: a second new boot would be
  // the bootstrap rebooting into itself.
  BOOST_TEST(rhcos.boots.size() == 2u, "RHCOS boots: " << rhcos.boots.size());

  // Each bootstrap ran exactly once: one DaemonSet pod per node ran, the payload downloaded
  // once, its entrypoint run twice (before and after its own reboot), firstboot once. Any
  // other pod of the DaemonSet is one the kubelet refused at admission (Failed, never ran).
  std::map<std::string, int> ran;
  std::ostringstream pods;
  for (const auto& [uid, pod] : ipb_pods.pods()) {
    pods << "\n  " << pod.name << " on " << pod.node << ", created " << pod.created << ": " << pod.phase
         << (pod.reason.empty() ? "" : " (" + pod.reason + ")") << (pod.started ? ", ran" : ", never ran");
    if (pod.started) ++ran[pod.node];
    BOOST_TEST((pod.started || (pod.phase == "Failed" && !pod.reason.empty())),
               pod.name << " on " << pod.node << " neither ran nor was refused by the kubelet: " << pod.phase);
  }
  std::cout << "node/vm_nodes: nodeboot-ipb pods:" << pods.str() << std::endl;
  for (const auto& w : watched) BOOST_TEST(ran[w.name] == 1, w.name << ": DaemonSet pods that ran: " << ran[w.name]);
  BOOST_TEST(payload_gets.load() == 1);
  BOOST_TEST(ignition_gets.load() == 2);  // the agent's check, then its download
  // What each node's host recorded, read from both at once.
  const auto records =
      run_pods_to_completion({host_pod("vm-rhel-runs", rhel.name, "cat /var/lib/nodeboot-e2e/entrypoint.runs"),
                              host_pod("vm-rhcos-runs", rhcos.name,
                                       "cat /var/lib/nodeboot-e2e/firstboot.runs; "
                                       "test -s /var/lib/nodeboot-e2e/encapsulated.applied && echo encapsulated")});
  const auto entrypoint_runs = lines(records[0]);
  BOOST_REQUIRE_MESSAGE(entrypoint_runs.size() == 2u, "entrypoint runs: " << entrypoint_runs.size());
  // The RHEL path boots three times: the first boot (run 1), the payload's own reboot (run 2)
  // and the agent's final one. The 5 s poll may miss the short middle boot, so its ID comes
  // from the payload's record; every boot is new, and there is no fourth.
  const std::string args = " worker w-17 cluster c-1 region eu-de";
  const auto run_boot = [&](const std::string& line, const std::string& run) {
    BOOST_REQUIRE_MESSAGE(line.starts_with(run + " boot ") && line.ends_with(args), "entrypoint record: " << line);
    return line.substr(run.size() + 6, line.size() - run.size() - 6 - args.size());
  };
  const auto payload_boot = run_boot(entrypoint_runs[1], "run 2");
  BOOST_TEST(run_boot(entrypoint_runs[0], "run 1") == rhel.boots.front());
  BOOST_TEST(payload_boot != rhel.boots.front(), "run 2 on the boot run 1 was on");
  BOOST_TEST(payload_boot != rhel.boots.back(), "no final reboot after the payload's run 2");
  BOOST_TEST(rhel.boots.back() == boot_id(rhel.name));
  std::set<std::string> rhel_boots(rhel.boots.begin(), rhel.boots.end());
  rhel_boots.insert(payload_boot);
  std::cout << "node/vm_nodes: " << rhel.name << " (rhel) boots: " << rhel.boots.front() << " -> " << payload_boot
            << " -> " << rhel.boots.back() << "; " << rhcos.name << " (rhcos) boots: " << rhcos.boots.front() << " -> "
            << rhcos.boots.back() << std::endl;
  BOOST_TEST(rhel_boots.size() == 3u, "RHEL boots: " << rhel_boots.size());
  const auto firstboot_runs = lines(records[1]);
  BOOST_TEST(firstboot_runs == (std::vector<std::string>{"firstboot boot " + rhcos.boots[0], "encapsulated"}));
  for (const auto& w : watched) BOOST_TEST(ipb::annotation(node_json(w.name), names::ann_state) == "Done", w.name);
  cluster().kubectl({"delete", "daemonset", "-n", ipb::sys, "nodeboot-ipb", "--wait=false"});
}

BOOST_AUTO_TEST_SUITE_END()
