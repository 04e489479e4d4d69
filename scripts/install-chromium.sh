#!/usr/bin/env bash
# Installs Debian's Chromium (package `chromium`) for the test that opens every HTML report in a
# real headless browser. Does nothing when it is already there. Prints the browser's path.
set -euo pipefail
browser="${SYSTRADE_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$browser" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=sudo
        else
            echo "chromium is not installed and this is not root: install Debian's chromium package" >&2
            exit 1
        fi
    else
        sudo=
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq chromium >&2
    [ -x "$browser" ] || { echo "chromium did not install at $browser" >&2; exit 1; }
fi
echo "$browser"
