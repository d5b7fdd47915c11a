// Stands in for github.com/tilt-dev/starlark-lsp, whose version Tilt pins has no entry in the
// checksum database this machine reaches (and the one version that has is too old for Tilt's
// code). Only the symbols Tilt's `tilt lsp` command links against; that command says it is not
// in this build. Nothing else in Tilt uses the module. Our own code, not upstream's.
module github.com/tilt-dev/starlark-lsp

go 1.23.0

require (
	github.com/spf13/cobra v1.8.1
	go.lsp.dev/uri v0.3.0
	go.uber.org/zap v1.26.0
)
