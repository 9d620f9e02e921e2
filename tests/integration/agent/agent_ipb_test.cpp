// The in-place bootstrap engine against real HTTPS servers this test starts, each with
// its own CA made by the openssl CLI: Ignition (an MCS-like server that answers spec
// 2.2.0 unless asked for 3.x), payloads, a registry, mirrors and the report URL. The
// engine runs the real commands (harmless ones) in a temporary host root.
#include <sys/mount.h>

#include <httplib.h>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "nodeboot/agent/app.hpp"
#include "nodeboot/agent/fetch.hpp"
#include "nodeboot/agent/host_steps.hpp"
#include "nodeboot/agent/ignition.hpp"
#include "nodeboot/agent/ipb.hpp"
#include "nodeboot/test/https_server.hpp"
#include "nodeboot/test/support.hpp"

using namespace nodeboot;
using namespace nodeboot::agent;
using nlohmann::json;
using nodeboot::test::TempDir;
namespace fs = std::filesystem;

namespace nodeboot::agent {
inline std::ostream& operator<<(std::ostream& o, State s) { return o << to_string(s); }
}  // namespace nodeboot::agent

namespace {

const std::string good_token = "ign-token-4f1c9a7e";  // must never reach a log line
const std::string report_token = "rep-token-77d0b3c2";
const std::string payload_token = "pay-token-1b2c3d4e";

const test::TestPki& pki() { return test::test_pki(); }

std::string ignition_v3() {
  // As an MCS renders it: the MachineConfig is itself one of the files.
  json mc = {{"apiVersion", "machineconfiguration.openshift.io/v1"},
             {"kind", "MachineConfig"},
             {"metadata", {{"name", "rendered-worker-0123abcd"}}}};
  json config = {{"ignition", {{"version", "3.4.0"}}}, {"storage", {{"files", json::array()}}}};
  ignition::put_file(config, ignition::encapsulated_path, mc.dump());
  return config.dump();
}

std::string make_payload(const TempDir& dir, const std::string& script) {
  dir.write("payload-src/entrypoint.sh", script);
  auto r = test::run({"tar", "-cf", (dir.path() / "payload.tar").string(), "-C", (dir.path() / "payload-src").string(),
                      "entrypoint.sh"});
  BOOST_REQUIRE(r.exit_code == 0);
  return test::read_file(dir.path() / "payload.tar");
}

// The remote side of a bootstrap: every endpoint the agent talks to, on one TLS port.
struct Remote : test::HttpsServer {
  std::string payload;  // served at /payload and (cut short) at /payload-truncated
  std::mutex mu;
  std::vector<json> reports;
  std::vector<std::string> report_auth;
  int flaky_calls = 0;

  Remote() {
    auto bearer_ok = [](const httplib::Request& req, const std::string& token) {
      return req.get_header_value("Authorization") == "Bearer " + token;
    };
    // MCS-like: spec 3.x only for an Accept header that asks for it.
    server.Get("/ignition", [=](const httplib::Request& req, httplib::Response& res) {
      if (!bearer_ok(req, good_token)) {
        res.status = 401;
        return;
      }
      if (req.get_header_value("Accept").find("version=3") != std::string::npos)
        res.set_content(ignition_v3(), "application/vnd.coreos.ignition+json;version=3.4.0");
      else
        res.set_content(R"({"ignition":{"version":"2.2.0"}})", "application/vnd.coreos.ignition+json;version=2.2.0");
    });
    // A proxy that drops the Accept header in front of an MCS.
    server.Get("/ignition-v2-only", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"ignition":{"version":"2.2.0"}})", "application/json");
    });
    server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::seconds(3));  // well past the 500 ms the test allows
      res.set_content(ignition_v3(), "application/json");
    });
    server.Get("/flaky", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu);
      if (flaky_calls++ == 0) {
        res.status = 503;
        return;
      }
      res.set_content(ignition_v3(), "application/json");
    });
    server.Get("/payload", [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!bearer_ok(req, payload_token)) {
        res.status = 401;
        return;
      }
      res.set_content(payload, "application/x-tar");
    });
    // Promises the whole payload, sends half, then hangs up.
    server.Get("/payload-truncated", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content_provider(payload.size(), "application/x-tar",
                               [this](size_t offset, size_t, httplib::DataSink& sink) {
                                 if (offset == 0) sink.write(payload.data(), payload.size() / 2);
                                 return offset == 0;
                               });
    });
    server.Get("/v2/", [](const httplib::Request&, httplib::Response& res) { res.status = 401; });
    server.Get("/mirror/",
               [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    server.Post("/report", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu);
      reports.push_back(json::parse(req.body, nullptr, false));
      report_auth.push_back(req.get_header_value("Authorization"));
      res.status = 204;
    });
    start();
  }
  bootstrap::HttpsUrl https(const std::string& path) const {
    return {"127.0.0.1", static_cast<std::uint16_t>(port()), path, url(path)};
  }
};

struct Recorder final : Reporter {
  std::vector<Step> steps;
  void report(const Step& s) override { steps.push_back(s); }
  std::vector<std::string> states() const {
    std::vector<std::string> out;
    for (const auto& s : steps)
      if (out.empty() || out.back() != to_string(s.state)) out.emplace_back(to_string(s.state));
    return out;
  }
};

// A host root with the node's kubeconfig, and commands that leave marker files.
struct Host {
  TempDir root;
  BootstrapOptions options;
  Host() {
    root.write("etc/kubernetes/kubeconfig", "apiVersion: v1\nkind: Config\n# the node's kubeconfig\n");
    const std::string r = root.path().string();
    options.host_root = root.path();
    options.firstboot_command = "touch " + r + "/firstboot-ran";
    options.entrypoint_command =
        "env > " + r + "/entrypoint-env && test -f " + r + "/var/lib/nodeboot/payload/entrypoint.sh";
    options.reboot_command = "touch " + r + "/rebooted";
    options.http_timeout = std::chrono::milliseconds(500);
    options.attempts = 2;
    options.backoff = std::chrono::milliseconds(10);
  }
  bool has(const std::string& p) const { return fs::exists(root.path() / p); }
};

bootstrap::BootstrapSpec rhcos_spec(const Remote& remote, const std::string& path, const std::string& token,
                                    const fs::path& ca) {
  bootstrap::BootstrapSpec spec;
  spec.os = bootstrap::Os::rhcos;
  spec.rhcos = bootstrap::Rhcos{remote.https(path), Secret(token), test::read_file(ca)};
  return spec;
}

bootstrap::BootstrapSpec rhel_spec(const Remote& remote, const std::string& path, std::optional<std::string> sha) {
  bootstrap::BootstrapSpec spec;
  spec.os = bootstrap::Os::rhel;
  bootstrap::Rhel rh;
  rh.payload_url = remote.https(path);
  rh.payload_token = Secret(payload_token);
  rh.worker_id = "worker-7";
  rh.cluster_id = "cluster-42";
  rh.region = "eu-de";
  rh.payload_sha256 = std::move(sha);
  rh.mirrors = {remote.https("/mirror/")};
  rh.ca_pem = test::read_file(pki().ca);
  spec.rhel = std::move(rh);
  return spec;
}

struct Run {
  Outcome outcome;
  Recorder recorder;
  std::string log;
  int label_removals = 0;
  bool rebooted_before_label_removed = false;
};

std::unique_ptr<Run> run(const bootstrap::BootstrapSpec& spec, const Host& host) {
  auto r = std::make_unique<Run>();
  std::ostringstream log;
  r->outcome = run_bootstrap(
      spec, host.options, r->recorder,
      [&]() -> Result<void> {
        ++r->label_removals;
        r->rebooted_before_label_removed = host.has("rebooted");
        return {};
      },
      log);
  r->log = log.str();
  BOOST_TEST(r->log.find(good_token) == std::string::npos);
  BOOST_TEST(r->log.find(payload_token) == std::string::npos);
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(agent_ipb)

BOOST_AUTO_TEST_CASE(rhcos_good_token_persists_ignition_then_removes_label_then_reboots) {
  Remote remote;
  Host host;
  auto spec = rhcos_spec(remote, "/ignition", good_token, pki().ca);
  spec.registry = bootstrap::HostPort{"127.0.0.1", static_cast<std::uint16_t>(remote.port())};
  spec.report = bootstrap::Report{remote.https("/report"), Secret(report_token)};
  std::ostringstream report_log;
  Recorder recorder;
  UrlReporter poster(*spec.report, test::read_file(pki().ca), "kwok-node-0", "1", std::chrono::seconds(5), report_log);
  FanOut fan;
  fan.add(recorder);
  fan.add(poster);
  std::ostringstream log;
  int removals = 0;
  bool rebooted_first = false;
  auto outcome = run_bootstrap(
      spec, host.options, fan,
      [&]() -> Result<void> {
        ++removals;
        rebooted_first = host.has("rebooted");
        return {};
      },
      log);

  BOOST_TEST(outcome.state == State::rebooting, outcome.reason << ": " << outcome.message);
  BOOST_TEST(recorder.states() == (std::vector<std::string>{"Validating", "Downloading", "Applying", "Rebooting"}),
             boost::test_tools::per_element());
  BOOST_TEST(removals == 1);
  BOOST_TEST(!rebooted_first);  // the label goes before the reboot
  BOOST_TEST(host.has("firstboot-ran"));
  BOOST_TEST(host.has("rebooted"));

  const auto mc = json::parse(test::read_file(host.root.path() / "etc/ignition-machine-config-encapsulated.json"));
  BOOST_TEST(mc["kind"] == "MachineConfig");
  BOOST_TEST(mc["metadata"]["name"] == "rendered-worker-0123abcd");
  std::map<std::string, json> files;
  for (const auto& f : mc["spec"]["config"]["storage"]["files"]) files[f["path"]] = f;
  BOOST_REQUIRE(files.contains("/etc/kubernetes/kubeconfig"));
  BOOST_REQUIRE(files.contains("/etc/machine-config-daemon/node-annotations.json"));
  BOOST_TEST(files["/etc/kubernetes/kubeconfig"]["mode"] == 420);
  BOOST_TEST(files["/etc/kubernetes/kubeconfig"]["contents"]["source"].get<std::string>().starts_with("data:"));
  BOOST_TEST(((fs::status(host.root.path() / "var/lib/nodeboot/ignition.json").permissions() &
               fs::perms::others_read) == fs::perms::none));

  // Every state went to the report URL with the report token.
  BOOST_TEST(remote.reports.size() == recorder.steps.size());
  BOOST_TEST(remote.reports.back()["state"] == "Rebooting");
  BOOST_TEST(remote.reports.back()["node"] == "kwok-node-0");
  for (const auto& a : remote.report_auth) BOOST_TEST((a == "Bearer " + report_token));  // no token printed
  for (const std::string& text : {log.str(), report_log.str()}) {
    BOOST_TEST(text.find(good_token) == std::string::npos);
    BOOST_TEST(text.find(report_token) == std::string::npos);
  }
}

// After the hand-over the host unit (`nodeboot-agent resume`) keeps reporting to the Secret's
// report-url, across the reboot, with the token kept in progress.json (root only) only while
// steps remain.
BOOST_AUTO_TEST_CASE(the_host_side_reports_to_the_report_url_and_forgets_its_token_at_the_end) {
  Remote remote;
  Host host;
  const auto root = host.root.path();
  host.root.write("boot_id", "boot-1\n");
  HostPlan plan;
  plan.node = "kwok-node-0";
  plan.attempt = "1";
  plan.os = "rhcos";
  for (const auto& [name, command] : {std::pair<std::string, std::string>{"firstboot", "true"},
                                      {"reboot", "touch " + (root / "rebooted").string()}}) {
    HostStep step;
    step.name = name;
    step.command = command;
    plan.steps.push_back(step);
  }
  plan.kubeconfig = (root / "no-kubelet-kubeconfig").string();  // no API server: the URL still hears
  plan.boot_id_file = (root / "boot_id").string();
  plan.report = HostReport{bootstrap::Report{remote.https("/report"), Secret(report_token)}, test::read_file(pki().ca),
                           std::chrono::seconds(5)};
  plan.handed_over = true;
  BOOST_REQUIRE(save_plan(root, plan));
  const auto progress = root / "var/lib/nodeboot/progress.json";

  std::ostringstream out, err;
  BOOST_TEST(nodeboot::agent::main({"nodeboot-agent", "resume", "--host-root", root.string()}, out, err) == 0,
             err.str());
  BOOST_TEST(host.has("rebooted"));
  BOOST_TEST(test::read_file(progress).find(report_token) != std::string::npos);  // steps remain
  BOOST_TEST(
      ((fs::status(progress).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none));

  // A --host-root that is not a directory is a usage error, before any lock or file is touched.
  std::ostringstream bad_err;
  BOOST_TEST(nodeboot::agent::main({"nodeboot-agent", "resume", "--host-root", (root / "missing").string()}, out,
                                   bad_err) == 2);
  BOOST_TEST(bad_err.str().find("--host-root") != std::string::npos, bad_err.str());
  BOOST_TEST(!fs::exists(root / "missing"));

  host.root.write("boot_id", "boot-2\n");  // the reboot happened
  BOOST_TEST(nodeboot::agent::main({"nodeboot-agent", "resume", "--host-root", root.string()}, out, err) == 0,
             err.str());
  BOOST_TEST(test::read_file(progress).find(report_token) == std::string::npos);  // finished: gone
  BOOST_TEST(test::read_file(progress).find("report") == std::string::npos);

  std::vector<std::string> states;
  for (const auto& r : remote.reports) states.push_back(r.value("state", ""));
  BOOST_TEST(states == (std::vector<std::string>{"Applying", "Rebooting", "Joining"}),
             boost::test_tools::per_element());
  for (const auto& a : remote.report_auth) BOOST_TEST((a == "Bearer " + report_token));  // no token printed
  BOOST_TEST(err.str().find(report_token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_token_fails_as_unauthorized) {
  Remote remote;
  Host host;
  auto r = run(rhcos_spec(remote, "/ignition", "not-the-token", pki().ca), host);
  BOOST_TEST(r->outcome.state == State::failed);
  BOOST_TEST(r->outcome.reason == "IgnitionUnauthorized");
  BOOST_TEST(r->outcome.message.find("401") != std::string::npos);
  BOOST_TEST(r->recorder.steps.back().reason == "IgnitionUnauthorized");
  BOOST_TEST(r->label_removals == 0);
  BOOST_TEST(!host.has("rebooted"));
}

BOOST_AUTO_TEST_CASE(wrong_ca_fails_tls_verification) {
  Remote remote;
  Host host;
  auto r = run(rhcos_spec(remote, "/ignition", good_token, pki().other_ca), host);
  BOOST_TEST(r->outcome.reason == "IgnitionTLSFailed");
  BOOST_TEST(r->outcome.message.find("ca.crt") != std::string::npos);
  BOOST_TEST(r->label_removals == 0);
}

BOOST_AUTO_TEST_CASE(a_host_only_the_system_store_trusts_is_refused) {
  // The check runs in a copy of this test process in a private mount namespace (unshare
  // -m), whose /etc/ssl/certs it replaces with a store holding the CA that signed the
  // server's certificate: the system trusts the server, the bootstrap Secret's ca.crt names
  // another CA, and the agent must refuse. Nothing on the host changes.
  if (std::getenv("NODEBOOT_SYSTEM_STORE_CHILD")) {
    TempDir store;
    const auto ca = test::read_file(pki().ca);
    store.write("ca-certificates.crt", ca);
    auto hash = test::run({"openssl", "x509", "-hash", "-noout", "-in", pki().ca.string()});
    BOOST_REQUIRE(hash.exit_code == 0);
    store.write(hash.out.substr(0, hash.out.find('\n')) + ".0", ca);
    BOOST_REQUIRE_MESSAGE(::mount(store.path().c_str(), "/etc/ssl/certs", nullptr, MS_BIND, nullptr) == 0,
                          "bind-mounting the test store over /etc/ssl/certs: " << std::strerror(errno));
    Remote remote;
    Secret token(good_token);
    std::string body;
    // Control: with no CA of its own the agent uses the system store, which now trusts the
    // server; without this the refusal below could come from a mount that did not happen.
    auto system =
        fetch_to_string({.url = remote.url("/ignition"), .bearer = &token, .accept = "application/json"}, body);
    BOOST_TEST(system.ok(), system.detail);
    auto pinned = fetch_to_string({.url = remote.url("/ignition"),
                                   .bearer = &token,
                                   .ca_pem = test::read_file(pki().other_ca),
                                   .accept = "application/json"},
                                  body);
    BOOST_TEST(!pinned.ok());
    BOOST_TEST((pinned.failure == FetchFailure::tls), pinned.detail);
    return;
  }
  nodeboot::ProcessOptions o;
  o.env_set["NODEBOOT_SYSTEM_STORE_CHILD"] = "1";
  o.timeout = std::chrono::seconds(120);
  auto r = test::run({"unshare", "-m", fs::read_symlink("/proc/self/exe").string(),
                      "--run_test=agent_ipb/a_host_only_the_system_store_trusts_is_refused"},
                     o);
  BOOST_TEST(r.exit_code == 0, r.out << r.err);
}

BOOST_AUTO_TEST_CASE(mcs_answers_spec_2_without_the_accept_header) {
  Remote remote;
  // The server really is MCS-like: no 3.x Accept, spec 2.2.0.
  std::string body;
  Secret token(good_token);
  auto plain = fetch_to_string({.url = remote.url("/ignition"),
                                .bearer = &token,
                                .ca_pem = test::read_file(pki().ca),
                                .accept = "application/json"},
                               body);
  BOOST_REQUIRE(plain.ok());
  BOOST_TEST(json::parse(body)["ignition"]["version"] == "2.2.0");
  // The agent asks for 3.x and gets it (the good-token case above); behind a proxy that
  // drops the header it fails naming the header.
  Host host;
  auto r = run(rhcos_spec(remote, "/ignition-v2-only", good_token, pki().ca), host);
  BOOST_TEST(r->outcome.reason == "IgnitionUnsupportedVersion");
  BOOST_TEST(r->outcome.message.find("2.2.0") != std::string::npos);
  BOOST_TEST(r->outcome.message.find("Accept") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(slow_endpoint_hits_the_timeout_after_retries) {
  Remote remote;
  Host host;
  auto r = run(rhcos_spec(remote, "/slow", good_token, pki().ca), host);
  BOOST_TEST(r->outcome.reason == "IgnitionTimeout");
  bool retried = false;
  for (const auto& s : r->recorder.steps) retried |= s.message.find("retrying (2/2)") != std::string::npos;
  BOOST_TEST(retried);
}

BOOST_AUTO_TEST_CASE(transient_server_error_is_retried_then_succeeds) {
  Remote remote;
  Host host;
  auto r = run(rhcos_spec(remote, "/flaky", good_token, pki().ca), host);
  BOOST_TEST(r->outcome.state == State::rebooting, r->outcome.reason << ": " << r->outcome.message);
}

BOOST_AUTO_TEST_CASE(rhel_payload_is_unpacked_and_entrypoint_gets_the_ids) {
  Remote remote;
  TempDir work;
  remote.payload = make_payload(work, "#!/bin/sh\necho configured\n");
  Host host;
  auto r = run(rhel_spec(remote, "/payload", std::nullopt), host);
  BOOST_TEST(r->outcome.state == State::rebooting, r->outcome.reason << ": " << r->outcome.message);
  BOOST_TEST(host.has("var/lib/nodeboot/payload/entrypoint.sh"));
  const auto env = test::read_file(host.root.path() / "entrypoint-env");
  BOOST_TEST(env.find("WORKER_ID=worker-7") != std::string::npos);
  BOOST_TEST(env.find("CLUSTER_ID=cluster-42") != std::string::npos);
  BOOST_TEST(env.find("REGION=eu-de") != std::string::npos);
  BOOST_TEST(env.find(payload_token) == std::string::npos);
  BOOST_TEST(r->label_removals == 1);
  BOOST_TEST(!r->rebooted_before_label_removed);
}

BOOST_AUTO_TEST_CASE(truncated_payload_fails_as_truncated) {
  Remote remote;
  TempDir work;
  remote.payload = make_payload(work, std::string(200000, '#') + "\n");  // big enough to cut in half
  Host host;
  auto r = run(rhel_spec(remote, "/payload-truncated", std::nullopt), host);
  BOOST_TEST(r->outcome.reason == "PayloadTruncated");
  BOOST_TEST(!host.has("entrypoint-env"));
}

BOOST_AUTO_TEST_CASE(payload_sha256_mismatch_fails_before_unpacking) {
  Remote remote;
  TempDir work;
  remote.payload = make_payload(work, "#!/bin/sh\n");
  Host host;
  auto r = run(rhel_spec(remote, "/payload", std::string(64, 'a')), host);
  BOOST_TEST(r->outcome.reason == "PayloadChecksumMismatch");
  BOOST_TEST(!host.has("var/lib/nodeboot/payload/entrypoint.sh"));
  BOOST_TEST(!host.has("entrypoint-env"));
}

BOOST_AUTO_TEST_CASE(dry_run_changes_nothing_on_the_host) {
  Remote remote;
  Host host;
  host.options.dry_run = true;
  auto r = run(rhcos_spec(remote, "/ignition", good_token, pki().ca), host);
  BOOST_TEST(r->outcome.state == State::rebooting, r->outcome.reason << ": " << r->outcome.message);
  BOOST_TEST(!host.has("etc/ignition-machine-config-encapsulated.json"));
  BOOST_TEST(!host.has("firstboot-ran"));
  BOOST_TEST(!host.has("rebooted"));
  BOOST_TEST(r->label_removals == 0);
}

BOOST_AUTO_TEST_SUITE_END()
