#include "nodeboot/kube/flags.hpp"

namespace nodeboot::kube {

void add_connection_flags(cxxopts::Options& options) {
  using cxxopts::value;
  options.add_options("Connection (as in kubectl)")
      ("kubeconfig", "Path to the kubeconfig file to use", value<std::string>())
      ("context", "The name of the kubeconfig context to use", value<std::string>())
      ("cluster", "The name of the kubeconfig cluster to use", value<std::string>())
      ("user", "The name of the kubeconfig user to use", value<std::string>())
      ("n,namespace", "If present, the namespace scope for this request", value<std::string>())
      ("s,server", "The address and port of the Kubernetes API server", value<std::string>())
      ("tls-server-name", "Server name to use for certificate validation (and SNI)", value<std::string>())
      ("insecure-skip-tls-verify", "Do not check the server's certificate (insecure)",
       value<bool>()->implicit_value("true"))
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
      ("disable-compression", "Do not ask the server to compress responses", value<bool>()->implicit_value("true"));
}

namespace {
std::string str(const cxxopts::ParseResult& parsed, const char* name) {
  return parsed.count(name) ? parsed[name].as<std::string>() : std::string();
}

// Everything but --request-timeout, which needs validating.
ConnectionFlags flags_without_timeout(const cxxopts::ParseResult& parsed) {
  ConnectionFlags f;
  f.kubeconfig = str(parsed, "kubeconfig");
  f.context = str(parsed, "context");
  f.cluster = str(parsed, "cluster");
  f.user = str(parsed, "user");
  f.namespace_ = str(parsed, "namespace");
  f.server = str(parsed, "server");
  f.tls_server_name = str(parsed, "tls-server-name");
  if (parsed.count("insecure-skip-tls-verify")) f.insecure_skip_tls_verify = parsed["insecure-skip-tls-verify"].as<bool>();
  f.certificate_authority = str(parsed, "certificate-authority");
  f.client_certificate = str(parsed, "client-certificate");
  f.client_key = str(parsed, "client-key");
  if (parsed.count("token")) f.token = Secret(parsed["token"].as<std::string>());
  f.username = str(parsed, "username");
  if (parsed.count("password")) f.password = Secret(parsed["password"].as<std::string>());
  f.as = str(parsed, "as");
  if (parsed.count("as-group")) f.as_groups = parsed["as-group"].as<std::vector<std::string>>();
  f.as_uid = str(parsed, "as-uid");
  if (parsed.count("disable-compression")) f.disable_compression = parsed["disable-compression"].as<bool>();
  return f;
}

}  // namespace

Result<ConnectionFlags> parse_connection_flags(const cxxopts::ParseResult& parsed) {
  ConnectionFlags f = flags_without_timeout(parsed);
  if (parsed.count("request-timeout")) {
    auto t = parse_timeout(parsed["request-timeout"].as<std::string>());
    if (!t) return std::unexpected(t.error());
    f.request_timeout = *t;
  }
  return f;
}

ConnectionFlags connection_flags(const cxxopts::ParseResult& parsed) {
  auto f = parse_connection_flags(parsed);
  return f ? std::move(*f) : flags_without_timeout(parsed);
}

}  // namespace nodeboot::kube
