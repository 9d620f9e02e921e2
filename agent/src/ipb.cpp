#include "nodeboot/agent/ipb.hpp"

#include <openssl/evp.h>

#include <unistd.h>

#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "nodeboot/agent/fetch.hpp"
#include "nodeboot/agent/host_path.hpp"
#include "nodeboot/agent/host_steps.hpp"
#include "nodeboot/agent/ignition.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"
#include "nodeboot/util/process.hpp"

namespace nodeboot::agent {
namespace fs = std::filesystem;

std::string_view to_string(State state) {
  switch (state) {
    case State::pending:
      return "Pending";
    case State::validating:
      return "Validating";
    case State::downloading:
      return "Downloading";
    case State::applying:
      return "Applying";
    case State::rebooting:
      return "Rebooting";
    case State::joining:
      return "Joining";
    case State::done:
      return "Done";
    case State::failed:
      return "Failed";
  }
  return "Unknown";
}

void FanOut::report(const Step& step) {
  for (auto* t : targets_) t->report(step);
}

namespace {

// "<Target><Problem>": IgnitionUnauthorized, PayloadTruncated, RegistryTLSFailed, …
std::string fetch_reason(std::string_view target, const FetchResult& r) {
  std::string problem;
  switch (r.failure) {
    case FetchFailure::none:
    case FetchFailure::http_status:
      problem = (r.status == 401 || r.status == 403) ? "Unauthorized" : "HTTPError";
      break;
    case FetchFailure::connect:
      problem = "Unreachable";
      break;
    case FetchFailure::tls:
      problem = "TLSFailed";
      break;
    case FetchFailure::timeout:
      problem = "Timeout";
      break;
    case FetchFailure::truncated:
      problem = "Truncated";
      break;
    case FetchFailure::too_large:
      problem = "TooLarge";
      break;
    case FetchFailure::local:
      problem = "WriteFailed";
      break;
  }
  return std::string(target) + problem;
}

std::string registry_url(const bootstrap::HostPort& r) {
  const bool v6 = r.host.find(':') != std::string::npos;
  std::string url = "https://" + (v6 ? "[" + r.host + "]" : r.host);
  if (r.port) url += ":" + std::to_string(*r.port);
  return url + "/v2/";
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(std::string_view s) { EVP_DigestUpdate(ctx_.get(), s.data(), s.size()); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &n);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out.push_back(digits[md[i] >> 4]);
      out.push_back(digits[md[i] & 0xf]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

class Runner {
 public:
  Runner(const bootstrap::BootstrapSpec& spec, const BootstrapOptions& o, Reporter& r,
         const std::function<Result<void>()>& remove_label, std::ostream& log, Reporter* after_label)
      : spec_(spec),
        opt_(o),
        reporter_(&r),
        after_label_(after_label ? after_label : &r),
        remove_label_(remove_label),
        log_(log) {}

  Outcome run() {
    if (spec_.os == bootstrap::Os::rhcos && spec_.rhcos) return rhcos(*spec_.rhcos);
    if (spec_.os == bootstrap::Os::rhel && spec_.rhel) return rhel(*spec_.rhel);
    return failed("SecretInvalid", "the bootstrap Secret names an OS without its settings");
  }

 private:
  void step(State state, int progress, std::string message) {
    log_ << "nodeboot-agent: " << to_string(state) << " " << progress << "%: " << message << std::endl;
    reporter_->report(Step{state, progress, "", std::move(message)});
  }

  Outcome failed(std::string reason, std::string message) {
    log_ << "nodeboot-agent: Failed (" << reason << "): " << message << std::endl;
    reporter_->report(Step{State::failed, last_progress_, reason, message});
    return Outcome{State::failed, std::move(reason), std::move(message)};
  }

  // Transient failures (network, 5xx, cut-short downloads) are retried with doubling
  // backoff; `begin` gives a fresh sink per try. Each retry is reported on the same state.
  FetchResult fetch_retrying(State state, int progress, std::string_view what, const FetchRequest& request,
                             const std::function<BodySink()>& begin) {
    last_progress_ = progress;
    auto delay = opt_.backoff;
    for (int attempt = 1;; ++attempt) {
      FetchResult r = fetch(request, begin());
      if (r.ok() || !r.transient() || attempt >= opt_.attempts) return r;
      step(state, progress,
           std::string(what) + ": " + describe(r, request.timeout) + "; retrying (" + std::to_string(attempt + 1) +
               "/" + std::to_string(opt_.attempts) + ")");
      std::this_thread::sleep_for(delay);
      delay *= 2;
    }
  }

  FetchResult fetch_string(State state, int progress, std::string_view what, const FetchRequest& request,
                           std::string& body) {
    return fetch_retrying(state, progress, what, request, [&]() -> BodySink {
      body.clear();
      return [&](std::string_view chunk) {
        body.append(chunk);
        return true;
      };
    });
  }

  // GET /v2/ answers 200 (open) or 401 (auth required): either way a registry is there.
  std::optional<Outcome> probe_registry(const std::string& ca_pem, int progress) {
    if (!spec_.registry) return std::nullopt;
    step(State::validating, progress, "checking the registry " + spec_.registry->host);
    FetchRequest req{.url = registry_url(*spec_.registry), .ca_pem = ca_pem, .timeout = opt_.http_timeout};
    std::string body;
    auto r = fetch_string(State::validating, progress, "registry", req, body);
    const bool answered = r.failure == FetchFailure::none || r.failure == FetchFailure::http_status;
    if (answered && (r.status == 200 || r.status == 401)) return std::nullopt;
    return failed(answered ? "RegistryHTTPError" : fetch_reason("Registry", r),
                  "registry " + spec_.registry->host + " /v2/: " +
                      (answered ? "answered HTTP " + std::to_string(r.status) + ", a registry answers 200 or 401"
                                : describe(r, req.timeout)));
  }

  Result<nlohmann::json> get_ignition(State state, int progress, const bootstrap::Rhcos& rc, std::string& reason,
                                      std::string& message) {
    FetchRequest req{.url = rc.ignition_url.text,
                     .bearer = &rc.ignition_token,
                     .ca_pem = rc.ca_pem,
                     .accept = std::string(ignition::accept_header),
                     .timeout = opt_.http_timeout,
                     .max_bytes = opt_.max_ignition_bytes};
    std::string body;
    auto r = fetch_string(state, progress, "ignition-url", req, body);
    if (!r.ok()) {
      reason = fetch_reason("Ignition", r);
      message = "ignition-url: " + describe(r, req.timeout);
      return fail(ErrorKind::transport, message);
    }
    auto doc = ignition::parse_v3(body);
    if (!doc) {
      reason = doc.error().message.find("spec") != std::string::npos ? "IgnitionUnsupportedVersion" : "IgnitionInvalid";
      message = "ignition-url: " + doc.error().message;
    }
    return doc;
  }

  Outcome rhcos(const bootstrap::Rhcos& rc) {
    step(State::validating, 10, "checking the Ignition endpoint (token, CA, spec 3.x)");
    std::string reason, message;
    if (!get_ignition(State::validating, 10, rc, reason, message)) return failed(reason, message);
    if (auto f = probe_registry(rc.ca_pem, 20)) return *f;

    step(State::downloading, 40, "downloading the Ignition config");
    auto config = get_ignition(State::downloading, 40, rc, reason, message);
    if (!config) return failed(reason, message);

    step(State::applying, 60, "adding the node's kubeconfig and MCD node annotations to the Ignition config");
    last_progress_ = 60;
    const fs::path host_kubeconfig = host(ignition::kubeconfig_path);
    const auto kubeconfig = read_file(host_kubeconfig);
    if (!kubeconfig)
      return failed(
          "HostKubeconfigMissing",
          kubeconfig.error().message + ": the node's kubeconfig must exist (is the host's / at --host-root?)");
    std::string rendered = ignition::rendered_config_name(*config);
    if (rendered.empty()) rendered = "nodeboot-ipb";  // an answer without an MCS-rendered config
    ignition::put_file(*config, ignition::kubeconfig_path, *kubeconfig);
    ignition::put_file(*config, ignition::node_annotations_path, ignition::node_annotations(rendered));
    if (!opt_.dry_run) {
      // The augmented config holds the node's kubeconfig: root only.
      const auto owner_rw = fs::perms::owner_read | fs::perms::owner_write;
      auto w = write_atomically(host(ignition::encapsulated_path), ignition::encapsulate(*config, rendered).dump(),
                                owner_rw);
      if (w) w = write_atomically(host("/var/lib/nodeboot/ignition.json"), config->dump(), owner_rw);
      if (!w) return failed("WriteFailed", w.error().message);
    }
    // machine-config-daemon from the release image (seed 003), while the pod can still say why not.
    std::string firstboot = opt_.firstboot_command;
    if (rc.mcd_image && !opt_.dry_run) {
      step(State::applying, 70, "extracting machine-config-daemon from " + rc.mcd_image->text);
      last_progress_ = 70;
      McdOptions mo = opt_.mcd;
      mo.image = *rc.mcd_image;
      mo.host_root = opt_.host_root;
      mo.command_root = opt_.host_root_on_host;
      mo.host_prefix.clear();
      std::istringstream words(opt_.host_exec);
      for (std::string w; words >> w;) mo.host_prefix.push_back(w);
      auto mcd = extract_mcd(mo, log_);
      if (!mcd) return failed(std::string(agent::reason(mcd.error().failure)), mcd.error().message);
      firstboot = mcd->string() + " firstboot-complete-machineconfig";
    }
    return host_phase({{"firstboot", firstboot}, {"reboot", opt_.reboot_command}}, {});
  }

  Outcome rhel(const bootstrap::Rhel& rh) {
    const std::string ca = rh.ca_pem.value_or("");
    step(State::validating, 10, "checking " + std::to_string(rh.mirrors.size()) + " mirror(s)");
    for (std::size_t i = 0; i < rh.mirrors.size(); ++i) {
      FetchRequest req{.url = rh.mirrors[i].text, .ca_pem = ca, .timeout = opt_.http_timeout};
      std::string body;
      auto r = fetch_string(State::validating, 10, "mirror " + rh.mirrors[i].host, req, body);
      // Any answer below 500 proves the mirror is there (a repository root may be 403/404).
      if (r.failure == FetchFailure::none || (r.failure == FetchFailure::http_status && r.status < 500)) continue;
      return failed(fetch_reason("Mirror", r),
                    "mirrors[" + std::to_string(i) + "] (" + rh.mirrors[i].host + "): " + describe(r, req.timeout));
    }
    if (auto f = probe_registry(ca, 20)) return *f;

    step(State::downloading, 30, "downloading the bootstrap payload");
    const fs::path dir = opt_.dry_run ? fs::temp_directory_path() / ("nodeboot-dry-run-" + std::to_string(::getpid()))
                                      : host("/var/lib/nodeboot");
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path archive = dir / "payload.tar";
    std::ofstream file;
    Sha256 sha;
    FetchRequest req{.url = rh.payload_url.text,
                     .bearer = &rh.payload_token,
                     .ca_pem = ca,
                     .timeout = opt_.http_timeout,
                     .max_bytes = opt_.max_payload_bytes};
    auto r = fetch_retrying(State::downloading, 30, "payload-url", req, [&]() -> BodySink {
      file.close();
      file.open(archive, std::ios::binary | std::ios::trunc);
      sha = Sha256();
      return [&](std::string_view chunk) {
        sha.update(chunk);
        file.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        return static_cast<bool>(file);
      };
    });
    file.close();
    if (!r.ok()) return failed(fetch_reason("Payload", r), "payload-url: " + describe(r, req.timeout));
    const std::string digest = sha.hex();
    if (rh.payload_sha256 && *rh.payload_sha256 != digest)
      return failed("PayloadChecksumMismatch", "the payload's sha256 is " + digest + " but payload-sha256 says " +
                                                   *rh.payload_sha256 +
                                                   ": the download is corrupt or the Secret is stale");

    step(State::applying, 50, "unpacking the payload");
    const fs::path unpacked = dir / "payload";
    fs::remove_all(unpacked, ec);
    fs::create_directories(unpacked, ec);
    ProcessOptions tar_options;
    tar_options.timeout = std::chrono::minutes(10);  // a payload of a few GiB unpacks in far less
    auto tar = run_process({"tar", "-xf", archive.string(), "-C", unpacked.string(), "--no-same-owner"}, tar_options);
    if (!tar || tar->exit_code != 0)
      return failed("PayloadUnpackFailed", "the payload is not a tar archive tar can unpack: " +
                                               (tar ? output_tail(tar->err, 200) : tar.error().message));
    if (opt_.dry_run) fs::remove_all(dir, ec);

    return host_phase({{"entrypoint", opt_.entrypoint_command}, {"reboot", opt_.reboot_command}},
                      {{"WORKER_ID", rh.worker_id},
                       {"CLUSTER_ID", rh.cluster_id},
                       {"REGION", rh.region},
                       {"NODEBOOT_PAYLOAD_DIR", "/var/lib/nodeboot/payload"}});
  }

  // The label goes first so the DaemonSet never runs twice for one request (seed 003 step
  // 4); then the steps that may reboot, on the host, resumable (host_steps.hpp).
  Outcome host_phase(const std::vector<std::pair<std::string, std::string>>& steps,
                     std::map<std::string, std::string> env) {
    last_progress_ = 75;
    if (opt_.dry_run) {
      step(State::rebooting, 95,
           "dry run: would remove the schedule label and run " + steps.front().first + " and the reboot on the host");
      return Outcome{State::rebooting, "", "dry run complete"};
    }
    if (auto removed = remove_label_(); !removed)
      return failed("LabelRemovalFailed", "cannot remove the schedule label: " + removed.error().message);
    reporter_ = after_label_;  // the pod, and its token, are on their way out
    HostPlan plan;
    plan.node = opt_.node;
    plan.attempt = opt_.attempt;
    plan.os = spec_.os == bootstrap::Os::rhcos ? "rhcos" : "rhel";
    plan.env = std::move(env);
    plan.kubeconfig = opt_.host_kubeconfig;
    plan.boot_id_file = opt_.boot_id_file;
    plan.command_timeout = std::chrono::duration_cast<std::chrono::seconds>(opt_.command_timeout);
    if (spec_.report) plan.report = HostReport{*spec_.report, report_ca_pem(spec_), opt_.http_timeout};
    const bool in_process = opt_.host_unit.empty();
    for (const auto& [name, command] : steps) {
      HostStep hs;
      hs.name = name;
      hs.command = in_process && !opt_.host_exec.empty() ? opt_.host_exec + " " + command : command;
      plan.steps.push_back(std::move(hs));
    }
    if (in_process) {
      if (auto w = save_plan(opt_.host_root, plan); !w) return failed("WriteFailed", w.error().message);
      return run_host_steps(opt_.host_root, plan, *reporter_, log_);
    }
    return hand_over(plan);
  }

  // The agent's own binary, a boot-time unit and the plan go to the host; then a transient
  // unit, outside the pod's cgroup, runs the steps.
  Outcome hand_over(HostPlan& plan) {
    const auto on_host = [&](std::string_view absolute) {
      return under_root(opt_.host_root_on_host, absolute).string();
    };
    const fs::path source = opt_.host_agent.empty() ? fs::path("/proc/self/exe") : opt_.host_agent;
    const std::string binary = read_file(source).value_or("");
    if (binary.empty())
      return failed("HandoverFailed",
                    "cannot read the agent binary for the host (" + source.string() +
                        "): check --host-agent; the image ships /usr/lib/nodeboot/host/nodeboot-agent");
    const auto rwx = fs::perms::owner_all;
    if (auto w = write_atomically(host(host_binary_path), binary, rwx); !w)
      return failed("WriteFailed", w.error().message);
    const std::string resume = on_host(host_binary_path) + " resume --host-root " + opt_.host_root_on_host.string();
    const std::string unit_file =
        "[Unit]\nDescription=nodeboot in-place bootstrap: resume after a reboot\n"
        "After=network-online.target\nWants=network-online.target\n"
        "ConditionPathExists=" +
        on_host(progress_path) +
        "\n\n[Service]\nType=oneshot\n"
        "ExecStart=" +
        resume + "\n\n[Install]\nWantedBy=multi-user.target\n";
    const auto unit_path = host("/etc/systemd/system") / resume_unit;
    const auto rw_r = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
    if (auto w = write_atomically(unit_path, unit_file, rw_r); !w) return failed("WriteFailed", w.error().message);
    // Enabled the way `systemctl enable` would, without needing systemd to answer now.
    const auto wants = host("/etc/systemd/system/multi-user.target.wants");
    std::error_code ec;
    fs::create_directories(wants, ec);
    fs::remove(wants / resume_unit, ec);
    fs::create_symlink(fs::path("..") / resume_unit, wants / resume_unit, ec);
    if (ec) return failed("WriteFailed", "cannot enable " + std::string(resume_unit) + ": " + ec.message());
    plan.handed_over = true;
    if (auto w = save_plan(opt_.host_root, plan); !w) return failed("WriteFailed", w.error().message);

    const std::string unit = opt_.host_unit + "-" + (plan.attempt.empty() ? std::string("1") : plan.attempt);
    const std::string launch = (opt_.host_exec.empty() ? "" : opt_.host_exec + " ") + "systemd-run --unit=" + unit +
                               " --collect --quiet " + resume;
    ProcessOptions po;
    po.timeout = std::chrono::minutes(1);
    auto r = run_process({"/bin/sh", "-c", launch}, po);
    if (!r || r->exit_code != 0)
      return failed("HostUnitFailed", "cannot start the host unit " + unit +
                                          " (systemd-run): " + (r ? output_tail(r->err, 300) : r.error().message));
    step(State::applying, 75,
         "handed over to the host unit " + unit + ": " + plan.steps.front().name +
             " and the reboot run on the host, resumed after each reboot by " + std::string(resume_unit));
    return Outcome{State::applying, "", "handed over to " + unit};
  }

  fs::path host(std::string_view absolute) const { return under_root(opt_.host_root, absolute); }

  const bootstrap::BootstrapSpec& spec_;
  const BootstrapOptions& opt_;
  Reporter* reporter_;
  Reporter* after_label_;
  const std::function<Result<void>()>& remove_label_;
  std::ostream& log_;
  int last_progress_ = 0;
};

}  // namespace

std::string report_ca_pem(const bootstrap::BootstrapSpec& spec) {
  if (spec.rhcos) return spec.rhcos->ca_pem;
  return spec.rhel ? spec.rhel->ca_pem.value_or("") : "";
}

UrlReporter::UrlReporter(bootstrap::Report target, std::string ca_pem, std::string node, std::string attempt,
                         std::chrono::milliseconds timeout, std::ostream& log)
    : target_(std::move(target)),
      ca_pem_(std::move(ca_pem)),
      node_(std::move(node)),
      attempt_(std::move(attempt)),
      timeout_(timeout),
      log_(log) {}

void UrlReporter::report(const Step& step) {
  FetchRequest req{.url = target_.url.text, .bearer = &target_.token, .ca_pem = ca_pem_, .timeout = timeout_};
  req.post_json =
      nlohmann::json{{"node", node_},           {"state", to_string(step.state)}, {"progress", step.progress},
                     {"reason", step.reason},   {"message", step.message},        {"attempt", attempt_},
                     {"updated", rfc3339_now()}}
          .dump();
  std::string body;
  const auto r = fetch_to_string(req, body);
  if (!r.ok()) log_ << "nodeboot-agent: report-url: " << describe(r, timeout_) << std::endl;
}

Outcome run_bootstrap(const bootstrap::BootstrapSpec& spec, const BootstrapOptions& options, Reporter& reporter,
                      const std::function<Result<void>()>& remove_schedule_label, std::ostream& log,
                      Reporter* after_label) {
  return Runner(spec, options, reporter, remove_schedule_label, log, after_label).run();
}

}  // namespace nodeboot::agent
