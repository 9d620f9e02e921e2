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
if(NODEBOOT_SANITIZE)
  target_compile_options(nodeboot_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(nodeboot_options INTERFACE -fsanitize=address,undefined)
endif()

# Precompiled headers: nlohmann/json and the standard library dominate compile time on
# 2 cores (every target builds its own copy once; each translation unit then skips them).
option(NODEBOOT_PCH "Precompile the heaviest common headers" ON)
if(NODEBOOT_PCH)
  target_precompile_headers(nodeboot_options INTERFACE
    <nlohmann/json.hpp> <string> <string_view> <vector> <optional> <chrono> <filesystem> <map>
    <functional> <sstream> <expected>)
endif()
