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
#include "nodeboot/plugin/cluster/wait.hpp"

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
  teardown    Stop Matchbox and dnsmasq

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
  control_plane_vip: 192.168.1.100
  bootstrap:
    ip: 192.168.1.10                   # this machine, on the nodes' L2 subnet
  network:
    cidr: 192.168.1.0/24               # the nodes' L2 subnet
  nodes:
    - {name: cp-1, role: controller, ip: 192.168.1.11, mac: "52:54:00:00:00:01"}
    - {name: worker-1, role: worker, ip: 192.168.1.21, mac: "52:54:00:00:00:02"}
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

void add_file_flag(cxxopts::Options& o) {
  o.add_options()("f,file", "cluster.yaml to read", cxxopts::value<std::string>()->default_value("cluster.yaml"));
}
void add_dir_flag(cxxopts::Options& o) {
  o.add_options()("o,output-dir", "Directory for the generated configs and the kubeconfig",
                  cxxopts::value<std::string>()->default_value("output"));
}

// Reads and validates; prints every finding. Empty optional = refused.
std::optional<cl::ClusterConfig> load(const std::string& file, bool strict, bool quiet_ok, Io& io) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    io.err << "error: cannot read " << file << ": " << std::strerror(errno) << " (fix: pass -f PATH to cluster.yaml)\n";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto v = cl::validate(text.str());
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
  return load(p.result["file"].as<std::string>(), p.result.count("strict") > 0, false, io) ? exit_ok : exit_error;
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
  auto cfg = load(p.result["file"].as<std::string>(), p.result.count("strict") > 0, true, io);
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
      "no-dnsmasq", "Start Matchbox only (when another DHCP/TFTP server does PXE)");
}

cl::ServeOptions serve_options(const cxxopts::ParseResult& r) {
  cl::ServeOptions s;
  s.dir = r["output-dir"].as<std::string>();
  s.matchbox_address = r["matchbox-address"].as<std::string>();
  s.matchbox_program = r["matchbox"].as<std::string>();
  s.dnsmasq_program = r["dnsmasq"].as<std::string>();
  s.with_dnsmasq = r.count("no-dnsmasq") == 0;
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
  io.out << "serving; stop with Ctrl-C or SIGTERM\n" << std::flush;
  int sig = 0;
  sigwait(&set, &sig);
  return run_teardown(s.dir, io);
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

std::optional<std::chrono::seconds> parse_duration(const std::string& s) {
  if (s.empty()) return std::nullopt;
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(s, &used);
  } catch (...) {
    return std::nullopt;
  }
  auto unit = s.substr(used);
  if (n <= 0) return std::nullopt;
  if (unit == "s" || unit.empty()) return std::chrono::seconds(n);
  if (unit == "m") return std::chrono::minutes(n);
  if (unit == "h") return std::chrono::hours(n);
  return std::nullopt;
}

int run_wait(const cxxopts::ParseResult& r, int nodes, const fs::path& dir, Io& io, kube::ConnectionFlags flags,
             std::string hint = {}) {
  auto timeout = parse_duration(r["timeout"].as<std::string>());
  if (!timeout) {
    io.err << "error: --timeout \"" << r["timeout"].as<std::string>() << "\" is not a duration (fix: e.g. 30m, 90s)\n";
    return exit_usage;
  }
  cl::WaitOptions w;
  w.connection = std::move(flags);
  w.kubeconfig_hint = std::move(hint);
  w.nodes = nodes;
  if (r.count("selector")) w.selector = r["selector"].as<std::string>();
  w.timeout = *timeout;
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
  auto p = parse(o, "cluster wait", args, io);
  if (p.done) return p.code;
  int nodes = 1;
  if (p.result.count("nodes")) {
    nodes = p.result["nodes"].as<int>();
  } else if (p.result.count("file")) {
    auto cfg = load(p.result["file"].as<std::string>(), false, true, io);
    if (!cfg) return exit_error;
    nodes = static_cast<int>(cfg->nodes.size());
  }
  if (nodes < 1) {
    io.err << "error: --nodes must be at least 1\n";
    return exit_usage;
  }
  return run_wait(p.result, nodes, p.result["output-dir"].as<std::string>(), io, kube::connection_flags(p.result));
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
  auto cfg = load(p.result["file"].as<std::string>(), p.result.count("strict") > 0, false, io);
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
      if (sig <= 0) continue;
      io.err << "\ninterrupted: stopping matchbox and dnsmasq\n";
      run_teardown(dir, io);
      std::_Exit(128 + sig);
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
  // kubeadm writes the admin kubeconfig on the first controller; nodeboot does not hold
  // the cluster CA, so the operator copies it here (or passes --kubeconfig).
  auto flags = kube::connection_flags(p.result);
  std::string hint;
  if (flags.kubeconfig.empty()) {
    flags.kubeconfig = (fs::absolute(dir) / "admin.conf").string();
    const auto& first = cfg->bootstrap_controller();
    hint = "once " + first.name + " has run kubeadm init, copy it with `ssh core@" + first.ip +
           " sudo cat /etc/kubernetes/admin.conf > " + flags.kubeconfig + "`";
  }
  return run_wait(p.result, nodes, dir, io, std::move(flags), std::move(hint));
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
  io.err << "error: unknown command \"" << sub << "\" for \"kubectl nodeboot cluster\"\nRun 'kubectl nodeboot cluster --help' for usage.\n";
  return exit_usage;
}

}  // namespace nodeboot::plugin::cmd
