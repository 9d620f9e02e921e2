#include "nodeboot/plugin/install/bundle.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>
#include <sstream>

namespace nodeboot::plugin::install {

ImageSet parse_image_set(std::string_view text) {
  ImageSet set;
  std::istringstream in{std::string(text)};
  for (std::string key, value; in >> key >> value;) {
    if (key == "registry")
      set.registry = value;
    else if (key == "version")
      set.version = value;
    else
      set.digests[key] = value;
  }
  return set;
}

Result<void> check_registry(std::string_view prefix) {
  // The reference grammar of the distribution spec, less tag and digest: a domain with an
  // optional port, then lower-case path components.
  static const std::regex grammar(R"([a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)");
  if (std::regex_match(std::string(prefix), grammar)) return {};
  std::string why = "it is not a registry prefix";
  if (prefix.empty())
    why = "it is empty";
  else if (prefix.find("://") != std::string_view::npos)
    why = "drop the scheme";
  else if (prefix.find('@') != std::string_view::npos)
    why = "drop the digest (the bundle names each image by its own)";
  else if (prefix.ends_with("/"))
    why = "drop the trailing slash";
  else if (std::any_of(prefix.begin(), prefix.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    why = "registry paths are lower case";
  return fail(ErrorKind::invalid_input,
              "--image-registry \"" + std::string(prefix) + "\": " + why +
                  "; give host[:port][/path], e.g. ghcr.io/acme or registry.local:5000/nodeboot");
}

std::string with_registry(std::string_view bundle, std::string_view from, std::string_view to) {
  const std::string needle = "image: " + std::string(from) + "/";
  const std::string replacement = "image: " + std::string(to) + "/";
  std::string out(bundle);
  for (auto at = out.find(needle); at != std::string::npos; at = out.find(needle, at + replacement.size()))
    out.replace(at, needle.size(), replacement);
  return out;
}

Result<std::vector<Object>> split_objects(std::string_view bundle) {
  std::vector<Object> objects;
  std::string doc;
  auto flush = [&]() -> Result<void> {
    if (doc.find_first_not_of(" \n") == std::string::npos) {
      doc.clear();
      return {};
    }
    YAML::Node n;
    try {
      n = YAML::Load(doc);
    } catch (const YAML::Exception& e) {
      return fail(ErrorKind::internal, "the embedded install bundle does not parse: " + std::string(e.what()));
    }
    auto text = [&](const YAML::Node& v) { return v && v.IsScalar() ? v.Scalar() : std::string(); };
    Object o{text(n["apiVersion"]), text(n["kind"]), text(n["metadata"]["name"]), text(n["metadata"]["namespace"]),
             doc};
    if (o.api_version.empty() || o.kind.empty() || o.name.empty())
      return fail(ErrorKind::internal, "the embedded install bundle has an object without apiVersion, kind or name");
    objects.push_back(std::move(o));
    doc.clear();
    return {};
  };
  std::istringstream in{std::string(bundle)};
  for (std::string line; std::getline(in, line);) {
    if (line == "---") {
      if (auto r = flush(); !r) return std::unexpected(r.error());
      continue;
    }
    doc += line + "\n";
  }
  if (auto r = flush(); !r) return std::unexpected(r.error());
  return objects;
}

Result<kube::ResourceRef> resource_for(const Object& object) {
  // The kinds the bundle carries (a unit test checks both embedded bundles against this).
  struct Kind {
    std::string_view kind, plural;
    bool namespaced;
  };
  static constexpr Kind kinds[] = {
      {"Namespace", "namespaces", false},
      {"CustomResourceDefinition", "customresourcedefinitions", false},
      {"ServiceAccount", "serviceaccounts", true},
      {"ClusterRole", "clusterroles", false},
      {"ClusterRoleBinding", "clusterrolebindings", false},
      {"Role", "roles", true},
      {"RoleBinding", "rolebindings", true},
      {"Service", "services", true},
      {"Deployment", "deployments", true},
      {"DaemonSet", "daemonsets", true},
      {"PodDisruptionBudget", "poddisruptionbudgets", true},
      {"NetworkPolicy", "networkpolicies", true},
      {"MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false},
      {"ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false},
      {"ValidatingAdmissionPolicy", "validatingadmissionpolicies", false},
      {"ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", false},
      {"Issuer", "issuers", true},
      {"Certificate", "certificates", true},
  };
  const auto* k =
      std::find_if(std::begin(kinds), std::end(kinds), [&](const Kind& c) { return c.kind == object.kind; });
  if (k == std::end(kinds))
    return fail(ErrorKind::internal, "the install bundle carries an unknown kind " + object.kind);
  if (k->namespaced == object.ns.empty())
    return fail(ErrorKind::internal, display_name(object) + (k->namespaced ? " has no namespace"
                                                                           : " is cluster-scoped but has a namespace"));
  const auto slash = object.api_version.find('/');
  kube::ResourceRef ref;
  ref.group = slash == std::string::npos ? "" : object.api_version.substr(0, slash);
  ref.version = slash == std::string::npos ? object.api_version : object.api_version.substr(slash + 1);
  ref.resource = std::string(k->plural);
  ref.namespaced = k->namespaced;
  ref.kind = object.kind;
  return ref;
}

std::string display_name(const Object& object) {
  std::string kind = object.kind;
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto slash = object.api_version.find('/');
  if (slash != std::string::npos) kind += "." + object.api_version.substr(0, slash);
  return kind + "/" + object.name;
}

}  // namespace nodeboot::plugin::install
