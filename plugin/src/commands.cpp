#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/cmd/marooned.hpp"
#include "nodeboot/plugin/cmd/version.hpp"

namespace nodeboot::plugin {

std::span<const CommandSpec> commands() {
  static const CommandSpec table[] = {
      {"marooned", "Marooned pods: list, join-info, vmi", cmd::marooned},
      {"version", "Print the client and server versions", cmd::version},
  };
  return table;
}

}  // namespace nodeboot::plugin
