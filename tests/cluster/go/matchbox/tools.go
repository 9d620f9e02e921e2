//go:build tools

// Pins Matchbox's main package in this module's go.mod/go.sum.
package tools

import _ "github.com/poseidon/matchbox/cmd/matchbox"
