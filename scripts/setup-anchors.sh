#!/usr/bin/env bash
# What bench/bench_anchors.py needs beyond scripts/setup.sh (and scripts/setup-cluster.sh for the
# kubernetes target): Skaffold, Tilt and the Helm CLI built from source through the Go module
# proxy (scripts/build-go-tools.sh, cached after the first build), and Debian's docker-compose,
# which Tilt's docker_compose() drives when the Docker CLI has no `compose` plugin; and buildx,
# the Docker CLI's BuildKit plugin, for the `docker build` Skaffold and the naive loops run.
#
# Usage: setup-anchors.sh [TOOL...]     TOOL: helm | skaffold | tilt | buildx (default: all four)
# Prints one `tool=path` line per binary.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

tools=("$@")
[[ ${#tools[@]} -gt 0 ]] || tools=(helm skaffold tilt buildx)

if [[ " ${tools[*]} " == *" tilt "* ]] && ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
    echo "setup-anchors: installing docker-compose (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y docker-compose >&2
fi

for tool in "${tools[@]}"; do
    echo "$tool=$(bash "$here/build-go-tools.sh" "$tool")"
done
