#include "nodeboot/plugin/cmd/version.hpp"

#include <ostream>

#include <nlohmann/json.hpp>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/kube/errors.hpp"
#include "nodeboot/util/yaml.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::plugin::cmd {
namespace {

struct Options {
  std::string output{};
  bool client_only = false;
  kube::ConnectionFlags connection{};

  Result<void> complete(const cli::Parsed& parsed) {
    output = cli::value(parsed, "output");
    client_only = parsed.count("client") > 0;
    auto c = cli::connection_flags(parsed);
    if (!c) return fail(c.error());
    connection = std::move(*c);
    return {};
  }

  Result<void> validate() const { return cli::check_output(output, {"json", "yaml"}); }

  Result<int> run(Io& io) const {
    nlohmann::json doc{{"clientVersion", {{"gitVersion", std::string(nodeboot::version())}}}};
    int rc = exit_ok;
    if (!client_only) {
      auto cfg = kube::resolve_config(connection);
      if (!cfg) return fail(cfg.error());
      kube::Client client(std::move(*cfg));
      auto server = client.get_json("/version");
      if (server) {
        doc["serverVersion"] = *server;
      } else {  // the client version is still printed, as kubectl does
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
};

}  // namespace

cli::Flags version_flags() {
  cli::Flags options("kubectl nodeboot version", "Print the client version and the API server's version.");
  options.add_options()("client", "Print the client version only")("o,output", "Output format: json or yaml",
                                                                   cli::value<std::string>())("h,help", "Show help");
  cli::add_connection_flags(options);
  return options;
}

Result<int> version(const cli::Parsed& parsed, Io& io) { return cli::run_options<Options>(parsed, io); }

}  // namespace nodeboot::plugin::cmd
