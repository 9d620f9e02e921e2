// kubectl nodeboot install's pure parts: the compiled-in bundle (both certificate modes), the
// image set, --image-registry, object routing and the server-side apply request; the flag
// errors through the command's edge.
#include <yaml-cpp/yaml.h>

#include <boost/test/unit_test.hpp>
#include <set>
#include <sstream>

#include "nodeboot/plugin/app.hpp"
#include "nodeboot/plugin/install/apply.hpp"
#include "nodeboot/plugin/install/bundle.hpp"
#include "nodeboot/version.hpp"

using namespace nodeboot::plugin::install;

namespace {

struct Run {
  int code;
  std::string out, err;
};
Run run_install(std::vector<std::string> args) {
  std::ostringstream out, err;
  nodeboot::plugin::Io io{out, err};
  args.insert(args.begin(), {"kubectl-nodeboot", "install"});
  int code = nodeboot::plugin::main(args, io);
  return {code, out.str(), err.str()};
}

std::vector<std::string> images_of(std::string_view bundle) {
  std::vector<std::string> images;
  for (const auto& doc : YAML::LoadAll(std::string(bundle))) {
    if (!doc["spec"] || !doc["spec"]["template"]) continue;  // only workloads have a pod template
    for (const auto& c : doc["spec"]["template"]["spec"]["containers"]) images.push_back(c["image"].as<std::string>());
  }
  return images;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(install_bundle)

BOOST_AUTO_TEST_CASE(image_set_reads_registry_version_and_digests) {
  auto s =
      parse_image_set("registry ghcr.io/acme\nversion 0.1.0\nnodeboot-webhook sha256:aa\nnodeboot-agent sha256:bb\n");
  BOOST_TEST(s.registry == "ghcr.io/acme");
  BOOST_TEST(s.version == "0.1.0");
  BOOST_TEST(s.digests.at("nodeboot-webhook") == "sha256:aa");
  BOOST_TEST(s.digests.at("nodeboot-agent") == "sha256:bb");
  BOOST_TEST(parse_image_set("registry r\nversion 1\n").digests.empty());
}

BOOST_AUTO_TEST_CASE(embedded_image_set_is_this_version) {
  const auto s = parse_image_set(embedded_images());
  std::string v(nodeboot::version());
  BOOST_TEST(s.version == v.substr(0, v.find('+')));
  BOOST_TEST(check_registry(s.registry).has_value());
}

BOOST_AUTO_TEST_CASE(registry_prefix_accepts_hosts_ports_and_paths) {
  for (const char* ok :
       {"ghcr.io/acme", "registry.local:5000/nodeboot", "localhost", "nodeboot.invalid", "a.b/c/d-e_f"})
    BOOST_TEST(check_registry(ok).has_value(), ok);
}

BOOST_AUTO_TEST_CASE(registry_prefix_refusals_name_the_flag_and_the_fix) {
  const std::pair<const char*, const char*> cases[] = {
      {"https://ghcr.io/acme", "drop the scheme"},
      {"ghcr.io/acme/", "trailing slash"},
      {"ghcr.io/Acme", "lower case"},
      {"ghcr.io/acme@sha256:00", "drop the digest"},
      {"", "empty"},
      {"ghcr.io/acme:v1/x y", "not a registry prefix"},
  };
  for (const auto& [bad, why] : cases) {
    auto r = check_registry(bad);
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().message.starts_with("--image-registry \"" + std::string(bad) + "\""), r.error().message);
    BOOST_TEST(r.error().message.find(why) != std::string::npos, r.error().message);
    BOOST_TEST(r.error().message.find("e.g. ghcr.io/acme") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(with_registry_moves_only_image_lines_and_keeps_digests) {
  const std::string text =
      "metadata:\n  annotations: {note: old.example/nodeboot-webhook}\nspec:\n  containers:\n"
      "    - image: old.example/nodeboot-webhook@sha256:aa\n    - image: old.example/nodeboot-agent@sha256:bb\n";
  const auto moved = with_registry(text, "old.example", "registry.local:5000/mirror");
  BOOST_TEST(moved.find("image: registry.local:5000/mirror/nodeboot-webhook@sha256:aa") != std::string::npos);
  BOOST_TEST(moved.find("image: registry.local:5000/mirror/nodeboot-agent@sha256:bb") != std::string::npos);
  BOOST_TEST(moved.find("note: old.example/nodeboot-webhook") != std::string::npos);
  BOOST_TEST(moved.find("image: old.example") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(both_bundles_route_every_object_and_carry_no_secret) {
  for (auto certs : {Certs::self_managed, Certs::cert_manager}) {
    auto objects = split_objects(embedded_bundle(certs));
    BOOST_REQUIRE(objects.has_value());
    BOOST_TEST(objects->size() > 30u);
    std::set<std::string> kinds;
    for (const auto& o : *objects) {
      auto ref = resource_for(o);
      BOOST_TEST(ref.has_value(), o.kind << "/" << o.name << ": " << (ref ? "" : ref.error().message));
      if (ref) BOOST_TEST(ref->api_version() == o.api_version);
      kinds.insert(o.kind);
    }
    BOOST_TEST(!kinds.contains("Secret"));  // nothing to print that could hold a secret value
    BOOST_TEST(kinds.contains("Certificate") == (certs == Certs::cert_manager));
    BOOST_TEST(objects->front().kind == "Namespace");  // namespaces first, webhooks last
    BOOST_TEST(objects->back().kind.ends_with("WebhookConfiguration"));
  }
}

BOOST_AUTO_TEST_CASE(bundle_runs_the_gate_controller_from_the_release_images) {
  const auto images = parse_image_set(embedded_images());
  for (auto certs : {Certs::self_managed, Certs::cert_manager}) {
    const auto bundle = embedded_bundle(certs);
    for (const auto& doc : YAML::LoadAll(std::string(bundle))) {
      if (doc["kind"].as<std::string>() != "Deployment") continue;
      std::set<std::string> args;
      for (const auto& a : doc["spec"]["template"]["spec"]["containers"][0]["args"]) args.insert(a.as<std::string>());
      BOOST_TEST(args.contains("--enable-gate-controller"));
      BOOST_TEST(args.contains("--enable-completion-controller"));
    }
    const auto found = images_of(bundle);
    BOOST_TEST(found.size() == 2u);
    for (const auto& image : found) {
      const auto name = image.substr(images.registry.size() + 1, image.find_first_of("@:", images.registry.size() + 1) -
                                                                     images.registry.size() - 1);
      BOOST_TEST(image.starts_with(images.registry + "/"), image);
      if (images.digests.empty())
        BOOST_TEST(image.ends_with(":" + images.version), image);  // a development build
      else
        BOOST_TEST(image.ends_with("@" + images.digests.at(name)), image);
    }
  }
}

BOOST_AUTO_TEST_CASE(objects_keep_their_yaml_and_kubectl_names) {
  auto objects = split_objects(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: a\n");
  BOOST_REQUIRE(objects.has_value());
  BOOST_REQUIRE(objects->size() == 2u);
  BOOST_TEST(display_name((*objects)[0]) == "namespace/a");
  BOOST_TEST(display_name((*objects)[1]) == "deployment.apps/d");
  BOOST_TEST((*objects)[1].ns == "a");
  BOOST_TEST((*objects)[1].yaml == "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: a\n");
  Object cluster_scoped_with_ns{"apps/v1", "Deployment", "d", "", ""};
  BOOST_TEST(!resource_for(cluster_scoped_with_ns).has_value());
  BOOST_TEST(!resource_for(Object{"v1", "Pod", "p", "a", ""}).has_value());
}

BOOST_AUTO_TEST_CASE(apply_request_is_a_forced_server_side_apply_of_the_yaml) {
  const Object o{"apps/v1", "Deployment", "nodeboot-webhook", "nodeboot-system", "kind: Deployment\n"};
  auto dry = apply_request(o, true);
  BOOST_REQUIRE(dry.has_value());
  BOOST_TEST(dry->method == "PATCH");
  BOOST_TEST(dry->path == "/apis/apps/v1/namespaces/nodeboot-system/deployments/nodeboot-webhook");
  BOOST_TEST(dry->body == "kind: Deployment\n");
  const auto has = [](const nodeboot::kube::Pairs& p, const std::string& k, const std::string& v) {
    return std::find(p.begin(), p.end(), std::pair{k, v}) != p.end();
  };
  BOOST_TEST(has(dry->query, "dryRun", "All"));
  BOOST_TEST(has(dry->query, "fieldManager", std::string(field_manager)));
  BOOST_TEST(has(dry->query, "force", "true"));
  BOOST_TEST(has(dry->headers, "Content-Type", "application/apply-patch+yaml"));
  auto real = apply_request(o, false);
  BOOST_REQUIRE(real.has_value());
  BOOST_TEST(!has(real->query, "dryRun", "All"));
}

BOOST_AUTO_TEST_CASE(print_is_the_embedded_bundle_and_bad_flags_name_the_fix) {
  auto printed = run_install({"-o", "yaml"});
  BOOST_TEST(printed.code == 0);
  BOOST_TEST(printed.out == std::string(embedded_bundle(Certs::self_managed)));
  auto moved = run_install({"-o", "yaml", "--certs", "cert-manager", "--image-registry", "registry.local:5000/m"});
  BOOST_TEST(moved.code == 0);
  for (const auto& image : images_of(moved.out)) BOOST_TEST(image.starts_with("registry.local:5000/m/"), image);
  auto listed = run_install({"--dry-run=client"});
  BOOST_TEST(listed.code == 0);
  BOOST_TEST(listed.out.find("deployment.apps/nodeboot-webhook (dry run)\n") != std::string::npos, listed.out);

  const std::pair<std::vector<std::string>, const char*> bad[] = {
      {{"--certs", "vault"}, "--certs must be self-managed or cert-manager"},
      {{"--dry-run=maybe"}, "--dry-run must be none, client or server"},
      {{"-o", "json"}, "--output must be yaml"},
      {{"--image-registry", "HTTPS://x"}, "--image-registry \"HTTPS://x\""},
      {{"--wait", "--dry-run=server"}, "--wait waits for a real install"},
      {{"--timeout", "soon"}, "--timeout"},
      {{"extra"}, "install takes no arguments"},
  };
  for (const auto& [args, message] : bad) {
    auto r = run_install(args);
    BOOST_TEST(r.code == 2, args.front());
    BOOST_TEST(r.err.find(message) != std::string::npos, r.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()
