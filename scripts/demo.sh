#!/usr/bin/env bash
# Draft's main job on its embedded default: scaffold a copy of examples/python
# and check it. Env: DRAFT_DEMO_DIR (default: a new temp folder).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/venv.sh"
draft=${DRAFT_VENV:-$repo/.venv}/bin/draft

app=${DRAFT_DEMO_DIR:-$(mktemp -d -t draft-demo.XXXXXX)}
mkdir -p "$app"
cp -r "$repo/examples/python/." "$app/"
echo "demo: app copied to $app"

"$draft" create "$app"
"$draft" check "$app"
echo "demo: $app is scaffolded and checks clean"
