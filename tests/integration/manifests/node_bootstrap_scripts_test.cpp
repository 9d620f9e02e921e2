// The node-bootstrap scripts (manifests/node-bootstrap/{iscsi,gpu}) run for real with bash,
// each in a temporary root (NODEBOOT_ROOT) and with PATH holding only stand-ins and the
// coreutils they need, so no real package, service or kernel module is touched.
//
// FAKES, unavoidably: apt-get, dpkg-query, systemctl, modprobe, vainfo and nsenter are
// stand-ins (shell scripts written below) that record every call in ROOT/calls and keep
// package, service and module state in files under ROOT. Installing packages or loading
// modules on the test machine is not possible (nor wanted); the stand-ins mimic the
// observable behaviour the scripts rely on (exit codes, `E:` lines, /proc/modules, vainfo's
// output format from an Ubuntu 24.04 host with an Alder Lake iGPU).
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* const apt_get = R"SH(#!/bin/bash
echo "apt-get $*" >>"$NODEBOOT_ROOT/calls"
[[ -e $NODEBOOT_ROOT/state/apt-fails ]] && { echo "E: Unable to locate package intel-media-va-driver-non-free" >&2; exit 100; }
seen=0
for a in "$@"; do
  if [[ $seen == 1 && $a != -* ]]; then mkdir -p "$NODEBOOT_ROOT/state/pkg"; touch "$NODEBOOT_ROOT/state/pkg/$a"; fi
  [[ $a == install ]] && seen=1
done
exit 0
)SH";

const char* const dpkg_query = R"SH(#!/bin/bash
echo "dpkg-query $*" >>"$NODEBOOT_ROOT/calls"
pkg=${*: -1}
[[ -e $NODEBOOT_ROOT/state/pkg/$pkg ]] || { echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; }
printf 'install ok installed'
)SH";

const char* const systemctl = R"SH(#!/bin/bash
echo "systemctl $*" >>"$NODEBOOT_ROOT/calls"
s=$NODEBOOT_ROOT/state/svc; mkdir -p "$s"
verb=$1; shift; [[ $1 == --quiet ]] && { quiet=1; shift; }
unit=$1
case $verb in
  is-active) [[ -e $s/$unit.active ]] && { [[ -n ${quiet:-} ]] || echo active; exit 0; }; [[ -n ${quiet:-} ]] || echo inactive; exit 3 ;;
  is-enabled) [[ -e $s/$unit.enabled ]] && exit 0; exit 1 ;;
  enable) touch "$s/$unit.enabled" ;;
  start) [[ -e $NODEBOOT_ROOT/state/pkg/open-iscsi ]] || exit 5; touch "$s/$unit.active"
    # The daemon as the readiness probe sees it: its PID file and its /proc entry.
    mkdir -p "$NODEBOOT_ROOT/run" "$NODEBOOT_ROOT/proc/4242"
    echo 4242 >"$NODEBOOT_ROOT/run/$unit.pid"; echo "$unit" >"$NODEBOOT_ROOT/proc/4242/comm" ;;
esac
)SH";

const char* const modprobe = R"SH(#!/bin/bash
echo "modprobe $*" >>"$NODEBOOT_ROOT/calls"
mkdir -p "$NODEBOOT_ROOT/proc"
echo "$1 16384 0 - Live 0x0000000000000000" >>"$NODEBOOT_ROOT/proc/modules"
# The i915 driver creates the render node once it binds the GPU.
[[ $1 == i915 ]] && { mkdir -p "$NODEBOOT_ROOT/dev/dri"; touch "$NODEBOOT_ROOT/dev/dri/renderD128"; }
exit 0
)SH";

const char* const vainfo = R"SH(#!/bin/bash
echo "vainfo $*" >>"$NODEBOOT_ROOT/calls"
if [[ ! -e $NODEBOOT_ROOT/state/pkg/intel-media-va-driver-non-free ]]; then
  echo "libva error: vaGetDriverNameByIndex() failed with unknown libva error, driver_name = (null)" >&2
  echo "vaInitialize failed with error code -1 (unknown libva error),exit"; exit 1
fi
cat <<'OUT'
libva info: VA-API version 1.20.0
libva info: Trying to open /usr/lib/x86_64-linux-gnu/dri/iHD_drv_video.so
vainfo: VA-API version: 1.20 (libva 2.12.0)
vainfo: Driver version: Intel iHD driver for Intel(R) Gen Graphics - 24.1.0 ()
vainfo: Supported profile and entrypoints
      VAProfileNone                   :	VAEntrypointVideoProc
      VAProfileH264Main               :	VAEntrypointVLD
      VAProfileH264Main               :	VAEntrypointEncSlice
      VAProfileH264Main               :	VAEntrypointEncSliceLP
      VAProfileHEVCMain               :	VAEntrypointEncSliceLP
OUT
)SH";

// Records its arguments and runs what follows `--` (in the same namespaces: a test cannot
// and must not enter PID 1's).
const char* const nsenter = R"SH(#!/bin/bash
own=()
while [[ $1 != -- ]]; do own+=("$1"); shift; done; shift
echo "nsenter ${own[*]}" >>"$NODEBOOT_ROOT/calls"
exec "$@"
)SH";

// Records its arguments and runs the command after `--` as the host's systemd would start
// a transient unit: without the pod's environment (NODEBOOT_IN_POD), output piped back.
const char* const systemd_run = R"SH(#!/bin/bash
own=()
while [[ $1 != -- ]]; do own+=("$1"); shift; done; shift
echo "systemd-run ${own[*]} -- $*" >>"$NODEBOOT_ROOT/calls"
exec env -u NODEBOOT_IN_POD "$@"
)SH";

// For failure messages. BOOST_TEST streams its message even when the check passes, so the
// message must be valid for an empty list too.
std::string lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& l : v) out += "\n  " + l;
  return out;
}

// A node: a temporary root with os-release, optional Intel GPU, and the stand-ins.
class Node {
 public:
  explicit Node(const std::string& os_release = "ID=ubuntu\nVERSION_ID=\"24.04\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n",
                bool with_apt = true) {
    dir_.write("root/etc/os-release", os_release);
    dir_.write("root/proc/modules", "");
    for (auto [name, text] : {std::pair{"dpkg-query", dpkg_query},
                              {"systemctl", systemctl},
                              {"modprobe", modprobe},
                              {"vainfo", vainfo},
                              {"nsenter", nsenter},
                              {"systemd-run", systemd_run},
                              {"apt-get", apt_get}}) {
      if (!with_apt && std::string(name) == "apt-get") continue;
      fs::permissions(dir_.write(std::string("bin/") + name, text), fs::perms::owner_all);
    }
    // Only what the scripts (and stand-ins) need from the machine: never the real apt-get,
    // systemctl or modprobe.
    for (const char* tool : {"bash", "sh", "env", "tr", "grep", "sed", "sort", "tail", "head", "mkdir", "dirname", "mv",
                             "chmod", "date", "touch", "cat"})
      fs::create_symlink(fs::path("/usr/bin") / tool, dir_.path() / "bin" / tool);
  }

  void add_intel_gpu() const {
    dir_.write("root/sys/bus/pci/devices/0000:00:02.0/vendor", "0x8086\n");
    dir_.write("root/sys/bus/pci/devices/0000:00:02.0/class", "0x030000\n");
  }
  void add_other_device() const {  // an Intel NIC and an NVIDIA GPU: neither counts
    dir_.write("root/sys/bus/pci/devices/0000:00:1f.6/vendor", "0x8086\n");
    dir_.write("root/sys/bus/pci/devices/0000:00:1f.6/class", "0x020000\n");
    dir_.write("root/sys/bus/pci/devices/0000:01:00.0/vendor", "0x10de\n");
    dir_.write("root/sys/bus/pci/devices/0000:01:00.0/class", "0x030000\n");
  }
  void fail_apt() const { dir_.write("root/state/apt-fails", ""); }

  fs::path root() const { return dir_.path() / "root"; }

  nodeboot::ProcessResult run(const std::string& script, const std::vector<std::string>& args,
                              const std::map<std::string, std::string>& extra_env = {}) const {
    std::vector<std::string> argv{"/usr/bin/bash", (source_dir() / "manifests/node-bootstrap" / script).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    nodeboot::ProcessOptions o;
    o.env_set = {{"PATH", (dir_.path() / "bin").string()}, {"NODEBOOT_ROOT", root().string()}};
    o.env_set.insert(extra_env.begin(), extra_env.end());
    o.env_unset = {"NODEBOOT_IN_POD"};
    o.timeout = std::chrono::seconds(60);
    return nodeboot::test::run(argv, o);
  }

  // Runs `install`, requires one JSON line on stdout and returns it.
  json install(const std::string& script, int expected_exit) const {
    auto r = run(script, {"install"});
    BOOST_TEST_INFO("stderr: " << r.err);
    BOOST_REQUIRE_EQUAL(r.exit_code, expected_exit);
    BOOST_REQUIRE_MESSAGE(std::count(r.out.begin(), r.out.end(), '\n') == 1, "not one line: " << r.out);
    return json::parse(r.out);
  }

  std::vector<std::string> calls() const {
    std::vector<std::string> lines;
    std::ifstream in(root() / "calls");
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
  void clear_calls() const { fs::remove(root() / "calls"); }

  // Calls that change the node (as opposed to queries).
  std::vector<std::string> mutating_calls() const {
    std::vector<std::string> out;
    for (const auto& c : calls())
      if (c.starts_with("apt-get") || c.starts_with("modprobe") || c.starts_with("systemctl enable") ||
          c.starts_with("systemctl start"))
        out.push_back(c);
    return out;
  }

  // Runs `probe` (verify --deep's read-only check): exit 0 and one JSON line on stdout.
  json probe(const std::string& script) const {
    auto r = run(script, {"probe"});
    BOOST_TEST_INFO("stderr: " << r.err);
    BOOST_REQUIRE_EQUAL(r.exit_code, 0);
    BOOST_REQUIRE_MESSAGE(std::count(r.out.begin(), r.out.end(), '\n') == 1, "not one line: " << r.out);
    return json::parse(r.out);
  }

  // Every file under the root but the stand-ins' call log, with its contents: what a run changed.
  std::map<std::string, std::string> files() const {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root()))
      if (e.is_regular_file() && e.path().filename() != "calls")
        out[fs::relative(e.path(), root()).string()] = read_file(e.path());
    return out;
  }

  bool called(const std::string& prefix) const {
    return std::ranges::any_of(calls(), [&](const std::string& c) { return c.starts_with(prefix); });
  }

 private:
  TempDir dir_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(node_bootstrap_scripts)

BOOST_AUTO_TEST_CASE(both_scripts_are_shellcheck_clean) {
  for (const char* script : {"iscsi/iscsi-bootstrap.sh", "gpu/gpu-bootstrap.sh"}) {
    auto r = run({"shellcheck", "--severity=style", (source_dir() / "manifests/node-bootstrap" / script).string()});
    BOOST_TEST(r.exit_code == 0, script << ":\n" << r.out << r.err);
  }
}

BOOST_AUTO_TEST_CASE(iscsi_fresh_install_then_second_run_changes_nothing) {
  Node node;
  auto result = node.install("iscsi/iscsi-bootstrap.sh", 0);
  BOOST_TEST(result["check"] == "iscsi");
  BOOST_TEST(result["status"] == "ok");
  BOOST_TEST(result["iscsid"] == "active");
  BOOST_TEST(result["iscsiTcp"] == true);
  BOOST_TEST(result["os"] == "Ubuntu 24.04.1 LTS");
  BOOST_TEST(node.called("apt-get -o DPkg::Lock::Timeout=300 update"));
  BOOST_TEST(node.called("apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends open-iscsi"));
  BOOST_TEST(node.called("modprobe iscsi_tcp"));
  BOOST_TEST(node.called("systemctl enable iscsid"));
  BOOST_TEST(node.called("systemctl start iscsid"));
  // iscsi_tcp is persisted: Ubuntu's open-iscsi does not load it at boot.
  BOOST_TEST(read_file(node.root() / "etc/modules-load.d/iscsi-tcp.conf") == "iscsi_tcp\n");
  BOOST_TEST(node.run("iscsi/iscsi-bootstrap.sh", {"check"}).exit_code == 0);

  node.clear_calls();
  auto again = node.install("iscsi/iscsi-bootstrap.sh", 0);
  BOOST_TEST(again["status"] == "ok");
  BOOST_TEST(node.mutating_calls().empty(), "second run changed the node: " << lines(node.mutating_calls()));
}

BOOST_AUTO_TEST_CASE(iscsi_check_fails_when_the_capability_is_lost) {
  Node node;
  node.install("iscsi/iscsi-bootstrap.sh", 0);
  // iscsid dies: systemd's view and the process both go; its PID file stays behind.
  fs::remove(node.root() / "state/svc/iscsid.active");
  fs::remove_all(node.root() / "proc/4242");
  auto r = node.run("iscsi/iscsi-bootstrap.sh", {"check"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("iscsid is not running") != std::string::npos, r.err);
  // iscsid dies again and another process gets its PID: that is not iscsid.
  node.install("iscsi/iscsi-bootstrap.sh", 0);
  fs::remove(node.root() / "state/svc/iscsid.active");
  std::ofstream(node.root() / "proc/4242/comm", std::ios::trunc) << "bash\n";
  BOOST_TEST(node.run("iscsi/iscsi-bootstrap.sh", {"check"}).exit_code == 1);
  node.install("iscsi/iscsi-bootstrap.sh", 0);  // a re-run repairs it
  std::ofstream(node.root() / "proc/modules", std::ios::trunc) << "";
  r = node.run("iscsi/iscsi-bootstrap.sh", {"check"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("iscsi_tcp is not loaded") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(iscsi_failing_package_install_is_reported_and_retryable) {
  Node node;
  node.fail_apt();
  auto result = node.install("iscsi/iscsi-bootstrap.sh", 1);
  BOOST_TEST(result["status"] == "failed");
  BOOST_TEST(result["reason"] == "AptFailed");
  BOOST_TEST(result["message"].get<std::string>().find("E: Unable to locate package") != std::string::npos);
  BOOST_TEST(!node.called("systemctl start"));
  BOOST_TEST(node.run("iscsi/iscsi-bootstrap.sh", {"check"}).exit_code == 1);
}

BOOST_AUTO_TEST_CASE(iscsi_without_apt_says_the_distro_is_unsupported) {
  Node node("ID=rhcos\nVERSION_ID=\"4.16\"\nPRETTY_NAME=\"Red Hat Enterprise Linux CoreOS 416\"\n", false);
  auto result = node.install("iscsi/iscsi-bootstrap.sh", 0);
  BOOST_TEST(result["status"] == "unsupported");
  BOOST_TEST(result["reason"] == "UnsupportedDistro");
  const std::string msg = result["message"];
  BOOST_TEST(msg.find("Red Hat Enterprise Linux CoreOS 416 is not supported") != std::string::npos);
  BOOST_TEST(msg.find("Ubuntu 22.04 or 24.04") != std::string::npos);
  BOOST_TEST(node.mutating_calls().empty());
}

BOOST_AUTO_TEST_CASE(iscsi_on_an_untested_apt_distro_warns_and_proceeds) {
  Node node("ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
  auto r = node.run("iscsi/iscsi-bootstrap.sh", {"install"});
  BOOST_TEST(r.exit_code == 0);
  BOOST_TEST(r.err.find("Debian GNU/Linux 12 (bookworm) is untested") != std::string::npos);
  BOOST_TEST(json::parse(r.out)["status"] == "ok");
}

BOOST_AUTO_TEST_CASE(in_the_pod_the_script_enters_the_host_and_writes_the_termination_message) {
  Node node;
  const fs::path termination_log = node.root() / "termination-log";
  auto r = node.run("iscsi/iscsi-bootstrap.sh", {"install"},
                    {{"NODEBOOT_IN_POD", "1"}, {"NODEBOOT_TERMINATION_LOG", termination_log.string()}});
  BOOST_TEST_INFO("stderr: " << r.err);
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_TEST(node.calls().front().starts_with("nsenter --target 1 --mount --uts --ipc --net --pid"));
  // The install runs as a transient unit of the host's systemd (outside the pod's cgroup and
  // its 64Mi), from the copy of the script on the host.
  const fs::path on_host = node.root() / "run/nodeboot/iscsi-bootstrap.sh";
  BOOST_TEST(read_file(on_host) == read_file(source_dir() / "manifests/node-bootstrap/iscsi/iscsi-bootstrap.sh"));
  const auto calls = node.calls();
  const bool unit_ran = std::any_of(calls.begin(), calls.end(), [&](const std::string& c) {
    return c.starts_with("systemd-run --unit=nodeboot-iscsi-bootstrap ") &&
           c.find("--wait --pipe") != std::string::npos && c.ends_with("-- /bin/bash " + on_host.string() + " install");
  });
  BOOST_TEST(unit_ran, lines(calls));
  auto message = read_file(termination_log);
  BOOST_TEST(json::parse(message)["status"] == "ok");
  BOOST_TEST(message.size() < 4096u);  // the kubelet keeps at most 4 KiB of a termination message
  // The readiness probe stays in the container (its CPU limit): no nsenter, no systemctl.
  node.clear_calls();
  BOOST_TEST(node.run("iscsi/iscsi-bootstrap.sh", {"check"}, {{"NODEBOOT_IN_POD", "1"}}).exit_code == 0);
  BOOST_TEST(node.calls().empty(), lines(node.calls()));
}

BOOST_AUTO_TEST_CASE(gpu_fresh_install_then_second_run_does_nothing_because_of_the_marker) {
  Node node;
  node.add_intel_gpu();
  auto result = node.install("gpu/gpu-bootstrap.sh", 0);
  BOOST_TEST(result["check"] == "quicksync");
  BOOST_TEST(result["status"] == "ok");
  BOOST_TEST(result["i915"] == true);
  BOOST_TEST(result["renderNode"] == "/dev/dri/renderD128");
  BOOST_TEST(result["vaDriver"].get<std::string>().starts_with("Intel iHD driver"));
  BOOST_TEST(result["encode"] == json::parse(R"(["H264Main","HEVCMain"])"));
  for (const char* m : {"i915", "drm", "drm_kms_helper", "video"})
    BOOST_TEST(node.called(std::string("modprobe ") + m));
  BOOST_TEST(node.called(
      "apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends intel-media-va-driver-non-free "
      "intel-opencl-icd libva-dev vainfo"));
  BOOST_TEST(read_file(node.root() / "etc/modules-load.d/gpu-bootstrap.conf") == "i915\ndrm\ndrm_kms_helper\nvideo\n");
  BOOST_TEST(fs::exists(node.root() / "var/lib/gpu-bootstrap.done"));
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"check"}).exit_code == 0);
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"live"}).exit_code == 0);

  node.clear_calls();
  auto again = node.install("gpu/gpu-bootstrap.sh", 0);
  BOOST_TEST(again["status"] == "ok");
  BOOST_TEST(node.mutating_calls().empty(), "second run changed the node: " << lines(node.mutating_calls()));
}

BOOST_AUTO_TEST_CASE(gpu_failing_package_install_leaves_no_marker) {
  Node node;
  node.add_intel_gpu();
  node.fail_apt();
  auto result = node.install("gpu/gpu-bootstrap.sh", 1);
  BOOST_TEST(result["status"] == "failed");
  BOOST_TEST(result["reason"] == "AptFailed");
  BOOST_TEST(result["message"].get<std::string>().find("multiverse") != std::string::npos);
  BOOST_TEST(!fs::exists(node.root() / "var/lib/gpu-bootstrap.done"));
  auto check = node.run("gpu/gpu-bootstrap.sh", {"check"});
  BOOST_TEST(check.exit_code == 1);
  BOOST_TEST(check.err.find("vainfo failed") != std::string::npos);
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"live"}).exit_code == 1);
}

BOOST_AUTO_TEST_CASE(gpu_on_a_node_without_an_intel_gpu_is_not_applicable_and_stays_healthy) {
  Node node;
  node.add_other_device();
  auto result = node.install("gpu/gpu-bootstrap.sh", 0);
  BOOST_TEST(result["status"] == "not-applicable");
  BOOST_TEST(result["reason"] == "NoIntelGPU");
  BOOST_TEST(node.calls().empty(), "touched a node without a GPU: " << lines(node.calls()));
  BOOST_TEST(!fs::exists(node.root() / "var/lib/gpu-bootstrap.done"));
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"check"}).exit_code == 0);
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"live"}).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(gpu_check_fails_when_the_driver_is_not_ihd) {
  Node node;
  node.add_intel_gpu();
  node.install("gpu/gpu-bootstrap.sh", 0);
  fs::remove(node.root() / "state/pkg/intel-media-va-driver-non-free");  // someone removed the driver
  auto again = node.install("gpu/gpu-bootstrap.sh", 0);                  // marker: no reinstall, but honest
  BOOST_TEST(again["status"] == "failed");
  BOOST_TEST(again["reason"] == "CheckFailed");
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"check"}).exit_code == 1);
}

BOOST_AUTO_TEST_CASE(gpu_without_apt_says_the_distro_is_unsupported) {
  Node node("ID=flatcar\nVERSION_ID=3815.2.0\nPRETTY_NAME=\"Flatcar Container Linux by Kinvolk 3815.2.0\"\n", false);
  node.add_intel_gpu();
  auto result = node.install("gpu/gpu-bootstrap.sh", 0);
  BOOST_TEST(result["status"] == "unsupported");
  BOOST_TEST(result["message"].get<std::string>().find(
                 "Flatcar Container Linux by Kinvolk 3815.2.0 is not supported") != std::string::npos);
  BOOST_TEST(node.mutating_calls().empty());
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"live"}).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(gpu_result_escapes_odd_text_into_valid_json) {
  Node node("ID=ubuntu\nVERSION_ID=\"24.04\"\nPRETTY_NAME=\"Ubuntu \\\"quoted\\\" \\\\ name\"\n");
  node.add_intel_gpu();
  auto result = node.install("gpu/gpu-bootstrap.sh", 0);
  BOOST_TEST(result["os"] == "Ubuntu \"quoted\" \\ name");
}

// verify --deep's probe mode answers with the install result's shape and never changes the
// node: no package, module, service or file, before the install, after it, and when broken.
BOOST_AUTO_TEST_CASE(iscsi_probe_reports_one_line_and_installs_nothing) {
  Node node;
  auto before = node.files();
  auto result = node.probe("iscsi/iscsi-bootstrap.sh");
  BOOST_TEST(result["check"] == "iscsi");
  BOOST_TEST(result["status"] == "failed");
  BOOST_TEST(result["reason"] == "NotInstalled");
  BOOST_TEST(result["iscsiTcp"] == false);
  BOOST_TEST(node.mutating_calls().empty(), "probe changed the node: " << lines(node.mutating_calls()));
  BOOST_TEST((node.files() == before));

  node.install("iscsi/iscsi-bootstrap.sh", 0);
  node.clear_calls();
  before = node.files();
  result = node.probe("iscsi/iscsi-bootstrap.sh");
  BOOST_TEST(result["status"] == "ok");
  BOOST_TEST(result["iscsid"] == "active");
  BOOST_TEST(result["iscsiTcp"] == true);
  BOOST_TEST(result["os"] == "Ubuntu 24.04.1 LTS");
  BOOST_TEST(node.mutating_calls().empty(), "probe changed the node: " << lines(node.mutating_calls()));
  BOOST_TEST((node.files() == before));

  fs::remove(node.root() / "state/svc/iscsid.active");
  before = node.files();
  result = node.probe("iscsi/iscsi-bootstrap.sh");
  BOOST_TEST(result["status"] == "failed");
  BOOST_TEST(result["reason"] == "IscsidInactive");
  BOOST_TEST(result["message"].get<std::string>().starts_with("iscsid is inactive"));
  BOOST_TEST(node.mutating_calls().empty(), "probe changed the node: " << lines(node.mutating_calls()));
  BOOST_TEST((node.files() == before));
}

BOOST_AUTO_TEST_CASE(gpu_probe_reports_one_line_and_installs_nothing) {
  Node node;
  node.add_other_device();
  BOOST_TEST(node.probe("gpu/gpu-bootstrap.sh")["status"] == "not-applicable");

  node.add_intel_gpu();
  auto before = node.files();
  auto result = node.probe("gpu/gpu-bootstrap.sh");
  BOOST_TEST(result["check"] == "quicksync");
  BOOST_TEST(result["status"] == "failed");
  BOOST_TEST(result["reason"] == "CheckFailed");
  const std::string message = result["message"];
  BOOST_TEST(message.find("the i915 kernel module is not loaded") != std::string::npos, message);
  BOOST_TEST(message.find("not bootstrapped: /var/lib/gpu-bootstrap.done is missing") != std::string::npos, message);
  BOOST_TEST(node.calls().empty(), "probe touched the node: " << lines(node.calls()));
  BOOST_TEST((node.files() == before));  // no marker, no modules-load.d file

  node.install("gpu/gpu-bootstrap.sh", 0);
  node.clear_calls();
  before = node.files();
  result = node.probe("gpu/gpu-bootstrap.sh");
  BOOST_TEST(result["status"] == "ok");
  BOOST_TEST(result["encode"] == json::parse(R"(["H264Main","HEVCMain"])"));
  BOOST_TEST(node.mutating_calls().empty(), "probe changed the node: " << lines(node.mutating_calls()));
  BOOST_TEST((node.files() == before));
}

BOOST_AUTO_TEST_CASE(in_the_probe_pod_the_result_is_also_the_termination_message) {
  Node node;
  node.add_intel_gpu();
  const fs::path termination_log = node.root() / "termination-log";
  auto r = node.run("gpu/gpu-bootstrap.sh", {"probe"},
                    {{"NODEBOOT_IN_POD", "1"}, {"NODEBOOT_TERMINATION_LOG", termination_log.string()}});
  BOOST_TEST_INFO("stderr: " << r.err);
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_TEST(node.calls().front().starts_with("nsenter --target 1 --mount --uts --ipc --net --pid"));
  BOOST_TEST(json::parse(read_file(termination_log)) == json::parse(r.out));
  BOOST_TEST(json::parse(r.out)["status"] == "failed");
}

BOOST_AUTO_TEST_CASE(in_the_pod_the_gpu_probes_enter_the_host_only_when_it_has_an_intel_gpu) {
  // The probes run in the container's CPU limit: what the host's files answer (no Intel
  // GPU, the marker) is answered there, without nsenter.
  const std::map<std::string, std::string> pod{{"NODEBOOT_IN_POD", "1"}};
  Node node;
  node.add_other_device();
  for (const char* probe : {"check", "live"}) {
    BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {probe}, pod).exit_code == 0, probe);
    BOOST_TEST(node.calls().empty(), probe << lines(node.calls()));
  }
  // An Intel GPU not bootstrapped yet: vainfo and apt-get are the host's questions.
  node.add_intel_gpu();
  auto check = node.run("gpu/gpu-bootstrap.sh", {"check"}, pod);
  BOOST_TEST(check.exit_code == 1);
  BOOST_TEST(check.err.find("the i915 kernel module is not loaded") != std::string::npos, check.err);
  BOOST_TEST(node.called("nsenter --target 1"), lines(node.calls()));
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"live"}, pod).exit_code == 1);
  // Bootstrapped: liveness is the marker's existence, read in the container.
  node.install("gpu/gpu-bootstrap.sh", 0);
  node.clear_calls();
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"live"}, pod).exit_code == 0);
  BOOST_TEST(node.calls().empty(), lines(node.calls()));
  BOOST_TEST(node.run("gpu/gpu-bootstrap.sh", {"check"}, pod).exit_code == 0);
  BOOST_TEST(node.called("vainfo"), lines(node.calls()));
}

BOOST_AUTO_TEST_SUITE_END()
