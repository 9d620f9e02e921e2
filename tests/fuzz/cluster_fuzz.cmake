# Included from tests/CMakeLists.txt: the cluster.yaml fuzz target. Under
# -DNODEBOOT_SANITIZE=ON (scripts/test.sh's second pass) it runs with ASan+UBSan.
add_executable(cluster_config_fuzz "${CMAKE_CURRENT_LIST_DIR}/cluster_config_fuzz.cpp")
target_link_libraries(cluster_config_fuzz PRIVATE nodeboot_plugin)
set_target_properties(cluster_config_fuzz PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/tests")
# 5,000 executions from a fixed seed: reproducible, about 5 s plain and 30 s under ASan+UBSan
# on 2 loaded cores. Longer runs: cluster_config_fuzz ITERATIONS SEED CORPUS...
add_test(NAME fuzz/cluster_config COMMAND cluster_config_fuzz 5000 1
  "${PROJECT_SOURCE_DIR}/tests/support/data/cluster.yaml"
  "${PROJECT_SOURCE_DIR}/tests/fuzz/cluster_corpus/flow.yaml"
  "${PROJECT_SOURCE_DIR}/tests/fuzz/cluster_corpus/ignition.yaml"
  "${PROJECT_SOURCE_DIR}/tests/fuzz/cluster_corpus/issue19.yaml")
set_tests_properties(fuzz/cluster_config PROPERTIES LABELS "unit;fuzz" TIMEOUT 600)
