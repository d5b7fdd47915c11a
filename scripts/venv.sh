#!/usr/bin/env bash
# Create .venv and install Draft with its development tools into it.
# Idempotent: re-installs only when pyproject.toml changed since the last run.
# Env: DRAFT_VENV (default: <repo>/.venv), PYTHON (default: python3).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DRAFT_VENV:-$repo/.venv}
python=${PYTHON:-python3}
stamp=$venv/.draft-installed

if [[ ! -x $venv/bin/python ]]; then
    echo "venv: creating $venv"
    "$python" -m venv "$venv"
fi
want=$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    echo "venv: installing draft and its dev tools"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e "$repo[dev]"
    echo "$want" >"$stamp"
else
    echo "venv: up to date ($venv)"
fi
