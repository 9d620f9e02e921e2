#include "nodeboot/webhook/app.hpp"

#include <ostream>

#include <cxxopts.hpp>

#include "nodeboot/kube/flags.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::webhook {

int main(std::vector<std::string> argv, std::ostream& out, std::ostream& err) {
  cxxopts::Options options("nodeboot-webhook",
                           "Admission webhook for marooned pods and bootstrap Secrets, and the gate-release controller.");
  options.add_options()
      ("cert-dir", "Directory holding tls.crt and tls.key (reloaded when they change)",
       cxxopts::value<std::string>()->default_value("/etc/nodeboot/tls"))
      ("port", "HTTPS port to serve on", cxxopts::value<int>()->default_value("9443"))
      ("version", "Print the version and exit")
      ("h,help", "Show this help");
  kube::add_connection_flags(options);
  std::vector<const char*> cargv;
  for (auto& a : argv) cargv.push_back(a.c_str());
  cxxopts::ParseResult parsed;
  try {
    parsed = options.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    err << "error: " << e.what() << "\nRun 'nodeboot-webhook --help' for usage.\n";
    return 2;
  }
  if (parsed.count("help")) {
    out << options.help();
    return 0;
  }
  if (parsed.count("version")) {
    out << "nodeboot-webhook " << version() << '\n';
    return 0;
  }
  err << "error: the admission server is not implemented yet\n";
  return 1;
}

}  // namespace nodeboot::webhook
