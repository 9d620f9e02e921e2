#include "nodeboot/webhook/app.hpp"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>

#include <cstring>
#include <future>
#include <optional>
#include <ostream>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/signals.hpp"
#include "nodeboot/version.hpp"
#include "nodeboot/webhook/cluster.hpp"
#include "nodeboot/webhook/controller/completion.hpp"
#include "nodeboot/webhook/controller/controller.hpp"
#include "nodeboot/webhook/controller/vm.hpp"
#include "nodeboot/webhook/log.hpp"
#include "nodeboot/webhook/selfcerts.hpp"
#include "nodeboot/webhook/server.hpp"

namespace nodeboot::webhook {
namespace {

// nodeboot-webhook's one command. Every flag is read and checked before anything starts:
// a bad flag must not leave a certificate Secret written or a Lease taken.
struct ServeOptions {
  bool print_version = false;
  std::optional<LogLevel> log_level;  // nullopt: not debug, info or error
  bool no_api = false;
  std::string taint_key;  // with --no-api
  kube::ConnectionFlags connection;
  bool self_managed = false;
  SelfManagedOptions certs;
  std::optional<controller::LeaderOptions> gate;            // --enable-gate-controller
  std::optional<controller::CompletionOptions> completion;  // --enable-completion-controller
  std::optional<controller::VmOptions> vm;                  // --enable-vm-controller
  ServerOptions server;
  int shutdown_delay = 0;  // seconds
  int grace_period = 0;    // seconds

  Result<void> complete(const cli::Parsed& parsed);
  Result<void> validate() const;
  Result<int> run(cli::Io& io) const;
};

Result<void> ServeOptions::complete(const cli::Parsed& parsed) {
  print_version = parsed.count("version") > 0;
  const auto level = parsed["log-level"].as<std::string>();
  log_level = level == "debug"   ? std::optional(LogLevel::debug)
              : level == "info"  ? std::optional(LogLevel::info)
              : level == "error" ? std::optional(LogLevel::error)
                                 : std::nullopt;
  no_api = parsed.count("no-api") > 0;
  taint_key = parsed["taint-key"].as<std::string>();
  auto flags = cli::connection_flags(parsed);
  if (!flags) return fail(flags.error());
  connection = std::move(*flags);
  self_managed = parsed.count("self-managed-certs") > 0;
  certs.namespace_ =
      parsed.count("namespace") ? parsed["namespace"].as<std::string>() : std::string(names::system_namespace);
  certs.secret_name = parsed["cert-secret"].as<std::string>();
  certs.configuration_name = parsed["webhook-configuration"].as<std::string>();
  certs.cert_dir = parsed["cert-dir"].as<std::string>();
  const auto service = parsed["service-name"].as<std::string>();
  certs.policy.hosts = {service + "." + certs.namespace_ + ".svc",
                        service + "." + certs.namespace_ + ".svc.cluster.local"};
  if (parsed.count("cert-hosts"))
    for (const auto& h : parsed["cert-hosts"].as<std::vector<std::string>>()) certs.policy.hosts.push_back(h);
  certs.policy.validity = std::chrono::seconds(parsed["cert-validity"].as<long>());
  auto leader = controller::gate_leader_from_flags(parsed);
  if (!leader) return fail(leader.error());
  gate = std::move(*leader);
  auto completing = controller::completion_options_from_flags(parsed);
  if (!completing) return fail(completing.error());
  completion = std::move(*completing);
  auto vms = controller::vm_options_from_flags(parsed);
  if (!vms) return fail(vms.error());
  vm = std::move(*vms);
  server.cert_dir = parsed["cert-dir"].as<std::string>();
  if (parsed.count("client-ca")) server.client_ca_file = parsed["client-ca"].as<std::string>();
  server.host = parsed["bind-address"].as<std::string>();
  server.port = parsed["port"].as<int>();
  server.max_connections = parsed["max-connections"].as<std::size_t>();
  server.max_workers = parsed["max-workers"].as<std::size_t>();
  server.controller_username = parsed["controller-username"].as<std::string>();
  server.schedule_label = parsed["schedule-label"].as<std::string>();
  shutdown_delay = parsed["shutdown-delay"].as<int>();
  grace_period = parsed["grace-period"].as<int>();
  return {};
}

Result<void> ServeOptions::validate() const {
  if (print_version) return {};
  if (!log_level) return fail(ErrorKind::invalid_input, "--log-level must be debug, info or error");
  if (no_api)
    for (const auto& [given, flag] :
         {std::pair{self_managed, "--self-managed-certs"}, std::pair{gate.has_value(), "--enable-gate-controller"},
          std::pair{completion.has_value(), "--enable-completion-controller"},
          std::pair{vm.has_value(), "--enable-vm-controller"}})
      if (given) return fail(ErrorKind::invalid_input, std::string(flag) + " needs API access; drop --no-api");
  if (server.port < 0 || server.port > 65535)
    return fail(ErrorKind::invalid_input, "--port: give 1 to 65535 (0: any free port)");
  for (const auto& [flag, value] :
       {std::pair{"--max-connections", server.max_connections}, std::pair{"--max-workers", server.max_workers}}) {
    if (value == 0)
      return fail(ErrorKind::invalid_input,
                  std::string(flag) + "=0 serves nothing; give at least 1 (or leave the flag out for the default)");
  }
  if (shutdown_delay < 0) return fail(ErrorKind::invalid_input, "--shutdown-delay: give 0 or more seconds");
  if (grace_period < 0) return fail(ErrorKind::invalid_input, "--grace-period: give 0 or more seconds");
  if (self_managed && certs.policy.validity.count() < 1)
    return fail(ErrorKind::invalid_input, "--cert-validity: give a positive number of seconds (the default: 90 days)");
  return {};
}

Result<int> ServeOptions::run(cli::Io& io) const {
  if (print_version) {
    io.out << "nodeboot-webhook " << version() << '\n';
    return cli::exit_ok;
  }
  // Two arenas: the request path allocates little, and glibc's default of 8 per core
  // turns a pool of connection threads into megabytes of resident arena slack.
  mallopt(M_ARENA_MAX, 2);
  // Request bodies and decoding buffers above 256 KiB (RequestLimits::shrink_after) get
  // their own mappings, returned to the system when freed; glibc's sliding threshold would
  // otherwise rise after the first large body and keep later ones in the heap for good.
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  // 512 KiB stacks for the threads started from here on (up to --max-workers serve
  // connections): a connection's deepest path (TLS handshake, JSON decoding nested
  // at most 64 deep) uses a few tens of KiB; glibc's 8 MiB default only inflates virtual
  // memory. Sanitizer builds get more: their frames are several times larger.
  {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // (ThreadSanitizer refuses to start a thread on 512 KiB: EINVAL.)
    constexpr std::size_t stack_size = std::size_t{4} << 20;
#else
    constexpr std::size_t stack_size = std::size_t{512} << 10;
#endif
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_size);
    pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
  }
  set_log_level(*log_level);
  std::shared_ptr<ClusterView> cluster;
  std::shared_ptr<kube::Client> client;
  std::unique_ptr<controller::GateController> gate_controller;
  std::unique_ptr<controller::CompletionController> completion_controller;
  std::unique_ptr<controller::VmController> vm_controller;
  if (no_api) {
    cluster = std::make_shared<OfflineClusterView>(taint_key);
  } else {
    auto config = kube::resolve_config(connection);
    if (!config)
      return fail(config.error().kind,
                  config.error().message + " (pass --kubeconfig, run in a cluster, or use --no-api)");
    client = std::make_shared<kube::Client>(std::move(*config));
    // 30 s: a changed MaroonedPodsConfig taint key applies to new pods within half a minute
    // without an API call on the pod path.
    cluster = std::make_shared<ApiClusterView>(client, std::chrono::seconds(30));
  }

  std::unique_ptr<SelfManagedCerts> self_certs;
  if (self_managed) {
    self_certs = std::make_unique<SelfManagedCerts>(*client, certs);
    // The first certificate must exist before serving; the API server may still be coming up.
    while (true) {
      auto due = self_certs->sync();
      if (due) {
        self_certs->start(*due);
        break;
      }
      log_error("self-managed certificate sync failed; retrying", {{"error", due.error().message}});
      std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  }
  // Independent of how certificates are managed: the controllers need only API access.
  if (gate) gate_controller = controller::start_gate(*gate, client->config(), cluster);
  if (completion) completion_controller = controller::start_completion(*completion, client->config());
  // Not part of readiness: without KubeVirt its caches never fill, and admission must not wait.
  if (vm) vm_controller = controller::start_vm(*vm, client->config());

  ServerOptions options = server;
  // Each held connection is a descriptor: take the hard limit, and hold no more than it
  // allows (with room for the API client, certificates and logs).
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
    constexpr rlim_t reserve = 64;
    if (files.rlim_cur != RLIM_INFINITY && options.max_connections + reserve > files.rlim_cur) {
      const auto held = files.rlim_cur > reserve ? files.rlim_cur - reserve : 1;
      log_info("--max-connections lowered to the open-files limit",
               {{"requested", std::to_string(options.max_connections)}, {"held", std::to_string(held)}});
      options.max_connections = held;
    }
  }
  options.extra_metrics = [&gate_controller, &completion_controller, &vm_controller] {
    return (gate_controller ? gate_controller->render_metrics() : std::string()) +
           (completion_controller ? completion_controller->render_metrics() : std::string()) +
           (vm_controller ? vm_controller->render_metrics() : std::string());
  };
  Server web(options, cluster);
  auto port = web.start();
  if (!port) return fail(port.error().kind, port.error().message);
  wait_for_stop();  // main's SignalThread blocked the signals before any thread started
  log_info("signal received; shutting down", {{"signal", std::string("SIG") + sigabbrev_np(stop_signal())}});
  web.begin_shutdown();
  // Release the Leases first, so another replica takes over at once.
  if (gate_controller) gate_controller->stop();
  if (completion_controller) completion_controller->stop();
  if (vm_controller) vm_controller->stop();
  // Keep answering while the API server notices the endpoint is gone.
  std::this_thread::sleep_for(std::chrono::seconds(shutdown_delay));
  auto stopped = std::async(std::launch::async, [&] { web.stop(); });
  if (stopped.wait_for(std::chrono::seconds(grace_period)) == std::future_status::timeout) {
    log_error("requests still in flight at the end of the grace period; exiting");
    std::_Exit(1);
  }
  log_info("stopped");
  return 0;
}

cli::Flags flags() {
  cli::Flags options("nodeboot-webhook",
                     "Admission webhook for marooned pods and bootstrap Secrets, and the gate-release controller.");
  // One option per entry reads better than the formatter's chaining.
  // clang-format off
  options.add_options()
      ("cert-dir", "Directory holding tls.crt and tls.key (reloaded when they change)",
       cli::value<std::string>().default_value("/etc/nodeboot/tls"))
      ("port", "HTTPS port to serve on", cli::value<int>().default_value("9443"))
      ("bind-address", "Address to listen on", cli::value<std::string>().default_value("0.0.0.0"))
      ("client-ca", "PEM file of CAs whose client certificates are required (mTLS from the API server)",
       cli::value<std::string>())
      ("max-connections", "Connections held open at once (idle ones take no thread); at the cap a new one closes a "
       "parked one, the least useful first",
       cli::value<std::size_t>().default_value(std::to_string(ServerOptions{}.max_connections)))
      ("max-workers", "Threads working on handshakes and requests at once",
       cli::value<std::size_t>().default_value(std::to_string(ServerOptions{}.max_workers)))
      ("controller-username", "The only user that may release a marooned pod's gate",
       cli::value<std::string>().default_value("system:serviceaccount:" + std::string(names::system_namespace) + ":" +
                                                    std::string(names::webhook_service_account)))
      ("schedule-label", "The in-place bootstrap schedule label /validate/nodes guards",
       cli::value<std::string>().default_value(std::string(names::schedule_label)))
      ("no-api", "Do not read the API server: default taint key, /validate/nodes denies")
      ("taint-key", "Taint key used with --no-api",
       cli::value<std::string>().default_value(std::string(names::maroon_default_taint_key)))
      ("shutdown-delay", "Seconds to keep serving after SIGTERM before closing the listener",
       cli::value<int>().default_value("0"))
      ("grace-period", "Seconds to wait for requests in flight after that",
       cli::value<int>().default_value("20"))
      ("log-level", "debug, info or error", cli::value<std::string>().default_value("info"))
      ("self-managed-certs", "Create and rotate the serving certificate in a Secret and patch caBundle")
      ("cert-secret", "Secret for --self-managed-certs", cli::value<std::string>().default_value("nodeboot-webhook-tls"))
      ("service-name", "Service whose DNS names the certificate covers",
       cli::value<std::string>().default_value(std::string(names::webhook_service_account)))
      ("cert-hosts", "Extra DNS names or IPs for the certificate (comma-separated)",
       cli::value<std::vector<std::string>>())
      ("cert-validity", "Seconds a self-managed serving certificate is valid (renewed with a third left)",
       cli::value<long>().default_value("7776000"))  // 90 days, cert-manager's default duration
      ("webhook-configuration", "Mutating/ValidatingWebhookConfiguration whose caBundle to keep",
       cli::value<std::string>().default_value(std::string(names::webhook_service_account)))
      ("version", "Print the version and exit")
      ("h,help", "Show this help");
  // clang-format on
  cli::add_connection_flags(options);
  controller::add_flags(options);
  controller::add_completion_flags(options);
  controller::add_vm_flags(options);
  return options;
}

}  // namespace

int main(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  cli::Io io{out, err};
  static const cli::Command root{
      .name = "nodeboot-webhook", .summary = "", .flags = flags, .run = cli::run_options<ServeOptions>};
  return cli::dispatch(root, "nodeboot-webhook", std::span<const std::string>(argv).subspan(argv.empty() ? 0 : 1), io);
}

}  // namespace nodeboot::webhook
