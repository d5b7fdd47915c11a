//go:build tools

// Package tools names the upstream command this module builds, so that `go mod tidy`
// records it; scripts/build-go-tools.sh builds it with `go build`.
package tools

import _ "github.com/tilt-dev/tilt/cmd/tilt"
