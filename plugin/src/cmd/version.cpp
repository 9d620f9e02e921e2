#include "nodeboot/plugin/cmd/version.hpp"

#include <ostream>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/flags.hpp"
#include "nodeboot/util/yaml.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::plugin::cmd {

int version(std::vector<std::string> args, Io& io) {
  cxxopts::Options options("kubectl nodeboot version", "Print the client version and the API server's version.");
  options.add_options()("client", "Print the client version only")(
      "o,output", "Output format: json or yaml", cxxopts::value<std::string>())("h,help", "Show help");
  kube::add_connection_flags(options);
  std::vector<const char*> cargv{"version"};
  for (auto& a : args) cargv.push_back(a.c_str());
  cxxopts::ParseResult parsed;
  try {
    parsed = options.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const cxxopts::exceptions::exception& e) {
    io.err << "error: " << e.what() << "\nSee 'kubectl nodeboot version --help' for usage.\n";
    return exit_usage;
  }
  if (parsed.count("help")) {
    io.out << options.help();
    return exit_ok;
  }
  std::string output = parsed.count("output") ? parsed["output"].as<std::string>() : "";
  if (!output.empty() && output != "json" && output != "yaml") {
    io.err << "error: --output must be json or yaml, not \"" << output << "\"\n";
    return exit_usage;
  }

  nlohmann::json doc{{"clientVersion", {{"gitVersion", std::string(nodeboot::version())}}}};
  int rc = exit_ok;
  if (!parsed.count("client")) {
    auto flags = kube::parse_connection_flags(parsed);
    if (!flags) {
      io.err << "error: " << flags.error().message << '\n';
      return exit_usage;
    }
    auto cfg = kube::resolve_config(*flags);
    if (!cfg) {
      io.err << "error: " << cfg.error().message << '\n';
      return exit_error;
    }
    kube::Client client(std::move(*cfg));
    auto server = client.get_json("/version");
    if (server) {
      doc["serverVersion"] = *server;
    } else {
      io.err << "error: reading the server version from " << client.config().server << ": "
             << kube::kubectl_message(server.error()) << '\n';
      rc = exit_error;
    }
  }
  if (output == "json") {
    io.out << doc.dump(2) << '\n';
  } else if (output == "yaml") {
    io.out << to_yaml(doc);
  } else {
    io.out << "Client Version: " << doc["clientVersion"]["gitVersion"].get<std::string>() << '\n';
    if (doc.contains("serverVersion"))
      io.out << "Server Version: " << doc["serverVersion"].value("gitVersion", "") << '\n';
  }
  return rc;
}

}  // namespace nodeboot::plugin::cmd
