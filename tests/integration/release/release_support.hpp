#pragma once
// What the release tests share: the release's output (NODEBOOT_DIST, fixture
// integration/release_build) and a private dockerd (tests/integration/release/dockerd.sh: its own data root, exec root,
// pid file and socket in a temporary directory, stopped and removed on destruction, and by a reaper if the test dies)
// with the release's image archives loaded into it.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <iostream>

#include "nodeboot/test/support.hpp"
#include "nodeboot/version.hpp"

namespace nodeboot::test {

inline std::filesystem::path release_dist() {
  const char* d = std::getenv("NODEBOOT_DIST");
  BOOST_REQUIRE_MESSAGE(d && *d, "NODEBOOT_DIST is not set: run through ctest (fixture release_dist)");
  return d;
}

inline std::string release_archive_name() {
  std::string v(nodeboot::version());
  return "kubectl-nodeboot_" + v.substr(0, v.find('+')) + "_linux_amd64.tar.gz";
}

class Docker {
 public:
  Docker() {
    nodeboot::ProcessOptions o;
    o.timeout = std::chrono::seconds(90);
    auto r = run({script().string(), "start", dir_.path().string(), std::to_string(::getpid())}, o);
    if (r.exit_code == 77) {
      // ctest's SKIP_REGULAR_EXPRESSION for these tests matches this line.
      skip_reason_ = r.err;
      std::cout << "SKIPPED: dockerd cannot run here: " << r.err << std::endl;
      return;
    }
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "dockerd.sh start: " << r.err);
    started_ = true;
  }
  ~Docker() {
    if (started_) run({script().string(), "stop", dir_.path().string()});
  }
  Docker(const Docker&) = delete;
  Docker& operator=(const Docker&) = delete;

  bool up() const { return started_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  nodeboot::ProcessResult operator()(std::vector<std::string> args,
                                     std::chrono::seconds timeout = std::chrono::seconds(120)) const {
    args.insert(args.begin(), "docker");
    nodeboot::ProcessOptions o;
    o.env_set["DOCKER_HOST"] = "unix://" + (dir_.path() / "docker.sock").string();
    o.timeout = timeout;
    return run(args, o);
  }

  // dist/NAME.oci.tar into the daemon as nodeboot-test/NAME:release (Docker 20.10 loads
  // docker-archive, not OCI archives: skopeo converts, keeping the layers' bytes).
  std::string load(const std::string& name) const {
    const std::string ref = "nodeboot-test/" + name + ":release";
    const auto archive = dir_.path() / (name + ".docker.tar");
    auto copy = run({"skopeo", "copy", "--quiet", "oci-archive:" + (release_dist() / (name + ".oci.tar")).string(),
                     "docker-archive:" + archive.string() + ":" + ref});
    BOOST_REQUIRE_MESSAGE(copy.exit_code == 0, "skopeo copy: " << copy.err);
    auto loaded = (*this)({"load", "--input", archive.string()});
    BOOST_REQUIRE_MESSAGE(loaded.exit_code == 0, "docker load: " << loaded.err);
    std::filesystem::remove(archive);
    return ref;
  }

 private:
  static std::filesystem::path script() { return source_dir() / "tests/integration/release/dockerd.sh"; }
  TempDir dir_;
  bool started_ = false;
  std::string skip_reason_;
};

}  // namespace nodeboot::test
