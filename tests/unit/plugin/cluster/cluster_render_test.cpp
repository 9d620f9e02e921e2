#include <set>
#include <string>

#include <boost/test/unit_test.hpp>

#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/plugin/cluster/generate.hpp"
#include "nodeboot/plugin/cluster/pins.hpp"

namespace cluster = nodeboot::plugin::cluster;

BOOST_AUTO_TEST_SUITE(cluster_render)

BOOST_AUTO_TEST_CASE(substitute_replaces_known_names_and_leaves_the_rest) {
  nodeboot::Secret token("abcdef.0123456789abcdef");
  cluster::Variables v;
  v.values = {{"NODE_NAME", "cp-1"}};
  v.secrets["KUBEADM_TOKEN"] = &token;
  BOOST_TEST(cluster::substitute("${NODE_NAME} ${mac:hexhyp} ${HOME} ${KUBEADM_TOKEN} ${", v) ==
             "cp-1 ${mac:hexhyp} ${HOME} abcdef.0123456789abcdef ${");
}

BOOST_AUTO_TEST_CASE(values_cannot_change_the_document_structure) {
  cluster::Variables v;
  v.values = {{"SSH_KEY", "x\"\n]}: evil: [1"}};
  auto j = cluster::render_json_template("keys: [\"${SSH_KEY}\"]\nplain: ${SSH_KEY}\n", v, "t", false);
  BOOST_REQUIRE(j);
  BOOST_TEST(j->size() == 2u);
  BOOST_TEST((*j)["keys"][0].get<std::string>() == "x\"\n]}: evil: [1");
  BOOST_TEST((*j)["plain"].get<std::string>() == "x\"\n]}: evil: [1");
}

BOOST_AUTO_TEST_CASE(ignition_inline_contents_become_data_urls_and_modes_octal) {
  cluster::Variables v;
  v.values = {{"NODE_NAME", "w-1"}};
  auto j = cluster::render_json_template(
      "storage:\n  files:\n    - path: /etc/hostname\n      mode: 0644\n      overwrite: true\n      contents:\n       "
      " inline: \"${NODE_NAME}\\n\"\n"
      "    - path: /x\n      mode: 0o500\n      contents: {source: \"https://e.test/x\"}\n",
      v, "t", true);
  BOOST_REQUIRE(j);
  const auto& f = (*j)["storage"]["files"];
  BOOST_TEST(f[0]["mode"].get<int>() == 0644);
  BOOST_TEST(f[0]["overwrite"].get<bool>());
  BOOST_TEST(f[0]["contents"]["source"].get<std::string>() == "data:;base64,dy0xCg==");
  BOOST_TEST(!f[0]["contents"].contains("inline"));
  BOOST_TEST(f[1]["mode"].get<int>() == 0500);
  BOOST_TEST(f[1]["contents"]["source"].get<std::string>() == "https://e.test/x");
}

BOOST_AUTO_TEST_CASE(template_errors_name_the_template_and_position) {
  auto j = cluster::render_json_template("a: [1\n", {}, "my-templates/ignition/worker.yaml.tmpl", true);
  BOOST_REQUIRE(!j);
  BOOST_TEST(j.error().message.find("my-templates/ignition/worker.yaml.tmpl:") == 0u);
}

BOOST_AUTO_TEST_CASE(generated_tokens_match_kubeadm_format_and_differ) {
  std::set<std::string> seen;
  std::size_t counts[36] = {};
  for (int i = 0; i < 2000; ++i) {
    auto t = cluster::generate_kubeadm_token();
    BOOST_TEST_REQUIRE(cluster::is_kubeadm_token(t.reveal()));
    seen.insert(t.reveal());
    for (char c : t.reveal())
      if (c != '.') ++counts[c >= 'a' ? c - 'a' : c - '0' + 26];
  }
  BOOST_TEST(seen.size() == 2000u);
  // 44,000 characters over 36 symbols: about 1,222 each. Every symbol appears (digits
  // and letters alike), which a broken alphabet or a stuck byte would not give.
  for (auto c : counts) BOOST_TEST(c > 900u);
}

BOOST_AUTO_TEST_CASE(every_builtin_template_parses) {
  nodeboot::Secret token("abcdef.0123456789abcdef");
  cluster::Variables v;
  v.secrets["KUBEADM_TOKEN"] = &token;
  for (const auto& [name, text] : cluster::builtin_templates()) {
    if (name.ends_with(".conf.tmpl")) continue;
    auto j = cluster::render_json_template(text, v, name, name.starts_with("ignition/"));
    BOOST_TEST(j.has_value(), name << ": " << (j ? "" : j.error().message));
  }
}

BOOST_AUTO_TEST_CASE(pod_subnet_sed_targets_each_manifests_default) {
  BOOST_TEST(cluster::cni_pod_subnet_sed(cluster::Cni::flannel, "10.32.0.0/16") ==
             "s#\"Network\": \"10.244.0.0/16\"#\"Network\": \"10.32.0.0/16\"#");
  BOOST_TEST(cluster::cni_pod_subnet_sed(cluster::Cni::calico, "10.32.0.0/16").find("CALICO_IPV4POOL_CIDR") !=
             std::string::npos);
  BOOST_TEST(cluster::cni_pod_subnet_sed(cluster::Cni::none, "10.32.0.0/16").empty());
}

BOOST_AUTO_TEST_CASE(pins_are_sha256_and_https) {
  for (const auto* m : {&cluster::flannel_manifest, &cluster::calico_manifest}) {
    BOOST_TEST(m->sha256.size() == 64u);
    BOOST_TEST(m->sha256.find_first_not_of("0123456789abcdef") == std::string_view::npos);
    BOOST_TEST(m->url.starts_with("https://"));
  }
  BOOST_TEST(cluster::flannel_manifest.url.find(cluster::flannel_manifest.version) != std::string_view::npos);
}

BOOST_AUTO_TEST_SUITE_END()
