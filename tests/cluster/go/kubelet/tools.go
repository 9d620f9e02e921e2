//go:build tools

// The kubelet is this module's only product (tests/nodes/build-kubelet.sh builds it).
package tools

import _ "k8s.io/kubernetes/cmd/kubelet"
