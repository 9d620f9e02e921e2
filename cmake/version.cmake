# NODEBOOT_VERSION = project version, plus the git description when built from a checkout
# (e.g. 0.1.0+g1a2b3c4 or 0.1.0+g1a2b3c4.dirty).
set(NODEBOOT_GIT_DESCRIBE "")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${PROJECT_SOURCE_DIR}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" describe --always --dirty=.dirty --abbrev=12
    WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
    OUTPUT_VARIABLE NODEBOOT_GIT_DESCRIBE OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(NODEBOOT_GIT_DESCRIBE)
  set(NODEBOOT_VERSION "${PROJECT_VERSION}+g${NODEBOOT_GIT_DESCRIBE}")
else()
  set(NODEBOOT_VERSION "${PROJECT_VERSION}")
endif()
message(STATUS "nodeboot version ${NODEBOOT_VERSION}")
