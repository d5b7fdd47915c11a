#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install Debian's docker.io when
# dockerd is missing, start it detached, wait until `docker info` answers.
# Idempotent: does nothing when the engine already answers.
# Env: DRAFT_SETUP_LOG_DIR (default /tmp/draft-setup) for dockerd's log.
set -euo pipefail

log_dir=${DRAFT_SETUP_LOG_DIR:-/tmp/draft-setup}
mkdir -p "$log_dir"

if docker info >/dev/null 2>&1; then
    echo "docker: the engine answers"
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker: installing Debian's docker.io (engine, containerd, runc)"
    sudo_=""; [[ $(id -u) -ne 0 ]] && sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq docker.io >/dev/null
fi
echo "docker: starting dockerd (log: $log_dir/dockerd.log)"
setsid dockerd --host unix:///var/run/docker.sock >"$log_dir/dockerd.log" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        echo "docker: the engine answers"
        exit 0
    fi
    sleep 0.5
done
echo "docker: the engine did not start within 30 s; the end of its log:" >&2
tail -n 20 "$log_dir/dockerd.log" >&2
exit 1
