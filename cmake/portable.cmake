# nodeboot_portable_executable(NAME MAIN LIBRARY...): NAME built from MAIN and the given
# static nodeboot libraries, linked to run on any x86_64 Linux with glibc 2.34 or later
# (scripts/release.sh ships kubectl-nodeboot-portable in the archive and
# nodeboot-agent-portable in the agent image, for the host unit on RHCOS/RHEL). libstdc++,
# OpenSSL, yaml-cpp, zlib, nghttp2 and a libcurl built with only what nodeboot uses
# (packaging/release/static-curl.sh, linked as build/static-curl) are static; glibc stays
# shared, as it must for NSS (name lookup) to work. The libraries' archives are named
# directly so none of nodeboot_common's shared-library link dependencies come along.
#
# This machine's static runtime was built against glibc 2.36 and reaches for two newer
# functions; the link keeps both out without defining anything of glibc's:
#  - _dl_find_object (GLIBC_2.35): gcc 12's unwinder (libgcc_eh.a) finds a PC's unwind
#    tables with it. The unwinder here is LLVM's libunwind instead (Debian's
#    libunwind-14-dev, static), which walks dl_iterate_phdr (GLIBC_2.2.5). -nodefaultlibs
#    keeps the driver from adding libgcc_eh; the runtime is listed by hand: libstdc++
#    (static), libunwind, libm, libc, libgcc.a (compiler helpers only, no unwinder).
#  - arc4random (GLIBC_2.36): libstdc++'s std::random_device. nodeboot draws randomness
#    from OpenSSL (nodeboot::random_bytes) and never constructs a random_device, and
#    --gc-sections drops the library's unreferenced random_device code that its COW-string
#    instantiations drag in. That suffices for nodeboot-agent-portable. cpp-httplib's
#    Server does construct one, so kubectl-nodeboot-portable (which serves `cluster
#    serve`'s uploads) links packaging/release/glibc_compat.cpp: arc4random alone.
# packaging/release/check-portable.sh is the proof (symbol versions, NEEDED, a glibc-only root).
if(NOT NODEBOOT_SANITIZE AND NOT NODEBOOT_TSAN)
  set(NODEBOOT_PORTABLE_STATIC)
  foreach(lib nghttp2 ssl crypto yaml-cpp z)
    find_library(NODEBOOT_STATIC_${lib} NAMES lib${lib}.a)
    if(NOT NODEBOOT_STATIC_${lib})
      message(FATAL_ERROR "lib${lib}.a not found (for the portable binaries): run scripts/deps.sh")
    endif()
    list(APPEND NODEBOOT_PORTABLE_STATIC "${NODEBOOT_STATIC_${lib}}")
  endforeach()
  find_library(NODEBOOT_LLVM_UNWIND NAMES libunwind.a PATHS /usr/lib/llvm-14/lib NO_DEFAULT_PATH)
  if(NOT NODEBOOT_LLVM_UNWIND)
    message(FATAL_ERROR "LLVM's libunwind.a not found (for the portable binaries): run scripts/deps.sh")
  endif()
  execute_process(COMMAND "${CMAKE_CXX_COMPILER}" -print-libgcc-file-name
                  OUTPUT_VARIABLE NODEBOOT_LIBGCC OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

function(nodeboot_portable_executable name main)
  if(NODEBOOT_SANITIZE OR NODEBOOT_TSAN)
    return()
  endif()
  set(archives)
  foreach(lib IN LISTS ARGN)
    list(APPEND archives "$<TARGET_FILE:${lib}>")
  endforeach()
  add_executable(${name} EXCLUDE_FROM_ALL "${main}")
  # Every binary's main holds common's SignalThread; its commands dispatch through nodeboot_cli.
  target_include_directories(${name} PRIVATE include "${PROJECT_SOURCE_DIR}/cli/include" "${PROJECT_SOURCE_DIR}/common/include")
  target_link_libraries(${name} PRIVATE nodeboot_options ${archives} "$<TARGET_FILE:nodeboot_cli>"
    "$<TARGET_FILE:nodeboot_common>"
    "${CMAKE_BINARY_DIR}/static-curl/lib/libcurl.a" ${NODEBOOT_PORTABLE_STATIC}
    "-Wl,--push-state,-Bstatic,-lstdc++,--pop-state" "${NODEBOOT_LLVM_UNWIND}" m c "${NODEBOOT_LIBGCC}")
  target_link_options(${name} PRIVATE -nodefaultlibs -Wl,--gc-sections)
  add_dependencies(${name} ${ARGN} nodeboot_cli nodeboot_common)
endfunction()
