#!/usr/bin/env bash
# Serve a container registry on loopback (CNCF distribution, Debian's docker-registry),
# for `registry = "127.0.0.1:5000"` in draft.toml and for the tests. Idempotent.
# Env: DRAFT_REGISTRY (default 127.0.0.1:5000), DRAFT_REGISTRY_DIR (default /tmp/draft-registry).
set -euo pipefail

addr=${DRAFT_REGISTRY:-127.0.0.1:5000}
dir=${DRAFT_REGISTRY_DIR:-/tmp/draft-registry}

if curl -fsS "http://$addr/v2/" >/dev/null 2>&1; then
    echo "registry: $addr answers"
    exit 0
fi
if ! command -v docker-registry >/dev/null 2>&1; then
    echo "registry: installing Debian's docker-registry"
    sudo_=""; [[ $(id -u) -ne 0 ]] && sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq docker-registry >/dev/null
    # The package starts a system service on :5000 on some hosts; ours is the loopback one below.
    $sudo_ pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry' 2>/dev/null || true
fi
mkdir -p "$dir/storage"
cat >"$dir/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: $addr
CONFIG
echo "registry: serving on $addr (storage: $dir/storage, log: $dir/registry.log)"
setsid docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 < /dev/null &
for _ in $(seq 1 40); do
    if curl -fsS "http://$addr/v2/" >/dev/null 2>&1; then
        echo "registry: $addr answers"
        exit 0
    fi
    sleep 0.25
done
echo "registry: $addr did not answer within 10 s; the end of its log:" >&2
tail -n 20 "$dir/registry.log" >&2
exit 1
