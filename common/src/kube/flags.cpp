#include "nodeboot/kube/flags.hpp"

namespace nodeboot::kube {

void add_connection_flags(cxxopts::Options& options) {
  options.add_options("Connection (as in kubectl)")
      ("kubeconfig", "Path to the kubeconfig file to use", cxxopts::value<std::string>())
      ("context", "The name of the kubeconfig context to use", cxxopts::value<std::string>())
      ("s,server", "The address and port of the Kubernetes API server", cxxopts::value<std::string>())
      ("n,namespace", "If present, the namespace scope for this request", cxxopts::value<std::string>())
      ("request-timeout", "Seconds to wait before giving up on a single server request (0 = none)",
       cxxopts::value<int>());
}

ConnectionFlags connection_flags(const cxxopts::ParseResult& parsed) {
  ConnectionFlags f;
  if (parsed.count("kubeconfig")) f.kubeconfig = parsed["kubeconfig"].as<std::string>();
  if (parsed.count("context")) f.context = parsed["context"].as<std::string>();
  if (parsed.count("server")) f.server = parsed["server"].as<std::string>();
  if (parsed.count("namespace")) f.namespace_ = parsed["namespace"].as<std::string>();
  if (parsed.count("request-timeout")) f.request_timeout = std::chrono::seconds(parsed["request-timeout"].as<int>());
  return f;
}

}  // namespace nodeboot::kube
