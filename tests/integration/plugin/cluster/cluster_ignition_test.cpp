// Issue 19 item 5: the Ignition each role gets, applied by Ignition itself. Upstream's
// Ignition v2.24.0 (tests/cluster/build-tools.sh builds it with the settings of Flatcar's
// ebuild, not with Flatcar's patches: OEM partition, old config versions, providers) runs
// its fetch and files stages on the generated .ign of the first controller, another
// controller and a worker, as Flatcar's initramfs does on first boot, each against a
// scratch Flatcar-like root, as root. The root it leaves is checked against what the config
// declares (every file's mode, owner and content, every link, every unit and how it is
// enabled) and against the role (what only controllers, only the first controller, or
// every node must get; secrets at 0600; core's SSH key).
//
// Stand-ins, named:
// - The root is a folder, not the ROOT filesystem Flatcar's initramfs mounts at /sysroot:
//   the disks and mount stages are not run (the configs declare no disks or filesystems).
//   It holds what the files stage reads: /etc/passwd, /etc/group and /etc/shadow with core
//   as Flatcar's acct-user/core makes it (uid and gid 500, /home/core), and Flatcar's
//   top-level folders.
// - The internet is a local HTTPS server (cpp-httplib with the tests' CA, which Ignition
//   trusts through SSL_CERT_FILE) serving each remote source under its own path: the copy
//   of the config Ignition reads differs from the generated file only in those URLs'
//   scheme and host, and in the hash of a stand-in (below).
// - The flannel manifest it serves is the real file (tests/support/data/cni, the pinned
//   bytes), so Ignition checks it against the real pin: its verification hash is kept.
// - The Kubernetes sysext image it serves is one line of stand-in text, not the image (no
//   internet here). The generated config pins it by cluster.kubernetes_sysext_sha256; the
//   copy carries the stand-in's sha256 in its place, and one case keeps the pin and serves
//   other bytes: Ignition must refuse them.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "cluster_env.hpp"
#include "nodeboot/plugin/cluster/pins.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot::test;
using namespace nodeboot::test::cluster_env;
using nlohmann::json;
namespace fs = std::filesystem;
namespace cl = nodeboot::plugin::cluster;

namespace {

constexpr unsigned core_id = 500;  // core's uid and gid (Flatcar's acct-user/core)

struct stat lstat_of(const fs::path& p) {
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::lstat(p.c_str(), &st) == 0, p << " is missing");
  return st;
}
unsigned mode_of(const fs::path& p) { return lstat_of(p).st_mode & 07777; }

// The scratch Flatcar-like root the files stage writes into.
struct FlatcarRoot {
  TempDir dir;
  const fs::path& path() const { return dir.path(); }
  FlatcarRoot() {
    // 0755 as a real root: Ignition writes core's SSH key as core (setfsuid), which must
    // reach /home/core through it.
    fs::permissions(path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    for (const char* d :
         {"boot", "etc/systemd/system", "home/core", "media", "mnt", "opt", "root", "run", "srv", "usr", "var"})
      fs::create_directories(path() / d);
    dir.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:Flatcar Admin:/home/core:/bin/bash\n");
    dir.write("etc/group", "root:x:0:\nwheel:x:10:root,core\ndocker:x:233:core\ncore:x:500:\n");
    dir.write("etc/shadow", "root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n");
    fs::permissions(path() / "etc/shadow", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    BOOST_REQUIRE(::chown((path() / "home/core").c_str(), core_id, core_id) == 0);
  }
};

// The internet's stand-in: remote paths → the bytes served, and the paths asked for.
class StandInInternet {
 public:
  StandInInternet() {
    https_.server.Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      const std::scoped_lock lock(mutex_);
      requested_.push_back(req.path);
      auto it = bodies_.find(req.path);
      if (it == bodies_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second, "application/octet-stream");
    });
    https_.start();
  }
  // Where `url` is served from now on, with `body`.
  std::string serve(const std::string& url, const std::string& body) {
    const auto path = url.substr(url.find('/', url.find("://") + 3));
    const std::scoped_lock lock(mutex_);
    bodies_[path] = body;
    return https_.url(path);
  }
  std::vector<std::string> requested() {
    const std::scoped_lock lock(mutex_);
    return requested_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> bodies_;
  std::vector<std::string> requested_;
  // Last: destroyed first, so the server's threads are joined before what they use goes
  // (ThreadSanitizer saw a handler's push_back race the destructor when a test never read
  // requested() afterwards).
  HttpsServer https_;
};

bool has_remote_source(const json& j) {
  if (j.is_object()) {
    if (auto s = j.find("source"); s != j.end() && s->is_string()) {
      const std::string src = *s;
      if (src.find("://") != std::string::npos && !src.starts_with("https://127.0.0.1:")) return true;
    }
  }
  if (j.is_structured()) return std::any_of(j.begin(), j.end(), [](const json& c) { return has_remote_source(c); });
  return false;
}

// The copy of `config` Ignition reads: every remote source served by `net` (see the top of
// the file). Returns each remote file's path in the root → the bytes it must hold.
std::map<std::string, std::string> serve_remote_sources(json& config, StandInInternet& net, bool keep_pins = false) {
  std::map<std::string, std::string> bodies;
  for (auto& f : config["storage"]["files"]) {
    auto& contents = f["contents"];
    const std::string src = contents.value("source", "");
    if (!src.starts_with("https://") && !src.starts_with("http://")) continue;
    const bool real = src == cl::flannel_manifest.url;
    const std::string body = real ? read_file(source_dir() / "tests/support/data/cni/kube-flannel-v0.28.10.yml")
                                  : "stand-in for " + src + "\n";
    if (!real && !keep_pins && contents.contains("verification") && contents["verification"].contains("hash"))
      contents["verification"]["hash"] = "sha256-" + sha256_hex(body);
    contents["source"] = net.serve(src, body);
    bodies[f["path"]] = body;
  }
  BOOST_TEST(!has_remote_source(config), "a remote source the test serves no stand-in for (a merged config, a CA)");
  return bodies;
}

// Runs one stage of Ignition with the file platform, as its own blackbox tests do.
nodeboot::ProcessResult run_ignition_stage(const std::string& stage, const fs::path& work, const fs::path& root) {
  fs::create_directories(work / "system");
  nodeboot::ProcessOptions o;
  o.env_set = {{"IGNITION_CONFIG_FILE", (work / "config.ign").string()},
               // An empty folder: no base config of this machine's (/usr/lib/ignition) joins in.
               {"IGNITION_SYSTEM_CONFIG_DIR", (work / "system").string()},
               {"SSL_CERT_FILE", test_pki().ca.string()}};
  o.timeout = std::chrono::seconds(60);  // each stage takes well under a second here
  return run({(tools_dir() / "ignition").string(), "-platform", "file", "-stage", stage, "-root", root.string(),
              "-log-to-stdout", "-config-cache", (work / "ignition.json").string(), "-neednet",
              (work / "neednet").string(), "-state-file", (work / "state").string()},
             o);
}

// The same, which must succeed.
void ignition_stage(const std::string& stage, const fs::path& work, const fs::path& root) {
  const auto r = run_ignition_stage(stage, work, root);
  // On failure Ignition prints the whole config after "Full config:" on stderr, tokens
  // included: only its log (stdout: paths and steps, no contents) and what precedes that is shown.
  const auto err = r.err.substr(0, r.err.find("Full config:"));
  BOOST_TEST_REQUIRE(r.exit_code == 0, "ignition -stage " << stage << " failed:\n" << r.out << err);
  BOOST_TEST(r.out.find("CRITICAL") == std::string::npos, r.out);
  BOOST_TEST(r.out.find("Ignition finished successfully") != std::string::npos, r.out);
}

// One node's generated Ignition applied by Ignition's fetch and files stages to a fresh root.
struct Applied {
  json config;  // as generated
  FlatcarRoot root;
  std::map<std::string, std::string> remote;  // remote file's path → the bytes served
  std::vector<std::string> requested;
  Applied(const Generated& g, const std::string& node, StandInInternet& net) : config(g.ign(node)) {
    TempDir work;
    json copy = config;
    remote = serve_remote_sources(copy, net);
    work.write("config.ign", copy.dump());
    const auto before = net.requested().size();
    for (const char* stage : {"fetch", "files"}) ignition_stage(stage, work.path(), root.path());
    const auto all = net.requested();
    requested.assign(all.begin() + static_cast<std::ptrdiff_t>(before), all.end());
  }
  fs::path at(const std::string& abs) const { return root.path() / fs::path(abs).relative_path(); }
  bool has(const std::string& abs) const { return fs::exists(fs::symlink_status(at(abs))); }
};

// Every file, link and unit the config declares, as Ignition left it in the root.
void check_declared(const Applied& a) {
  for (const auto& f : a.config["storage"]["files"]) {
    const std::string path = f["path"];
    BOOST_TEST_CONTEXT("file " << path) {
      const auto st = lstat_of(a.at(path));
      BOOST_TEST(S_ISREG(st.st_mode));
      BOOST_TEST((st.st_mode & 07777) == f.value("mode", 0644U));  // Ignition's default mode: 0644
      // No user or group is declared: root's.
      BOOST_TEST(!f.contains("user"));
      BOOST_TEST(st.st_uid == 0U);
      BOOST_TEST(st.st_gid == 0U);
      const std::string src = f["contents"]["source"];
      std::string expected;
      if (src.starts_with("data:;base64,"))
        expected = *nodeboot::base64_decode(src.substr(13));
      else
        expected = a.remote.at(path);
      // Compared without printing either side: some hold a token or a key.
      BOOST_TEST((read_file(a.at(path)) == expected), "the content differs from the config's");
    }
  }
  for (const auto& l : a.config["storage"]["links"]) {
    const std::string path = l["path"];
    BOOST_TEST_CONTEXT("link " << path) {
      BOOST_TEST_REQUIRE(fs::is_symlink(a.at(path)));
      BOOST_TEST(fs::read_symlink(a.at(path)).string() == l["target"].get<std::string>());
      BOOST_TEST(a.has(l["target"]), "dangling in the root");
    }
  }
  // Units: written to /etc/systemd/system when they have contents (0644), and enabled the
  // way Ignition 2.24 enables them: a line each in its preset file, which systemd applies on
  // the first boot (an empty /etc/machine-id). No wants symlinks are made.
  std::set<std::string> enabled;
  for (const auto& u : a.config["systemd"]["units"]) {
    const std::string name = u["name"];
    BOOST_TEST_CONTEXT("unit " << name) {
      const auto unit = "/etc/systemd/system/" + name;
      if (u.contains("contents")) {
        BOOST_TEST(mode_of(a.at(unit)) == 0644U);
        BOOST_TEST(read_file(a.at(unit)) == u["contents"].get<std::string>());
      } else {
        BOOST_TEST(!a.has(unit));  // a unit Flatcar ships (containerd), only enabled
      }
    }
    if (u.value("enabled", false)) enabled.insert("enable " + name + "\n");
  }
  std::string preset;
  for (const auto& line : enabled) preset += line;  // Ignition writes them sorted by name
  BOOST_TEST(read_file(a.at("/etc/systemd/system-preset/20-ignition.preset")) == preset);
  BOOST_TEST(!a.has("/etc/systemd/system/multi-user.target.wants"));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_ignition)

BOOST_AUTO_TEST_CASE(ignitions_files_stage_writes_each_roles_files_units_and_users_into_a_flatcar_root) {
  // Ignition's files stage chroots to look core up and chowns: it needs root, which the test machine has.
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: not root");
    return;
  }
  Generated g;
  const auto kubeadm_token = read_file(g.out / "kubeadm-token").substr(0, 23);
  const std::string ssh_key =
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM0iL05Y/eNyFBaGLq2wMLkA3XpwOD6OAqYL1aDofyVL test@nodeboot";
  BOOST_REQUIRE(read_file(source_dir() / "tests/support/data/cluster.yaml").find(ssh_key) != std::string::npos);
  StandInInternet net;

  struct Role {
    std::string node;
    bool controller, first;
  };
  for (const auto& role : {Role{"cp-1", true, true}, Role{"cp-2", true, false}, Role{"worker-2", false, false}}) {
    BOOST_TEST_CONTEXT("node " << role.node) {
      const Applied a(g, role.node, net);
      check_declared(a);

      BOOST_TEST(read_file(a.at("/etc/hostname")) == role.node + "\n");
      // The sysext image, fetched (the stand-in) and linked where systemd-sysext looks.
      const std::string sysext = "/opt/extensions/kubernetes/kubernetes-v1.31.0-x86-64.raw";
      BOOST_TEST(read_file(a.at(sysext)).starts_with("stand-in for https://github.com/flatcar/sysext-bakery/"));
      const auto* pinned = file_in(a.config, sysext);
      BOOST_REQUIRE(pinned);
      BOOST_TEST((*pinned)["contents"]["verification"]["hash"].get<std::string>() ==
                 "sha256-d10d01462ebd0231a8d1b8a827869c5effd28ca5c2f9e6de5d02e36f8b7660c8");  // cluster.yaml's
      BOOST_TEST(fs::read_symlink(a.at("/etc/extensions/kubernetes.raw")) == sysext);

      // kube-vip's static pod on the controllers only; the first on super-admin.conf until init.
      const std::string vip = "/etc/kubernetes/manifests/kube-vip.yaml";
      BOOST_TEST(a.has(vip) == role.controller);
      if (role.controller) {
        BOOST_TEST(mode_of(a.at(vip)) == 0644U);
        BOOST_TEST(read_file(a.at(vip)).find("value: \"192.168.1.100\"") != std::string::npos);
        BOOST_TEST(read_file(a.at(vip)).find(role.first ? "path: /etc/kubernetes/super-admin.conf"
                                                        : "path: /etc/kubernetes/admin.conf") != std::string::npos);
      }

      // The first controller alone: kubeadm init, the pinned CNI, the upload unit and its
      // token header; the others join. Every file holding a token or key is 0600.
      for (const char* only_first :
           {"/etc/kubeadm/init.yaml", "/opt/nodeboot/cni/manifest.yaml", "/opt/nodeboot/cni/apply",
            "/opt/nodeboot/post-init", "/etc/nodeboot/upload-ca.crt", "/etc/nodeboot/upload-auth",
            "/opt/nodeboot/upload-kubeconfig", "/etc/systemd/system/nodeboot-kubeconfig-upload.service",
            "/etc/systemd/system/nodeboot-cni.service", "/etc/systemd/system/nodeboot-post-init.service"})
        BOOST_TEST(a.has(only_first) == role.first, only_first);
      BOOST_TEST(a.has("/etc/kubeadm/join.yaml") == !role.first);
      const std::string kubeadm_config = role.first ? "/etc/kubeadm/init.yaml" : "/etc/kubeadm/join.yaml";
      BOOST_TEST(mode_of(a.at(kubeadm_config)) == 0600U);
      BOOST_TEST((read_file(a.at(kubeadm_config)).find("token: " + kubeadm_token) != std::string::npos));
      BOOST_TEST(read_file(a.at("/etc/systemd/system/kubeadm.service"))
                     .find(role.first ? "ExecStart=/usr/bin/kubeadm init --config /etc/kubeadm/init.yaml"
                                      : "ExecStart=/usr/bin/kubeadm join --config /etc/kubeadm/join.yaml") !=
                 std::string::npos);
      const auto preset = read_file(a.at("/etc/systemd/system-preset/20-ignition.preset"));
      for (const char* unit : {"containerd.service", "kubeadm.service"})
        BOOST_TEST(preset.find(std::string("enable ") + unit + "\n") != std::string::npos, unit);
      BOOST_TEST((preset.find("enable nodeboot-kubeconfig-upload.service\n") != std::string::npos) == role.first);
      if (role.first) {
        BOOST_TEST(mode_of(a.at("/etc/nodeboot/upload-auth")) == 0600U);
        BOOST_TEST((read_file(a.at("/etc/nodeboot/upload-auth")) == "Authorization: Bearer " + g.token + "\n"));
        BOOST_TEST(mode_of(a.at("/opt/nodeboot/upload-kubeconfig")) == 0500U);
        BOOST_TEST(read_file(a.at("/opt/nodeboot/upload-kubeconfig")).find("-H @/etc/nodeboot/upload-auth") !=
                   std::string::npos);
        // The real manifest, which Ignition checked against the real pin before writing it.
        BOOST_TEST(sha256_hex(read_file(a.at("/opt/nodeboot/cni/manifest.yaml"))) ==
                   std::string(cl::flannel_manifest.sha256));
      }
      // Ignition fetched exactly the remote sources this role's config names.
      std::vector<std::string> expected_fetches{
          "/flatcar/sysext-bakery/releases/download/kubernetes-v1.31.0/kubernetes-v1.31.0-x86-64.raw"};
      if (role.first) expected_fetches.emplace_back("/flannel-io/flannel/v0.28.10/Documentation/kube-flannel.yml");
      auto fetched = a.requested;
      std::sort(fetched.begin(), fetched.end());
      std::sort(expected_fetches.begin(), expected_fetches.end());
      BOOST_TEST(fetched == expected_fetches, boost::test_tools::per_element());

      // core, as Flatcar's Ignition leaves it: the key in authorized_keys.d/ignition (which
      // Flatcar's update-ssh-keys merges), owned by core, private; the account unchanged.
      const std::string keys = "/home/core/.ssh/authorized_keys.d/ignition";
      BOOST_TEST(read_file(a.at(keys)) == ssh_key + "\n");
      BOOST_TEST(mode_of(a.at(keys)) == 0600U);
      BOOST_TEST(lstat_of(a.at(keys)).st_uid == core_id);
      BOOST_TEST(lstat_of(a.at(keys)).st_gid == core_id);
      BOOST_TEST(mode_of(a.at("/home/core/.ssh")) == 0700U);
      BOOST_TEST(lstat_of(a.at("/home/core/.ssh")).st_uid == core_id);
      BOOST_TEST(read_file(a.at("/etc/passwd")).find("core:x:500:500:Flatcar Admin:/home/core:/bin/bash\n") !=
                 std::string::npos);
      BOOST_TEST(a.has("/etc/.ignition-result.json"));  // Ignition's own record that it ran
    }
  }
}

BOOST_AUTO_TEST_CASE(ignition_refuses_a_sysext_image_that_is_not_the_pinned_one) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: not root");
    return;
  }
  // Whoever answers for github.com (a mirror, a proxy, an attacker on the path) serves other
  // bytes: the files stage fails, and the image is not written.
  Generated g;
  StandInInternet net;
  TempDir work;
  FlatcarRoot root;
  json copy = g.ign("worker-2");
  serve_remote_sources(copy, net, /*keep_pins=*/true);
  work.write("config.ign", copy.dump());
  BOOST_REQUIRE(run_ignition_stage("fetch", work.path(), root.path()).exit_code == 0);
  const auto r = run_ignition_stage("files", work.path(), root.path());
  BOOST_TEST(r.exit_code != 0);
  BOOST_TEST(r.out.find("hash verification failed") != std::string::npos, r.out);
  BOOST_TEST(!fs::exists(root.path() / "opt/extensions/kubernetes/kubernetes-v1.31.0-x86-64.raw"));
}

BOOST_AUTO_TEST_SUITE_END()
