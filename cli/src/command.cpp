#include "nodeboot/cli/command.hpp"

#include <exception>
#include <ostream>
#include <utility>

#include "nodeboot/kube/errors.hpp"

namespace nodeboot::cli {

int dispatch(const Command& command, std::string path, std::span<const std::string> args, Io& io) {
  if (command.commands) {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
      command.help(io.out);
      return args.empty() ? exit_usage : exit_ok;
    }
    for (const auto& c : command.commands())
      if (c.name == args[0]) return dispatch(c, std::move(path.append(" ").append(args[0])), args.subspan(1), io);
    io.err << "error: unknown command \"" << args[0] << "\" for \"" << path << "\"\n"
           << "Run '" << path << " --help' for usage.\n";
    return exit_usage;
  }
  Result<int> done = exit_ok;
  try {
    const auto options = command.flags();
    auto parsed = options.parse(args);
    if (!parsed) done = fail(parsed.error());
    if (done && parsed->count("help")) {
      io.out << options.help();
      return exit_ok;
    }
    if (done && !parsed->unmatched().empty())  // a command that takes arguments names them positional
      done = fail(ErrorKind::invalid_input, path + " takes no arguments (got \"" + parsed->unmatched().front() + "\")");
    if (done) done = command.run(*parsed, io);
  } catch (const std::exception& e) {  // the application edge: library code returns Results
    done = fail(ErrorKind::internal, e.what());
  }
  if (done) return *done;
  io.err << "error: " << kube::kubectl_message(done.error()) << '\n';
  if (done.error().kind != ErrorKind::invalid_input) return exit_error;
  io.err << "See '" << path << " --help' for usage.\n";
  return exit_usage;
}

void list_commands(std::ostream& out, std::span<const Command> commands) {
  for (const auto& c : commands) {
    if (c.name.starts_with("__")) continue;  // hidden
    out << "  " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ') << c.summary << '\n';
  }
}

void add_connection_flags(Flags& options) {
  // clang-format off
  options.add_options("Connection (as in kubectl)")
      ("kubeconfig", "Path to the kubeconfig file to use", value<std::string>())
      ("context", "The name of the kubeconfig context to use", value<std::string>())
      ("cluster", "The name of the kubeconfig cluster to use", value<std::string>())
      ("user", "The name of the kubeconfig user to use", value<std::string>())
      ("n,namespace", "If present, the namespace scope for this request", value<std::string>())
      ("s,server", "The address and port of the Kubernetes API server", value<std::string>())
      ("tls-server-name", "Server name to use for certificate validation (and SNI)", value<std::string>())
      ("insecure-skip-tls-verify", "Do not check the server's certificate (insecure)",
       value<bool>().implicit_value("true"))
      ("certificate-authority", "Path to a cert file for the certificate authority", value<std::string>())
      ("client-certificate", "Path to a client certificate file for TLS", value<std::string>())
      ("client-key", "Path to a client key file for TLS", value<std::string>())
      ("token", "Bearer token for authentication to the API server", value<std::string>())
      ("username", "Username for basic authentication to the API server", value<std::string>())
      ("password", "Password for basic authentication to the API server", value<std::string>())
      ("as", "Username to impersonate for the operation", value<std::string>())
      ("as-group", "Group to impersonate for the operation (repeat for several)", value<std::vector<std::string>>())
      ("as-uid", "UID to impersonate for the operation", value<std::string>())
      ("request-timeout", "How long to wait for a single server request: 0 (none), seconds, or 1m30s-style",
       value<std::string>())
      ("disable-compression", "Do not ask the server to compress responses", value<bool>().implicit_value("true"));
  // clang-format on
}

Result<void> check_output(std::string_view output, std::initializer_list<std::string_view> allowed) {
  if (output.empty()) return {};
  std::string list;
  std::size_t i = 0;
  for (const auto a : allowed) {
    if (a == output) return {};
    list += std::string(i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + std::string(a);
    ++i;
  }
  return fail(ErrorKind::invalid_input, "--output must be " + list + ", not \"" + std::string(output) + "\"");
}

std::string value(const Parsed& parsed, const std::string& name) {
  return parsed.count(name) ? parsed[name].as<std::string>() : std::string();
}

Result<kube::ConnectionFlags> connection_flags(const Parsed& parsed) {
  kube::ConnectionFlags f;
  if (parsed.count("request-timeout")) {
    auto t = kube::parse_timeout(parsed["request-timeout"].as<std::string>());
    if (!t) return fail(t.error());
    f.request_timeout = *t;
  }
  f.kubeconfig = value(parsed, "kubeconfig");
  f.context = value(parsed, "context");
  f.cluster = value(parsed, "cluster");
  f.user = value(parsed, "user");
  f.namespace_ = value(parsed, "namespace");
  f.server = value(parsed, "server");
  f.tls_server_name = value(parsed, "tls-server-name");
  if (parsed.count("insecure-skip-tls-verify")) f.insecure_skip_tls_verify = parsed["insecure-skip-tls-verify"].as<bool>();
  f.certificate_authority = value(parsed, "certificate-authority");
  f.client_certificate = value(parsed, "client-certificate");
  f.client_key = value(parsed, "client-key");
  if (parsed.count("token")) f.token = Secret(parsed["token"].as<std::string>());
  f.username = value(parsed, "username");
  if (parsed.count("password")) f.password = Secret(parsed["password"].as<std::string>());
  f.as = value(parsed, "as");
  if (parsed.count("as-group")) f.as_groups = parsed["as-group"].as<std::vector<std::string>>();
  f.as_uid = value(parsed, "as-uid");
  if (parsed.count("disable-compression")) f.disable_compression = parsed["disable-compression"].as<bool>();
  return f;
}

}  // namespace nodeboot::cli
