// machine-config-daemon taken out of an image with real podman, from a real registry:
// Debian's docker-registry (distribution 2.x) on a loopback port, serving TLS with the
// test CA and requiring htpasswd logins; images built with umoci and pushed with skopeo.
// The "host" is this machine: commands run without the nsenter prefix, the host's / is a
// temporary directory for both this process and podman, and podman keeps its storage in
// that directory (--root/--runroot, vfs: no mounts, so any filesystem and any teardown
// works; overlay also runs here as root), so the machine's own podman state is untouched.
#include <crypt.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <sstream>

#include "nodeboot/agent/fetch.hpp"
#include "nodeboot/agent/host_steps.hpp"
#include "nodeboot/agent/ipb.hpp"
#include "nodeboot/agent/mcd.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/test/support.hpp"
#include "nodeboot/util/base64.hpp"

using namespace nodeboot;
using namespace nodeboot::agent;
using nodeboot::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::string user = "nodeboot-node";
const std::string password = "pull-s3cret-9d2e71";  // must never reach a log line or a message

// A stand-in: the real machine-config-daemon is the machine-config-operator image's Go
// program, which needs RHCOS to do anything; this script proves the agent extracted, and
// can run, exactly what the image holds.
const std::string stand_in_mcd =
    "#!/bin/sh\n"
    "# Stand-in for machine-config-daemon, built into a test image by\n"
    "# tests/integration/agent/agent_mcd_test.cpp: the real one only runs on RHCOS.\n"
    "echo \"stand-in machine-config-daemon: $*\"\n";

// htpasswd's bcrypt line, made with libxcrypt (what `htpasswd -B` writes).
std::string htpasswd_line(const std::string& name, const std::string& secret) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  // Cost 5: the registry checks it on every request; the test needs no brute-force resistance.
  BOOST_REQUIRE(crypt_gensalt_rn("$2b$", 5, nullptr, 0, salt, static_cast<int>(sizeof salt)) != nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_rn(secret.c_str(), salt, data.get(), static_cast<int>(sizeof(crypt_data)));
  BOOST_REQUIRE(hash != nullptr && hash[0] == '$');
  return name + ":" + hash + "\n";
}

std::string tool(const std::string& name) {
  for (const auto* dir : {"/usr/bin", "/usr/sbin", "/usr/local/bin"})
    if (fs::exists(fs::path(dir) / name)) return (fs::path(dir) / name).string();
  BOOST_FAIL(name << " is not installed (scripts/deps.sh installs it)");
  return {};
}

void require_ok(const ProcessResult& r, const std::string& what) {
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, what << " exited " << r.exit_code << ": " << r.err);
}

// docker-registry on a free loopback port with its own config, storage and log, stopped
// when the object goes (and killed with the test process if that dies first).
struct Registry {
  TempDir dir;
  int port = test::free_loopback_port();
  std::string host = "127.0.0.1:" + std::to_string(port);
  std::unique_ptr<test::Background> process;

  Registry() {
    const auto& pki = test::test_pki();
    dir.write("htpasswd", htpasswd_line(user, password));
    const auto config =
        dir.write("config.yml",
                  "version: 0.1\n"
                  "log:\n  level: info\n"
                  "storage:\n  filesystem:\n    rootdirectory: " +
                      (dir.path() / "storage").string() +
                      "\n"
                      "http:\n  addr: " +
                      host + "\n  tls:\n    certificate: " + pki.cert.string() + "\n    key: " + pki.key.string() +
                      "\n"
                      "auth:\n  htpasswd:\n    realm: nodeboot-test\n    path: " +
                      (dir.path() / "htpasswd").string() + "\n");
    process = std::make_unique<test::Background>(
        std::vector<std::string>{tool("docker-registry"), "serve", config.string()}, dir.path() / "registry.log");
    // Up when /v2/ asks for a login over TLS signed by the test CA.
    const std::string ca = test::read_file(pki.ca);
    const bool up = test::eventually(
        [&] {
          std::string body;
          FetchRequest req{.url = "https://" + host + "/v2/", .ca_pem = ca, .timeout = std::chrono::seconds(2)};
          return fetch_to_string(req, body).status == 401 || process->exited();
        },
        std::chrono::seconds(30), std::chrono::milliseconds(50));
    BOOST_REQUIRE_MESSAGE(up && !process->exited(), "docker-registry did not start:\n" << log());
  }
  std::string log() const { return process->log(); }
};

// The node's host, its podman storage and the images the tests pull.
struct Env {
  Registry registry;
  TempDir host;  // the host's /, for this process and for podman alike
  TempDir work;  // image layouts, podman's storage, the pusher's credentials
  std::ostringstream log;
  McdOptions options;

  Env() {
    // The kubelet's pull secret, where RHCOS keeps it.
    host.write("var/lib/kubelet/config.json", auth_json(password));
    host.write("etc/nodeboot-test/certs/ca.crt", test::read_file(test::test_pki().ca));
    work.write("pusher-auth.json", auth_json(password));
    options.host_prefix.clear();
    options.host_root = options.command_root = host.path();
    options.cert_dir = "/etc/nodeboot-test/certs";
    options.podman_global_args = podman_storage();
  }

  ~Env() {
    // Whatever a failed case left in the private storage: no mounts with vfs, so TempDir
    // removes the rest.
    auto args = podman_storage();
    args.insert(args.begin(), "podman");
    auto rm = args, rmi = args;
    rm.insert(rm.end(), {"rm", "--all", "--force"});
    rmi.insert(rmi.end(), {"rmi", "--all", "--force"});
    (void)run_process(rm);
    (void)run_process(rmi);
  }

  std::vector<std::string> podman_storage() const {
    const auto w = work.path();
    return {"--root",           (w / "podman/root").string(),
            "--runroot",        (w / "podman/run").string(),
            "--tmpdir",         (w / "podman/tmp").string(),
            "--storage-driver", "vfs",
            "--events-backend", "none"};
  }

  std::string auth_json(const std::string& secret) const {
    return R"({"auths":{")" + registry.host + R"(":{"auth":")" + base64_encode(user + ":" + secret) + R"("}}})";
  }

  // An image holding `file` (made from `content`, mode 0755) at `path`, pushed as
  // ocp/<name>; returns its pullspec by digest.
  std::string push(const std::string& name, const std::string& path, const std::string& content) {
    const auto layout = (work.path() / ("oci-" + name)).string();
    const auto source = work.write("src-" + name, content);
    fs::permissions(source, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    require_ok(test::run({"umoci", "init", "--layout", layout}), "umoci init");
    require_ok(test::run({"umoci", "new", "--image", layout + ":mcd"}), "umoci new");
    require_ok(test::run({"umoci", "insert", "--rootless", "--image", layout + ":mcd", source.string(), path}),
               "umoci insert");
    const auto digest_file = work.path() / ("digest-" + name);
    require_ok(
        test::run({"skopeo", "copy", "--quiet", "--dest-cert-dir", (host.path() / "etc/nodeboot-test/certs").string(),
                   "--dest-authfile", (work.path() / "pusher-auth.json").string(), "--digestfile", digest_file.string(),
                   "oci:" + layout + ":mcd", "docker://" + registry.host + "/ocp/" + name + ":stand-in"}),
        "skopeo copy");
    std::string digest = test::read_file(digest_file);
    while (!digest.empty() && (digest.back() == '\n' || digest.back() == ' ')) digest.pop_back();
    return registry.host + "/ocp/" + name + "@" + digest;
  }

  void use(const std::string& pullspec) {
    auto ref = bootstrap::parse_digest_ref(pullspec);
    BOOST_REQUIRE_MESSAGE(ref.has_value(), pullspec << ": " << (ref ? "" : ref.error().message));
    options.image = *ref;
  }

  // Container names left in the private storage.
  std::string containers() const {
    auto argv = podman_storage();
    argv.insert(argv.begin(), "podman");
    argv.insert(argv.end(), {"ps", "--all", "--format", "{{.Names}}"});
    auto r = test::run(argv);
    require_ok(r, "podman ps");
    return r.out;
  }

  fs::path installed() const { return host.path() / "var/lib/nodeboot/bin/machine-config-daemon"; }
  fs::path staging() const { return host.path() / "var/lib/nodeboot/bin/.machine-config-daemon.nodeboot-tmp"; }

  McdError expect_failure(McdFailure expected) {
    auto r = extract_mcd(options, log);
    BOOST_REQUIRE_MESSAGE(!r.has_value(), "extraction succeeded; log:\n" << log.str());
    BOOST_TEST(reason(r.error().failure) == reason(expected), r.error().message);
    BOOST_TEST_MESSAGE(reason(r.error().failure) << ": " << r.error().message);
    BOOST_TEST(!fs::exists(installed()));
    BOOST_TEST(!fs::exists(staging()));
    BOOST_TEST(containers().empty());
    no_secret_in(r.error().message);
    return r.error();
  }

  void no_secret_in(const std::string& message) const {
    for (const std::string& s : {password, base64_encode(user + ":" + password)}) {
      BOOST_TEST(message.find(s) == std::string::npos);
      BOOST_TEST(log.str().find(s) == std::string::npos);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(agent_mcd)

BOOST_AUTO_TEST_CASE(extracts_the_mcd_with_real_podman_and_runs_it) {
  Env env;
  env.use(env.push("mcd", "/usr/bin/machine-config-daemon", stand_in_mcd));
  auto path = extract_mcd(env.options, env.log);
  BOOST_REQUIRE_MESSAGE(path.has_value(), (path ? "" : path.error().message) << "\nlog:\n" << env.log.str());
  BOOST_TEST(*path == env.installed());
  BOOST_TEST(test::read_file(*path) == stand_in_mcd);
  struct stat st {};
  BOOST_REQUIRE(::stat(path->c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
  BOOST_REQUIRE(::stat(path->parent_path().c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 07777) == 0700u);
  BOOST_TEST(!fs::exists(env.staging()));
  BOOST_TEST(env.containers().empty());
  // The pull secret went to podman as a path, and only as a path.
  BOOST_TEST(env.log.str().find("--authfile " + (env.host.path() / "var/lib/kubelet/config.json").string()) !=
             std::string::npos);
  env.no_secret_in("");

  auto ran = test::run({path->string(), "firstboot-complete-machineconfig"});
  BOOST_TEST(ran.exit_code == 0);
  BOOST_TEST(ran.out == "stand-in machine-config-daemon: firstboot-complete-machineconfig\n");
}

// A crash between create and rm leaves the fixed-name container and the staging copy
// behind; the next run removes both and installs over the old binary.
BOOST_AUTO_TEST_CASE(a_rerun_replaces_what_a_crashed_run_left) {
  Env env;
  env.use(env.push("mcd", "/usr/bin/machine-config-daemon", stand_in_mcd));
  BOOST_REQUIRE(extract_mcd(env.options, env.log).has_value());
  auto create = env.podman_storage();
  create.insert(create.begin(), "podman");
  create.insert(create.end(), {"create", "--name", env.options.container_name, env.options.image.text, "/x"});
  require_ok(test::run(create), "podman create");
  env.host.write("var/lib/nodeboot/bin/.machine-config-daemon.nodeboot-tmp/leftover", "x");
  auto again = extract_mcd(env.options, env.log);
  BOOST_REQUIRE_MESSAGE(again.has_value(), (again ? "" : again.error().message) << "\nlog:\n" << env.log.str());
  BOOST_TEST(test::read_file(*again) == stand_in_mcd);
  BOOST_TEST(env.containers().empty());
}

BOOST_AUTO_TEST_CASE(a_digest_the_registry_does_not_have_is_McdPullFailed) {
  Env env;
  const auto pushed = env.push("mcd", "/usr/bin/machine-config-daemon", stand_in_mcd);
  env.use(pushed.substr(0, pushed.find('@')) + "@sha256:" + std::string(64, '0'));
  const auto e = env.expect_failure(McdFailure::pull_failed);
  BOOST_TEST(e.message.find("podman pull " + env.options.image.text) != std::string::npos, e.message);
  BOOST_TEST(e.message.find("manifest unknown") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(an_image_without_the_binary_is_McdNotInImage) {
  Env env;
  env.use(env.push("release", "/release-manifests/image-references", "{}\n"));
  const auto e = env.expect_failure(McdFailure::not_in_image);
  BOOST_TEST(e.message.find("has no /usr/bin/machine-config-daemon") != std::string::npos, e.message);
  BOOST_TEST(e.message.find("machine-config-operator") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_program_is_McdNotExecutable) {
  Env env;
  env.use(env.push("notes", "/usr/bin/machine-config-daemon", "not a program\n"));
  const auto e = env.expect_failure(McdFailure::not_executable);
  BOOST_TEST(e.message.find("neither an ELF binary nor a #! script") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(the_registry_requires_the_pull_secret) {
  Env env;
  env.use(env.push("mcd", "/usr/bin/machine-config-daemon", stand_in_mcd));
  fs::remove(env.host.path() / "var/lib/kubelet/config.json");
  auto e = env.expect_failure(McdFailure::pull_unauthorized);
  BOOST_TEST(e.message.find("no pull secret at /var/lib/kubelet/config.json") != std::string::npos, e.message);

  const std::string wrong = "wrong-pw-5c81aa";
  env.host.write("var/lib/kubelet/config.json", env.auth_json(wrong));
  e = env.expect_failure(McdFailure::pull_unauthorized);
  BOOST_TEST(e.message.find("refused the pull secret /var/lib/kubelet/config.json") != std::string::npos, e.message);
  BOOST_TEST(e.message.find(wrong) == std::string::npos);
  BOOST_TEST(env.log.str().find(wrong) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_host_without_podman_is_McdPodmanUnavailable) {
  Env env;
  env.use(env.registry.host + "/ocp/mcd@sha256:" + std::string(64, '0'));
  env.options.host_prefix = {"/nonexistent/nsenter", "--"};
  const auto e = env.expect_failure(McdFailure::podman_unavailable);
  BOOST_TEST(e.message.find("privileged with hostPID") != std::string::npos, e.message);
}

// The engine with mcd-image: the MCD comes out of the image before the label goes, and
// firstboot runs the extracted binary (in-process here: host_steps' own tests cover the unit).
BOOST_AUTO_TEST_CASE(the_bootstrap_runs_firstboot_with_the_mcd_from_the_image) {
  Env env;
  env.use(env.push("mcd-engine", "/usr/bin/machine-config-daemon", stand_in_mcd));
  test::HttpsServer ignition;
  ignition.server.Get("/ignition", [](const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("Authorization") != "Bearer ign-token") {
      res.status = 401;
      return;
    }
    res.set_content(R"({"ignition":{"version":"3.4.0"},"storage":{"files":[]}})", "application/json");
  });
  ignition.start();
  env.host.write("etc/kubernetes/kubeconfig", "apiVersion: v1\nkind: Config\n");
  bootstrap::BootstrapSpec spec;
  spec.os = bootstrap::Os::rhcos;
  spec.rhcos = bootstrap::Rhcos{*bootstrap::parse_https_url(ignition.url("/ignition")),
                                Secret(std::string("ign-token")), test::read_file(test::test_pki().ca)};
  spec.rhcos->mcd_image = env.options.image;
  BootstrapOptions o;
  o.host_root = o.host_root_on_host = env.host.path();
  o.reboot_command = "true";
  o.mcd = env.options;
  o.node = "n1";
  o.attempt = "1";
  FanOut nobody;
  bool label_removed_before_firstboot = false;
  const auto outcome = run_bootstrap(
      spec, o, nobody,
      [&]() -> Result<void> {
        label_removed_before_firstboot = true;
        return {};
      },
      env.log);
  BOOST_TEST((outcome.state == State::rebooting), outcome.reason << ": " << outcome.message << "\n" << env.log.str());
  BOOST_TEST(label_removed_before_firstboot);
  BOOST_TEST(
      env.log.str().find("stand-in machine-config-daemon: firstboot-complete-machineconfig") != std::string::npos,
      env.log.str());
  auto plan = load_plan(env.host.path());
  BOOST_REQUIRE(plan && *plan);
  BOOST_TEST((*plan)->steps.front().command == env.installed().string() + " firstboot-complete-machineconfig");
}

BOOST_AUTO_TEST_SUITE_END()
