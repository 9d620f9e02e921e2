# Included from tests/CMakeLists.txt: the bootstrap-node peers (ignition-validate,
# ignition, matchbox) built through the Go module proxy by build-tools.sh before the cluster tests,
# linked as ${CMAKE_BINARY_DIR}/cluster-tools (NODEBOOT_CLUSTER_TOOLS in the tests' environment).
set(NODEBOOT_CLUSTER_TOOLS "${CMAKE_BINARY_DIR}/cluster-tools")
add_test(NAME integration/cluster_tools_build
  COMMAND bash -c "dir=$(\"$0\") && ln -sfn \"$dir\" \"$1\"" "${PROJECT_SOURCE_DIR}/tests/cluster/build-tools.sh" "${NODEBOOT_CLUSTER_TOOLS}")
set_tests_properties(integration/cluster_tools_build PROPERTIES LABELS integration FIXTURES_SETUP cluster_tools TIMEOUT 1800)
foreach(t integration/cluster_tools integration/cluster_upload integration/cluster_ignition e2e/cluster_wait)
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "NODEBOOT_CLUSTER_TOOLS=${NODEBOOT_CLUSTER_TOOLS}")
    set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED cluster_tools)
  endif()
endforeach()
