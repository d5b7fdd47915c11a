#!/usr/bin/env bash
# Build pinned command-line tools from source through the Go module proxy, once, into a cache;
# print the path of each binary. For benchmarks (the naive loop's `helm`, the anchors).
# Nothing is downloaded prebuilt; the Go checksum database verifies every module.
#
# Usage: build-go-tools.sh TOOL...      TOOL: helm
# Env: XDG_CACHE_HOME (binaries go to $XDG_CACHE_HOME/draft/tools/<tool>-<version>/)
set -euo pipefail

cache=${XDG_CACHE_HOME:-$HOME/.cache}/draft/tools

module_of() {  # the pinned module path, version and package of each tool
    case $1 in
        helm) echo "helm.sh/helm/v3 v3.22.0 helm.sh/helm/v3/cmd/helm" ;;
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
        GOBIN=$dir GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "$package@$version" >&2
    fi
    echo "$dir/$tool"
done
