# Every dependency comes from Debian's packages (scripts/deps.sh installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(CURL REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(cxxopts REQUIRED)
find_package(simdjson REQUIRED)
# cpp-httplib 0.18.7, header-only, from Debian 13's source package (pinned by sha256 and
# cached by packaging/httplib/fetch-httplib.sh; Debian 12's 0.11.4 is too old, see there).
# NODEBOOT_HTTPLIB_INCLUDE_DIR names a folder holding httplib.h instead (offline builds).
set(NODEBOOT_HTTPLIB_INCLUDE_DIR "" CACHE PATH "Folder with cpp-httplib 0.18.7's httplib.h (empty: fetch it)")
set(nodeboot_httplib_dir "${NODEBOOT_HTTPLIB_INCLUDE_DIR}")
if(NOT nodeboot_httplib_dir)
  execute_process(COMMAND bash "${PROJECT_SOURCE_DIR}/packaging/httplib/fetch-httplib.sh"
    OUTPUT_VARIABLE nodeboot_httplib_dir OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE fetch_result)
  if(NOT fetch_result EQUAL 0 OR NOT EXISTS "${nodeboot_httplib_dir}/httplib.h")
    message(FATAL_ERROR "packaging/httplib/fetch-httplib.sh could not provide httplib.h (see above)")
  endif()
endif()
message(STATUS "cpp-httplib: ${nodeboot_httplib_dir}/httplib.h")
add_library(nodeboot_httplib INTERFACE)
# SYSTEM: the header is third-party code, outside our warning flags.
target_include_directories(nodeboot_httplib SYSTEM INTERFACE "${nodeboot_httplib_dir}")
# Every translation unit that includes httplib.h must see the same macros (its functions
# are inline: two settings in one executable would be an ODR violation), so they live here.
target_compile_definitions(nodeboot_httplib INTERFACE
  CPPHTTPLIB_OPENSSL_SUPPORT
  # poll() instead of select(): select() cannot watch a descriptor above 1023, and a server
  # holding a thousand connections has them (cpp-httplib then drops the connection).
  CPPHTTPLIB_USE_POLL
  # An idle keep-alive connection is woken this often (µs) to check its timeout and whether
  # the listener was closed; a request is read as soon as it arrives either way. cpp-httplib's
  # 10 ms is 100 wake-ups a second per idle connection; 100 ms bounds how long an idle
  # connection outlives a stop.
  CPPHTTPLIB_KEEPALIVE_TIMEOUT_CHECK_INTERVAL_USECOND=100000
  # Enough queued handshakes for every API server reconnecting at once after a restart.
  CPPHTTPLIB_LISTEN_BACKLOG=1024
  # At most 100 header lines of at most 8 KiB each (cpp-httplib's defaults, spelled out:
  # the webhook's own total-size cap of 16 KiB rests on them; see webhook/src/server.cpp).
  CPPHTTPLIB_HEADER_MAX_COUNT=100
  CPPHTTPLIB_HEADER_MAX_LENGTH=8192)
target_link_libraries(nodeboot_httplib INTERFACE OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
if(NODEBOOT_TESTS)
  find_package(Boost 1.74 REQUIRED COMPONENTS unit_test_framework)
endif()
