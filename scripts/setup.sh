#!/usr/bin/env bash
# Everything Draft's tests, demo and benchmarks need on this machine, idempotently:
# a Docker engine, a loopback registry, and stand-ins for the base images.
# Arguments go to build-base-images.sh (e.g. --all).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$here/setup-docker.sh"
bash "$here/setup-registry.sh"
bash "$here/build-base-images.sh" "$@"
