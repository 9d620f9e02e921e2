#include "nodeboot/agent/host_steps.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <ostream>

#include <nlohmann/json.hpp>

#include "nodeboot/agent/host_path.hpp"
#include "nodeboot/agent/node_reporter.hpp"
#include "nodeboot/kube/config.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"
#include "nodeboot/util/process.hpp"

namespace nodeboot::agent {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string read_boot_id(const HostPlan& plan) {
  return std::string(trim_space(read_file(plan.boot_id_file).value_or("")));
}

// What each step says while it runs.
Step running_step(const HostStep& s) {
  if (s.name == "firstboot")
    return {State::applying, 80, "",
            "running machine-config-daemon firstboot (it persists the config and reboots the node)"};
  if (s.name == "entrypoint")
    return {State::applying, 70, "",
            "running the payload's entrypoint" +
                (s.runs > 1 ? " again after its reboot (run " + std::to_string(s.runs) + ")" : std::string())};
  return {State::rebooting, 95, "", "rebooting into the new OS"};
}

std::string failure_reason(const HostStep& s) {
  if (s.name == "firstboot") return "FirstbootFailed";
  if (s.name == "entrypoint") return "EntrypointFailed";
  return "RebootFailed";
}

}  // namespace

json to_json(const HostPlan& plan) {
  json steps = json::array();
  for (const auto& s : plan.steps)
    steps.push_back({{"name", s.name},
                     {"command", s.command},
                     {"status", s.status},
                     {"bootID", s.boot_id},
                     {"runs", s.runs},
                     {"doneByReboot", s.done_by_reboot}});
  json doc = {{"node", plan.node},
              {"attempt", plan.attempt},
              {"os", plan.os},
              {"steps", steps},
              {"env", plan.env},
              {"kubeconfig", plan.kubeconfig},
              {"bootIDFile", plan.boot_id_file},
              {"commandTimeoutSeconds", plan.command_timeout.count()},
              {"handedOver", plan.handed_over},
              {"finished", plan.finished}};
  // The report token stays on the host only while steps remain.
  if (plan.report && !plan.finished)
    doc["report"] = {{"url", plan.report->target.url.text},
                     {"token", plan.report->target.token.reveal()},
                     {"caPEM", plan.report->ca_pem},
                     {"timeoutMilliseconds", plan.report->timeout.count()}};
  return doc;
}

Result<HostPlan> host_plan_from_json(const json& doc) {
  if (!doc.is_object() || !doc.contains("steps") || !doc["steps"].is_array() || !doc.contains("node"))
    return fail(ErrorKind::invalid_input, std::string(progress_path) + " is not a nodeboot progress file");
  HostPlan p;
  p.node = doc.value("node", "");
  p.attempt = doc.value("attempt", "");
  p.os = doc.value("os", "");
  for (const auto& s : doc["steps"])
    p.steps.push_back(HostStep{s.value("name", ""), s.value("command", ""), s.value("status", "pending"),
                               s.value("bootID", ""), s.value("runs", 0), s.value("doneByReboot", false)});
  if (doc.contains("env") && doc["env"].is_object())
    for (const auto& [k, v] : doc["env"].items())
      if (v.is_string()) p.env[k] = v.get<std::string>();
  p.kubeconfig = doc.value("kubeconfig", "");
  p.boot_id_file = doc.value("bootIDFile", p.boot_id_file);
  p.command_timeout = std::chrono::seconds(doc.value("commandTimeoutSeconds", p.command_timeout.count()));
  p.handed_over = doc.value("handedOver", false);
  p.finished = doc.value("finished", false);
  if (doc.contains("report") && doc["report"].is_object()) {
    const auto& r = doc["report"];
    auto url = bootstrap::parse_https_url(r.value("url", ""));
    if (!url)
      return fail(ErrorKind::invalid_input, std::string(progress_path) + ": report.url: " + url.error().message);
    p.report = HostReport{bootstrap::Report{std::move(*url), Secret(r.value("token", ""))}, r.value("caPEM", ""),
                          std::chrono::milliseconds(r.value("timeoutMilliseconds", std::int64_t{30000}))};
  }
  return p;
}

Result<void> write_atomically(const fs::path& path, std::string_view contents, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.string() + ".nodeboot-tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.flush();
    if (!out) return fail(ErrorKind::io, "cannot write " + path.string());
  }
  fs::permissions(tmp, perms, ec);
  fs::rename(tmp, path, ec);
  if (ec) return fail(ErrorKind::io, "cannot write " + path.string() + ": " + ec.message());
  return {};
}

Result<std::optional<HostPlan>> load_plan(const fs::path& host_root) {
  const fs::path path = under_root(host_root, progress_path);
  const auto text = read_file(path);
  if (!text) return std::optional<HostPlan>();
  auto plan = host_plan_from_json(json::parse(*text, nullptr, false));
  if (!plan) return fail(plan.error().kind, path.string() + ": " + plan.error().message);
  return std::optional<HostPlan>(std::move(*plan));
}

Result<void> save_plan(const fs::path& host_root, const HostPlan& plan) {
  // Root only: the entrypoint's environment and the kubeconfig's path are nobody else's.
  return write_atomically(under_root(host_root, progress_path), to_json(plan).dump(2),
                          fs::perms::owner_read | fs::perms::owner_write);
}

Outcome run_host_steps(const fs::path& host_root, HostPlan& plan, Reporter& reporter, std::ostream& log) {
  auto failed = [&](HostStep* s, std::string reason, std::string message) {
    if (s) s->status = "failed";
    plan.finished = true;
    if (auto w = save_plan(host_root, plan); !w) log << "nodeboot-agent: " << w.error().message << std::endl;
    log << "nodeboot-agent: Failed (" << reason << "): " << message << std::endl;
    reporter.report(Step{State::failed, 90, reason, message});
    return Outcome{State::failed, std::move(reason), std::move(message)};
  };
  auto save = [&]() -> std::optional<Outcome> {
    if (auto w = save_plan(host_root, plan); !w) return failed(nullptr, "WriteFailed", w.error().message);
    return std::nullopt;
  };
  const std::string boot = read_boot_id(plan);
  if (boot.empty()) return failed(nullptr, "BootIdUnreadable", "cannot read the boot id from " + plan.boot_id_file);

  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    HostStep& s = plan.steps[i];
    if (s.status == "done") continue;
    if (s.status == "failed") return Outcome{State::failed, failure_reason(s), s.name + " failed earlier"};
    if (s.status == "running") {
      if (s.boot_id == boot)
        return failed(&s, "StepInterrupted",
                      s.name +
                          " was interrupted without a reboot (was the host unit stopped?); its outcome is "
                          "unknown: run `kubectl nodeboot retry " +
                          plan.node + "` to start over");
      if (s.name != "entrypoint" || s.runs >= max_entrypoint_runs) {
        if (s.name == "entrypoint")
          return failed(
              &s, "EntrypointRebootLoop",
              "the payload's entrypoint rebooted the node " + std::to_string(s.runs) + " times without finishing");
        s.status = "done";  // it rebooted the node, as it was expected to
        s.done_by_reboot = true;
        log << "nodeboot-agent: " << s.name << " ended with a reboot, as expected" << std::endl;
        if (auto f = save()) return *f;
        continue;
      }
      log << "nodeboot-agent: the payload's entrypoint rebooted the node; running it again" << std::endl;
    }
    // The final reboot is moot right after a step that rebooted the node itself.
    if (s.name == "reboot" && i > 0 && plan.steps[i - 1].done_by_reboot) {
      s.status = "done";
      s.done_by_reboot = true;
      if (auto f = save()) return *f;
      continue;
    }
    s.status = "running";
    s.boot_id = boot;
    ++s.runs;
    if (auto f = save()) return *f;
    Step step = running_step(s);
    step.boot_id = boot;
    log << "nodeboot-agent: " << to_string(step.state) << " " << step.progress << "%: " << step.message << std::endl;
    reporter.report(step);
    ProcessOptions po;
    po.timeout = plan.command_timeout;
    po.own_process_group = true;  // a timeout kills what the step started, not only its shell
    if (s.name == "entrypoint") {
      po.env_set = plan.env;
      po.env_set["NODEBOOT_ENTRYPOINT_RUN"] = std::to_string(s.runs);
    }
    auto r = run_process({"/bin/sh", "-c", s.command}, po);
    if (!r) return failed(&s, failure_reason(s), s.name + " could not start: " + r.error().message);
    log << r->out << r->err;
    if (r->timed_out)
      return failed(&s, failure_reason(s), s.name + " did not finish within " + format_duration(plan.command_timeout));
    if (r->exit_code != 0)
      return failed(&s, failure_reason(s),
                    s.name + " exited " + std::to_string(r->exit_code) + ": " + output_tail(r->err, 300));
    if (s.name == "reboot") return Outcome{State::rebooting, "", "reboot under way"};  // done once the boot changes
    s.status = "done";
    if (auto f = save()) return *f;
  }
  plan.finished = true;
  if (auto f = save()) return *f;
  const Step joining{State::joining, 98, "", "back on a new boot; waiting for the kubelet to be Ready", boot};
  log << "nodeboot-agent: Joining: " << joining.message << std::endl;
  reporter.report(joining);
  return Outcome{State::joining, "", joining.message};
}

HostReporters::HostReporters(kube::Client* kubelet, const HostPlan& plan, std::ostream& log) {
  if (kubelet) {
    annotator_ = std::make_unique<NodeAnnotator>(*kubelet, plan.node, plan.attempt, log, true);
    fan_.add(*annotator_);
  }
  // External progress (the Secret's report-url) goes on after the hand-over, too.
  if (const auto& r = plan.report) {
    poster_ = std::make_unique<UrlReporter>(r->target, r->ca_pem, plan.node, plan.attempt, r->timeout, log);
    fan_.add(*poster_);
  }
}

HostReporters::~HostReporters() = default;

namespace {

// Only one resume at a time: the transient unit and a boot-time start must not overlap.
class PlanLock {
 public:
  explicit PlanLock(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    held_ = fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
  }
  ~PlanLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  PlanLock(const PlanLock&) = delete;
  PlanLock& operator=(const PlanLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

// After the last step (or a failure) nothing is left to resume at boot.
void disable_resume_unit(const fs::path& host_root) {
  std::error_code ec;
  fs::remove(under_root(host_root, "/etc/systemd/system/multi-user.target.wants") / resume_unit, ec);
  fs::remove(under_root(host_root, "/etc/systemd/system") / resume_unit, ec);
}

}  // namespace

cli::Flags resume_flags() {
  cli::Flags options("nodeboot-agent resume",
                     "Run (or resume after a reboot) the in-place bootstrap steps the DaemonSet pod handed to "
                     "this host (" +
                         std::string(progress_path) + "); run by the host unit, not by people.");
  options.add_options()("host-root", "Where the host's / is (/ when run on the host)",
                        cli::value<std::string>().default_value("/"))("h,help", "Show help");
  return options;
}

namespace {

struct ResumeOptions {
  fs::path host_root;

  Result<void> complete(const cli::Parsed& parsed) {
    host_root = parsed["host-root"].as<std::string>();
    return {};
  }
  Result<void> validate() const {
    if (host_root.empty() || !fs::is_directory(host_root))
      return fail(ErrorKind::invalid_input,
                  "--host-root \"" + host_root.string() +
                      "\" is not a directory (fix: / on the host, or where its / is mounted)");
    return {};
  }
  Result<int> run(cli::Io& io) const;
};

Result<int> ResumeOptions::run(cli::Io& io) const {
  std::ostream& err = io.err;
  PlanLock lock(under_root(host_root, "/var/lib/nodeboot/progress.lock"));
  if (!lock.held()) {
    err << "nodeboot-agent: another resume holds " << progress_path << "; nothing to do\n";
    return 0;
  }
  auto plan = load_plan(host_root);
  if (!plan) return fail(ErrorKind::io, plan.error().message);  // a bad file on the host, not usage: exit 1
  if (!*plan || (*plan)->finished) {
    err << "nodeboot-agent: no in-place bootstrap to resume\n";
    disable_resume_unit(host_root);
    return 0;
  }
  // The kubelet's kubeconfig, a host path like the files it names (host_root is / on a node).
  auto config = kubelet_config(host_root, (*plan)->kubeconfig);
  if (!config) {
    // Without the API the steps still run; their progress stays in the log and the file.
    err << "nodeboot-agent: cannot report to the API server (" << config.error().message << ")\n";
  }
  std::unique_ptr<kube::Client> client;
  if (config) client = std::make_unique<kube::Client>(std::move(*config));
  HostReporters reporters(client.get(), **plan, err);
  const Outcome outcome = run_host_steps(host_root, **plan, reporters, err);
  if (outcome.state != State::rebooting) disable_resume_unit(host_root);
  return outcome.state == State::failed ? 1 : 0;
}

}  // namespace

Result<int> resume_command(const cli::Parsed& parsed, cli::Io& io) {
  return cli::run_options<ResumeOptions>(parsed, io);
}

}  // namespace nodeboot::agent
