// The VM controller end to end (seed 004 step 1, issue 18): the real nodeboot-webhook with
// --enable-vm-controller, as the nodeboot-webhook ServiceAccount, on the real API server with
// KubeVirt's own CRDs. No KubeVirt runs here: where its virt-handler would report a VMI's
// phase, the test sets it (as the cluster's admin); a VM's first boot is the real
// `nodeboot-agent join` in a temporary root with the user-data the controller recorded,
// k3s played by standin_systemctl.sh, as in marooned_join.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "marooned_env.hpp"
#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/config.hpp"
#include "nodeboot/marooned/vmi.hpp"
#include "nodeboot/util/base64.hpp"
#include "nodeboot/util/duration.hpp"

using namespace nodeboot::test;
using namespace nodeboot::test::marooned;
using nlohmann::json;
namespace names = nodeboot::names;

namespace {

const std::string marooned_ns(names::marooned_namespace);
const std::string vm_component = "nodeboot-vm-controller";
const std::string id_label(names::maroon_pod_uid);
// The label selector for the objects made for marooned id `id`.
std::string for_id(const std::string& id) {
  std::string selector = id_label;
  selector += "=";
  selector += id;
  return selector;
}

// Generous: the controller retries a failed write after 1, 2, 4, ... s, and the machine
// builds in parallel with the e2e layer.
constexpr auto patience = std::chrono::seconds(120);

struct Suite {
  static inline Installation* nb = nullptr;  // admission, and replica vm-a: gate-release and VM controllers
  static inline json pod;                    // the lifecycle cases' pod
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static): Boost.Test calls it on the fixture
  void setup() {
    // Before the controller starts: it campaigns only once its VMI cache has listed.
    install_kubevirt_crds();
    nb = new Installation("vm-a", /*short_lease=*/true, {"--enable-vm-controller"});
    BOOST_REQUIRE_MESSAGE(
        eventually([] { return nb->controller.metric("nodeboot_vm_controller_leader") == 1; }, patience),
        "the VM controller never took the Lease:\n"
            << nb->controller.process->log());
  }
  // NOLINTNEXTLINE(readability-convert-member-functions-to-static)
  void teardown() {
    delete nb;
    delete_kubevirt_crds();
  }
};

Env& env() { return Suite::nb->env; }

std::optional<json> get_json(const std::vector<std::string>& args) {
  auto a = args;
  a.insert(a.end(), {"-o", "json"});
  auto r = cluster().kubectl(a);
  if (r.exit_code != 0) return std::nullopt;
  return json::parse(r.out);
}

std::string annotation(const json& object, std::string_view key) {
  return object["metadata"].value("annotations", json::object()).value(std::string(key), "");
}

std::optional<json> vmi_of(const std::string& id) {
  return get_json({"get", "virtualmachineinstance", "-n", marooned_ns, "marooned-" + id});
}

std::optional<json> record_of(const std::string& id) {
  return get_json({"get", "secret", "-n", marooned_ns, "marooned-" + id + "-userdata"});
}

std::string secret_value(const json& secret, const std::string& key) {
  return nodeboot::base64_decode(secret["data"].value(key, "")).value();
}

// The VMI of the pod's attempt `attempt` (waits for it).
json wait_vmi(const std::string& id, int attempt) {
  json vmi;
  // (Each outcome first: a failure message's operands are evaluated before the check's.)
  const bool made = eventually(
      [&] {
        auto v = vmi_of(id);
        if (!v || annotation(*v, names::maroon_vm_attempt) != std::to_string(attempt) ||
            v->at("metadata").contains("deletionTimestamp"))
          return false;
        vmi = std::move(*v);
        return true;
      },
      patience);
  BOOST_REQUIRE_MESSAGE(made, "no VMI for attempt " << attempt << " of " << id << "\n" << env().diagnostics());
  return vmi;
}

// (Also of a pod not read yet: a failure message's operands are evaluated up front.)
json vm_condition(const json& pod) {
  if (!pod.is_object() || !pod.contains("status")) return json::object();
  for (const auto& c : pod["status"].value("conditions", json::array()))
    if (c.value("type", "") == names::maroon_vm_condition) return c;
  return json::object();
}

// The pod once its maroonedpods.io/VirtualMachine condition has `reason` (waits for it).
json wait_condition(const std::string& name, const std::string& reason) {
  json pod;
  const bool got = eventually(
      [&] {
        pod = get_pod(env().ns, name);
        return vm_condition(pod).value("reason", "") == reason;
      },
      patience);
  BOOST_REQUIRE_MESSAGE(got, "pod " << name << " never got condition reason " << reason
                                    << ", last: " << vm_condition(pod).dump() << "\n"
                                    << env().diagnostics());
  return pod;
}

// The VM controller's Event about the pod with `reason` and `type` whose message has
// `message_part` (waits for it).
json wait_event(const std::string& pod, const std::string& reason, const std::string& type,
                const std::string& message_part = "") {
  json found;
  BOOST_TEST_REQUIRE(
      eventually(
          [&] {
            for (const auto& e : events_from(vm_component, env().ns, pod))
              if (e.value("reason", "") == reason && e.value("type", "") == type &&
                  e.value("message", "").find(message_part) != std::string::npos) {
                found = e;
                return true;
              }
            return false;
          },
          patience),
      "no " << type << " Event " << reason << " (" << message_part << ") from " << vm_component << " about " << pod);
  return found;
}

// Sets a VMI's status.phase as KubeVirt's virt-handler would: on the object itself (KubeVirt's
// VirtualMachineInstance CRD has no status subresource).
void set_phase(const std::string& id, const std::string& phase) {
  auto patched = json::parse(
      cluster().kubectl_ok({"patch", "virtualmachineinstance", "-n", marooned_ns, "marooned-" + id, "--type=merge",
                            "-o", "json", "-p", json{{"status", {{"phase", phase}}}}.dump()}));
  BOOST_TEST_REQUIRE(patched["status"].value("phase", "") == phase);
}

// What is still there for the marooned ids `ids`: "<kind> <name>" per object (VMIs, records
// and credentials in nodeboot-marooned, bootstrap tokens in kube-system, nodes).
std::vector<std::string> leftovers(const std::set<std::string>& ids) {
  std::vector<std::string> out;
  const std::vector<std::vector<std::string>> kinds{{"virtualmachineinstances", "-n", marooned_ns},
                                                    {"secrets", "-n", marooned_ns},
                                                    {"secrets", "-n", "kube-system"},
                                                    {"nodes"}};
  for (const auto& kind : kinds) {
    auto args = kind;
    args.insert(args.begin(), "get");
    args.insert(args.end(), {"-l", id_label});
    const auto list = kubectl_json(args);
    for (const auto& item : list["items"])
      if (ids.contains(item["metadata"]["labels"].value(id_label, "")))
        out.push_back(kind.front() + " " + item["metadata"]["name"].get<std::string>());
  }
  return out;
}

void wait_all_gone(const std::set<std::string>& ids) {
  std::vector<std::string> left;
  const bool gone = eventually(
      [&] {
        left = leftovers(ids);
        return left.empty();
      },
      patience);
  BOOST_TEST(gone, "still there: " << json(left).dump() << "\n" << env().diagnostics());
}

void delete_pods_and_wait(const std::vector<std::string>& pods, const std::set<std::string>& ids) {
  auto args = std::vector<std::string>{"delete", "pod", "-n", env().ns, "--wait=false"};
  args.insert(args.end(), pods.begin(), pods.end());
  cluster().kubectl_ok(args);
  wait_all_gone(ids);
}

// A change to MaroonedPodsConfig `default` (cluster-wide, shared with every suite), undone
// at scope exit: the fields it set get their earlier values back (or their defaults).
class ConfigChange {
 public:
  explicit ConfigChange(const json& spec) {
    const auto before = kubectl_json({"get", "mpconfig", "default"})["spec"];
    for (const auto& [key, value] : spec.items()) undo_[key] = before.contains(key) ? before[key] : json(nullptr);
    cluster().kubectl_ok({"patch", "mpconfig", "default", "--type=merge", "-p", json{{"spec", spec}}.dump()});
  }
  ~ConfigChange() {
    auto r = cluster().kubectl({"patch", "mpconfig", "default", "--type=merge", "-p", json{{"spec", undo_}}.dump()});
    BOOST_TEST(r.exit_code == 0, "MaroonedPodsConfig default not restored: " << r.err);
  }
  ConfigChange(const ConfigChange&) = delete;
  ConfigChange& operator=(const ConfigChange&) = delete;

 private:
  json undo_ = json::object();
};

json requests(const std::string& name, const std::string& cpu, const std::string& memory) {
  return {{"name", name},
          {"image", "registry.k8s.io/pause:3.10"},
          {"resources", {{"requests", {{"cpu", cpu}, {"memory", memory}}}}}};
}

// A marooned pod the scheduler counts as 2.5 CPU and 3Gi: its containers (1.5 CPU, 2.5Gi)
// and the sidecar beside them (0.5 CPU, 0.5Gi) make 2 CPU and 3Gi; the init container after
// the sidecar runs with it: 2.5 CPU, 1.5Gi.
json sized_pod(const std::string& generate_name) {
  auto p = env().pod(true, generate_name);
  auto sidecar = requests("sidecar", "500m", "512Mi");
  sidecar["restartPolicy"] = "Always";
  p["spec"]["containers"] = {requests("c", "1", "2Gi"), requests("d", "500m", "512Mi")};
  p["spec"]["initContainers"] = {sidecar, requests("init", "2", "1Gi")};
  return p;
}

// The join-info.yaml field `key` (a quoted string).
std::string join_info_field(const std::string& join_info, const std::string& key) {
  std::smatch m;
  BOOST_REQUIRE_MESSAGE(std::regex_search(join_info, m, std::regex("(^|\n)" + key + ": \"([^\"]*)\"")),
                        "join-info.yaml has no " << key);
  return m[2].str();
}

// Returns once the VM controller has handled every event that came before the call, without
// sleeping: it handles its informers' events in order and its queue first in, first out, so
// once it made a VM for a pod created now, it has judged everything earlier.
void controller_has_seen_everything_so_far() {
  const auto witness = create_pod(env().pod(true, "witness-"));
  wait_vmi(pod_uid_of(witness), 1);
  delete_pods_and_wait({witness["metadata"]["name"]}, {pod_uid_of(witness)});
}

std::string lease_holder() {
  auto lease =
      get_json({"get", "lease", std::string(names::vm_controller_lease), "-n", std::string(names::system_namespace)});
  if (!lease) return "";
  const auto& holder = (*lease)["spec"]["holderIdentity"];
  return holder.is_string() ? holder.get<std::string>() : "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(marooned_vm, *boost::unit_test::fixture<Suite>())

BOOST_AUTO_TEST_CASE(a_gated_pod_gets_one_vmi_sized_and_booted_as_configured) {
  const auto image = kubectl_json({"get", "mpconfig", "default"})["spec"]["nodeImage"];
  for (const bool kernel_boot : {true, false}) {  // the shipped default (containerDisk) last: its pod stays
    BOOST_TEST_CONTEXT("enableKernelBoot " << kernel_boot) {
      std::optional<ConfigChange> change;
      if (kernel_boot) change.emplace(json{{"enableKernelBoot", true}});
      const auto created = create_pod(sized_pod(kernel_boot ? "kernel-" : "disk-"));
      const std::string name = created["metadata"]["name"];
      const auto id = pod_uid_of(created);
      BOOST_TEST_REQUIRE(id.size() == 36u, "the webhook assigned no marooned id: " << created.dump());
      auto vmi = wait_vmi(id, 1);

      // One VMI for the id, in nodeboot's namespace, owned by the pod's record.
      const auto all = kubectl_json({"get", "virtualmachineinstances", "-A", "-l", for_id(id)});
      BOOST_TEST(all["items"].size() == 1u);
      const auto record = record_of(id);
      BOOST_TEST_REQUIRE(record.has_value());
      auto& owners = vmi["metadata"]["ownerReferences"];
      BOOST_TEST_REQUIRE(owners.size() == 1u);
      BOOST_TEST(owners[0]["kind"] == "Secret");
      BOOST_TEST(owners[0]["name"] == "marooned-" + id + "-userdata");
      BOOST_TEST(owners[0]["uid"] == (*record)["metadata"]["uid"]);
      BOOST_TEST(owners[0].value("controller", false));
      BOOST_TEST(vmi["metadata"]["labels"][id_label] == id);
      BOOST_TEST(annotation(vmi, names::maroon_owner_pod) == env().ns + "/" + name);

      // 2.5 CPU and 3Gi as the scheduler counts them, plus the default resourceOverhead
      // (0.5 CPU, 512Mi): above the default baseVMResources (1 CPU, 1024Mi).
      auto& domain = vmi["spec"]["domain"];
      BOOST_TEST(domain["resources"]["requests"]["cpu"] == "3000m");
      BOOST_TEST(domain["resources"]["requests"]["memory"] == "3584Mi");
      BOOST_TEST(domain["cpu"]["cores"] == 3);
      BOOST_TEST(vmi["spec"]["volumes"][0]["containerDisk"]["image"] == image);
      BOOST_TEST(vmi["spec"]["volumes"][1]["cloudInitNoCloud"]["secretRef"]["name"] == "marooned-" + id + "-userdata");
      if (kernel_boot) {
        BOOST_TEST(domain["firmware"]["kernelBoot"]["container"]["image"] == image);
        BOOST_TEST(domain["firmware"]["kernelBoot"]["container"]["kernelPath"] == "/vmlinuz");
      } else {
        BOOST_TEST(!domain.contains("firmware"));
      }
      // What `kubectl nodeboot marooned vmi` renders for the pod (the config unchanged since).
      auto rendered = cluster().kubectl({"nodeboot", "marooned", "vmi", name, "-n", env().ns, "-o", "json"});
      BOOST_TEST_REQUIRE(rendered.exit_code == 0, rendered.err);
      BOOST_TEST(json::parse(rendered.out)["spec"] == vmi["spec"], rendered.out << "\nvs\n" << vmi["spec"].dump());

      const auto pod = wait_condition(name, "VMCreated");
      BOOST_TEST(vm_condition(pod)["status"] == "False");
      BOOST_TEST(vm_condition(pod)["message"].get<std::string>().find("(attempt 1 of ") != std::string::npos);
      BOOST_TEST(has_gate(pod));
      wait_event(name, "VMCreated", "Normal");

      if (kernel_boot)
        delete_pods_and_wait({name}, {id});
      else
        Suite::pod = pod;
    }
  }
}

// The cases run in the order written (a depends_on would let Boost.Test move them after the
// join-deadline case, which replaces every gated pod's VM).
BOOST_AUTO_TEST_CASE(its_node_joins_with_the_records_user_data_and_takes_the_pod) {
  BOOST_TEST_REQUIRE(Suite::pod.is_object(),
                     "needs the pod of a_gated_pod_gets_one_vmi_sized_and_booted_as_configured");
  const std::string name = Suite::pod["metadata"]["name"];
  const auto id = pod_uid_of(Suite::pod);
  const auto record = record_of(id).value();
  BOOST_TEST(annotation(record, names::maroon_vm_attempt) == "1");
  const auto userdata = secret_value(record, std::string(names::maroon_userdata_key));
  BOOST_TEST_REQUIRE(userdata.starts_with("#cloud-config\n"));
  const auto join_info = join_info_from_cloud_init(userdata);
  BOOST_TEST(join_info_field(join_info, "pod_uid") == id);
  BOOST_TEST(join_info_field(join_info, "server_url") == env().server);
  BOOST_TEST(join_info_field(join_info, "taint_key") == "maroonedpods.io");
  // The pod's join credential, as issued into marooned-join-<id> (spent once the node joins).
  BOOST_TEST((join_info_field(join_info, "credential") == env().credential(id).reveal()));

  // The record's current token, one bootstrap token Secret labelled for the pod.
  const auto token = join_info_field(join_info, "token");
  BOOST_TEST((token == secret_value(record, std::string(names::maroon_token_key))));
  const auto token_id = token.substr(0, token.find('.'));
  BOOST_TEST(annotation(record, names::maroon_bootstrap_tokens) == token_id);
  const auto tokens = kubectl_json({"get", "secrets", "-n", "kube-system", "-l", for_id(id)});
  BOOST_TEST_REQUIRE(tokens["items"].size() == 1u);
  BOOST_TEST(tokens["items"][0]["metadata"]["name"] == "bootstrap-token-" + token_id);
  BOOST_TEST(tokens["items"][0]["type"] == "bootstrap.kubernetes.io/token");
  BOOST_TEST((secret_value(tokens["items"][0], "token-secret") == token.substr(token.find('.') + 1)));
  // ... which the API server's bootstrap authenticator accepts, in the k3s agents' group.
  TempDir dir;
  const auto kubeconfig = dir.write(
      "bootstrap.kubeconfig",
      "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + env().server +
          "\n    certificate-authority-data: " + env().ca_data + "\nusers:\n- name: b\n  user:\n    token: " + token +
          "\ncontexts:\n- name: c\n  context: {cluster: c, user: b}\ncurrent-context: c\n");
  std::filesystem::permissions(kubeconfig, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto whoami =
      json::parse(cluster().kubectl_ok({"--kubeconfig", kubeconfig.string(), "auth", "whoami", "-o", "json"}));
  BOOST_TEST(whoami["status"]["userInfo"]["username"] == "system:bootstrap:" + token_id);
  BOOST_TEST(whoami["status"]["userInfo"]["groups"].dump().find(names::maroon_token_groups) != std::string::npos,
             whoami.dump());

  // KubeVirt reports the VM running.
  set_phase(id, "Running");
  wait_condition(name, "VMRunning");

  // The VM's first boot with that user-data: the node registers, proves the credential, is
  // vouched for; kwok reports it Ready; the gate-release controller lets the pod go there.
  TempDir root;
  const std::string node = unique_name("vm-node");
  auto join = agent_join(root.path(), join_info, node);
  BOOST_TEST_REQUIRE(join.exit_code == 0, join.out << join.err);
  BOOST_TEST(join.out.find(token) == std::string::npos);
  BOOST_TEST(join.out.find("registered and vouched for marooned pod " + id) != std::string::npos, join.out);
  std::string bound;
  BOOST_TEST(eventually(
      [&] {
        bound = get_pod(env().ns, name)["spec"].value("nodeName", "");
        return !bound.empty();
      },
      patience));
  BOOST_TEST(bound == node);
  const auto pod = wait_condition(name, "NodeJoined");
  BOOST_TEST(vm_condition(pod)["status"] == "True");
  BOOST_TEST(vm_condition(pod)["message"].get<std::string>().find("node " + node + " joined") != std::string::npos);
  wait_event(name, "NodeJoined", "Normal");
  // The same VM: nothing was replaced.
  BOOST_TEST(annotation(vmi_of(id).value(), names::maroon_vm_attempt) == "1");
  Suite::pod = pod;
}

BOOST_AUTO_TEST_CASE(deleting_the_pod_removes_its_vm_node_tokens_credential_and_record) {
  BOOST_TEST_REQUIRE(Suite::pod["spec"].contains("nodeName"), "needs the pod bound by the case before");
  const std::string name = Suite::pod["metadata"]["name"];
  const auto id = pod_uid_of(Suite::pod);
  const std::string node = Suite::pod["spec"]["nodeName"];
  BOOST_TEST_REQUIRE(vmi_of(id).has_value());
  BOOST_TEST_REQUIRE(get_json({"get", "node", node}).has_value());
  // kwok plays the kubelet: the pod goes once it is deleted on its node.
  delete_pods_and_wait({name}, {id});
  BOOST_TEST(!get_json({"get", "node", node}).has_value());
  BOOST_TEST(!get_json({"get", "pod", "-n", env().ns, name}).has_value());
}

BOOST_AUTO_TEST_CASE(a_failed_vm_is_replaced_until_max_attempts_then_the_pod_fails_to_place) {
  const int max = kubectl_json({"get", "mpconfig", "default"})["spec"]["maxVMAttempts"];
  BOOST_TEST_REQUIRE(max >= 2);
  const auto created = create_pod(env().pod(true, "fail-"));
  const std::string name = created["metadata"]["name"];
  const auto id = pod_uid_of(created);
  std::set<std::string> uids;
  for (int attempt = 1; attempt <= max; ++attempt) {
    BOOST_TEST_CONTEXT("attempt " << attempt) {
      const auto vmi = wait_vmi(id, attempt);
      BOOST_TEST(uids.insert(vmi["metadata"]["uid"].get<std::string>()).second);  // a new VMI each time
      BOOST_TEST(annotation(record_of(id).value(), names::maroon_vm_attempt) == std::to_string(attempt));
      const auto of = "(attempt " + std::to_string(attempt) + " of " + std::to_string(max) + ")";
      if (attempt > 1) {
        // The condition said VMFailed (its Event is recorded once the condition is set)
        // until the new VM was created.
        wait_event(name, "VMFailed", "Warning", "stopped (phase Failed); replacing it " + of);
      }
      BOOST_TEST(eventually([&] {
        const auto c = vm_condition(get_pod(env().ns, name));
        return c.value("reason", "") == "VMCreated" && c.value("message", "").find(of) != std::string::npos;
      }));
      set_phase(id, "Failed");
    }
  }
  const auto pod = wait_condition(name, "FailedToPlace");
  BOOST_TEST(vm_condition(pod)["status"] == "False");
  BOOST_TEST(has_gate(pod));
  BOOST_TEST(pod["spec"].value("nodeName", "").empty());
  wait_event(name, "FailedToPlace", "Warning");
  BOOST_TEST(eventually([&] { return !vmi_of(id).has_value(); }, patience));
  const auto record = record_of(id).value();
  BOOST_TEST(annotation(record, names::maroon_vm_state) == "FailedToPlace");
  BOOST_TEST(annotation(record, names::maroon_vm_attempt) == std::to_string(max));
  // A token per attempt, each deleted with its VM.
  const auto token_ids = annotation(record, names::maroon_bootstrap_tokens);
  BOOST_TEST(std::count(token_ids.begin(), token_ids.end(), ',') == max - 1, token_ids);
  BOOST_TEST(eventually([&] {
    return kubectl_json({"get", "secrets", "-n", "kube-system", "-l", for_id(id)})["items"].empty();
  }));
  // And it stays that way: no VM comes back for it, and it says why once.
  controller_has_seen_everything_so_far();
  BOOST_TEST(!vmi_of(id).has_value());
  const auto after = get_pod(env().ns, name);
  BOOST_TEST(has_gate(after));
  BOOST_TEST(
      vm_condition(after)["message"].get<std::string>().find("that was attempt " + std::to_string(max) + " of " +
                                                             std::to_string(max) + ": giving up") != std::string::npos,
      vm_condition(after).dump());
  const auto events = events_from(vm_component, env().ns, name);
  BOOST_TEST(std::count_if(events.begin(), events.end(),
                           [](const json& e) { return e.value("reason", "") == "FailedToPlace"; }) == 1);

  delete_pods_and_wait({name}, {id});
}

BOOST_AUTO_TEST_CASE(a_vm_whose_node_misses_the_join_deadline_is_replaced) {
  const auto created = create_pod(env().pod(true, "late-"));
  const std::string name = created["metadata"]["name"];
  const auto id = pod_uid_of(created);
  const auto first = wait_vmi(id, 1);
  {
    const ConfigChange deadline(json{{"joinDeadline", "5s"}});
    const auto second = wait_vmi(id, 2);
    BOOST_TEST(second["metadata"]["uid"] != first["metadata"]["uid"]);
    wait_event(name, "NodeJoinTimeout", "Warning",
               "no node joined from VM " + marooned_ns + "/marooned-" + id + " within 5s; replacing it (attempt 2 of ");
    BOOST_TEST(annotation(record_of(id).value(), names::maroon_vm_attempt) != "1");
  }
  BOOST_TEST(kubectl_json({"get", "mpconfig", "default"})["spec"]["joinDeadline"] == "10m");
  // The controller judges by the restored deadline again (the cases after this rely on it): a
  // new pod's VM must join by ten minutes after its creation.
  const auto witness = create_pod(env().pod(true, "witness-"));
  const std::string witness_name = witness["metadata"]["name"];
  const auto witness_vmi = wait_vmi(pod_uid_of(witness), 1);
  const auto vm_created = nodeboot::parse_rfc3339(witness_vmi["metadata"]["creationTimestamp"].get<std::string>());
  std::string said;
  const bool restored = eventually([&] {
    said = vm_condition(get_pod(env().ns, witness_name)).value("message", "");
    const auto at = said.find("must join by ");
    const auto by = at == std::string::npos ? std::nullopt : nodeboot::parse_rfc3339(said.substr(at + 13));
    return by && vm_created && *by - *vm_created == std::chrono::minutes(10);
  });
  BOOST_TEST(restored, said);
  delete_pods_and_wait({name, witness_name}, {id, pod_uid_of(witness)});
}

BOOST_AUTO_TEST_CASE(a_replacement_interrupted_after_the_record_leaves_no_old_token) {
  const auto created = create_pod(env().pod(true, "torn-"));
  const std::string name = created["metadata"]["name"];
  const auto id = pod_uid_of(created);
  wait_vmi(id, 1);
  const auto first = record_of(id).value();
  const auto first_token = annotation(first, names::maroon_bootstrap_tokens);
  BOOST_TEST_REQUIRE(get_json({"get", "secret", "-n", "kube-system", "bootstrap-token-" + first_token}).has_value());
  // What a leader killed in the middle of a replacement leaves: the record already says
  // attempt 2 with its new token (not yet created: that comes with the VM), the first VM
  // and its token are still there.
  const auto next = nodeboot::marooned::new_bootstrap_token();
  cluster().kubectl_ok(
      {"patch", "secret", "-n", marooned_ns, first["metadata"]["name"], "--type=merge", "-p",
       json{{"metadata",
             {{"annotations",
               {{std::string(names::maroon_vm_attempt), "2"},
                {std::string(names::maroon_bootstrap_tokens), first_token + "," + next.id}}}}},
            {"data", {{std::string(names::maroon_token_key), nodeboot::base64_encode(next.token().reveal())}}}}
           .dump()});
  // The next leader finishes the replacement: the second VM with the new token, and the first
  // VM's token deleted with it.
  wait_vmi(id, 2);
  std::vector<std::string> tokens;
  const bool only_the_new_one = eventually([&] {
    tokens.clear();
    const auto list = kubectl_json({"get", "secrets", "-n", "kube-system", "-l", for_id(id)});
    for (const auto& t : list["items"]) tokens.push_back(t["metadata"]["name"]);
    return tokens == std::vector<std::string>{"bootstrap-token-" + next.id};
  });
  BOOST_TEST(only_the_new_one, "first " << first_token << ", next " << next.id << ", there: " << json(tokens).dump()
                                        << "\n"
                                        << env().diagnostics());
  delete_pods_and_wait({name}, {id});
}

BOOST_AUTO_TEST_CASE(a_leader_change_while_creating_makes_no_duplicates) {
  auto& nb = *Suite::nb;
  auto other = env().start("vm-b", /*short_lease=*/true, {"--enable-vm-controller"});
  BOOST_TEST_REQUIRE(eventually([] { return !lease_holder().empty(); }, patience));
  const auto leader = lease_holder();
  BOOST_TEST_REQUIRE((leader == "vm-a" || leader == "vm-b"), leader);
  WebhookProcess& doomed = leader == "vm-a" ? nb.controller : other;
  WebhookProcess& survivor = leader == "vm-a" ? other : nb.controller;

  // 40 pods in one go, from another thread; the leader dies as soon as it wrote the first
  // record, while the pods are still being created.
  constexpr int n = 40;
  json batch = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
  for (int i = 0; i < n; ++i) batch["items"].push_back(env().pod(true, "many-"));
  nodeboot::ProcessResult created;
  std::thread creating([&] { created = cluster().kubectl({"create", "-o", "json", "-f", "-"}, batch.dump()); });
  const auto records_for_these = [&] {
    std::size_t count = 0;
    const auto records = kubectl_json({"get", "secrets", "-n", marooned_ns, "-l", id_label});
    for (const auto& r : records["items"])
      if (annotation(r, names::maroon_owner_pod).starts_with(env().ns + "/many-")) ++count;
    return count;
  };
  const bool started = eventually([&] { return records_for_these() > 0; }, patience, std::chrono::milliseconds(50));
  doomed.process->stop(SIGKILL);
  const auto at_kill = records_for_these();
  creating.join();
  BOOST_TEST_REQUIRE(started);
  BOOST_TEST_REQUIRE(created.exit_code == 0, created.err);
  BOOST_TEST_MESSAGE("records written when " << doomed.identity << " was killed: " << at_kill << " of " << n);
  BOOST_TEST(eventually([&] { return lease_holder() == survivor.identity; }, patience));

  std::vector<std::string> pods;
  std::set<std::string> ids;
  // kubectl prints one JSON document per object, back to back.
  std::istringstream made(created.out);
  while ((made >> std::ws).peek() != EOF) {
    json p;
    made >> p;
    pods.push_back(p["metadata"]["name"]);
    ids.insert(pod_uid_of(p));
  }
  BOOST_TEST_REQUIRE(ids.size() == std::size_t{n});
  // Every pod has exactly one VMI (its first attempt), one record and one bootstrap token.
  // Objects labelled for these pods, as id → how many, and id → their attempt annotations.
  const auto by_id = [&](const std::vector<std::string>& args) {
    std::map<std::string, std::vector<std::string>> out;
    const auto list = kubectl_json(args);
    for (const auto& item : list["items"])
      if (const auto id = item["metadata"]["labels"].value(id_label, ""); ids.contains(id))
        out[id].push_back(annotation(item, names::maroon_vm_attempt));
    return out;
  };
  const std::vector<std::string> all_vmis{"get", "virtualmachineinstances", "-A", "-l", id_label};
  BOOST_TEST(eventually([&] { return by_id(all_vmis).size() == ids.size(); }, patience), survivor.process->log());
  const auto vmis = by_id(all_vmis);
  const auto tokens = by_id({"get", "secrets", "-n", "kube-system", "-l", id_label});
  const auto records = by_id({"get", "secrets", "-n", marooned_ns, "-l", id_label, "--field-selector", "type=Opaque"});
  const std::vector<std::string> first_attempt{"1"};
  for (const auto& id : ids) {
    BOOST_TEST_CONTEXT("pod " << id) {
      // Exactly one VMI, record and bootstrap token, all of the first attempt.
      BOOST_TEST((vmis.contains(id) && vmis.at(id) == first_attempt));
      BOOST_TEST((records.contains(id) && records.at(id) == first_attempt));
      BOOST_TEST((tokens.contains(id) && tokens.at(id).size() == 1u));
    }
  }

  delete_pods_and_wait(pods, ids);
  // The survivor carries on for the rest of the suite.
  if (&survivor == &other) nb.controller = std::move(other);
}

BOOST_AUTO_TEST_CASE(the_controllers_own_token_does_its_job_and_no_more) {
  const auto sa = [](std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", env().sa_kubeconfig.string()});
    return cluster().kubectl(args);
  };
  const auto refused = [](const nodeboot::ProcessResult& r, const std::string& why) {
    BOOST_TEST(r.exit_code != 0, r.out);
    BOOST_TEST(r.err.find(why) != std::string::npos, r.err);
  };
  // Nodes: only those vouched for a marooned pod (a dry run: admission runs, nothing is deleted).
  const auto ordinary = kubectl_json({"get", "nodes", "-l", "type=kwok"})["items"];
  BOOST_TEST_REQUIRE(!ordinary.empty());
  refused(sa({"delete", "node", ordinary[0]["metadata"]["name"], "--dry-run=server"}),
          "the VM controller may delete only nodes vouched for a marooned pod");

  // kube-system Secrets: bootstrap tokens labelled for a marooned pod only.
  const auto bootstrap_token = [](bool labelled) {
    json s = {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", "bootstrap-token-e2evm0"}, {"namespace", "kube-system"}}},
              {"type", "bootstrap.kubernetes.io/token"},
              {"stringData", {{"token-id", "abcdef"}, {"token-secret", "0123456789abcdef"}}}};
    if (labelled) s["metadata"]["labels"] = {{id_label, "x"}};
    return s.dump();
  };
  const std::string tokens_refusal = "may only create and delete bootstrap tokens labelled for a marooned pod";
  refused(sa({"create", "secret", "generic", unique_name("opaque"), "-n", "kube-system", "--from-literal=a=b",
              "--dry-run=server"}),
          tokens_refusal);
  refused(cluster().kubectl({"--kubeconfig", env().sa_kubeconfig.string(), "create", "--dry-run=server", "-f", "-"},
                            bootstrap_token(false)),
          tokens_refusal);
  auto allowed = cluster().kubectl(
      {"--kubeconfig", env().sa_kubeconfig.string(), "create", "--dry-run=server", "-f", "-"}, bootstrap_token(true));
  BOOST_TEST(allowed.exit_code == 0, allowed.err);
  const auto other = unique_name("not-a-token");
  cluster().kubectl_ok({"create", "secret", "generic", other, "-n", "kube-system", "--from-literal=a=b"});
  refused(sa({"delete", "secret", other, "-n", "kube-system"}), tokens_refusal);
  BOOST_TEST(get_json({"get", "secret", other, "-n", "kube-system"}).has_value());
  cluster().kubectl({"delete", "secret", other, "-n", "kube-system"});
  refused(sa({"get", "secrets", "-n", "kube-system"}), "forbidden");

  // Pod status: its own condition, nothing else.
  const auto created = create_pod(env().pod(true, "status-"));
  const std::string name = created["metadata"]["name"];
  const auto id = pod_uid_of(created);
  wait_condition(name, "VMCreated");
  // As the controller writes it: a PATCH of pods/status (kubectl would GET it first, which the
  // controller's role does not allow).
  auto config = nodeboot::kube::resolve_config({.kubeconfig = env().sa_kubeconfig.string()});
  BOOST_TEST_REQUIRE(config.has_value());
  nodeboot::kube::Client controller(std::move(*config));
  const auto patch_status = [&](const json& status) {
    auto r = controller.patch(nodeboot::kube::resources::pods, env().ns, name, nodeboot::kube::PatchType::strategic,
                              json{{"status", status}}, {}, "status");
    return nodeboot::ProcessResult{
        .exit_code = r ? 0 : 1, .timed_out = false, .out = "", .err = r ? "" : r.error().message};
  };
  refused(patch_status({{"phase", "Failed"}}), "may not change a pod's phase");
  refused(patch_status({{"conditions", {{{"type", "PodScheduled"}, {"status", "True"}}}}}),
          "may change only the maroonedpods.io/VirtualMachine condition");
  refused(patch_status({{"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}),
          "may change only the maroonedpods.io/VirtualMachine condition");
  auto own = patch_status({{"conditions",
                            {{{"type", std::string(names::maroon_vm_condition)},
                              {"status", "False"},
                              {"reason", "VMCreated"},
                              {"message", "set with the controller's token"}}}}});
  BOOST_TEST(own.exit_code == 0, own.err);
  // The controller puts its own word back.
  BOOST_TEST(eventually([&] {
    const auto c = vm_condition(get_pod(env().ns, name));
    return c.value("message", "").find("set with") == std::string::npos && c.value("reason", "") == "VMCreated";
  }));
  BOOST_TEST(get_pod(env().ns, name)["status"].value("phase", "") == "Pending");

  delete_pods_and_wait({name}, {id});
}

BOOST_AUTO_TEST_SUITE_END()
