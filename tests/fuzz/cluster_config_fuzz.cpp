// Fuzz target for the cluster.yaml parser/validator and the template renderer.
//
// LLVMFuzzerTestOneInput is libFuzzer's entry point, so the target runs unchanged under
// clang -fsanitize=fuzzer. GCC (the project's compiler) has no libFuzzer, so without
// NODEBOOT_LIBFUZZER this file also carries a small mutational driver: it starts from a
// corpus (the good cluster.yaml and its broken variants), applies byte- and token-level
// mutations with a fixed seed (reproducible), and checks the invariants below under
// ASan+UBSan. It is not coverage-guided; it is what runs in CI.
//
//   cluster_config_fuzz [ITERATIONS] [SEED] [CORPUS_FILE...]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodeboot/plugin/cluster/config.hpp"
#include "nodeboot/plugin/cluster/generate.hpp"

namespace cluster = nodeboot::plugin::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = cluster::validate(text);
  for (const auto& f : v.findings) {
    // Every finding points into the file and reads as one line with a fix.
    if (f.mark.line < 1 || f.mark.column < 1 || f.message.empty() || f.fix.empty()) std::abort();
    if (cluster::format(f, "cluster.yaml").empty()) std::abort();
  }
  if (v.config.has_value() != (v.count(cluster::Severity::error) == 0)) std::abort();
  if (v.config) {
    // A config that passed must satisfy what the generator relies on.
    if (v.config->nodes.empty() || !cluster::parse_cidr_loose(v.config->node_network)) std::abort();
    for (const auto& n : v.config->nodes)
      if (!cluster::normalise_mac(n.mac) || *cluster::normalise_mac(n.mac) != n.mac) std::abort();
  }
  // The same bytes as a template: rendering may refuse, never crash.
  nodeboot::Secret token("abcdef.0123456789abcdef");
  cluster::Variables vars;
  vars.values = {{"NODE_NAME", "n-1"}, {"SSH_KEY", "ssh-ed25519 AAAA \"quoted\" ${NODE_NAME}"}};
  vars.secrets["KUBEADM_TOKEN"] = &token;
  (void)cluster::render_json_template(text, vars, "fuzz", true);
  (void)cluster::substitute(text, vars);
  return 0;
}

#ifndef NODEBOOT_LIBFUZZER
namespace {

// Fragments that matter to YAML and to the checks: structure, anchors, tags, addresses.
const char* const dictionary[] = {
    ":",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    - ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "'",
    "#",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "? ",
    "\t",
    "%YAML 1.2\n",
    "\\u0000",
    "/",
    "/0",
    "/32",
    "/33",
    ".",
    "0.0.0.0",
    "255.255.255.255",
    "192.168.1.",
    "10.96.0.0/12",
    "ff:ff:ff:ff:ff:ff",
    "01:00:5e:00:00:01",
    "aabb.ccdd.eeff",
    "ssh-ed25519 ",
    "ssh-rsa ",
    "AAAAC3NzaC1lZDI1NTE5",
    "AAAA",
    "====",
    "controller",
    "worker",
    "nodes",
    "cluster",
    "network",
    "cidr",
    "bootstrap",
    "ip",
    "mac",
    "name",
    "role",
    "kubeadm_token",
    "abcdef.0123456789abcdef",
    "${",
    "${NODE_NAME}",
    "${KUBEADM_TOKEN}",
    "contents",
    "inline",
    "source",
    "mode",
    "0644",
    "0o777",
    "99999999999999999999",
    "-1",
    "~",
    "null",
    "true",
    "\xff\xfe",
    "\xc3\xa9",
};

std::string mutate(std::string s, const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  int rounds = 1 + static_cast<int>(pick(8));
  for (int r = 0; r < rounds; ++r) {
    switch (pick(8)) {
      case 0:  // flip a bit
        if (!s.empty()) {
          const auto bit = 1U << pick(8);  // drawn first, as the right side of ^= was
          auto& c = s[pick(s.size())];
          c = static_cast<char>(static_cast<unsigned char>(c) ^ bit);
        }
        break;
      case 1:  // delete a run
        if (!s.empty()) {
          auto at = pick(s.size());
          s.erase(at, 1 + pick(16));
        }
        break;
      case 2:  // insert a dictionary fragment
        s.insert(pick(s.size() + 1), dictionary[pick(std::size(dictionary))]);
        break;
      case 3:  // duplicate a run (repeated keys, deeper nesting)
        if (!s.empty()) {
          auto at = pick(s.size());
          auto run = s.substr(at, 1 + pick(64));
          s.insert(pick(s.size() + 1), run);
        }
        break;
      case 4: {  // splice a line from another corpus file
        const auto& other = corpus[pick(corpus.size())];
        if (!other.empty()) {
          auto from = pick(other.size());
          auto nl = other.find('\n', from);
          s.insert(pick(s.size() + 1), other.substr(from, nl == std::string::npos ? std::string::npos : nl - from + 1));
        }
        break;
      }
      case 5:  // random byte
        s.insert(pick(s.size() + 1), 1, static_cast<char>(pick(256)));
        break;
      case 6:  // deep nesting
        s.insert(pick(s.size() + 1), std::string(1 + pick(300), "[{-"[pick(3)]));
        break;
      default:  // replace a value after a colon with a fragment
        if (auto c = s.find(": ", pick(s.size())); c != std::string::npos) {
          auto end = s.find('\n', c);
          s.replace(c + 2, (end == std::string::npos ? s.size() : end) - c - 2,
                    dictionary[pick(std::size(dictionary))]);
        }
    }
  }
  constexpr std::size_t cap = std::size_t{64} * 1024;
  if (s.size() > cap) s.resize(cap);  // keep executions fast
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long iterations = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
  std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  std::vector<std::string> corpus;
  for (int i = 3; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    corpus.push_back(s.str());
  }
  if (corpus.empty())
    corpus.emplace_back(
        "cluster:\n  name: a\nnodes:\n  - {name: n, role: controller, ip: 10.0.0.2, mac: \"02:00:00:00:00:01\"}\n");
  for (const auto& c : corpus) LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(c.data()), c.size());
  std::mt19937_64 rng(seed);
  std::vector<std::string> pool = corpus;  // grows with inputs the validator accepted
  unsigned long accepted = 0;
  for (unsigned long i = 0; i < iterations; ++i) {
    auto input = mutate(pool[static_cast<std::size_t>(rng() % pool.size())], corpus, rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
    if (cluster::validate(input).config) {
      ++accepted;
      if (pool.size() < 256) pool.push_back(std::move(input));
    }
  }
  std::printf("cluster_config_fuzz: %lu executions (seed %llu, %zu corpus files), %lu mutants accepted, no crash\n",
              iterations + corpus.size(), static_cast<unsigned long long>(seed), corpus.size(), accepted);
  return 0;
}
#endif
