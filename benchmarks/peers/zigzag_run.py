"""Run ZigZag on a list of layers, one API call per layer, and record cycles, energy and wall time.

Runs under the ZigZag virtual environment (``benchmarks/.peers/zigzag/bin/python``, made by
``setup_peers.sh``); it imports nothing from coexplore. Input: a JSON list of coexplore `Layer`
dicts (``name, kind, n, c, k, h, w, r, s, stride, padding, groups``). Each layer is written as a
ZigZag user-format workload layer (the same equation and loop dimensions as ZigZag's own ONNX
conv parser) and evaluated by ``zigzag.api.get_hardware_performance_zigzag`` on a shipped
hardware/mapping pair (default ``tpu_like``), so each layer's wall time is measured alone.

With ``--variants VARIANTS.json`` (a list of dicts made by ``benchmarks/ppa_vs_zigzag.py``:
``name, rows, cols, sram_bytes, rf_w_bytes, dram_bits``) every layer runs on every variant of
``tpu_like`` instead: the shipped YAMLs with the array shape (``D1`` = K on ``cols``, ``D2`` = C on
``rows``), the SRAM and weight register-file sizes and the DRAM port width replaced. Per-access
costs stay ZigZag's own, except the DRAM cost per access, scaled with the port width so that a bit
costs the same at any width. Each result records the chosen mapping's energy by operand and level,
and its latency terms (ideal temporal cycles, stalls, on-/off-loading).

Usage:
    python zigzag_run.py LAYERS.json OUT.json [--hardware tpu_like] [--lpf-limit 6] [--opt latency]
        [--variants VARIANTS.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import resource
import tempfile
import time
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path


def zigzag_layer(layer: dict, layer_id: int) -> dict:
    """A coexplore layer dict in ZigZag's user workload format (8-bit operands, as tpu_like)."""
    groups = layer["groups"]
    p = (layer["h"] + 2 * layer["padding"] - layer["r"]) // layer["stride"] + 1
    q = (layer["w"] + 2 * layer["padding"] - layer["s"]) // layer["stride"] + 1
    return {
        "id": layer_id,
        "name": layer["name"],
        "operator_type": "Conv",
        "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
        "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
        "loop_sizes": [layer["n"], layer["k"] // groups, groups, q, p, layer["c"] // groups,
                       layer["s"], layer["r"]],
        "dimension_relations": [f"ix={layer['stride']}*ox+1*fx", f"iy={layer['stride']}*oy+1*fy"],
        "operand_precision": {"W": 8, "I": 8, "O_final": 8, "O": 16},
        "pr_loop_dims": ["IX", "IY"],
        "pr_loop_sizes": [layer["w"], layer["h"]],
        "padding": [[layer["padding"], layer["padding"]], [layer["padding"], layer["padding"]]],
    }


def variant_files(variant: dict, folder: Path) -> tuple[str, str]:
    """Hardware and mapping YAML of one ``tpu_like`` variant, written under ``folder``."""
    import yaml

    inputs = files("zigzag").joinpath("inputs")
    hw = yaml.safe_load(inputs.joinpath("hardware", "tpu_like.yaml").read_text())
    mems = hw["memories"]
    mems["rf_128B"]["size"] = 8 * int(variant["rf_w_bytes"])
    mems["sram_2MB"]["size"] = 8 * int(variant["sram_bytes"])
    dram = mems["dram"]
    scale = int(variant["dram_bits"]) / dram["ports"][0]["bandwidth_max"]
    dram["r_cost"], dram["w_cost"] = dram["r_cost"] * scale, dram["w_cost"] * scale
    dram["ports"][0]["bandwidth_min"] = dram["ports"][0]["bandwidth_max"] = int(variant["dram_bits"])
    hw["operational_array"]["sizes"] = [int(variant["cols"]), int(variant["rows"])]
    hw["name"] = variant["name"]
    mapping = yaml.safe_load(inputs.joinpath("mapping", "tpu_like.yaml").read_text())
    for entry in mapping:
        if entry["name"] == "default":
            entry["spatial_mapping"] = {"D1": [f"K, {variant['cols']}"], "D2": [f"C, {variant['rows']}"]}
    mapping = [e for e in mapping if e["name"] == "default"]
    hw_path, map_path = folder / f"{variant['name']}_hw.yaml", folder / f"{variant['name']}_map.yaml"
    hw_path.write_text(yaml.safe_dump(hw, sort_keys=False))
    map_path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return str(hw_path), str(map_path)


def cme_details(cmes: list) -> dict:
    """Energy by operand and memory level, and latency terms, of the (single-layer) result."""
    try:
        cme = cmes[0][1][0][0]
    except (IndexError, TypeError):
        cme = cmes[0][0]
    out: dict = {"mac_energy_pj": float(getattr(cme, "mac_energy", 0.0))}
    breakdown = getattr(cme, "mem_energy_breakdown", {}) or {}
    out["mem_energy_pj"] = {str(op): [float(e) for e in levels] for op, levels in breakdown.items()}
    for key in ("ideal_cycle", "ideal_temporal_cycle", "stall_slack_comb", "data_onloading_cycle",
                "data_offloading_cycle", "latency_total0", "latency_total2"):
        value = getattr(cme, key, None)
        if value is not None:
            out[key] = float(value)
    try:
        out["temporal_mapping"] = str(cme.mapping.temporal_mapping)
    except AttributeError:
        pass
    return out


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layers", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--hardware", default="tpu_like")
    parser.add_argument("--lpf-limit", type=int, default=6)
    parser.add_argument("--opt", default="latency", choices=("latency", "energy", "EDP"))
    parser.add_argument("--variants", type=Path, help="JSON list of tpu_like variants")
    args = parser.parse_args()
    if args.variants:
        run_variants(args)
        return

    from zigzag.api import get_hardware_performance_zigzag

    logging.disable(logging.CRITICAL)
    inputs = files("zigzag").joinpath("inputs")
    accelerator = str(inputs.joinpath("hardware", f"{args.hardware}.yaml"))
    mapping = str(inputs.joinpath("mapping", f"{args.hardware}.yaml"))
    results = []
    with tempfile.TemporaryDirectory(prefix="zigzag_") as tmp:
        for i, layer in enumerate(json.loads(args.layers.read_text())):
            start, cpu = time.perf_counter(), cpu_seconds()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                energy, latency, _ = get_hardware_performance_zigzag(
                    [zigzag_layer(layer, 0)], accelerator, mapping, opt=args.opt,
                    lpf_limit=args.lpf_limit, dump_folder=f"{tmp}/{i}",
                    loma_show_progress_bar=False)
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            results.append({"layer": layer["name"], "latency_cycles": float(latency),
                            "energy_pj": float(energy), "wall_s": wall, "cpu_s": cpu})
            print(json.dumps(results[-1]), flush=True)
    args.out.write_text(json.dumps({
        "peer": f"zigzag-dse {version('zigzag-dse')}", "hardware": args.hardware,
        "mapping": args.hardware, "lpf_limit": args.lpf_limit, "opt": args.opt,
        "layers": results}, indent=1))


def run_variants(args: argparse.Namespace) -> None:
    """Every layer on every variant; results appended to OUT as JSON lines (a rerun resumes)."""
    from zigzag.api import get_hardware_performance_zigzag

    logging.disable(logging.CRITICAL)
    layers = json.loads(args.layers.read_text())
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            row = json.loads(line)
            done.add((row["variant"], row["layer"], row["opt"]))
    with tempfile.TemporaryDirectory(prefix="zigzag_") as tmp:
        for variant in json.loads(args.variants.read_text()):
            hw, mapping = variant_files(variant, Path(tmp))
            for i, layer in enumerate(layers):
                if (variant["name"], layer["name"], args.opt) in done:
                    continue
                start, cpu = time.perf_counter(), cpu_seconds()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    energy, latency, cmes = get_hardware_performance_zigzag(
                        [zigzag_layer(layer, 0)], hw, mapping, opt=args.opt,
                        lpf_limit=args.lpf_limit, dump_folder=f"{tmp}/{variant['name']}_{i}",
                        loma_show_progress_bar=False)
                row = {"variant": variant["name"], "layer": layer["name"], "opt": args.opt,
                       "peer": f"zigzag-dse {version('zigzag-dse')}", "lpf_limit": args.lpf_limit,
                       "energy_pj": float(energy), "latency_cycles": float(latency),
                       "wall_s": time.perf_counter() - start, "cpu_s": cpu_seconds() - cpu,
                       **cme_details(cmes)}
                with args.out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(variant["name"], layer["name"], args.opt, f"{energy:.4g} pJ",
                      f"{latency:.0f} cycles", f"{row['wall_s']:.1f} s", flush=True)


if __name__ == "__main__":
    main()
