//go:build tools

// Pins the validator's main package in this module's go.mod/go.sum.
package tools

import _ "github.com/coreos/ignition/v2/validate"
