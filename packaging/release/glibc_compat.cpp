// Linked into kubectl-nodeboot-portable only: the two glibc functions newer than 2.34 that
// the static parts of the link reach for, defined here so the binary does not import them
// and runs on glibc 2.34 (RHEL 9; Ubuntu 22.04 has 2.35). Both exist because this machine's
// static archives were built against glibc 2.36:
//  - _dl_find_object (GLIBC_2.35): libgcc_eh's unwinder (-static-libgcc) finds a PC's
//    .eh_frame_hdr with it. Here it is answered from dl_iterate_phdr (GLIBC_2.2.5), which is
//    what libgcc itself used before 2.35 existed.
//  - arc4random (GLIBC_2.36): libstdc++'s std::random_device (-static-libstdc++) offers it as
//    an entropy source. Here it reads the kernel's getrandom (GLIBC_2.25), as glibc's does.
#include <dlfcn.h>
#include <link.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace {

struct Search {
  std::uintptr_t pc;
  dl_find_object* result;
  bool found;
};

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto* s = static_cast<Search*>(data);
  std::uintptr_t lo = UINTPTR_MAX, hi = 0;
  bool inside = false;
  const ElfW(Phdr)* eh_frame = nullptr;
  for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD) {
      const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr, end = start + ph.p_memsz;
      if (start < lo) lo = start;
      if (end > hi) hi = end;
      if (s->pc >= start && s->pc < end) inside = true;
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      eh_frame = &ph;
    }
  }
  if (!inside) return 0;
  s->result->dlfo_flags = 0;
  s->result->dlfo_map_start = reinterpret_cast<void*>(lo);
  s->result->dlfo_map_end = reinterpret_cast<void*>(hi);
  s->result->dlfo_link_map = nullptr;  // libgcc reads only the map bounds and eh_frame
  s->result->dlfo_eh_frame = eh_frame ? reinterpret_cast<void*>(info->dlpi_addr + eh_frame->p_vaddr) : nullptr;
  s->found = true;
  return 1;
}

}  // namespace

extern "C" int _dl_find_object(void* address, dl_find_object* result) noexcept {
  Search s{reinterpret_cast<std::uintptr_t>(address), result, false};
  dl_iterate_phdr(visit, &s);
  return s.found ? 0 : -1;
}

extern "C" std::uint32_t arc4random() noexcept {
  std::uint32_t v = 0;
  for (;;) {
    const auto n = getrandom(&v, sizeof v, 0);
    if (n == static_cast<ssize_t>(sizeof v)) return v;
    if (n < 0 && errno != EINTR) std::abort();  // no kernel entropy at all: nothing safe to return
  }
}
