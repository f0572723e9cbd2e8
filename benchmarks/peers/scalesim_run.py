"""Run SCALE-Sim on a topology CSV one layer at a time and record per-layer cycles and wall time.

Runs under the SCALE-Sim virtual environment (``benchmarks/.peers/scalesim/bin/python``, made by
``setup_peers.sh``); it imports nothing from coexplore. Each layer is simulated by its own
``scalesim`` instance on a one-row topology so that its wall time is measured alone; results are
appended to the output CSV as each layer finishes, and layers already there are skipped, so an
interrupted run resumes.

Usage:
    python scalesim_run.py TOPOLOGY.csv OUT.csv --dataflow ws --array 32 [--layers a,b] [--sram-kb 4096]

Output columns: layer, total_cycles_incl_prefetch, total_cycles, stall_cycles,
compute_cycles_no_stall (= total_cycles - stall_cycles), overall_util_pct, mapping_eff_pct,
compute_util_pct, wall_s, cpu_s (CPU seconds of this process and its children, less sensitive
than wall time to other work on the machine). Comment lines (``#``) record the SCALE-Sim version and the config.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import resource
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from scalesim.scale_sim import scalesim

CONFIG = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = {sram_kb}
FilterSramSzkB = {sram_kb}
OfmapSramSzkB = {sram_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {dataflow}
Bandwidth = {bandwidth}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = {bw_mode}
UseRamulatorTrace = False
"""

COLUMNS = ("layer", "total_cycles_incl_prefetch", "total_cycles", "stall_cycles",
           "compute_cycles_no_stall", "overall_util_pct", "mapping_eff_pct", "compute_util_pct",
           "wall_s", "cpu_s")


def read_topology(path: Path) -> tuple[str, list[str]]:
    """The header line and the layer rows of a SCALE-Sim topology file."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return lines[0], lines[1:]


def done_layers(out: Path) -> set[str]:
    if not out.exists():
        return set()
    rows = [line for line in out.read_text().splitlines() if line and not line.startswith("#")]
    return {row["layer"] for row in csv.DictReader(rows)}


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def simulate_layer(header: str, row: str, config_text: str,
                   workdir: Path) -> tuple[list, float, float]:
    """Simulate one layer; return SCALE-Sim's compute-report items, wall and CPU seconds."""
    name = row.split(",")[0].strip()
    safe = "".join(ch if ch.isalnum() else "_" for ch in name)
    topo, layout, cfg = (workdir / f"{safe}.csv", workdir / "layout.csv", workdir / "scale.cfg")
    topo.write_text(f"{header}\n{row}\n")
    layout.write_text("Layer name, IFMAP layout, Filter layout,\n")
    cfg.write_text(config_text)
    start, cpu = time.perf_counter(), cpu_seconds()
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo),
                       layout=str(layout))
        sim.run_scale(top_path=str(workdir / "logs"))
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return sim.runner.single_layer_sim_object_list[0].get_compute_report_items(), wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topology", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dataflow", choices=("ws", "os", "is"), default="ws")
    parser.add_argument("--array", type=int, default=32, help="array height = width")
    parser.add_argument("--sram-kb", type=int, default=4096, help="each of the three SRAMs, kB")
    parser.add_argument("--bandwidth", type=int, default=0,
                        help="words/cycle (USER mode); 0 = CALC (SCALE-Sim sizes it)")
    parser.add_argument("--layers", default="", help="comma-separated layer names (default all)")
    args = parser.parse_args()

    header, rows = read_topology(args.topology)
    wanted = {n.strip() for n in args.layers.split(",") if n.strip()}
    bw_mode = "USER" if args.bandwidth else "CALC"
    config_text = CONFIG.format(run_name="coexplore_peer", rows=args.array, cols=args.array,
                                sram_kb=args.sram_kb, dataflow=args.dataflow,
                                bandwidth=args.bandwidth or 10, bw_mode=bw_mode)
    done = done_layers(args.out)
    if not args.out.exists():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w") as f:
            f.write(f"# SCALE-Sim {version('scalesim')} (numpy {version('numpy')}), run by "
                    f"benchmarks/peers/scalesim_run.py, one layer per simulation\n")
            f.write(f"# topology: {args.topology.name}; array {args.array}x{args.array}, "
                    f"dataflow {args.dataflow}, SRAM ifmap/filter/ofmap {args.sram_kb} kB each, "
                    f"InterfaceBandwidth {bw_mode}"
                    f"{'' if bw_mode == 'CALC' else f' {args.bandwidth} words/cycle'}, "
                    f"Read/WriteRequestBuffer 32, no sparsity, no custom layout\n")
            f.write(",".join(COLUMNS) + "\n")
    with tempfile.TemporaryDirectory(prefix="scalesim_") as tmp:
        for row in rows:
            name = row.split(",")[0].strip()
            if (wanted and name not in wanted) or name in done:
                continue
            items, wall, cpu = simulate_layer(header, row, config_text, Path(tmp))
            overall, total, stall, util, mapping, compute_util = items
            values = (name, int(overall), int(total), int(stall), int(total) - int(stall),
                      f"{float(util):.4f}", f"{float(mapping):.4f}", f"{float(compute_util):.4f}",
                      f"{wall:.2f}", f"{cpu:.2f}")
            with args.out.open("a") as f:
                f.write(",".join(str(v) for v in values) + "\n")
            print(",".join(str(v) for v in values), flush=True)
    os.sync()


if __name__ == "__main__":
    main()
