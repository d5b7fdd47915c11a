#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, lint, types, then every test.
# Extra arguments go to pytest (e.g. scripts/test.sh -k detect).
# Env: DRAFT_SKIP_SETUP=1 skips installing/starting the engine, registry, cluster and editors
# (for a quick run on a machine already set up).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/venv.sh
venv=${DRAFT_VENV:-$repo/.venv}

if [[ ${DRAFT_SKIP_SETUP:-0} != 1 ]]; then
    # Kubernetes compiles (first run only) while the engine, registry and editors install.
    log_dir=${DRAFT_SETUP_LOG_DIR:-/tmp/draft-setup}
    mkdir -p "$log_dir"
    bash scripts/setup-cluster.sh --build >"$log_dir/cluster-build.log" 2>&1 &
    building=$!
    bash scripts/setup.sh
    bash scripts/setup-editors.sh
    if ! wait "$building"; then
        echo "cluster: building Kubernetes failed; the end of its log:" >&2
        tail -n 30 "$log_dir/cluster-build.log" >&2
        exit 1
    fi
    bash scripts/setup-cluster.sh
fi

echo "lint: ruff"
"$venv/bin/ruff" check draft server draftd tests bench
"$venv/bin/ruff" format --check draft server draftd tests bench
echo "imports: lint-imports (the contracts in pyproject.toml; docs/architecture.md)"
"$venv/bin/lint-imports" --no-cache
echo "types: mypy --strict"
"$venv/bin/mypy" --strict draft server draftd
echo "tests: the VS Code extension's unit tests (node --test)"
(cd editors/vscode && PATH="$venv/bin:$PATH" npm test --silent)
echo "tests: pytest"
"$venv/bin/pytest" "$@"
