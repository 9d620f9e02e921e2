// Linked into kubectl-nodeboot-portable only (plugin/CMakeLists.txt): arc4random, which
// glibc has only since 2.36, defined here so that the binary does not import it and runs on
// glibc 2.34 (RHEL 9; Ubuntu 22.04 has 2.35).
//
// Why it is needed: the plugin serves `cluster serve`'s upload endpoint with cpp-httplib,
// whose Server constructs a std::random_device (multipart/byteranges boundaries), and this
// machine's static libstdc++ (gcc 12, built against glibc 2.36) draws that device's entropy
// from arc4random. Nothing else in nodeboot constructs a random_device (OpenSSL's CSPRNG,
// nodeboot::random_bytes, serves nodeboot's own randomness), so the host agent's portable
// link needs no definition at all. The other glibc-2.35 function the static runtime reached
// for, _dl_find_object (gcc's unwinder), is gone by linking LLVM's libunwind instead
// (cmake/portable.cmake).
//
// What would break it: a glibc that defines arc4random with another ABI (it cannot: the
// interface is fixed), or a libstdc++ that reaches for yet another newer function —
// packaging/release/check-portable.sh (GLIBC_x.y <= 2.34) catches that at release time.
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

extern "C" std::uint32_t arc4random() noexcept {
  std::uint32_t v = 0;
  for (;;) {
    const auto n = getrandom(&v, sizeof v, 0);  // the kernel's CSPRNG, as glibc's own arc4random
    if (n == static_cast<ssize_t>(sizeof v)) return v;
    if (n < 0 && errno != EINTR) std::abort();  // no kernel entropy at all: nothing safe to return
  }
}
