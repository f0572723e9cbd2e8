#!/usr/bin/env bash
# Set everything up, then run the embedded default study end to end (SQLite + local MLflow store).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/coexplore study start studies/quickstart.yaml "$@"
