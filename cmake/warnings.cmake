# Compiler flags shared by every nodeboot target (applied through nodeboot_options).
add_library(nodeboot_options INTERFACE)
target_compile_options(nodeboot_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  -Wformat=2
  # GCC 12 reports -Wrestrict false positives inside libstdc++ string code at -O2
  # (GCC bug 105329); nothing in our code triggers it.
  -Wno-restrict)
if(NODEBOOT_WERROR)
  target_compile_options(nodeboot_options INTERFACE -Werror)
endif()
if(NODEBOOT_SANITIZE AND NODEBOOT_TSAN)
  # Both instrument every memory access with their own shadow memory; GCC refuses the mix.
  message(FATAL_ERROR "NODEBOOT_SANITIZE (ASan+UBSan) and NODEBOOT_TSAN (ThreadSanitizer) are mutually "
                      "exclusive: configure a separate build tree for each (scripts/test.sh uses build-asan and build-tsan)")
endif()
if(NODEBOOT_SANITIZE)
  target_compile_options(nodeboot_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(nodeboot_options INTERFACE -fsanitize=address,undefined)
endif()
if(NODEBOOT_TSAN)
  # -O1: TSan's reports keep usable stacks, and the instrumented tests stay fast enough.
  target_compile_options(nodeboot_options INTERFACE -fsanitize=thread -fno-omit-frame-pointer -O1)
  target_link_options(nodeboot_options INTERFACE -fsanitize=thread)
endif()
