// kubectl nodeboot install: the cluster side of this exact plugin version (the bundle
// compiled in, plugin/src/install/), printed, or applied with server-side apply.
#include "nodeboot/plugin/cmd/install.hpp"

#include <ostream>
#include <sstream>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/plugin/install/apply.hpp"
#include "nodeboot/plugin/install/bundle.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::plugin::cmd {
namespace {

enum class DryRun { none, client, server };

// An error found while running, not in the flags: exit 1, not a usage error (an
// invalid_input here is a file or object, reported without the server's Status prefix).
Error ran_into(const Error& e) { return {e.kind == ErrorKind::invalid_input ? ErrorKind::io : e.kind, e.message}; }

struct InstallOptions {
  install::Certs certs = install::Certs::self_managed;
  DryRun dry_run = DryRun::none;
  bool print = false;  // -o yaml
  bool wait = false;
  std::chrono::seconds timeout{300};
  install::ImageSet images{};
  std::string registry{};
  kube::ConnectionFlags connection{};

  // The flags read and checked, each error naming the flag and the fix.
  Result<void> complete(const cli::Parsed& parsed) {
    images = install::parse_image_set(install::embedded_images());
    const auto certs_flag = parsed["certs"].as<std::string>();
    if (certs_flag == "cert-manager")
      certs = install::Certs::cert_manager;
    else if (certs_flag != "self-managed")
      return fail(ErrorKind::invalid_input, "--certs must be self-managed or cert-manager, not \"" + certs_flag + "\"");
    const auto dry = parsed["dry-run"].as<std::string>();
    if (dry == "client")
      dry_run = DryRun::client;
    else if (dry == "server")
      dry_run = DryRun::server;
    else if (dry != "none")
      return fail(ErrorKind::invalid_input, "--dry-run must be none, client or server, not \"" + dry + "\"");
    if (parsed.count("output")) {
      const auto o = parsed["output"].as<std::string>();
      if (o != "yaml") return fail(ErrorKind::invalid_input, "--output must be yaml (the bundle), not \"" + o + "\"");
      print = true;
    }
    registry = parsed.count("image-registry") ? parsed["image-registry"].as<std::string>() : images.registry;
    if (auto r = install::check_registry(registry); !r) return r;
    wait = parsed.count("wait") > 0;
    if (wait && (dry_run != DryRun::none || print))
      return fail(ErrorKind::invalid_input, "--wait waits for a real install; drop it, or drop --dry-run/--output");
    auto t = parse_duration(parsed["timeout"].as<std::string>(), "--timeout");
    if (!t) return std::unexpected(t.error());
    timeout = std::chrono::duration_cast<std::chrono::seconds>(*t);
    if (timeout.count() <= 0) return fail(ErrorKind::invalid_input, "--timeout must be positive, e.g. --timeout=5m");
    auto flags = cli::connection_flags(parsed);
    if (!flags) return std::unexpected(flags.error());
    connection = *flags;
    return {};
  }
  static Result<void> validate() { return {}; }  // complete() checked every flag it read
  Result<int> run(Io& io) const;

  std::string bundle() const {
    auto text = std::string(install::embedded_bundle(certs));
    return registry == images.registry ? text : install::with_registry(text, images.registry, registry);
  }
};

}  // namespace

cli::Flags install_flags() {
  cli::Flags options("kubectl nodeboot install",
                     "Install nodeboot's cluster side (webhook, agent DaemonSet, CRD, RBAC in nodeboot-system) for\n"
                     "this plugin's exact version, with server-side apply, or print it (-o yaml).\n"
                     "The images are named by registry and digest, as the release built them.");
  options.add_options()("image-registry",
                        "Registry prefix the images were pushed to (host[:port][/path]); default: the release's",
                        cli::value<std::string>())(
      "certs", "Webhook certificates: self-managed (the webhook makes and rotates them) or cert-manager",
      cli::value<std::string>().default_value("self-managed"))(
      "dry-run",
      "none; client (list the objects, contact nothing); server (the API server validates and admits "
      "each object, dryRun=All, and stores nothing)",
      cli::value<std::string>().default_value("none"))("o,output", "yaml: print the bundle instead of applying it",
                                                       cli::value<std::string>())(
      "wait", "After applying, wait for the webhook Deployment to roll out and answer through its Service")(
      "timeout", "How long --wait waits", cli::value<std::string>().default_value("5m"))("h,help", "Show help");
  cli::add_connection_flags(options);
  return options;
}

Result<int> install(const cli::Parsed& parsed, Io& io) { return cli::run_options<InstallOptions>(parsed, io); }

Result<int> InstallOptions::run(Io& io) const {
  if (images.digests.empty())
    io.err
        << "warning: this kubectl-nodeboot " << nodeboot::version()
        << " is not a release build: its bundle names images by tag, not by digest (scripts/release.sh builds them)\n";
  const auto text = bundle();
  if (print) {
    io.out << text;
    return exit_ok;
  }
  auto objects = install::split_objects(text);
  if (!objects) return fail(ran_into(objects.error()));
  if (dry_run == DryRun::client) {
    for (const auto& obj : *objects) io.out << install::display_name(obj) << " (dry run)\n";
    return exit_ok;
  }

  auto client = kube::Client::connect(connection);
  if (!client) return fail(ran_into(client.error()));
  if (auto apis = install::check_apis(**client, *objects); !apis) return fail(apis.error());
  // A real install is dry-run first: an object the API server refuses (a policy, a quota, a
  // field it rejects) stops it before anything is stored. Only objects in a namespace the
  // install itself creates escape that check on a fresh cluster.
  if (dry_run == DryRun::none) {
    std::ostringstream checked;
    if (auto first = install::apply(**client, *objects, true, checked); !first)
      return fail(ran_into(Error(first.error().kind, first.error().message + " (nothing was applied)")));
  }
  auto applied = install::apply(**client, *objects, dry_run == DryRun::server, io.out);
  if (!applied) return fail(ran_into(applied.error()));
  if (wait)
    if (auto ready = install::wait_ready(**client, timeout, io.out); !ready) return fail(ran_into(ready.error()));
  return exit_ok;
}

}  // namespace nodeboot::plugin::cmd
