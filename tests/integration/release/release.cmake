# Included from tests/CMakeLists.txt: the release (scripts/release.sh, reusing this build's
# objects: the images from its binaries, one extra link) and krew (tests/cluster/build-krew.sh,
# cached), each made once per test run by a fixture; integration/release_archive,
# integration/release_images, e2e/release_krew, e2e/release_install and e2e/release_images
# check them. Not in sanitizer builds (the portable binary links no sanitizer runtime; the
# images would carry sanitized binaries): there they are registered but disabled.
set(NODEBOOT_RELEASE_TESTS integration/release_archive integration/release_images e2e/release_krew e2e/release_install
  e2e/release_images)
if(NODEBOOT_SANITIZE OR NODEBOOT_TSAN)
  foreach(t ${NODEBOOT_RELEASE_TESTS})
    if(TEST ${t})
      set_tests_properties(${t} PROPERTIES DISABLED TRUE)
    endif()
  endforeach()
  return()
endif()
set(NODEBOOT_DIST "${CMAKE_BINARY_DIR}/dist")
set(NODEBOOT_KREW_BIN "${CMAKE_BINARY_DIR}/krew-bin")
add_test(NAME integration/release_build
  COMMAND "${PROJECT_SOURCE_DIR}/scripts/release.sh" --build-dir "${CMAKE_BINARY_DIR}" --out "${NODEBOOT_DIST}")
set_tests_properties(integration/release_build PROPERTIES LABELS integration FIXTURES_SETUP release_dist TIMEOUT 1800)
add_test(NAME integration/krew_build
  COMMAND bash -c "dir=$(\"$0\") && ln -sfn \"$dir\" \"$1\"" "${PROJECT_SOURCE_DIR}/tests/cluster/build-krew.sh" "${NODEBOOT_KREW_BIN}")
set_tests_properties(integration/krew_build PROPERTIES LABELS integration FIXTURES_SETUP krew TIMEOUT 1800)
foreach(t ${NODEBOOT_RELEASE_TESTS})
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "NODEBOOT_DIST=${NODEBOOT_DIST}" "NODEBOOT_KREW_BIN=${NODEBOOT_KREW_BIN}")
    set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED release_dist)
  endif()
endforeach()
# The image tests start their own dockerd (dockerd.sh); where it cannot run they say so and skip.
foreach(t integration/release_images e2e/release_images)
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY SKIP_REGULAR_EXPRESSION "SKIPPED: dockerd cannot run here")
  endif()
endforeach()
if(TEST e2e/release_krew)
  set_property(TEST e2e/release_krew APPEND PROPERTY FIXTURES_REQUIRED krew)
endif()
