#!/usr/bin/env bash
# Set up everything on a fresh machine: a virtual environment with requirements.txt, and with --tests
# Debian's chromium for the browser tests. Idempotent: re-runs only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=".venv/.requirements-$(sha256sum requirements.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing Python packages (first run takes a few minutes)..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
    rm -f .venv/.requirements-*
    touch "$stamp"
fi
# compile the decoder's pixel loops once (numba caches them), so the first analysis does not wait for it
.venv/bin/python -c "from vtn_core.video import kernels; kernels.warm_up()"
if [ "${1:-}" = "--tests" ] && ! command -v chromium >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the browser tests..." >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
