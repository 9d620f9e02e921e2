#pragma once

// Identities the e2e suites act as, beside the cluster admin: a node's kubelet and a
// pod-bound ServiceAccount token.
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "nodeboot/test/support.hpp"

namespace nodeboot::test {

// The kubelet identity of `node` (system:node:<node>, group system:nodes, signed by the test
// cluster's CA; the Node authorizer and NodeRestriction treat it as a real kubelet's),
// written into `dir` as <node>.crt, <node>.key and <node>.kubeconfig. The kubeconfig names
// the certificate and key as `files_as`/<node>.{crt,key} ("" = `dir`): a host path when `dir`
// stands for a directory of a node's /. Returns the kubeconfig's path.
inline std::filesystem::path kubelet_kubeconfig(const std::filesystem::path& dir, const std::string& node,
                                                const std::string& files_as = "") {
  std::filesystem::create_directories(dir);
  const auto base = (dir / node).string();
  const auto pki = cluster().state_dir / "pki";
  auto req = run({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                  "/O=system:nodes/CN=system:node:" + node, "-keyout", base + ".key", "-out", base + ".csr"});
  BOOST_REQUIRE_MESSAGE(req.exit_code == 0, req.err);
  auto sign = run({"openssl", "x509", "-req", "-in", base + ".csr", "-CA", (pki / "ca.crt").string(), "-CAkey",
                   (pki / "ca.key").string(), "-set_serial", std::to_string(std::hash<std::string>{}(node) >> 1),
                   "-days", "1", "-out", base + ".crt"});
  BOOST_REQUIRE_MESSAGE(sign.exit_code == 0, sign.err);
  const auto c = nlohmann::json::parse(cluster().kubectl_ok({"config", "view", "--raw", "--minify", "-o", "json"}));
  const auto& server = c["clusters"][0]["cluster"];
  const std::string named = (files_as.empty() ? dir.string() : files_as) + "/" + node;
  const auto path = dir / (node + ".kubeconfig");
  std::ofstream(path) << "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: "
                      << server["server"].get<std::string>()
                      << "\n    certificate-authority-data: " << server["certificate-authority-data"].get<std::string>()
                      << "\nusers:\n- name: kubelet\n  user:\n    client-certificate: " << named
                      << ".crt\n    client-key: " << named
                      << ".key\ncontexts:\n- name: c\n  context: {cluster: c, user: kubelet}\ncurrent-context: c\n";
  return path;
}

// A kubeconfig (JSON text) for ServiceAccount `account` of `ns` with a token bound to pod
// `pod` of `ns` (TokenRequest boundObjectRef kind Pod, as the kubelet mounts them): it carries
// the pod's node in user extra authentication.kubernetes.io/node-name and dies with the pod.
inline std::string pod_bound_kubeconfig(const std::string& ns, const std::string& account, const std::string& pod) {
  auto kc = nlohmann::json::parse(cluster().service_account_kubeconfig(ns, account));
  std::string token = cluster().kubectl_ok(
      {"create", "token", account, "-n", ns, "--bound-object-kind", "Pod", "--bound-object-name", pod});
  token.erase(token.find_last_not_of('\n') + 1);
  kc["users"][0]["user"]["token"] = token;
  return kc.dump();
}

}  // namespace nodeboot::test
