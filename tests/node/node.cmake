# Included from tests/CMakeLists.txt: the node layer's fixtures. A control plane of its own
# (tests/cluster/up.sh, no kwok nodes, a node grace period for emulated heartbeats), then
# worker VMs joined to it (tests/nodes/up.sh) with the release's images imported. Not in
# sanitizer builds (no release there; the VMs run no code of this build but the images).
set(NODEBOOT_NODE_CLUSTER "${CMAKE_BINARY_DIR}/node-cluster")
set(NODEBOOT_NODE_VMS "${CMAKE_BINARY_DIR}/node-vms")
set(NODEBOOT_VM_NODES 2 CACHE STRING "worker VMs the node layer boots (1 vCPU, 2 GiB each)")
if(NOT TEST node/vm_nodes)  # a sanitizer build: no node layer (tests/CMakeLists.txt)
  return()
endif()
add_test(NAME node/cluster_up COMMAND "${PROJECT_SOURCE_DIR}/tests/cluster/up.sh"
  --state-dir "${NODEBOOT_NODE_CLUSTER}" --nodes 0 --node-grace 120s --service-account-admission)
add_test(NAME node/vms_up COMMAND "${PROJECT_SOURCE_DIR}/tests/nodes/up.sh" --vm-nodes ${NODEBOOT_VM_NODES}
  --state-dir "${NODEBOOT_NODE_VMS}" --cluster-state "${NODEBOOT_NODE_CLUSTER}" --images "${NODEBOOT_DIST}")
add_test(NAME node/vms_down COMMAND "${PROJECT_SOURCE_DIR}/tests/nodes/down.sh" --state-dir "${NODEBOOT_NODE_VMS}")
add_test(NAME node/cluster_down COMMAND "${PROJECT_SOURCE_DIR}/tests/cluster/down.sh" --state-dir "${NODEBOOT_NODE_CLUSTER}")
set_tests_properties(node/cluster_up PROPERTIES LABELS node FIXTURES_SETUP node_cluster TIMEOUT 3600)
set_tests_properties(node/cluster_down PROPERTIES LABELS node FIXTURES_CLEANUP node_cluster TIMEOUT 120)
# The disk image (cold: mmdebstrap, the kubelet) is built inside vms_up.
set_tests_properties(node/vms_up PROPERTIES LABELS node FIXTURES_SETUP node_vms FIXTURES_REQUIRED "node_cluster;release_dist"
  TIMEOUT 3600 RUN_SERIAL TRUE)
set_tests_properties(node/vms_down PROPERTIES LABELS node FIXTURES_CLEANUP node_vms FIXTURES_REQUIRED node_cluster TIMEOUT 120)
# RUN_SERIAL: the VMs need both cores; a test beside them slows their heartbeats. TIMEOUT is
# the backstop (each case has its own deadline): the suite took 2,557 s in a cold run whose
# background builds slowed the guests (session 21), about 1,500 s without them.
set_tests_properties(node/vm_nodes PROPERTIES FIXTURES_REQUIRED "node_cluster;node_vms" TIMEOUT 3600 RUN_SERIAL TRUE
  ENVIRONMENT "NODEBOOT_E2E_STATE=${NODEBOOT_NODE_CLUSTER};NODEBOOT_VM_STATE=${NODEBOOT_NODE_VMS};NODEBOOT_DIST=${NODEBOOT_DIST};BOOST_TEST_LOG_LEVEL=test_suite")
# BOOST_TEST_LOG_LEVEL=test_suite: each test case's time in the log, beside the phases the suite prints.
