//go:build tools

// Pins the validator's and Ignition's main packages in this module's go.mod/go.sum. The
// tools tag keeps this file out of every build, so importing another module's internal
// package here only tells `go mod tidy` what the binaries need.
package tools

import (
	_ "github.com/coreos/ignition/v2/internal"
	_ "github.com/coreos/ignition/v2/validate"
)
