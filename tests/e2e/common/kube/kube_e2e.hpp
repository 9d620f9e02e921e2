#pragma once

// Helpers shared by the kube e2e suites: the cluster-admin Client, a namespace per test
// case, and unwrapping a Result with the API error as the failure message.
#include <boost/test/unit_test.hpp>

#include "nodeboot/kube/client.hpp"
#include "nodeboot/test/support.hpp"

namespace nodeboot::kube::e2e {

inline RestConfig admin_config() {
  ConnectionFlags f;
  f.kubeconfig = test::cluster().kubeconfig.string();
  auto cfg = resolve_config(f);
  BOOST_REQUIRE_MESSAGE(cfg.has_value(), (cfg ? "" : cfg.error().message));
  return std::move(*cfg);
}

// One Client for the whole test process, shared by every thread that needs it.
inline Client& admin() {
  static Client client(admin_config());
  return client;
}

template <typename T>
const T& ok(const Result<T>& r) {
  BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : kubectl_message(r.error())));
  return *r;
}

// A namespace per test case, deleted at the end.
struct TestNamespace {
  std::string name;
  explicit TestNamespace(const std::string& prefix) : name(test::unique_name(prefix)) {
    ok(admin().create(resources::namespaces, "", {{"metadata", {{"name", name}}}}));
  }
  ~TestNamespace() { (void)admin().remove(resources::namespaces, "", name); }
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;
};

}  // namespace nodeboot::kube::e2e
