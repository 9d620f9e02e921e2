#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/cmd/version.hpp"

namespace nodeboot::plugin {

std::span<const CommandSpec> commands() {
  static const CommandSpec table[] = {
      {"version", "Print the client and server versions", cmd::version},
  };
  return table;
}

}  // namespace nodeboot::plugin
