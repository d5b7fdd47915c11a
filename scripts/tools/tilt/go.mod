// Module that builds Tilt from source through the Go module proxy. Tilt's own go.mod has
// replace lines, which `go install tilt@version` refuses; they are copied here. Two modules it
// pins have no entry in the checksum database this machine reaches: go-get is replaced by the
// next version that has one (v0.2.3 -> v0.2.4), starlark-lsp (only `tilt lsp` uses it, and
// its one version with an entry is too old for Tilt) by a stand-in of ours, ./starlark-lsp.
module draft.local/tools/tilt

go 1.23.0

require github.com/tilt-dev/tilt v0.33.21

replace (
	github.com/emicklei/go-restful/v3 => github.com/emicklei/go-restful/v3 v3.9.0
	github.com/pkg/browser => github.com/tilt-dev/browser v0.0.1
	github.com/tilt-dev/go-get => github.com/tilt-dev/go-get v0.2.4
	github.com/tilt-dev/starlark-lsp => ./starlark-lsp
	k8s.io/apimachinery => github.com/tilt-dev/apimachinery v0.31.0-tilt-20240902
)
