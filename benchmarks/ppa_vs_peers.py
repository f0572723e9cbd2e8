"""coexplore's PPA model next to SCALE-Sim and ZigZag: cycle fidelity and speed per layer.

One command, two tables:

1. Fidelity: per-layer compute cycles of ResNet-18 on a 32x32 systolic array, ours against
   SCALE-Sim 3.0.0's COMPUTE_REPORT "Total Cycles", for weight- and output-stationary dataflows
   (target: within 5% on every layer). SCALE-Sim's numbers are reference data kept in
   ``benchmarks/data/scalesim_resnet18_32x32_{ws,os}.csv`` (their headers record its version and
   config); ``--regenerate`` re-runs SCALE-Sim for them (the kept runs' wall_s column: mean
   12 s per layer for ws, 24 s for os, on a shared 2-core machine).
   Both sides read the same topology, ``benchmarks/data/resnet18_scalesim_topology.csv``,
   written by `to_scalesim_csv` so that SCALE-Sim's ceil output size equals PyTorch's.
2. Speed: wall seconds per layer of our evaluator against SCALE-Sim's and ZigZag's, timed in this
   run on the same ResNet-18 layers (``--quick``: 2 layers; default 6), printed as ratios
   (target: coexplore at least 1000x faster per layer). Ours is timed two ways: one design point
   on those layers (call overhead included), and a batch of design points (the way a search uses
   it); peers run one layer per call in their own virtual environments.

Usage:
    bash benchmarks/peers/setup_peers.sh      # once: peer venvs under benchmarks/.peers/
    .venv/bin/python benchmarks/ppa_vs_peers.py [--quick] [--json OUT.json] [--regenerate]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from ppa_throughput import best_time  # benchmarks/ is on sys.path when this file runs as a script

from coexplore.hardware.design import DesignBatch, DesignPoint
from coexplore.ppa import evaluate
from coexplore.workload import Workload, from_scalesim_csv, to_scalesim_csv, zoo

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PEERS = HERE / ".peers"
TOPOLOGY = DATA / "resnet18_scalesim_topology.csv"
ARRAY = 32
SRAM_KB = 4096
DATAFLOWS = {"ws": "weight_stationary", "os": "output_stationary"}
SPEED_LAYERS = ["layer3.0.downsample.0", "fc", "layer1.0.conv1", "layer2.0.conv1",
                "layer3.0.conv2", "layer4.0.conv2"]
TARGET_ERROR = 0.05
TARGET_SPEEDUP = 1000.0


def reference_path(df: str) -> Path:
    return DATA / f"scalesim_resnet18_{ARRAY}x{ARRAY}_{df}.csv"


def read_reference(path: Path) -> dict[str, dict[str, str]]:
    """SCALE-Sim's per-layer rows, keyed by layer name (comment lines skipped)."""
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {row["layer"]: row for row in csv.DictReader(lines)}


def design(df: str) -> DesignPoint:
    """A 32x32 systolic array with buffers and bandwidth large enough that compute dominates,
    as in the SCALE-Sim runs (4096 kB per SRAM, bandwidth sized by SCALE-Sim's CALC mode), and
    one-word filter and psum scratchpads, so that the mapper has only SCALE-Sim's mapping."""
    return DesignPoint(pe_type="int8", pe_rows=ARRAY, pe_cols=ARRAY, dataflow=DATAFLOWS[df],
                       glb_kib=3 * SRAM_KB * 1000 / 1024, dram_gbps=100000.0, clock_mhz=1000.0,
                       filter_spad=1, psum_spad=1)


def our_cycles(workload: Workload, df: str) -> np.ndarray:
    """Per-layer cycles (shape ``L``) of our evaluator for one design point."""
    result = evaluate(DesignBatch.from_points([design(df)]), workload)
    return np.asarray(result.layer_cycles)[0]


def fidelity_table(workload: Workload) -> dict[str, list[dict]]:
    """Per-layer cycles ours vs SCALE-Sim for each dataflow; prints the tables."""
    tables: dict[str, list[dict]] = {}
    for df, dataflow in DATAFLOWS.items():
        ref_path = reference_path(df)
        if not ref_path.exists():
            print(f"\n[fidelity {df}] no SCALE-Sim reference at {ref_path}; run with --regenerate")
            continue
        ref = read_reference(ref_path)
        ours = our_cycles(workload, df)
        rows = []
        for layer, cycles in zip(workload.layers, ours):
            if layer.name not in ref:
                continue
            theirs = int(ref[layer.name]["total_cycles"])
            rows.append({"layer": layer.name, "ours": float(cycles), "scalesim": theirs,
                         "rel_error": (float(cycles) - theirs) / theirs})
        tables[df] = rows
        print(f"\nFidelity: ResNet-18 on {ARRAY}x{ARRAY} {dataflow} — cycles per layer, "
              f"ours vs SCALE-Sim 'Total Cycles' ({ref_path.name})")
        print(f"{'layer':<24}{'ours':>14}{'SCALE-Sim':>14}{'rel. error':>12}")
        for row in rows:
            flag = "" if abs(row["rel_error"]) <= TARGET_ERROR else "  > 5%"
            print(f"{row['layer']:<24}{row['ours']:>14,.0f}{row['scalesim']:>14,}"
                  f"{row['rel_error']:>+12.2%}{flag}")
        errors = np.abs([row["rel_error"] for row in rows])
        total_ours = sum(row["ours"] for row in rows)
        total_theirs = sum(row["scalesim"] for row in rows)
        print(f"{'total':<24}{total_ours:>14,.0f}{total_theirs:>14,}"
              f"{(total_ours - total_theirs) / total_theirs:>+12.2%}")
        print(f"max |error| {errors.max():.2%}, mean |error| {errors.mean():.2%}; "
              f"{int((errors > TARGET_ERROR).sum())} of {len(rows)} layers beyond 5%")
    return tables


def time_ours(workload: Workload, n_designs: int = 1000, repeats: int = 5) -> dict[str, float]:
    """Seconds per layer-evaluation (wall and CPU): one design point, and ``n_designs`` at once."""
    one = DesignBatch.from_points([design("ws")])
    rng = np.random.default_rng(0)
    points = [DesignPoint(pe_type="int8", pe_rows=int(r), pe_cols=int(c), dataflow=df,
                          glb_kib=float(g))
              for r, c, df, g in zip(rng.choice([8, 16, 32, 64], n_designs),
                                     rng.choice([8, 16, 32, 64], n_designs),
                                     rng.choice(list(DATAFLOWS.values()), n_designs),
                                     rng.choice([64.0, 256.0, 1024.0], n_designs))]
    batch = DesignBatch.from_points(points)
    single = best_time(lambda: evaluate(one, workload), repeats)
    batched = best_time(lambda: evaluate(batch, workload), repeats)
    n = len(workload)
    return {"single_wall_s": single[0] / n, "single_cpu_s": single[1] / n,
            "batch_wall_s": batched[0] / (n * n_designs),
            "batch_cpu_s": batched[1] / (n * n_designs), "batch_designs": n_designs}


def run_scalesim(out: Path, df: str, layers: list[str] | None = None, **run) -> None:
    """Run ``peers/scalesim_run.py`` in the SCALE-Sim venv on `TOPOLOGY`, writing ``out``.

    Args:
        out: the per-layer CSV it writes.
        df: ``"ws"`` or ``"os"``.
        layers: layer names to simulate (default all).
        run: passed to `subprocess.run` (e.g. ``stdout``).
    """
    command = [str(PEERS / "scalesim" / "bin" / "python"), str(HERE / "peers" / "scalesim_run.py"),
               str(TOPOLOGY), str(out), "--dataflow", df, "--array", str(ARRAY),
               "--sram-kb", str(SRAM_KB)]
    if layers:
        command += ["--layers", ",".join(layers)]
    subprocess.run(command, check=True, **run)


def _peer_rows(rows: list[dict]) -> list[dict]:
    return [{"layer": row["layer"], "wall_s": float(row["wall_s"]),
             "cpu_s": float(row["cpu_s"])} for row in rows]


def time_scalesim(layers: list[str]) -> list[dict] | None:
    python = PEERS / "scalesim" / "bin" / "python"
    if not python.exists():
        print("SCALE-Sim venv missing: run `bash benchmarks/peers/setup_peers.sh`")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "timing.csv"
        run_scalesim(out, "ws", layers, stdout=subprocess.DEVNULL)
        ref = read_reference(out)
    return _peer_rows([ref[name] for name in layers])


def time_zigzag(workload: Workload, layers: list[str]) -> list[dict] | None:
    python = PEERS / "zigzag" / "bin" / "python"
    if not python.exists():
        print("ZigZag venv missing: run `bash benchmarks/peers/setup_peers.sh`")
        return None
    by_name = {layer.name: layer for layer in workload.layers}
    with tempfile.TemporaryDirectory() as tmp:
        spec, out = Path(tmp) / "layers.json", Path(tmp) / "zigzag.json"
        spec.write_text(json.dumps([by_name[name].to_dict() for name in layers]))
        subprocess.run([str(python), str(HERE / "peers" / "zigzag_run.py"), str(spec), str(out)],
                       check=True, stdout=subprocess.DEVNULL)
        return _peer_rows(json.loads(out.read_text())["layers"])


def speed_table(workload: Workload, layers: list[str]) -> dict:
    """Times ours and both peers on ``layers``; prints per-layer seconds and speed-up ratios.

    Ratios use CPU seconds (the machine is shared, so wall time moves with other work); wall
    seconds are printed beside them.
    """
    subset = Workload(f"{workload.name}-speed",
                      tuple(layer for layer in workload.layers if layer.name in layers))
    ours = time_ours(subset)
    peers = {"SCALE-Sim 3.0.0 (ws, 32x32)": time_scalesim(layers),
             "ZigZag 3.9.1 (tpu_like, lpf 6)": time_zigzag(zoo.get("resnet18"), layers)}
    print(f"\nSpeed: seconds per layer on ResNet-18 layers {', '.join(layers)} (CPU / wall)")
    print(f"  {'coexplore, 1 design point':<34}{ours['single_cpu_s']:.2e} / "
          f"{ours['single_wall_s']:.2e} s per layer")
    batch_label = f"coexplore, batch of {ours['batch_designs']} designs"
    print(f"  {batch_label:<34}{ours['batch_cpu_s']:.2e} / {ours['batch_wall_s']:.2e} "
          f"s per layer-evaluation")
    summary: dict = {"layers": layers, "ours": ours, "peers": {}}
    for peer, rows in peers.items():
        if rows is None:
            continue
        cpu = float(np.mean([row["cpu_s"] for row in rows]))
        wall = float(np.mean([row["wall_s"] for row in rows]))
        ratios = {"1 design point": cpu / ours["single_cpu_s"],
                  "batched": cpu / ours["batch_cpu_s"]}
        summary["peers"][peer] = {"layers": rows, "cpu_s_per_layer": cpu,
                                  "wall_s_per_layer": wall,
                                  "speedup_single": ratios["1 design point"],
                                  "speedup_batch": ratios["batched"]}
        detail = ", ".join(f"{row['layer']} {row['cpu_s']:.1f}" for row in rows)
        print(f"  {peer:<34}{cpu:.2e} / {wall:.2e} s per layer (CPU s: {detail})")
        for label, ratio in ratios.items():
            verdict = "meets" if ratio >= TARGET_SPEEDUP else "MISSES"
            print(f"      coexplore is {ratio:,.0f}x faster per layer ({label}); "
                  f"{verdict} the {TARGET_SPEEDUP:,.0f}x target")
    return summary


def regenerate() -> None:
    """Re-run SCALE-Sim on the whole ResNet-18 topology for both dataflows (many minutes)."""
    to_scalesim_csv(zoo.get("resnet18"), TOPOLOGY)
    for df in DATAFLOWS:
        out = reference_path(df)
        out.unlink(missing_ok=True)
        run_scalesim(out, df)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time only 2 layers of each peer")
    parser.add_argument("--no-speed", action="store_true", help="fidelity tables only")
    parser.add_argument("--regenerate", action="store_true",
                        help="re-run SCALE-Sim for the reference data first")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.regenerate:
        regenerate()
    workload = from_scalesim_csv(TOPOLOGY, name="resnet18")
    report: dict = {"fidelity": fidelity_table(workload)}
    if not args.no_speed:
        report["speed"] = speed_table(workload, SPEED_LAYERS[:2] if args.quick else SPEED_LAYERS)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
