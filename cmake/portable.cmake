# nodeboot_portable_executable(NAME MAIN LIBRARY...): NAME built from MAIN and the given
# static nodeboot libraries, linked to run on any x86_64 Linux with glibc 2.34 or later
# (scripts/release.sh ships kubectl-nodeboot-portable in the archive and
# nodeboot-agent-portable in the agent image, for the host unit on RHCOS/RHEL). libstdc++,
# libgcc, OpenSSL, yaml-cpp, zlib, nghttp2 and a libcurl built with only what nodeboot uses
# (packaging/release/static-curl.sh, linked as build/static-curl) are static; glibc stays
# shared, as it must for NSS (name lookup) to work. The libraries' archives are named
# directly so none of nodeboot_common's shared-library link dependencies come along.
# packaging/release/check-portable.sh is the proof.
if(NOT NODEBOOT_SANITIZE AND NOT NODEBOOT_TSAN)
  set(NODEBOOT_PORTABLE_STATIC)
  foreach(lib nghttp2 ssl crypto yaml-cpp z)
    find_library(NODEBOOT_STATIC_${lib} NAMES lib${lib}.a)
    if(NOT NODEBOOT_STATIC_${lib})
      message(FATAL_ERROR "lib${lib}.a not found (for the portable binaries): run scripts/deps.sh")
    endif()
    list(APPEND NODEBOOT_PORTABLE_STATIC "${NODEBOOT_STATIC_${lib}}")
  endforeach()
endif()

function(nodeboot_portable_executable name main)
  if(NODEBOOT_SANITIZE OR NODEBOOT_TSAN)
    return()
  endif()
  set(archives)
  foreach(lib IN LISTS ARGN)
    list(APPEND archives "$<TARGET_FILE:${lib}>")
  endforeach()
  add_executable(${name} EXCLUDE_FROM_ALL "${main}" "${PROJECT_SOURCE_DIR}/packaging/release/glibc_compat.cpp")
  target_include_directories(${name} PRIVATE include)
  target_link_libraries(${name} PRIVATE nodeboot_options ${archives} "$<TARGET_FILE:nodeboot_common>"
    "${CMAKE_BINARY_DIR}/static-curl/lib/libcurl.a" ${NODEBOOT_PORTABLE_STATIC} Threads::Threads)
  target_link_options(${name} PRIVATE -static-libstdc++ -static-libgcc)
  add_dependencies(${name} ${ARGN} nodeboot_common)
endfunction()
