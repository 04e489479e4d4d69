#!/usr/bin/env bash
# Installs ib_async (the Python IB API client the fake TWS is tested against) into a venv:
# $SYSTRADE_IB_ASYNC_VENV, default ~/.cache/systrade-ib-async-venv. Does nothing when the
# right version is already there. Prints the venv's python.
set -euo pipefail
version="2.1.0"
venv="${SYSTRADE_IB_ASYNC_VENV:-$HOME/.cache/systrade-ib-async-venv}"
python="$venv/bin/python"
installed() {
    [ -x "$python" ] &&
        "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('ib_async') != '$version')" \
            >/dev/null 2>&1
}
if ! installed; then
    if [ ! -x "$python" ]; then
        python3 -m venv "$venv" >&2
    fi
    "$python" -m pip install --quiet --disable-pip-version-check "ib_async==$version" >&2
    installed || { echo "ib_async $version did not install into $venv" >&2; exit 1; }
fi
echo "$python"
