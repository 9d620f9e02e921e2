#include "nodeboot/webhook/app.hpp"

#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>

#include <cstring>
#include <future>
#include <ostream>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/names.hpp"
#include "nodeboot/util/signals.hpp"
#include "nodeboot/version.hpp"
#include "nodeboot/webhook/cluster.hpp"
#include "nodeboot/webhook/controller/completion.hpp"
#include "nodeboot/webhook/controller/controller.hpp"
#include "nodeboot/webhook/log.hpp"
#include "nodeboot/webhook/selfcerts.hpp"
#include "nodeboot/webhook/server.hpp"

namespace nodeboot::webhook {
namespace {

Result<int> serve(const cli::Parsed& parsed, cli::Io& io) {
  if (parsed.count("version")) {
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
  const auto level = parsed["log-level"].as<std::string>();
  if (level == "debug")
    set_log_level(LogLevel::debug);
  else if (level == "error")
    set_log_level(LogLevel::error);
  else if (level != "info")
    return fail(ErrorKind::invalid_input, "--log-level must be debug, info or error");
  std::shared_ptr<ClusterView> cluster;
  std::shared_ptr<kube::Client> client;
  std::unique_ptr<controller::GateController> gate;              // --enable-gate-controller
  std::unique_ptr<controller::CompletionController> completion;  // --enable-completion-controller
  if (parsed.count("no-api")) {
    if (parsed.count("self-managed-certs"))
      return fail(ErrorKind::invalid_input, "--self-managed-certs needs API access; drop --no-api");
    cluster = std::make_shared<OfflineClusterView>(parsed["taint-key"].as<std::string>());
  } else {
    auto flags = cli::connection_flags(parsed);
    if (!flags) return fail(flags.error());
    auto config = kube::resolve_config(*flags);
    if (!config)
      return fail(config.error().kind,
                  config.error().message + " (pass --kubeconfig, run in a cluster, or use --no-api)");
    client = std::make_shared<kube::Client>(std::move(*config));
    // 30 s: a changed MaroonedPodsConfig taint key applies to new pods within half a minute
    // without an API call on the pod path.
    cluster = std::make_shared<ApiClusterView>(client, std::chrono::seconds(30));
  }

  std::unique_ptr<SelfManagedCerts> self_certs;
  if (parsed.count("self-managed-certs")) {
    SelfManagedOptions sm;
    sm.namespace_ =
        parsed.count("namespace") ? parsed["namespace"].as<std::string>() : std::string(names::system_namespace);
    sm.secret_name = parsed["cert-secret"].as<std::string>();
    sm.configuration_name = parsed["webhook-configuration"].as<std::string>();
    sm.cert_dir = parsed["cert-dir"].as<std::string>();
    const auto service = parsed["service-name"].as<std::string>();
    sm.policy.hosts = {service + "." + sm.namespace_ + ".svc", service + "." + sm.namespace_ + ".svc.cluster.local"};
    if (parsed.count("cert-hosts"))
      for (const auto& h : parsed["cert-hosts"].as<std::vector<std::string>>()) sm.policy.hosts.push_back(h);
    sm.policy.validity = std::chrono::seconds(parsed["cert-validity"].as<long>());
    self_certs = std::make_unique<SelfManagedCerts>(*client, std::move(sm));
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
  // Independent of how certificates are managed: the controller needs only API access.
  if (parsed.count("enable-gate-controller")) {
    if (!client) return fail(ErrorKind::invalid_input, "--enable-gate-controller needs API access; drop --no-api");
    auto started = controller::start_from_flags(parsed, client->config(), cluster);
    if (!started) return fail(ErrorKind::invalid_input, started.error().message);
    gate = std::move(*started);
  }
  if (parsed.count("enable-completion-controller")) {
    if (!client)
      return fail(ErrorKind::invalid_input, "--enable-completion-controller needs API access; drop --no-api");
    auto started = controller::start_completion_from_flags(parsed, client->config());
    if (!started) return fail(ErrorKind::invalid_input, started.error().message);
    completion = std::move(*started);
  }

  ServerOptions options;
  options.cert_dir = parsed["cert-dir"].as<std::string>();
  if (parsed.count("client-ca")) options.client_ca_file = parsed["client-ca"].as<std::string>();
  options.host = parsed["bind-address"].as<std::string>();
  options.port = parsed["port"].as<int>();
  options.max_connections = parsed["max-connections"].as<std::size_t>();
  options.max_workers = parsed["max-workers"].as<std::size_t>();
  for (const auto& [flag, value] :
       {std::pair{"--max-connections", options.max_connections}, std::pair{"--max-workers", options.max_workers}}) {
    if (value == 0)
      return fail(ErrorKind::invalid_input,
                  std::string(flag) + "=0 serves nothing; give at least 1 (or leave the flag out for the default)");
  }
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
  options.controller_username = parsed["controller-username"].as<std::string>();
  options.schedule_label = parsed["schedule-label"].as<std::string>();
  options.extra_metrics = [&gate, &completion] {
    return (gate ? gate->render_metrics() : std::string()) +
           (completion ? completion->render_metrics() : std::string());
  };
  Server server(options, cluster);
  auto port = server.start();
  if (!port) return fail(port.error().kind, port.error().message);
  wait_for_stop();  // main's SignalThread blocked the signals before any thread started
  log_info("signal received; shutting down", {{"signal", std::string("SIG") + sigabbrev_np(stop_signal())}});
  server.begin_shutdown();
  // Release the Leases first, so another replica takes over at once.
  if (gate) gate->stop();
  if (completion) completion->stop();
  // Keep answering while the API server notices the endpoint is gone.
  std::this_thread::sleep_for(std::chrono::seconds(parsed["shutdown-delay"].as<int>()));
  auto stopped = std::async(std::launch::async, [&] { server.stop(); });
  if (stopped.wait_for(std::chrono::seconds(parsed["grace-period"].as<int>())) == std::future_status::timeout) {
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
  return options;
}

}  // namespace

int main(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) {
  cli::Io io{out, err};
  static const cli::Command root{.name = "nodeboot-webhook", .summary = "", .flags = flags, .run = serve};
  return cli::dispatch(root, "nodeboot-webhook", std::span<const std::string>(argv).subspan(argv.empty() ? 0 : 1), io);
}

}  // namespace nodeboot::webhook
