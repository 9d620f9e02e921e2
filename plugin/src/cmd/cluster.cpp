// `kubectl nodeboot cluster ...`: seed 002's bootstrap node. Thin: parse flags, call the
// library under plugin/src/cluster/, print.
#include "nodeboot/plugin/cmd/cluster.hpp"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <thread>
#include <fstream>
#include <iostream>
#include <sstream>

#include <cxxopts.hpp>

#include "nodeboot/kube/flags.hpp"
#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/plugin/cluster/generate.hpp"
#include "nodeboot/plugin/cluster/services.hpp"
#include "nodeboot/plugin/cluster/upload.hpp"
#include "nodeboot/plugin/cluster/wait.hpp"
#include "nodeboot/util/duration.hpp"
#include "nodeboot/util/file.hpp"

namespace nodeboot::plugin::cmd {
namespace {

namespace cl = nodeboot::plugin::cluster;
namespace fs = std::filesystem;

constexpr std::string_view usage = R"(Bootstrap a bare-metal Flatcar Kubernetes cluster from cluster.yaml (PXE with Matchbox and dnsmasq).

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

struct Parsed {
  cxxopts::ParseResult result;
  bool done = false;  // --help printed or a usage error reported
  int code = exit_ok;
};

Parsed parse(cxxopts::Options& options, const std::string& name, const std::vector<std::string>& args, Io& io) {
  options.add_options()("h,help", "Show help");
  std::vector<const char*> cargv{name.c_str()};
  for (const auto& a : args) cargv.push_back(a.c_str());
  Parsed p;
  try {
    p.result = options.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    io.err << "error: " << e.what() << "\nSee 'kubectl nodeboot " << name << " --help' for usage.\n";
    return {{}, true, exit_usage};
  }
  if (!p.result.unmatched().empty()) {
    io.err << "error: unexpected argument \"" << p.result.unmatched().front() << "\"\nSee 'kubectl nodeboot " << name
           << " --help' for usage.\n";
    return {{}, true, exit_usage};
  }
  if (p.result.count("help")) {
    io.out << options.help();
    p.done = true;
  }
  return p;
}

void add_version_defaults(cxxopts::Options& o) {
  o.add_options()("default-k8s-version", "k8s_version when cluster.yaml gives none (the image's K8S_VERSION)",
                  cxxopts::value<std::string>()->default_value(""))(
      "default-flatcar-version", "flatcar_version when cluster.yaml gives none (the image's FLATCAR_VERSION)",
      cxxopts::value<std::string>()->default_value(""));
}
void add_file_flag(cxxopts::Options& o) {
  o.add_options()("f,file", "cluster.yaml to read", cxxopts::value<std::string>()->default_value("cluster.yaml"));
  add_version_defaults(o);
}
cl::Defaults defaults_of(const cxxopts::ParseResult& r) {
  return {r["default-k8s-version"].as<std::string>(), r["default-flatcar-version"].as<std::string>()};
}
void add_dir_flag(cxxopts::Options& o) {
  o.add_options()("o,output-dir", "Directory for the generated configs and the kubeconfig",
                  cxxopts::value<std::string>()->default_value("output"));
}

// Reads and validates; prints every finding. Empty optional = refused.
std::optional<cl::ClusterConfig> load(const std::string& file, const cl::Defaults& defaults, bool strict, bool quiet_ok,
                                      Io& io) {
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
    io.out << file << ": valid (" << v.config->nodes.size() << " nodes" << (warnings ? ", " + std::to_string(warnings) + " warning(s)" : "")
           << ")\n";
  return std::move(v.config);
}

int do_validate(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options o("kubectl nodeboot cluster validate", "Check cluster.yaml; report every problem with its line, column and fix.");
  add_file_flag(o);
  o.add_options()("strict", "Treat warnings as errors");
  auto p = parse(o, "cluster validate", args, io);
  if (p.done) return p.code;
  return load(p.result["file"].as<std::string>(), defaults_of(p.result), p.result.count("strict") > 0, false, io) ? exit_ok
                                                                                                                    : exit_error;
}

int run_generate(const cl::ClusterConfig& cfg, const fs::path& dir, const std::optional<fs::path>& templates, Io& io) {
  cl::GenerateOptions g{dir, templates};
  auto r = cl::generate(cfg, g);
  if (!r) {
    io.err << "error: " << r.error().message << '\n';
    return exit_error;
  }
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

int do_generate(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options o("kubectl nodeboot cluster generate", "Generate the Matchbox data directory and dnsmasq.conf.");
  add_file_flag(o);
  add_dir_flag(o);
  o.add_options()("templates", "Directory whose templates replace the built-in ones (same relative paths)",
                  cxxopts::value<std::string>())("strict", "Treat warnings as errors");
  auto p = parse(o, "cluster generate", args, io);
  if (p.done) return p.code;
  auto cfg = load(p.result["file"].as<std::string>(), defaults_of(p.result), p.result.count("strict") > 0, true, io);
  if (!cfg) return exit_error;
  std::optional<fs::path> templates;
  if (p.result.count("templates")) {
    templates = p.result["templates"].as<std::string>();
    if (!fs::is_directory(*templates)) {
      io.err << "error: --templates " << templates->string() << " is not a directory\n";
      return exit_usage;
    }
  }
  return run_generate(*cfg, p.result["output-dir"].as<std::string>(), templates, io);
}

void add_serve_flags(cxxopts::Options& o) {
  o.add_options()("matchbox-address", "Matchbox HTTP listen address",
                  cxxopts::value<std::string>()->default_value("0.0.0.0:8080"))(
      "matchbox", "Matchbox program", cxxopts::value<std::string>()->default_value("matchbox"))(
      "dnsmasq", "dnsmasq program", cxxopts::value<std::string>()->default_value("dnsmasq"))(
      "no-dnsmasq", "Start Matchbox only (when another DHCP/TFTP server does PXE)")(
      "upload-address", "The kubeconfig upload endpoint's listen address (HTTPS)",
      cxxopts::value<std::string>()->default_value("0.0.0.0:8443"))(
      "no-upload", "Do not run the upload endpoint (you copy admin.conf yourself)");
}

cl::ServeOptions serve_options(const cxxopts::ParseResult& r) {
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

int run_serve(const cl::ServeOptions& s, Io& io) {
  auto r = cl::serve(s);
  if (!r) {
    io.err << "error: " << r.error().message << '\n';
    return exit_error;
  }
  for (const auto& st : *r) io.out << st.name << " started (pid " << st.pid << ", log " << st.log.string() << ")\n";
  return exit_ok;
}

int run_teardown(const fs::path& dir, Io& io) {
  auto r = cl::teardown(dir);
  if (!r) {
    io.err << "error: " << r.error().message << '\n';
    return exit_error;
  }
  if (r->empty()) io.out << "nothing running for " << fs::absolute(dir).string() << '\n';
  for (const auto& n : *r) io.out << n << " stopped\n";
  return exit_ok;
}

int do_serve(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options o("kubectl nodeboot cluster serve", "Start Matchbox and dnsmasq on the generated directory.");
  add_dir_flag(o);
  add_serve_flags(o);
  o.add_options()("foreground", "Stay in the foreground until SIGINT/SIGTERM, then stop both (for containers)");
  auto p = parse(o, "cluster serve", args, io);
  if (p.done) return p.code;
  auto s = serve_options(p.result);
  if (!p.result.count("foreground")) return run_serve(s, io);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before starting, so no signal is lost
  if (int rc = run_serve(s, io); rc != exit_ok) return rc;
  io.out << "serving; stop with Ctrl-C, SIGTERM or `kubectl nodeboot cluster teardown`\n" << std::flush;
  const timespec tick{0, 200'000'000};  // how soon a teardown from another container is seen
  while (::sigtimedwait(&set, nullptr, &tick) <= 0 && !cl::stop_requested(s.dir)) {
  }
  return run_teardown(s.dir, io);
}

// Not in the usage: what `serve` starts in the background (upload.hpp).
int do_upload_server(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options o("kubectl nodeboot cluster upload-server", "The kubeconfig upload endpoint (started by serve).");
  add_dir_flag(o);
  o.add_options()("address", "Listen address", cxxopts::value<std::string>()->default_value("0.0.0.0:8443"));
  auto p = parse(o, "cluster upload-server", args, io);
  if (p.done) return p.code;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::stop_source stop;
  std::jthread on_signal([&](const std::stop_token& own) {
    const timespec tick{0, 200'000'000};  // how soon the thread notices the server ended by itself
    while (!own.stop_requested())
      if (::sigtimedwait(&set, nullptr, &tick) > 0) {
        stop.request_stop();
        return;
      }
  });
  cl::UploadServerOptions u{p.result["output-dir"].as<std::string>(), p.result["address"].as<std::string>(), &io.err};
  auto r = cl::run_upload_server(u, nullptr, stop.get_token());
  on_signal.request_stop();
  if (!r) {
    io.err << "error: " << r.error().message << '\n';
    return exit_error;
  }
  return exit_ok;
}

int do_teardown(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options o("kubectl nodeboot cluster teardown", "Stop Matchbox and dnsmasq started by serve.");
  add_dir_flag(o);
  auto p = parse(o, "cluster teardown", args, io);
  if (p.done) return p.code;
  return run_teardown(p.result["output-dir"].as<std::string>(), io);
}

void add_wait_flags(cxxopts::Options& o) {
  o.add_options()("nodes", "Nodes that must be Ready (default: the number in cluster.yaml with -f, else 1)",
                  cxxopts::value<int>())("timeout", "Give up after this long (e.g. 30m, 90s)",
                                         cxxopts::value<std::string>()->default_value("60m"))(
      "l,selector", "Count only Nodes matching this label selector", cxxopts::value<std::string>());
  kube::add_connection_flags(o);
}

// Without --kubeconfig, a directory `generate` prepared for the upload is waited on:
// DIR/admin.conf, sent by the first controller. Returns the hint for the wait's progress.
std::string use_uploaded_kubeconfig(const fs::path& dir, const cl::ClusterConfig* cfg, kube::ConnectionFlags& flags,
                                    bool& consume) {
  const auto files = cl::UploadFiles::in(fs::absolute(dir));
  if (!flags.kubeconfig.empty() || (!fs::exists(files.token()) && !fs::exists(files.received()))) return {};
  flags.kubeconfig = files.received().string();
  consume = true;
  const std::string who = cfg ? cfg->bootstrap_controller().name + " (" + cfg->bootstrap_controller().ip + ")" : "the first controller";
  return who + " sends it once its API server answers at the VIP (nodeboot-kubeconfig-upload.service; see " +
         (fs::absolute(dir) / "logs" / "upload.log").string() + ")";
}

int run_wait(const cxxopts::ParseResult& r, int nodes, const fs::path& dir, Io& io, kube::ConnectionFlags flags,
             const cl::ClusterConfig* cfg) {
  auto timeout = parse_duration(r["timeout"].as<std::string>(), "--timeout");
  if (!timeout || *timeout < std::chrono::seconds(1)) {
    io.err << "error: --timeout \"" << r["timeout"].as<std::string>() << "\" is not a duration (fix: e.g. 30m, 90s)\n";
    return exit_usage;
  }
  cl::WaitOptions w;
  w.kubeconfig_hint = use_uploaded_kubeconfig(dir, cfg, flags, w.consume_upload);
  w.connection = std::move(flags);
  w.nodes = nodes;
  if (r.count("selector")) w.selector = r["selector"].as<std::string>();
  w.timeout = std::chrono::duration_cast<std::chrono::seconds>(*timeout);
  w.output_dir = dir;
  w.progress = &io.out;
  auto res = cl::wait_for_cluster(w);
  if (!res) {
    io.err << "error: " << res.error().message << '\n';
    return exit_error;
  }
  io.out << "cluster ready: " << nodes << " node(s) Ready; kubeconfig saved to " << res->string() << '\n'
         << "  export KUBECONFIG=" << res->string() << '\n';
  return exit_ok;
}

int do_wait(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options o("kubectl nodeboot cluster wait",
                     "Wait for the API server, then watch Nodes until the expected number are Ready; save the kubeconfig to the output directory.");
  add_dir_flag(o);
  add_wait_flags(o);
  o.add_options()("f,file", "cluster.yaml (for the node count)", cxxopts::value<std::string>());
  add_version_defaults(o);
  auto p = parse(o, "cluster wait", args, io);
  if (p.done) return p.code;
  int nodes = 1;
  std::optional<cl::ClusterConfig> cfg;
  if (p.result.count("file")) {
    cfg = load(p.result["file"].as<std::string>(), defaults_of(p.result), false, true, io);
    if (!cfg) return exit_error;
    nodes = static_cast<int>(cfg->nodes.size());
  }
  if (p.result.count("nodes")) nodes = p.result["nodes"].as<int>();
  if (nodes < 1) {
    io.err << "error: --nodes must be at least 1\n";
    return exit_usage;
  }
  return run_wait(p.result, nodes, p.result["output-dir"].as<std::string>(), io, kube::connection_flags(p.result),
                  cfg ? &*cfg : nullptr);
}

int do_init(const std::vector<std::string>& args, Io& io) {
  cxxopts::Options o("kubectl nodeboot cluster init",
                     "The whole bootstrap: validate, generate, start Matchbox and dnsmasq, prompt to power on the nodes, wait for the cluster, save the kubeconfig, stop the services.");
  add_file_flag(o);
  add_dir_flag(o);
  add_serve_flags(o);
  add_wait_flags(o);
  o.add_options()("templates", "Directory whose templates replace the built-in ones", cxxopts::value<std::string>())(
      "strict", "Treat warnings as errors")("yes", "Do not wait for Enter after the power-on prompt");
  auto p = parse(o, "cluster init", args, io);
  if (p.done) return p.code;
  const fs::path dir = p.result["output-dir"].as<std::string>();
  auto cfg = load(p.result["file"].as<std::string>(), defaults_of(p.result), p.result.count("strict") > 0, false, io);
  if (!cfg) return exit_error;
  std::optional<fs::path> templates;
  if (p.result.count("templates")) templates = p.result["templates"].as<std::string>();
  if (int rc = run_generate(*cfg, dir, templates, io); rc != exit_ok) return rc;
  // The services must not outlive init, however it ends: SIGINT/SIGTERM are blocked here
  // (threads inherit that) and taken by a thread that tears down and exits.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (int rc = run_serve(serve_options(p.result), io); rc != exit_ok) return rc;
  struct Teardown {
    fs::path dir;
    Io& io;
    ~Teardown() { run_teardown(dir, io); }
  } guard{dir, io};
  std::jthread on_signal([&](const std::stop_token& stop) {
    const timespec tick{0, 200'000'000};  // how soon the thread notices init ended normally
    while (!stop.stop_requested()) {
      int sig = ::sigtimedwait(&signals, nullptr, &tick);
      if (sig <= 0 && !cl::stop_requested(dir)) continue;
      io.err << (sig > 0 ? "\ninterrupted" : "\nteardown requested from another container")
             << ": stopping matchbox, dnsmasq and the upload endpoint\n";
      run_teardown(dir, io);
      std::_Exit(sig > 0 ? 128 + sig : exit_error);
    }
  });
  io.out << "\n>>> Power on your nodes now (" << cfg->nodes.size() << " machines, PXE boot from the network). <<<\n";
  for (const auto& n : cfg->nodes) io.out << "    " << n.name << "  " << n.role << "  " << n.mac << "  " << n.ip << '\n';
  if (!p.result.count("yes") && ::isatty(STDIN_FILENO)) {
    io.out << "Press Enter when they are booting... " << std::flush;
    std::string line;
    std::getline(std::cin, line);
  }
  int nodes = p.result.count("nodes") ? p.result["nodes"].as<int>() : static_cast<int>(cfg->nodes.size());
  // kubeadm writes the admin kubeconfig on the first controller, which uploads it here.
  return run_wait(p.result, nodes, dir, io, kube::connection_flags(p.result), &*cfg);
}

}  // namespace

int cluster(std::vector<std::string> args, Io& io) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    io.out << usage;
    return args.empty() ? exit_usage : exit_ok;
  }
  const std::string sub = args[0];
  args.erase(args.begin());
  if (sub == "validate") return do_validate(args, io);
  if (sub == "generate") return do_generate(args, io);
  if (sub == "serve") return do_serve(args, io);
  if (sub == "teardown") return do_teardown(args, io);
  if (sub == "wait") return do_wait(args, io);
  if (sub == "init") return do_init(args, io);
  if (sub == "upload-server") return do_upload_server(args, io);
  io.err << "error: unknown command \"" << sub << "\" for \"kubectl nodeboot cluster\"\nRun 'kubectl nodeboot cluster --help' for usage.\n";
  return exit_usage;
}

}  // namespace nodeboot::plugin::cmd
