"""Run ZigZag on a list of layers, one API call per layer, and record cycles, energy and wall time.

Runs under the ZigZag virtual environment (``benchmarks/.peers/zigzag/bin/python``, made by
``setup_peers.sh``); it imports nothing from coexplore. Input: a JSON list of coexplore `Layer`
dicts (``name, kind, n, c, k, h, w, r, s, stride, padding, groups``). Each layer is written as a
ZigZag user-format workload layer (the same equation and loop dimensions as ZigZag's own ONNX
conv parser) and evaluated by ``zigzag.api.get_hardware_performance_zigzag`` on a shipped
hardware/mapping pair (default ``tpu_like``), so each layer's wall time is measured alone.

Usage:
    python zigzag_run.py LAYERS.json OUT.json [--hardware tpu_like] [--lpf-limit 6] [--opt latency]
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
