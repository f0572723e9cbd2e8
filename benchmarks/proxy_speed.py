"""Seconds per accuracy-proxy evaluation on the default model (digits CNN), cold and cached.

Run: ``.venv/bin/python benchmarks/proxy_speed.py [--steps N] [--threads N]``. Prints one row per
plan (seconds over every cross-validation fold, fine-tune steps per fold, accuracy), the one-off
FP32 pretraining time (one model per fold), a cache hit's time and the machine's load average,
since other jobs on a small machine slow every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from rich.console import Console
from rich.table import Table

from coexplore.accuracy import ProxyConfig, ProxyEvaluator
from coexplore.quant import QuantPlan

PLANS = {
    "int8": QuantPlan(pe_type="int8"),
    "int4": QuantPlan(pe_type="int4"),
    "int 2-bit, first/last 8": QuantPlan(
        pe_type="int4", weight_bits=2, act_bits=2, pin_first_last=8
    ),
    "lightpe1": QuantPlan(pe_type="lightpe1"),
    "lightpe2": QuantPlan(pe_type="lightpe2"),
    "binary, first/last 8": QuantPlan(pe_type="binary", pin_first_last=8),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--steps", type=int, default=None, help="fine-tune steps (default: ProxyConfig's)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: automatic)"
    )
    parser.add_argument("--dataset", default="digits")
    args = parser.parse_args()
    extra = {"finetune_steps": args.steps} if args.steps is not None else {}
    config = ProxyConfig(dataset=args.dataset, threads=args.threads, **extra)
    with tempfile.TemporaryDirectory() as folder:
        load_before = os.getloadavg()
        t0 = time.perf_counter()
        ev = ProxyEvaluator(config, cache_dir=folder)
        baseline = ev.baseline_accuracy
        pretrain_s = time.perf_counter() - t0
        table = Table(
            title=f"proxy speed: {ev.model_name} on {config.dataset}, {len(ev.folds)} fold(s), "
            f"{config.finetune_steps} base steps, {ev.threads} thread(s)"
        )
        for col in ("plan", "seconds", "steps", "accuracy", "drop"):
            table.add_column(col, justify="right" if col != "plan" else "left")
        seconds = []
        for name, plan in PLANS.items():
            r = ev.evaluate(plan)
            seconds.append(r.seconds)
            table.add_row(
                name, f"{r.seconds:.2f}", str(r.steps), f"{r.accuracy:.4f}", f"{r.drop:+.4f}"
            )
        hit = ev.evaluate(PLANS["int8"])
        load_after = os.getloadavg()
    table.add_section()
    table.add_row("mean per evaluation", f"{statistics.mean(seconds):.2f}", "", "", "")
    table.add_row("max per evaluation", f"{max(seconds):.2f}", "", "", "")
    table.add_row("FP32 pretrain (once, cached)", f"{pretrain_s:.2f}", "", f"{baseline:.4f}", "")
    table.add_row("cache hit", f"{hit.seconds:.4f}", "", "", "")
    Console().print(table)
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}; cores {os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
