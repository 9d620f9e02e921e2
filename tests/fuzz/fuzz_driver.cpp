// A plain fuzz driver for g++ builds under ASan+UBSan (Debian's clang 14 cannot compile
// nodeboot's C++23, so libFuzzer is out of reach here). It replays every file of the
// corpus folders given, then mutates them for -runs=N executions or -seconds=S: byte
// flips, interesting bytes, YAML / kubeconfig tokens from a dictionary, deletions,
// duplications, splices of two inputs, and deep nesting (tokens from the target's
// fuzz_dictionary() when it has one). Coverage is not measured; the
// structure-aware dictionary makes up for part of that. Deterministic for a given -seed.
// On a sanitizer report the offending input is written to ./crash-input (death callback).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
// A target may bring its own mutation tokens (the webhook's are JSON); weak, so a target
// without them gets the YAML / kubeconfig set below.
__attribute__((weak)) std::vector<std::string> fuzz_dictionary();

namespace {

std::string current;  // the input being run, for the death callback

void dump_current() {
  std::ofstream("crash-input", std::ios::binary) << current;
  std::fprintf(stderr, "fuzz: the failing input is in ./crash-input (%zu bytes)\n", current.size());
}

const std::vector<std::string> kYamlDictionary = {
    "apiVersion: v1\n",
    "kind: Config\n",
    "current-context: ctx\n",
    "clusters:\n",
    "users:\n",
    "contexts:\n",
    "- name: c\n",
    "- name: u\n",
    "- name: ctx\n",
    "  cluster:\n",
    "  user:\n",
    "  context:\n",
    "    server: https://127.0.0.1:6443\n",
    "    certificate-authority: ca.crt\n",
    "    certificate-authority-data: ",
    "    client-key-data: ",
    "    client-certificate-data: ",
    "LS0tLS1CRUdJTg==",
    "====",
    "    insecure-skip-tls-verify: true\n",
    "    tls-server-name: k\n",
    "    proxy-url: socks5://p:1080\n",
    "    token: t\n",
    "    tokenFile: ../t\n",
    "    as: a\n",
    "    as-groups: [g1, g2]\n",
    "    as-user-extra: {k: [v]}\n",
    "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n",
    "      command: ./x\n",
    "      env: [{name: A, value: b}]\n",
    "      interactiveMode: Never\n",
    "    extensions:\n    - name: client.authentication.k8s.io/exec\n      extension: {a: [1, {b: c}]}\n",
    "    namespace: ns\n",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "- ",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!!str ",
    "? ",
    "|\n",
    ">-\n",
    "'",
    "\"",
    "\\u0000",
    "%YAML 1.2\n---\n",
    "---\n",
    "...\n",
    "#",
    "\t",
    "null",
    "~",
    "true",
    "0x1F",
    "1e309",
    "\xef\xbb\xbf",
    "\xff\xfe",
    std::string(1, '\0'),
};

std::string mutate(std::string s, const std::vector<std::string>& corpus, const std::vector<std::string>& dictionary,
                   std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng() % n); };
  const int steps = 1 + static_cast<int>(rng() % 6);
  for (int i = 0; i < steps; ++i) {
    switch (rng() % 9) {
      case 0:  // flip a bit
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1: {  // an interesting byte
        static const char bytes[] = ":-[]{}\n \"'&*!|>%#,?\t\\\0";
        if (!s.empty()) s[pick(s.size())] = bytes[pick(sizeof bytes)];
        break;
      }
      case 2:
      case 3:  // a dictionary token
        s.insert(pick(s.size() + 1), dictionary[pick(dictionary.size())]);
        break;
      case 4:  // delete a range
        if (!s.empty()) {
          std::size_t at = pick(s.size());
          s.erase(at, 1 + pick(std::min<std::size_t>(64, s.size() - at)));
        }
        break;
      case 5:  // duplicate a range
        if (!s.empty() && s.size() < 1 << 16) {
          std::size_t at = pick(s.size());
          s.insert(pick(s.size() + 1), s.substr(at, 1 + pick(std::min<std::size_t>(256, s.size() - at))));
        }
        break;
      case 6: {  // splice with another input
        const std::string& other = corpus[pick(corpus.size())];
        s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
        break;
      }
      case 7: {  // deep nesting, the classic recursive-descent killer
        std::size_t depth = 1 + pick(rng() % 4 == 0 ? 5000 : 50);
        const char* open = rng() % 2 ? "[" : "{a: ";
        std::string nest;
        for (std::size_t d = 0; d < depth; ++d) nest += open;
        s.insert(pick(s.size() + 1), nest);
        break;
      }
      default:  // indentation shift on one line
        s.insert(pick(s.size() + 1), std::string(1 + pick(8), ' '));
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long long runs = 100000;
  double seconds = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("-runs="))
      runs = std::stoll(a.substr(6));
    else if (a.starts_with("-seconds="))
      seconds = std::stod(a.substr(9));
    else if (a.starts_with("-seed="))
      seed = std::stoull(a.substr(6));
    else {
      std::filesystem::path p(a);
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(p)) {
        for (const auto& e : std::filesystem::directory_iterator(p))
          if (e.is_regular_file()) files.push_back(e.path());
        std::sort(files.begin(), files.end());
      } else {
        files.push_back(p);
      }
      for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        corpus.push_back(ss.str());
      }
    }
  }
  if (corpus.empty()) corpus.emplace_back("");
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_set_death_callback(dump_current);
#endif
  auto run_one = [](const std::string& input) {
    current = input;
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  };
  const auto start = std::chrono::steady_clock::now();
  long long executions = 0;
  for (const auto& input : corpus) {
    run_one(input);
    ++executions;
  }
  const std::vector<std::string> dictionary = fuzz_dictionary ? fuzz_dictionary() : kYamlDictionary;
  std::mt19937_64 rng(seed);
  while (true) {
    if (seconds > 0 ? std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= seconds
                    : executions >= runs)
      break;
    run_one(mutate(corpus[rng() % corpus.size()], corpus, dictionary, rng));
    ++executions;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "fuzz: " << executions << " executions in " << elapsed << " s (" << corpus.size()
            << " corpus inputs, seed " << seed << "), no crash, no sanitizer report\n";
  return 0;
}
