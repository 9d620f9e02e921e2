// nodeboot-kube-probe: the nodeboot side of the differential suite (kube_differential_test).
// Takes kubectl's connection flags, resolves them with kube::resolve_config and asks the
// API server who it is (a SelfSubjectReview, what `kubectl auth whoami` sends). Prints
// {"server", "namespace", "username", "groups"} as JSON; "error: ..." on stderr and exit 1 otherwise.
// A separate program so it runs under exactly the environment (and mount namespace, for
// in-cluster situations) that kubectl runs under.
#include <iostream>

#include <nlohmann/json.hpp>

#include "nodeboot/cli/command.hpp"
#include "nodeboot/kube/client.hpp"

using namespace nodeboot;

int main(int argc, char** argv) {
  cli::Flags options("nodeboot-kube-probe", "Resolve kubectl's connection flags and ask who we are");
  cli::add_connection_flags(options);
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = options.parse(args);
  if (!parsed) {
    std::cerr << "error: " << parsed.error().message << '\n';
    return 2;
  }
  auto flags = cli::connection_flags(*parsed);
  if (!flags) {
    std::cerr << "error: " << flags.error().message << '\n';
    return 2;
  }
  auto cfg = kube::resolve_config(*flags);
  if (!cfg) {
    std::cerr << "error: " << cfg.error().message << '\n';
    return 1;
  }
  kube::Client client(std::move(*cfg));
  nlohmann::json out = {{"server", client.config().server}, {"namespace", client.default_namespace()}};
  auto review = client.create(kube::resources::selfsubjectreviews, "",
                              {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  if (!review) {
    std::cerr << "error: " << kube::kubectl_message(review.error()) << '\n';
    return 1;
  }
  const auto& info = (*review)["status"]["userInfo"];
  out["username"] = info.value("username", "");
  out["groups"] = info.value("groups", nlohmann::json::array());
  std::cout << out.dump() << '\n';
  return 0;
}
