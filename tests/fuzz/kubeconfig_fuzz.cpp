// Fuzz target: the kubeconfig parser and resolver (and, on the same bytes, the API Status
// decoder). Any input must give a value or an Error, never a crash, a sanitizer report or
// an exception. Built by the plain g++ driver (fuzz_driver.cpp) or by libFuzzer if a
// compiler that can build nodeboot offers it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kube/kubeconfig.hpp"
#include "nodeboot/kube/config.hpp"
#include "nodeboot/kube/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nodeboot::kube;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The defaults and a set of flags that change what resolution looks at.
  (void)parse_kubeconfig(text, "/fuzz/kubeconfig", {});
  ConnectionFlags flags;
  flags.context = "ctx";
  flags.cluster = "c";
  flags.user = "u";
  flags.namespace_ = "ns";
  flags.insecure_skip_tls_verify = true;
  flags.as = "someone";
  (void)parse_kubeconfig(text, "/fuzz/kubeconfig", flags);
  // KUBECONFIG merging: the same file twice (first definition wins), then resolved.
  auto once = detail::parse_kubeconfig_file(text, "/fuzz/a");
  if (once) {
    detail::Kubeconfig merged = *once;
    detail::merge_into(merged, std::move(*once));
    (void)detail::resolve(merged, {});
  }
  (void)api_error(422, text, text.substr(0, 8));
  return 0;
}
