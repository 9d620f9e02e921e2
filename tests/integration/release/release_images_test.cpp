// The release's images (fixture integration/release_build: scripts/release.sh on this build)
// run as containers in a private dockerd (release_support.hpp): the webhook read-only, as uid 65532,
// every capability dropped, answering /healthz and a pod review over TLS; the agent's
// --version. And what the release promises about them: digests that a rebuild reproduces,
// an SBOM that check-image.py holds the image to, a webhook that cannot run as root.
#include <sys/stat.h>

#include <yaml-cpp/yaml.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/version.hpp"
#include "release_support.hpp"

using namespace nodeboot::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string release_version() {
  std::string v(nodeboot::version());
  return v.substr(0, v.find('+'));
}

std::map<std::string, std::string> image_set() {
  std::map<std::string, std::string> set;
  std::istringstream in(read_file(release_dist() / "images.txt"));
  for (std::string k, v; in >> k >> v;) set[k] = v;
  return set;
}

// A serving certificate for 127.0.0.1 (openssl, the peer every admission client trusts).
struct ServingPair {
  TempDir dir;
  fs::path certs = dir.path() / "certs";
  ServingPair() {
    fs::create_directories(certs);
    auto r = run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
                  "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                  (certs / "tls.key").string(), "-out", (certs / "tls.crt").string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // uid 65532 in the container reads the mounted directory.
    for (const auto& p : {dir.path(), certs, certs / "tls.key", certs / "tls.crt"})
      ::chmod(p.c_str(), fs::is_directory(p) ? 0755 : 0644);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(release_images)

BOOST_AUTO_TEST_CASE(webhook_runs_read_only_as_65532_without_capabilities_and_answers_over_tls) {
  Docker docker;
  if (!docker.up()) return;
  const auto image = docker.load("nodeboot-webhook");

  auto inspect = docker({"image", "inspect", image});
  BOOST_REQUIRE(inspect.exit_code == 0);
  const auto config = json::parse(inspect.out)[0]["Config"];
  BOOST_TEST(config["User"].get<std::string>() == "65532:65532");
  BOOST_TEST(config["Labels"]["org.opencontainers.image.version"].get<std::string>() == release_version());
  BOOST_TEST(config["Labels"]["org.opencontainers.image.title"].get<std::string>() == "nodeboot-webhook");

  ServingPair tls;
  const int port = free_loopback_port();
  auto started = docker({"run",
                         "--detach",
                         "--name",
                         "webhook",
                         "--read-only",
                         "--user",
                         "65532:65532",
                         "--cap-drop",
                         "ALL",
                         "--security-opt",
                         "no-new-privileges",
                         "--network",
                         "host",
                         "--volume",
                         tls.certs.string() + ":/tls:ro",
                         image,
                         "--cert-dir=/tls",
                         "--port=" + std::to_string(port),
                         "--bind-address=127.0.0.1",
                         "--no-api"});
  BOOST_REQUIRE_MESSAGE(started.exit_code == 0, started.err);

  const std::string base = "https://127.0.0.1:" + std::to_string(port);
  const std::string ca = (tls.certs / "tls.crt").string();
  nodeboot::ProcessResult health;
  const bool healthy = eventually(
      [&] {
        health = run({"curl", "-sS", "--max-time", "5", "--cacert", ca, base + "/healthz"});
        return health.exit_code == 0 && health.out.starts_with("ok");
      },
      std::chrono::seconds(30));
  BOOST_REQUIRE_MESSAGE(healthy, "no /healthz: curl exited " << health.exit_code << ": " << health.out << health.err
                                                             << docker({"logs", "webhook"}).err);

  // A marooned pod's CREATE review: allowed, patched, answered in-band with the request's uid.
  const auto review = read_file(source_dir() / "tests/unit/webhook/fixtures/pod_create_named.json");
  auto answered = run({"curl", "-sS", "--max-time", "5", "--cacert", ca, "-H", "Content-Type: application/json",
                       "--data-binary", review, base + "/mutate/pods"});
  BOOST_REQUIRE_MESSAGE(answered.exit_code == 0, answered.err);
  const auto response = json::parse(answered.out)["response"];
  BOOST_TEST(response["uid"] == json::parse(review)["request"]["uid"]);
  BOOST_TEST(response["allowed"].get<bool>());
  BOOST_TEST(response.contains("patch"));

  // The container as it ran: the flags held, and there is no shell to exec into.
  auto running = docker({"inspect", "webhook"});
  BOOST_REQUIRE(running.exit_code == 0);
  const auto c = json::parse(running.out)[0];
  BOOST_TEST(c["State"]["Running"].get<bool>());
  BOOST_TEST(c["HostConfig"]["ReadonlyRootfs"].get<bool>());
  BOOST_TEST(c["HostConfig"]["CapDrop"].dump() == R"(["ALL"])");
  BOOST_TEST(docker({"exec", "webhook", "/bin/sh", "-c", "true"}).exit_code != 0);
  BOOST_TEST(docker({"rm", "--force", "webhook"}).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(agent_image_prints_its_version) {
  Docker docker;
  if (!docker.up()) return;
  const auto image = docker.load("nodeboot-agent");
  auto r = docker({"run", "--rm", "--network", "none", image, "--version"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == "nodeboot-agent " + std::string(nodeboot::version()) + "\n");
  // What its DaemonSet runs: the binary on PATH, nsenter and /bin/sh beside it.
  auto tools = docker({"run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
                       "command -v nodeboot-agent && command -v nsenter && command -v tar"});
  BOOST_TEST(tools.exit_code == 0, tools.err);
  BOOST_TEST(tools.out == "/usr/bin/nodeboot-agent\n/usr/bin/nsenter\n/bin/tar\n");
}

// The host unit runs the agent on the host, RHCOS or RHEL: the image carries a portable build
// at the path the DaemonSet's --host-agent names, and that build runs with nothing but glibc.
BOOST_AUTO_TEST_CASE(agent_image_carries_the_portable_host_agent_the_daemonset_names) {
  std::string named;
  const auto ds = YAML::LoadFile((source_dir() / "manifests/ipb/daemonset.yaml").string());
  for (const auto& arg : ds["spec"]["template"]["spec"]["containers"][0]["command"]) {
    const auto a = arg.as<std::string>();
    if (a.starts_with("--host-agent=")) named = a.substr(a.find('=') + 1);
  }
  BOOST_REQUIRE_EQUAL(named, "/usr/lib/nodeboot/host/nodeboot-agent");
  Docker docker;
  if (!docker.up()) return;
  const auto image = docker.load("nodeboot-agent");
  auto version = docker({"run", "--rm", "--network", "none", "--entrypoint", named, image, "--version"});
  BOOST_TEST(version.exit_code == 0, version.err);
  BOOST_TEST(version.out == "nodeboot-agent " + std::string(nodeboot::version()) + "\n");
  TempDir out;
  const std::string container = "host-agent-copy";
  docker({"rm", "--force", container});
  BOOST_REQUIRE(docker({"create", "--name", container, image}).exit_code == 0);
  auto cp = docker({"cp", container + ":" + named, (out.path() / "nodeboot-agent").string()});
  docker({"rm", "--force", container});
  BOOST_REQUIRE_MESSAGE(cp.exit_code == 0, cp.err);
  auto portable =
      run({(source_dir() / "packaging/release/check-portable.sh").string(), (out.path() / "nodeboot-agent").string()});
  BOOST_TEST(portable.exit_code == 0, portable.err);
  BOOST_TEST(portable.out.find("ran --version: nodeboot-agent ") != std::string::npos, portable.out);
}

BOOST_AUTO_TEST_CASE(install_bundle_names_the_images_by_registry_and_digest) {
  const auto set = image_set();
  BOOST_TEST(set.at("version") == release_version());
  const auto install = read_file(release_dist() / "nodeboot-install.yaml");
  for (const char* name : {"nodeboot-webhook", "nodeboot-agent"}) {
    const auto& digest = set.at(name);
    BOOST_TEST(digest.starts_with("sha256:"));
    BOOST_TEST(digest.size() == 71u);
    // The archive's one manifest is that digest.
    auto index = run({"tar", "-xOf", (release_dist() / (std::string(name) + ".oci.tar")).string(), "./index.json"});
    BOOST_REQUIRE(index.exit_code == 0);
    BOOST_TEST(json::parse(index.out)["manifests"][0]["digest"].get<std::string>() == digest);
    BOOST_TEST(install.find("image: " + set.at("registry") + "/" + name + "@" + digest + "\n") != std::string::npos,
               name);
  }
  // Nothing names an image any other way.
  std::istringstream in(install);
  for (std::string line; std::getline(in, line);)
    if (line.find("image:") != std::string::npos) BOOST_TEST(line.find("@sha256:") != std::string::npos, line);
}

BOOST_AUTO_TEST_CASE(rebuilding_an_image_reproduces_its_digest) {
  TempDir out;
  nodeboot::ProcessOptions o;
  o.timeout = std::chrono::minutes(5);
  o.env_set["SOURCE_DATE_EPOCH"] = run({"git", "-C", source_dir().string(), "log", "-1", "--format=%ct"}).out;
  o.env_set["SOURCE_DATE_EPOCH"].pop_back();  // the newline
  const auto revision = run({"git", "-C", source_dir().string(), "rev-parse", "HEAD"}).out;
  auto r = run({(source_dir() / "packaging/images/build-image.sh").string(), "--name", "nodeboot-webhook", "--binary",
                (bin_dir() / "nodeboot-webhook").string(), "--version", release_version(), "--revision",
                revision.substr(0, revision.size() - 1), "--out", out.path().string()},
               o);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  BOOST_TEST(r.out == image_set().at("nodeboot-webhook") + "\n");
  BOOST_TEST(read_file(out.path() / "nodeboot-webhook.spdx.json") ==
             read_file(release_dist() / "nodeboot-webhook.spdx.json"));
}

BOOST_AUTO_TEST_CASE(check_refuses_a_root_webhook_and_a_package_the_sbom_omits) {
  const auto check = (source_dir() / "packaging/images/check-image.py").string();
  const auto dist = release_dist();
  auto ok = run({check, (dist / "nodeboot-webhook.oci.tar").string(), (dist / "nodeboot-webhook.spdx.json").string(),
                 "--non-root"});
  BOOST_TEST(ok.exit_code == 0, ok.err);
  BOOST_TEST(ok.out.find("user 65532:65532") != std::string::npos, ok.out);

  // The agent image runs as root (its DaemonSet is privileged): held to the webhook's rule, refused.
  auto root = run(
      {check, (dist / "nodeboot-agent.oci.tar").string(), (dist / "nodeboot-agent.spdx.json").string(), "--non-root"});
  BOOST_TEST(root.exit_code == 1);
  BOOST_TEST(root.err.find("runs as 0:0") != std::string::npos, root.err);

  // An SBOM that leaves out one package the image carries.
  auto sbom = json::parse(read_file(dist / "nodeboot-webhook.spdx.json"));
  auto& packages = sbom["packages"];
  packages.erase(std::remove_if(packages.begin(), packages.end(), [](const json& p) { return p["name"] == "libssl3"; }),
                 packages.end());
  TempDir tmp;
  const auto short_sbom = tmp.write("short.spdx.json", sbom.dump());
  auto omitted = run({check, (dist / "nodeboot-webhook.oci.tar").string(), short_sbom.string()});
  BOOST_TEST(omitted.exit_code == 1);
  BOOST_TEST(omitted.err.find("carries the Debian package libssl3, which the SBOM does not list") != std::string::npos,
             omitted.err);
}

BOOST_AUTO_TEST_SUITE_END()
