#!/usr/bin/env bash
# Start the app on its bundled demo: http://localhost:8501
#   bash scripts/run_app.sh             the app
#   bash scripts/run_app.sh --present   presentation mode (no developer menu, the best clip, a short story)
# Anything else is passed to `streamlit run` (e.g. --server.port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
present=()
if [ "${1:-}" = "--present" ]; then
    present=(--present)
    shift
fi
exec .venv/bin/python -m vtn_core app "${present[@]}" -- "$@"
