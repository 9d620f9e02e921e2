// The podman commands that take machine-config-daemon out of an image, as values: what
// runs on the host is exactly this, and the pull secret appears only as a path.
#include <boost/test/unit_test.hpp>

#include "nodeboot/agent/mcd.hpp"

using namespace nodeboot;
using nodeboot::agent::McdOptions;

namespace {

const std::string pullspec =
    "quay.io/openshift-release-dev/"
    "ocp-v4.0-art-dev@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

McdOptions production() {
  McdOptions o;
  auto ref = bootstrap::parse_digest_ref(pullspec);
  BOOST_REQUIRE(ref.has_value());
  o.image = *ref;
  return o;
}

using Argv = std::vector<std::string>;
const Argv nsenter{"nsenter", "-t", "1", "-m", "-u", "-i", "-n", "-p", "--"};

Argv with_prefix(const Argv& prefix, const Argv& rest) {
  Argv out = prefix;
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mcd_commands)

BOOST_AUTO_TEST_CASE(production_runs_the_hosts_podman_with_the_kubelets_pull_secret) {
  const auto c = agent::mcd_commands(production(), true);
  BOOST_TEST(c.pull == with_prefix(nsenter, {"podman", "pull", "--quiet", "--authfile", "/var/lib/kubelet/config.json",
                                             pullspec}),
             boost::test_tools::per_element());
  BOOST_TEST(c.remove == with_prefix(nsenter, {"podman", "rm", "--force", "--ignore", "nodeboot-mcd-extract"}),
             boost::test_tools::per_element());
  BOOST_TEST(c.create == with_prefix(nsenter, {"podman", "create", "--pull=never", "--name", "nodeboot-mcd-extract",
                                               pullspec, "/usr/bin/machine-config-daemon"}),
             boost::test_tools::per_element());
  BOOST_TEST(c.copy == with_prefix(nsenter, {"podman", "cp", "nodeboot-mcd-extract:/usr/bin/machine-config-daemon",
                                             "/var/lib/nodeboot/bin/.machine-config-daemon.nodeboot-tmp"}),
             boost::test_tools::per_element());
  BOOST_TEST(agent::mcd_staging_path(production()) == "/var/lib/nodeboot/bin/.machine-config-daemon.nodeboot-tmp");
}

BOOST_AUTO_TEST_CASE(without_a_pull_secret_no_authfile_is_named) {
  const auto c = agent::mcd_commands(production(), false);
  BOOST_TEST(c.pull == with_prefix(nsenter, {"podman", "pull", "--quiet", pullspec}), boost::test_tools::per_element());
}

// Tests run podman beside the agent: no prefix, the host's / in a directory for both views,
// private storage through global options, the test registry's CA through --cert-dir.
BOOST_AUTO_TEST_CASE(host_paths_are_mapped_under_the_command_root) {
  auto o = production();
  o.host_prefix.clear();
  o.host_root = o.command_root = "/tmp/h";
  o.podman_global_args = {"--root", "/tmp/s"};
  o.cert_dir = "/etc/nodeboot/certs";
  const auto c = agent::mcd_commands(o, true);
  BOOST_TEST(
      c.pull == (Argv{"podman", "--root", "/tmp/s", "pull", "--quiet", "--authfile",
                      "/tmp/h/var/lib/kubelet/config.json", "--cert-dir", "/tmp/h/etc/nodeboot/certs", pullspec}),
      boost::test_tools::per_element());
  BOOST_TEST(c.copy.back() == "/tmp/h/var/lib/nodeboot/bin/.machine-config-daemon.nodeboot-tmp");
  BOOST_TEST(c.remove.front() == "podman");
}

BOOST_AUTO_TEST_CASE(reasons_are_stable_words) {
  BOOST_TEST(agent::reason(agent::McdFailure::pull_failed) == "McdPullFailed");
  BOOST_TEST(agent::reason(agent::McdFailure::pull_unauthorized) == "McdPullUnauthorized");
  BOOST_TEST(agent::reason(agent::McdFailure::not_in_image) == "McdNotInImage");
  BOOST_TEST(agent::reason(agent::McdFailure::not_executable) == "McdNotExecutable");
  BOOST_TEST(agent::reason(agent::McdFailure::podman_unavailable) == "McdPodmanUnavailable");
  BOOST_TEST(agent::reason(agent::McdFailure::podman_failed) == "McdPodmanFailed");
  BOOST_TEST(agent::reason(agent::McdFailure::write_failed) == "McdWriteFailed");
}

BOOST_AUTO_TEST_SUITE_END()
