#!/usr/bin/env bash
# Lint, then run the whole test suite (unit, CLI, app, package and browser tests) after setting everything up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
echo "lint: ruff check ." >&2
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
