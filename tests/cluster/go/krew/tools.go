//go:build tools

// Pins krew's main package in this module's go.mod/go.sum.
package tools

import _ "sigs.k8s.io/krew/cmd/krew"
