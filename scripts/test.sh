#!/usr/bin/env bash
# Set everything up, then run the whole test suite (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# PostgreSQL tests need a server on 127.0.0.1:5432; start a local cluster if one is installed but down.
if command -v pg_isready >/dev/null && ! pg_isready -h 127.0.0.1 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start 2>/dev/null || true
  fi
fi
# One test process per core, at most 4 (pytest-xdist; work stealing evens out the long soaks; the
# PostgreSQL soaks open many connections each); COEXPLORE_TEST_PROCESSES=0 runs them in this process.
CORES=$(nproc 2>/dev/null || echo 2)
PROCESSES="${COEXPLORE_TEST_PROCESSES:-$(( CORES < 4 ? CORES : 4 ))}"
exec .venv/bin/python -m pytest -q -n "$PROCESSES" --dist worksteal --durations=12 "$@"
