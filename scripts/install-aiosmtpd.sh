#!/usr/bin/env bash
# Installs aiosmtpd (the Python SMTP server the e-mail tests run on 127.0.0.1, through
# scripts/smtp-server.py) into a venv: $SYSTRADE_AIOSMTPD_VENV, default
# ~/.cache/systrade-aiosmtpd-venv. Does nothing when the right version is already there.
# Prints the venv's python. The tests also need the `openssl` command (their certificates).
set -euo pipefail
# The tests make their TLS certificates with the openssl command.
command -v openssl >/dev/null || { echo "the e-mail tests need the openssl command (apt-get install openssl)" >&2; exit 1; }
version="1.4.6"
venv="${SYSTRADE_AIOSMTPD_VENV:-$HOME/.cache/systrade-aiosmtpd-venv}"
python="$venv/bin/python"
installed() {
    [ -x "$python" ] &&
        "$python" -c "import importlib.metadata as m, sys; sys.exit(m.version('aiosmtpd') != '$version')" \
            >/dev/null 2>&1
}
if ! installed; then
    if [ ! -x "$python" ]; then
        python3 -m venv "$venv" >&2
    fi
    "$python" -m pip install --quiet --disable-pip-version-check "aiosmtpd==$version" >&2
    installed || { echo "aiosmtpd $version did not install into $venv" >&2; exit 1; }
fi
echo "$python"
