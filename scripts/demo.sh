#!/usr/bin/env bash
# Draft's main job on its embedded default, end to end, on this machine:
#   set up (Docker engine, loopback registry, base-image stand-in, venv),
#   scaffold a copy of examples/python, deploy it on the local Docker engine,
#   check it answers "Hello World!", then edit app.py while `draft up --watch`
#   runs and check the same URL answers "Hello, Draft!".
# Env: DRAFT_DEMO_DIR (default: a new temp folder), DRAFT_DEMO_KEEP=1 keeps the app running.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/setup.sh"
bash "$repo/scripts/venv.sh"
draft=${DRAFT_VENV:-$repo/.venv}/bin/draft

work=${DRAFT_DEMO_DIR:-$(mktemp -d -t draft-demo.XXXXXX)}
app=$work/app
mkdir -p "$app"
cp -r "$repo/examples/python/." "$app/"
# The demo's own draftd (started by `draft up` itself), so it leaves nothing behind.
export DRAFTD_STATE=$work/draftd
export DRAFT_DAEMON_URL=http://127.0.0.1:${DRAFT_DEMO_PORT:-7979}
echo "demo: app copied to $app"

finish() {
    local status=$?
    set +e
    [[ -n ${watcher:-} ]] && kill "$watcher" 2>/dev/null && wait "$watcher" 2>/dev/null
    if [[ ${DRAFT_DEMO_KEEP:-0} != 1 ]]; then
        "$draft" delete "$app" >/dev/null 2>&1 || true
        [[ -f $DRAFTD_STATE/draftd.json ]] &&
            kill "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' \
                "$DRAFTD_STATE/draftd.json")" 2>/dev/null
    fi
    exit "$status"
}
trap finish EXIT

answer() {  # poll URL until it answers TEXT (60 s at most)
    for _ in $(seq 1 300); do
        [[ $(curl -fsS "$1" 2>/dev/null) == "$2" ]] && { echo "demo: $1 answers \"$2\""; return 0; }
        sleep 0.2
    done
    echo "demo: $1 never answered \"$2\"" >&2
    return 1
}

echo "demo: \$ draft create $app"
"$draft" create "$app"
echo "demo: \$ draft check $app"
"$draft" check "$app"
echo "demo: \$ draft up $app --no-watch"
url=$("$draft" up "$app" --no-watch | tail -n1)
answer "$url" "Hello World!"

echo "demo: \$ draft up $app --watch   (in the background), then app.py edited and saved"
"$draft" up "$app" --watch >"$work/watch.out" 2>"$work/watch.log" &
watcher=$!
for _ in $(seq 1 100); do [[ -s $work/watch.out ]] && break; sleep 0.2; done
sed -i 's/Hello World!/Hello, Draft!/' "$app/app.py"
answer "$url" "Hello, Draft!"
sleep 0.3  # the watcher prints "ready" just after the app answers
echo "demo: redeployed on save; the watcher said:"
sed -n '/syncing\|building the image/,$p' "$work/watch.log" | sed 's/^/    /'
echo "demo: the watcher's whole log is $work/watch.log"
