#pragma once
// The install bundle `kubectl nodeboot install` prints or applies: the one-file install of
// this build's exact images (manifests/ rendered by packaging/images/render-install.sh and
// compiled in by plugin/CMakeLists.txt; a release build embeds the digests scripts/release.sh
// computed). Pure functions over its text: no argv, no network.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nodeboot/kube/request.hpp"
#include "nodeboot/util/result.hpp"

namespace nodeboot::plugin::install {

enum class Certs { self_managed, cert_manager };

// The embedded bundle for a certificate mode, and the image set it was rendered with.
std::string_view embedded_bundle(Certs certs);
std::string_view embedded_images();

// The image set file (release.sh's images.txt): "registry PREFIX", "version V", "NAME DIGEST".
struct ImageSet {
  std::string registry{};
  std::string version{};
  std::map<std::string, std::string> digests{};  // nodeboot-webhook → sha256:..., empty in a development build
};
ImageSet parse_image_set(std::string_view text);

// --image-registry: lower-case host[:port][/path], no scheme, tag, digest or trailing slash.
Result<void> check_registry(std::string_view prefix);

// The bundle with every `image: FROM/...` line pointing at TO/... instead (the digests stay:
// they name the content, wherever it was copied).
std::string with_registry(std::string_view bundle, std::string_view from, std::string_view to);

// One document of the bundle: what the API needs to route it, and its YAML verbatim (the
// server-side apply body).
struct Object {
  std::string api_version{};
  std::string kind{};
  std::string name{};
  std::string ns{};  // "" for cluster-scoped objects
  std::string yaml{};
};
Result<std::vector<Object>> split_objects(std::string_view bundle);

// Where an object of the bundle lives in the API (its kind is one the bundle carries).
Result<kube::ResourceRef> resource_for(const Object& object);

// kubectl's spelling: "deployment.apps/nodeboot-webhook", "namespace/nodeboot-system".
std::string display_name(const Object& object);

}  // namespace nodeboot::plugin::install
