#!/usr/bin/env bash
# Create the peers' own virtual environments under benchmarks/.peers/ (git-ignored).
#
#   benchmarks/.peers/scalesim  SCALE-Sim 3.0.0 with numpy<2 (3.0.0 fails on NumPy 2: see
#                               shared PEERS.md, double_buffered_scratchpad_mem.py int(max(...)))
#   benchmarks/.peers/zigzag    zigzag-dse (ZigZag 3.9.x) plus six, which it imports undeclared
#
# Their code is never committed: it lives only in these venvs. Idempotent: an existing venv whose
# package imports is kept. Usage: bash benchmarks/peers/setup_peers.sh [scalesim|zigzag|all]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers="$(cd "$here/.." && pwd)/.peers"
python="${PYTHON:-python3}"
which="${1:-all}"
mkdir -p "$peers"

make_venv() {  # name, import-name, pip requirements...
    local name="$1" module="$2"; shift 2
    local venv="$peers/$name"
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import $module" 2>/dev/null; then
        echo "peers: $name ready at $venv"
        return
    fi
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "$@"
    "$venv/bin/python" -c "import $module" && echo "peers: $name installed at $venv"
}

if [ "$which" = all ] || [ "$which" = scalesim ]; then
    make_venv scalesim scalesim "scalesim==3.0.0" "numpy<2"
fi
if [ "$which" = all ] || [ "$which" = zigzag ]; then
    # zigzag-dse 3.9.1 imports six (parser/upgraded_validator.py) without declaring it
    make_venv zigzag zigzag.api "zigzag-dse" "six"
fi
