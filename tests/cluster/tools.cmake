# Included from tests/CMakeLists.txt: what the tests run against that is built through the
# Go module proxy (cached outside the tree) before the tests that need it.

# A fixture test `name` (labelled `label`) that runs `script`, which prints the path of what
# it built, and links that path as `link`; each of the tests after TESTS that exists gets
# `env`=`link` in its environment and requires the fixture.
function(nodeboot_go_built_fixture name label script link env)
  add_test(NAME ${label}/${name}_build
    COMMAND bash -c "out=$(\"$0\") && ln -sfn \"$out\" \"$1\"" "${PROJECT_SOURCE_DIR}/tests/cluster/${script}" "${link}")
  set_tests_properties(${label}/${name}_build PROPERTIES LABELS ${label} FIXTURES_SETUP ${name} TIMEOUT 1800)
  cmake_parse_arguments(PARSE_ARGV 5 arg "" "" TESTS)
  foreach(t IN LISTS arg_TESTS)
    if(TEST ${t})
      set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "${env}=${link}")
      set_property(TEST ${t} APPEND PROPERTY FIXTURES_REQUIRED ${name})
    endif()
  endforeach()
endfunction()

# The bootstrap-node peers (ignition-validate, ignition, matchbox), linked as
# ${CMAKE_BINARY_DIR}/cluster-tools (a folder) for the cluster tests.
nodeboot_go_built_fixture(cluster_tools integration build-tools.sh "${CMAKE_BINARY_DIR}/cluster-tools"
  NODEBOOT_CLUSTER_TOOLS TESTS integration/cluster_tools integration/cluster_upload integration/cluster_ignition
  e2e/cluster_wait)

# KubeVirt's own CRDs (kubevirt-crds.sh), linked as ${CMAKE_BINARY_DIR}/kubevirt-crds.yaml for
# the marooned suites that create VirtualMachineInstances: the API server validates them
# against KubeVirt's schema.
nodeboot_go_built_fixture(kubevirt_crds e2e kubevirt-crds.sh "${CMAKE_BINARY_DIR}/kubevirt-crds.yaml"
  NODEBOOT_KUBEVIRT_CRDS TESTS e2e/marooned_join e2e/marooned_vm)
