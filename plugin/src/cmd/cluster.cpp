// `kubectl nodeboot cluster ...`: seed 002's bootstrap node. Thin: parse flags, call the
// library under plugin/src/cluster/, print.
#include "nodeboot/plugin/cmd/cluster.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "nodeboot/bootstrap/url.hpp"
#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/plugin/cluster/generate.hpp"
#include "nodeboot/plugin/cluster/services.hpp"
#include "nodeboot/plugin/cluster/upload.hpp"
#include "nodeboot/plugin/cluster/wait.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"
#include "nodeboot/util/signals.hpp"

namespace nodeboot::plugin::cmd {
namespace {

namespace cl = nodeboot::plugin::cluster;
namespace fs = std::filesystem;

constexpr std::string_view usage =
    R"(Bootstrap a bare-metal Flatcar Kubernetes cluster from cluster.yaml (PXE with Matchbox and dnsmasq).

Usage:
  kubectl nodeboot cluster COMMAND [flags]

Commands:
  init        Full bootstrap: validate, generate, serve, "power on your nodes now", wait, teardown
  generate    Generate Ignition, Matchbox profiles/groups and dnsmasq.conf (no servers)
  serve       Start Matchbox and dnsmasq on the generated directory
  wait        Wait for the API server, then watch until the nodes are Ready; save the kubeconfig
  validate    Check cluster.yaml and report every problem with its line, column and fix
  teardown    Stop Matchbox, dnsmasq and the upload endpoint (also those another container started on the same output)

The first controller applies the pod network (cluster.cni) after kubeadm init and sends
/etc/kubernetes/admin.conf to the bootstrap node over HTTPS (port 8443, a single-use token
made by generate); wait and init save it as OUTPUT/kubeconfig. kube-vip holds the VIP.

cluster.yaml:
  cluster:
    name: lab                          # DNS-1123 label
    k8s_version: "1.31.0"
    kubernetes_sysext_sha256: <64 hex> # its sysext-bakery image's, from the release's SHA256SUMS
    flatcar_version: "3975.2.2"        # or "current"
    flatcar_channel: stable            # optional: stable, beta, alpha, lts
    pod_subnet: 10.244.0.0/16          # optional (kubeadm's default)
    service_subnet: 10.96.0.0/12       # optional (kubeadm's default)
    ssh_authorized_key: ssh-ed25519 AAAA... you@host
    kubeadm_token: abcdef.0123456789abcdef   # optional: generated when absent
    cni: flannel                       # optional: flannel (default), calico, or none (bring your own)
    install_disk: /dev/nvme0n1         # optional default for every node (else /dev/sda)
  control_plane_vip: 192.168.1.100     # held by kube-vip (ARP) on the controllers
  bootstrap:
    ip: 192.168.1.10                   # this machine, on the nodes' L2 subnet
  network:
    cidr: 192.168.1.0/24               # the nodes' L2 subnet
    interface: eno1                    # optional: kube-vip's NIC (default: the default route's)
  nodes:
    - {name: cp-1, role: controller, ip: 192.168.1.11, mac: "52:54:00:00:00:01"}
    - {name: worker-1, role: worker, ip: 192.168.1.21, mac: "52:54:00:00:00:02",
       install_disk: /dev/sda, disks: [sda, nvme0n1]}   # disks: optional hint, checked
See packaging/bootstrap-node/cluster.yaml.example for every field.
)";

// An error found while running, not in the flags: exit 1, not a usage error (an
// invalid_input here is a file or object, reported without the server's Status prefix).
Error ran_into(const Error& e) { return {e.kind == ErrorKind::invalid_input ? ErrorKind::io : e.kind, e.message}; }

void add_version_defaults(cli::Flags& o) {
  o.add_options()("default-k8s-version", "k8s_version when cluster.yaml gives none (the image's K8S_VERSION)",
                  cli::value<std::string>().default_value(""))(
      "default-flatcar-version", "flatcar_version when cluster.yaml gives none (the image's FLATCAR_VERSION)",
      cli::value<std::string>().default_value(""));
}
void add_file_flag(cli::Flags& o) {
  o.add_options()("f,file", "cluster.yaml to read", cli::value<std::string>().default_value("cluster.yaml"));
  add_version_defaults(o);
}
cl::Defaults defaults_of(const cli::Parsed& r) {
  return {r["default-k8s-version"].as<std::string>(), r["default-flatcar-version"].as<std::string>()};
}
Result<void> check_output_dir(const fs::path& dir) {
  if (dir.empty()) return fail(ErrorKind::invalid_input, "--output-dir must not be empty (fix: e.g. -o output)");
  return {};
}
void add_dir_flag(cli::Flags& o) {
  o.add_options()("o,output-dir", "Directory for the generated configs and the kubeconfig",
                  cli::value<std::string>().default_value("output"));
}

// Reads and validates; prints every finding. Empty optional = refused.
std::optional<cl::ClusterConfig> load_config(const std::string& file, const cl::Defaults& defaults, bool strict,
                                             bool quiet_ok, Io& io) {
  const auto text = read_file(file);
  if (!text) {
    io.err << "error: " << text.error().message << " (fix: pass -f PATH to cluster.yaml)\n";
    return std::nullopt;
  }
  auto v = cl::validate(*text, defaults);
  for (const auto& f : v.findings) io.err << cl::format(f, file) << '\n';
  auto errors = v.count(cl::Severity::error), warnings = v.count(cl::Severity::warning);
  if (!v.passes(strict)) {
    io.err << file << ": " << errors << " error(s), " << warnings << " warning(s)"
           << (strict && errors == 0 ? " (--strict treats warnings as errors)" : "") << '\n';
    return std::nullopt;
  }
  if (!quiet_ok)
    io.out << file << ": valid (" << v.config->nodes.size() << " nodes"
           << (warnings ? ", " + std::to_string(warnings) + " warning(s)" : "") << ")\n";
  return std::move(v.config);
}

// -f and the version defaults: which cluster.yaml, read and validated when the command runs.
struct FileOptions {
  std::string file;
  cl::Defaults defaults;
  bool strict = false;

  // `optional`: -f has no default (wait), "" when not given.
  void complete(const cli::Parsed& r, bool optional = false) {
    file = optional ? cli::value(r, "file") : r["file"].as<std::string>();
    defaults = defaults_of(r);
    strict = r.count("strict") > 0;
  }
  std::optional<cl::ClusterConfig> load(bool quiet_ok, Io& io) const {
    return load_config(file, defaults, strict, quiet_ok, io);
  }
};

cli::Flags validate_flags() {
  cli::Flags o("kubectl nodeboot cluster validate",
               "Check cluster.yaml; report every problem with its line, column and fix.");
  add_file_flag(o);
  o.add_options()("strict", "Treat warnings as errors");
  o.add_options()("h,help", "Show help");
  return o;
}

struct ValidateOptions : FileOptions {
  Result<void> complete(const cli::Parsed& r) {
    FileOptions::complete(r);
    return {};
  }
  static Result<void> validate() { return {}; }
  Result<int> run(Io& io) const { return load(false, io) ? exit_ok : exit_error; }
};

Result<int> run_generate(const cl::ClusterConfig& cfg, const fs::path& dir, const std::optional<fs::path>& templates,
                         Io& io) {
  cl::GenerateOptions g{dir, templates};
  auto r = cl::generate(cfg, g);
  if (!r) return fail(ran_into(r.error()));
  io.out << "generated " << r->files.size() << " files in " << fs::absolute(dir).string() << '\n';
  // Secrets never reach the terminal: only where they are.
  auto where = [&](cl::SecretOrigin o, const char* what, const char* file) {
    if (o == cl::SecretOrigin::cluster_yaml) return;
    io.out << what << ": " << (o == cl::SecretOrigin::generated ? "generated, saved to " : "reused from ")
           << (fs::absolute(dir) / file).string() << (o == cl::SecretOrigin::generated ? " (mode 0600)" : "") << '\n';
  };
  where(r->token, "kubeadm token", "kubeadm-token");
  where(r->certificate_key, "kubeadm certificate key", "certificate-key");
  where(r->upload_token, "kubeconfig upload token (single use)", "upload/token");
  if (cfg.cni == cl::Cni::none)
    io.out << "cluster.cni is none: nodes stay NotReady until you apply a pod network for " << cfg.pod_subnet
           << " with the kubeconfig\n";
  for (const auto& n : r->notes) io.err << "warning: " << n << '\n';
  return exit_ok;
}

cli::Flags generate_flags() {
  cli::Flags o("kubectl nodeboot cluster generate", "Generate the Matchbox data directory and dnsmasq.conf.");
  add_file_flag(o);
  add_dir_flag(o);
  o.add_options()("templates", "Directory whose templates replace the built-in ones (same relative paths)",
                  cli::value<std::string>())("strict", "Treat warnings as errors");
  o.add_options()("h,help", "Show help");
  return o;
}

// generate's flags, also init's: cluster.yaml, the output directory and --templates.
struct GenerateCmdOptions : FileOptions {
  fs::path dir;
  std::optional<fs::path> templates;

  Result<void> complete(const cli::Parsed& r) {
    FileOptions::complete(r);
    dir = r["output-dir"].as<std::string>();
    if (r.count("templates")) templates = cli::value(r, "templates");
    return {};
  }
  Result<void> validate() const {
    if (auto ok = check_output_dir(dir); !ok) return ok;
    if (templates && !fs::is_directory(*templates))
      return fail(ErrorKind::invalid_input,
                  "--templates " + templates->string() + " is not a directory (fix: the folder of your templates)");
    return {};
  }
  Result<int> run(Io& io) const {
    auto cfg = load(true, io);
    if (!cfg) return exit_error;
    return run_generate(*cfg, dir, templates, io);
  }
};

void add_serve_flags(cli::Flags& o) {
  o.add_options()("matchbox-address", "Matchbox HTTP listen address",
                  cli::value<std::string>().default_value("0.0.0.0:8080"))(
      "matchbox", "Matchbox program", cli::value<std::string>().default_value("matchbox"))(
      "dnsmasq", "dnsmasq program", cli::value<std::string>().default_value("dnsmasq"))(
      "no-dnsmasq", "Start Matchbox only (when another DHCP/TFTP server does PXE)")(
      "upload-address", "The kubeconfig upload endpoint's listen address (HTTPS)",
      cli::value<std::string>().default_value("0.0.0.0:8443"))(
      "no-upload", "Do not run the upload endpoint (you copy admin.conf yourself)");
}

cl::ServeOptions serve_options(const cli::Parsed& r) {
  cl::ServeOptions s;
  s.dir = r["output-dir"].as<std::string>();
  s.matchbox_address = r["matchbox-address"].as<std::string>();
  s.matchbox_program = r["matchbox"].as<std::string>();
  s.dnsmasq_program = r["dnsmasq"].as<std::string>();
  s.with_dnsmasq = r.count("no-dnsmasq") == 0;
  s.upload_address = r["upload-address"].as<std::string>();
  s.with_upload = r.count("no-upload") == 0;
  return s;
}

Result<int> run_serve(const cl::ServeOptions& s, Io& io) {
  auto r = cl::serve(s);
  if (!r) return fail(ran_into(r.error()));
  for (const auto& st : *r) io.out << st.name << " started (pid " << st.pid << ", log " << st.log.string() << ")\n";
  return exit_ok;
}

Result<int> run_teardown(const fs::path& dir, Io& io) {
  auto r = cl::teardown(dir);
  if (!r) return fail(ran_into(r.error()));
  if (r->empty()) io.out << "nothing running for " << fs::absolute(dir).string() << '\n';
  for (const auto& n : *r) io.out << n << " stopped\n";
  return exit_ok;
}

cli::Flags serve_flags() {
  cli::Flags o("kubectl nodeboot cluster serve", "Start Matchbox and dnsmasq on the generated directory.");
  add_dir_flag(o);
  add_serve_flags(o);
  o.add_options()("foreground", "Stay in the foreground until SIGINT/SIGTERM, then stop both (for containers)");
  o.add_options()("h,help", "Show help");
  return o;
}

// A listen address: HOST:PORT with a port of 1-65535, as bootstrap::parse_host_port reads
// one; ":PORT" (every address, as the listeners read it) is taken as 0.0.0.0:PORT.
Result<void> check_address(const std::string& flag, const std::string& address) {
  const auto parsed = bootstrap::parse_host_port(address.starts_with(':') ? "0.0.0.0" + address : address);
  if (parsed && parsed->port) return {};
  return fail(ErrorKind::invalid_input, "--" + flag + " \"" + address + "\" is not HOST:PORT with a port of 1-65535" +
                                            (parsed ? "" : " (" + parsed.error().message + ")") +
                                            " (fix: e.g. 0.0.0.0:8080)");
}

// serve's flags, also init's.
struct ServeCmdOptions {
  cl::ServeOptions serve;
  bool foreground = false;

  Result<void> complete(const cli::Parsed& r) {
    serve = serve_options(r);
    foreground = r.count("foreground") > 0;
    return {};
  }
  Result<void> validate() const {
    if (auto ok = check_output_dir(serve.dir); !ok) return ok;
    if (auto ok = check_address("matchbox-address", serve.matchbox_address); !ok) return ok;
    if (serve.with_upload) return check_address("upload-address", serve.upload_address);
    return {};
  }
  Result<int> run(Io& io) const {
    if (!foreground) return run_serve(serve, io);
    const auto stop = stop_token();  // before starting, so no signal is lost
    if (auto started = run_serve(serve, io); !started || *started != exit_ok) return started;
    io.out << "serving; stop with Ctrl-C, SIGTERM or `kubectl nodeboot cluster teardown`\n" << std::flush;
    while (!stop.stop_requested() && !cl::stop_requested(serve.dir))
      std::this_thread::sleep_for(
          std::chrono::milliseconds(200));  // how soon a teardown from another container is seen
    return run_teardown(serve.dir, io);
  }
};

// What `serve` starts in the background (upload.hpp).
cli::Flags upload_server_flags() {
  cli::Flags o("kubectl nodeboot cluster upload-server", "The kubeconfig upload endpoint (started by serve).");
  add_dir_flag(o);
  o.add_options()("address", "Listen address", cli::value<std::string>().default_value("0.0.0.0:8443"));
  o.add_options()("h,help", "Show help");
  return o;
}

struct UploadServerCmdOptions {
  fs::path dir;
  std::string address;

  Result<void> complete(const cli::Parsed& r) {
    dir = r["output-dir"].as<std::string>();
    address = r["address"].as<std::string>();
    return {};
  }
  Result<void> validate() const { return check_address("address", address); }
  Result<int> run(Io& io) const {
    const cl::UploadServerOptions u{dir, address, &io.err};
    if (auto served = cl::run_upload_server(u, nullptr, stop_token()); !served) return fail(ran_into(served.error()));
    return exit_ok;
  }
};

cli::Flags teardown_flags() {
  cli::Flags o("kubectl nodeboot cluster teardown", "Stop Matchbox and dnsmasq started by serve.");
  add_dir_flag(o);
  o.add_options()("h,help", "Show help");
  return o;
}

struct TeardownOptions {
  fs::path dir;

  Result<void> complete(const cli::Parsed& r) {
    dir = r["output-dir"].as<std::string>();
    return {};
  }
  Result<void> validate() const { return check_output_dir(dir); }
  Result<int> run(Io& io) const { return run_teardown(dir, io); }
};

void add_wait_flags(cli::Flags& o) {
  o.add_options()("nodes", "Nodes that must be Ready (default: the number in cluster.yaml with -f, else 1)",
                  cli::value<int>())("timeout", "Give up after this long (e.g. 30m, 90s)",
                                     cli::value<std::string>().default_value("60m"))(
      "l,selector", "Count only Nodes matching this label selector", cli::value<std::string>());
  cli::add_connection_flags(o);
}

// Without --kubeconfig, a directory `generate` prepared for the upload is waited on:
// DIR/admin.conf, sent by the first controller. Returns the hint for the wait's progress.
std::string use_uploaded_kubeconfig(const fs::path& dir, const cl::ClusterConfig* cfg, kube::ConnectionFlags& flags,
                                    bool& consume) {
  const auto files = cl::UploadFiles::in(fs::absolute(dir));
  if (!flags.kubeconfig.empty() || (!fs::exists(files.token()) && !fs::exists(files.received()))) return {};
  flags.kubeconfig = files.received().string();
  consume = true;
  const std::string who =
      cfg ? cfg->bootstrap_controller().name + " (" + cfg->bootstrap_controller().ip + ")" : "the first controller";
  return who + " sends it once its API server answers at the VIP (nodeboot-kubeconfig-upload.service; see " +
         (fs::absolute(dir) / "logs" / "upload.log").string() + ")";
}

// wait's flags, also init's: --nodes, --timeout, --selector and the connection flags.
struct WaitFlags {
  std::optional<int> nodes;
  std::string timeout_text;
  std::chrono::seconds timeout{};
  std::string selector;
  kube::ConnectionFlags connection;

  Result<void> complete(const cli::Parsed& r) {
    if (r.count("nodes")) nodes = r["nodes"].as<int>();
    timeout_text = r["timeout"].as<std::string>();
    if (auto t = parse_duration(timeout_text, "--timeout"))
      timeout = std::chrono::duration_cast<std::chrono::seconds>(*t);
    selector = cli::value(r, "selector");
    auto flags = cli::connection_flags(r);
    if (!flags) return fail(flags.error());
    connection = std::move(*flags);
    return {};
  }
  Result<void> validate() const {
    if (timeout < std::chrono::seconds(1))
      return fail(ErrorKind::invalid_input,
                  "--timeout \"" + timeout_text + "\" is not a duration of 1s or more (fix: e.g. 30m, 90s)");
    if (nodes && *nodes < 1) return fail(ErrorKind::invalid_input, "--nodes must be at least 1");
    return {};
  }
  // Waits for `expected` Ready nodes (--nodes when given).
  Result<int> run(int expected, const fs::path& dir, Io& io, const cl::ClusterConfig* cfg) const {
    cl::WaitOptions w;
    auto flags = connection;
    w.kubeconfig_hint = use_uploaded_kubeconfig(dir, cfg, flags, w.consume_upload);
    w.connection = std::move(flags);
    w.nodes = nodes.value_or(expected);
    w.selector = selector;
    w.timeout = timeout;
    w.output_dir = dir;
    w.progress = &io.out;
    auto res = cl::wait_for_cluster(w);
    if (!res) return fail(ran_into(res.error()));
    io.out << "cluster ready: " << w.nodes << " node(s) Ready; kubeconfig saved to " << res->string() << '\n'
           << "  export KUBECONFIG=" << res->string() << '\n';
    return exit_ok;
  }
};

cli::Flags wait_flags() {
  cli::Flags o("kubectl nodeboot cluster wait",
               "Wait for the API server, then watch Nodes until the expected number are Ready; save the "
               "kubeconfig to the output directory.");
  add_dir_flag(o);
  add_wait_flags(o);
  o.add_options()("f,file", "cluster.yaml (for the node count)", cli::value<std::string>());
  add_version_defaults(o);
  o.add_options()("h,help", "Show help");
  return o;
}

struct WaitCmdOptions : FileOptions {
  WaitFlags wait;
  fs::path dir;

  Result<void> complete(const cli::Parsed& r) {
    FileOptions::complete(r, true);  // -f: the node count, when --nodes is not given
    dir = r["output-dir"].as<std::string>();
    return wait.complete(r);
  }
  Result<void> validate() const {
    if (auto ok = check_output_dir(dir); !ok) return ok;
    return wait.validate();
  }
  Result<int> run(Io& io) const {
    std::optional<cl::ClusterConfig> cfg;
    if (!file.empty()) {
      cfg = load(true, io);
      if (!cfg) return exit_error;
    }
    return wait.run(cfg ? static_cast<int>(cfg->nodes.size()) : 1, dir, io, cfg ? &*cfg : nullptr);
  }
};

cli::Flags init_flags() {
  cli::Flags o("kubectl nodeboot cluster init",
               "The whole bootstrap: validate, generate, start Matchbox and dnsmasq, prompt to power on the "
               "nodes, wait for the cluster, save the kubeconfig, stop the services.");
  add_file_flag(o);
  add_dir_flag(o);
  add_serve_flags(o);
  add_wait_flags(o);
  o.add_options()("templates", "Directory whose templates replace the built-in ones", cli::value<std::string>())(
      "strict", "Treat warnings as errors")("yes", "Do not wait for Enter after the power-on prompt");
  o.add_options()("h,help", "Show help");
  return o;
}

// Every flag of generate, serve and wait is checked before anything is generated or started.
struct InitOptions {
  GenerateCmdOptions generate;
  ServeCmdOptions serve;
  WaitFlags wait;
  bool yes = false;

  Result<void> complete(const cli::Parsed& r) {
    yes = r.count("yes") > 0;
    if (auto ok = generate.complete(r); !ok) return ok;
    if (auto ok = serve.complete(r); !ok) return ok;
    return wait.complete(r);
  }
  Result<void> validate() const {
    if (auto ok = generate.validate(); !ok) return ok;
    if (auto ok = serve.validate(); !ok) return ok;
    return wait.validate();
  }
  Result<int> run(Io& io) const;
};

Result<int> InitOptions::run(Io& io) const {
  const fs::path& dir = generate.dir;
  auto cfg = generate.load(false, io);
  if (!cfg) return exit_error;
  if (auto generated = run_generate(*cfg, dir, generate.templates, io); !generated) return generated;
  // The services must not outlive init, however it ends: a signal or a teardown request is
  // seen by a thread that tears down and exits.
  const auto interrupted = stop_token();
  if (auto started = run_serve(serve.serve, io); !started) return started;
  struct Teardown {
    fs::path dir;
    Io& io;
    ~Teardown() { (void)run_teardown(dir, io); }
  } guard{dir, io};
  std::jthread on_signal([&](const std::stop_token& done) {
    while (!done.stop_requested()) {
      if (!interrupted.stop_requested() && !cl::stop_requested(dir)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // how soon init's end or a request is seen
        continue;
      }
      const int sig = stop_signal();
      io.err << (sig > 0 ? "\ninterrupted" : "\nteardown requested from another container")
             << ": stopping matchbox, dnsmasq and the upload endpoint\n";
      (void)run_teardown(dir, io);
      std::_Exit(sig > 0 ? 128 + sig : exit_error);
    }
  });
  io.out << "\n>>> Power on your nodes now (" << cfg->nodes.size() << " machines, PXE boot from the network). <<<\n";
  for (const auto& n : cfg->nodes)
    io.out << "    " << n.name << "  " << n.role << "  " << n.mac << "  " << n.ip << '\n';
  if (!yes && ::isatty(STDIN_FILENO)) {
    io.out << "Press Enter when they are booting... " << std::flush;
    std::string line;
    std::getline(std::cin, line);
  }
  // kubeadm writes the admin kubeconfig on the first controller, which uploads it here.
  return wait.run(static_cast<int>(cfg->nodes.size()), dir, io, &*cfg);
}

}  // namespace

std::span<const cli::Command> cluster_commands() {
  static const cli::Command table[] = {
      {"init", "", init_flags, cli::run_options<InitOptions>},
      {"generate", "", generate_flags, cli::run_options<GenerateCmdOptions>},
      {"serve", "", serve_flags, cli::run_options<ServeCmdOptions>},
      {"wait", "", wait_flags, cli::run_options<WaitCmdOptions>},
      {"validate", "", validate_flags, cli::run_options<ValidateOptions>},
      {"teardown", "", teardown_flags, cli::run_options<TeardownOptions>},
      // not in the usage: what `serve` starts
      {"upload-server", "", upload_server_flags, cli::run_options<UploadServerCmdOptions>},
  };
  return table;
}

void cluster_help(std::ostream& out) { out << usage; }

}  // namespace nodeboot::plugin::cmd
