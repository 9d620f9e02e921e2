# Included from tests/CMakeLists.txt: the bootstrap-node peers (ignition-validate,
# matchbox) built through the Go module proxy by build-tools.sh before the cluster tests.
set(NODEBOOT_CLUSTER_TOOLS_FILE "${CMAKE_BINARY_DIR}/cluster-tools.path")
add_test(NAME integration/cluster_tools_build
  COMMAND bash -c "\"$0\" > \"$1\"" "${PROJECT_SOURCE_DIR}/tests/cluster/build-tools.sh" "${NODEBOOT_CLUSTER_TOOLS_FILE}")
set_tests_properties(integration/cluster_tools_build PROPERTIES LABELS integration FIXTURES_SETUP cluster_tools TIMEOUT 1800)
if(TEST integration/cluster_tools)
  set_property(TEST integration/cluster_tools APPEND PROPERTY ENVIRONMENT "NODEBOOT_CLUSTER_TOOLS_FILE=${NODEBOOT_CLUSTER_TOOLS_FILE}")
  set_tests_properties(integration/cluster_tools PROPERTIES FIXTURES_REQUIRED cluster_tools)
endif()
