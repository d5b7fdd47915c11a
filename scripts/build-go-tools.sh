#!/usr/bin/env bash
# Build pinned command-line tools from source through the Go module proxy, once, into a cache;
# print the path of each binary. For benchmarks (the naive loop's `helm`, the anchors).
# Nothing is downloaded prebuilt; the Go checksum database verifies every module.
#
# Usage: build-go-tools.sh TOOL...      TOOL: helm | skaffold | tilt | buildx
# (buildx: the Docker CLI's BuildKit plugin, which Docker's CLI needs for `DOCKER_BUILDKIT=1
# docker build` and this machine's Docker packages lack; link it into a `cli-plugins` folder.)
# A module whose own go.mod has replace lines cannot be built with `go install pkg@version`;
# such a tool is built from a small wrapper module of ours, scripts/tools/<tool>/ (its go.mod
# copies the replace lines), with `go build`.
# Env: XDG_CACHE_HOME (binaries go to $XDG_CACHE_HOME/draft/tools/<tool>-<version>/)
set -euo pipefail

cache=${XDG_CACHE_HOME:-$HOME/.cache}/draft/tools
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

module_of() {  # the pinned module path, version and package of each tool
    case $1 in
        helm) echo "helm.sh/helm/v3 v3.22.0 helm.sh/helm/v3/cmd/helm" ;;
        skaffold) echo "github.com/GoogleContainerTools/skaffold/v2 v2.16.1 github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold" ;;
        tilt) echo "github.com/tilt-dev/tilt v0.33.21 github.com/tilt-dev/tilt/cmd/tilt" ;;
        buildx) echo "github.com/docker/buildx v0.38.2 github.com/docker/buildx/cmd/buildx" ;;
        *) return 1 ;;
    esac
}

for tool in "$@"; do
    read -r module version package < <(module_of "$tool") || {
        echo "build-go-tools: unknown tool $tool" >&2
        exit 2
    }
    dir=$cache/$tool-$version
    if [[ ! -x $dir/$tool ]]; then
        echo "build-go-tools: building $tool $version from $module (once)" >&2
        mkdir -p "$dir"
        case $tool in
            skaffold)
                ldflags="-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$version"
                ;;
            buildx)
                ldflags="-X github.com/docker/buildx/version.Version=$version"
                ;;
            tilt)  # a release build (version and date set: the module's release date)
                ldflags="-X main.version=${version#v} -X main.date=2024-11-08"
                ;;
            *) ldflags="" ;;
        esac
        wrapper=$here/tools/$tool
        if [[ $tool == tilt ]]; then
            # Tilt's web UI is built by yarn into pkg/assets/build and embedded; the module
            # ships without it, and a release build refuses to start then. A copy of the
            # module with a placeholder page is built instead (the UI is not what is measured).
            src=$(cd "$wrapper" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "$module")
            rm -rf "$dir/src" && cp -r "$src" "$dir/src" && chmod -R u+w "$dir/src"
            echo "<!doctype html><title>Tilt</title><p>Tilt's web UI is not in this build." \
                >"$dir/src/pkg/assets/build/index.html"
            sed "s#^require $module $version#require $module $version\nreplace $module => $dir/src#" \
                "$wrapper/go.mod" >"$dir/build.mod"
            cp "$wrapper/go.sum" "$dir/build.sum"
            (cd "$wrapper" && GOFLAGS=-mod=mod go build -modfile "$dir/build.mod" -trimpath \
                -ldflags "-s -w $ldflags" -o "$dir/$tool.tmp" "$package" &&
                mv "$dir/$tool.tmp" "$dir/$tool") >&2
            rm -rf "$dir/src" "$dir/build.mod" "$dir/build.sum"
        elif [[ -f $wrapper/go.mod ]]; then
            (cd "$wrapper" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w $ldflags" \
                -o "$dir/$tool.tmp" "$package" && mv "$dir/$tool.tmp" "$dir/$tool") >&2
        else
            GOBIN=$dir GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w $ldflags" \
                "$package@$version" >&2
        fi
    fi
    echo "$dir/$tool"
done
