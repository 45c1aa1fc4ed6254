#!/usr/bin/env bash
# Run the whole test suite (unit, CLI, app and browser tests) after setting everything up.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
exec .venv/bin/python -m pytest "$@"
