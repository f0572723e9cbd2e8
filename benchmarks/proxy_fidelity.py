"""Proxy fidelity: Kendall tau between the brief fine-tune's accuracy and a 10x longer one's.

Run: ``.venv/bin/python benchmarks/proxy_fidelity.py [--steps N] [--factor 10] [--seed S]``.
Sixteen plans spanning PE types, bit widths and pinning on the default model (digits CNN); each is
fine-tuned for ``steps`` and for ``factor x steps`` from the same FP32 checkpoint, and the two
rankings are compared with Kendall's tau-b (ties allowed), as the target of issue 3 asks (>= 0.7).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from rich.console import Console
from rich.table import Table
from scipy.stats import kendalltau, spearmanr

from coexplore.accuracy import ProxyConfig, ProxyEvaluator
from coexplore.quant import QuantPlan

PLANS = {
    "int8": QuantPlan(pe_type="int8"),
    "int4": QuantPlan(pe_type="int4"),
    "int w3a3": QuantPlan(pe_type="int4", weight_bits=3, act_bits=3),
    "int w2a2": QuantPlan(pe_type="int4", weight_bits=2, act_bits=2),
    "int w2a2 pin8": QuantPlan(pe_type="int4", weight_bits=2, act_bits=2, pin_first_last=8),
    "int w2a4": QuantPlan(pe_type="int4", weight_bits=2, act_bits=4),
    "int w8a2": QuantPlan(pe_type="int8", weight_bits=8, act_bits=2),
    "int w4a2 pin8": QuantPlan(pe_type="int4", act_bits=2, pin_first_last=8),
    "lightpe1": QuantPlan(pe_type="lightpe1"),
    "lightpe1 w2": QuantPlan(pe_type="lightpe1", weight_bits=2),
    "lightpe1 w3a3": QuantPlan(pe_type="lightpe1", weight_bits=3, act_bits=3),
    "lightpe2": QuantPlan(pe_type="lightpe2"),
    "lightpe2 w4a3": QuantPlan(pe_type="lightpe2", weight_bits=4, act_bits=3),
    "binary": QuantPlan(pe_type="binary"),
    "binary pin8": QuantPlan(pe_type="binary", pin_first_last=8),
    "binary w1a2": QuantPlan(pe_type="binary", act_bits=2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=ProxyConfig().finetune_steps)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        brief_ev = ProxyEvaluator(
            ProxyConfig(seed=args.seed, finetune_steps=args.steps, threads=args.threads),
            cache_dir=folder,
        )
        long_ev = ProxyEvaluator(
            ProxyConfig(
                seed=args.seed, finetune_steps=args.steps * args.factor, threads=args.threads
            ),
            cache_dir=folder,
        )
        rows = []
        start = time.perf_counter()
        for name, plan in PLANS.items():
            brief, long = brief_ev.evaluate(plan), long_ev.evaluate(plan)
            rows.append((name, brief.accuracy, long.accuracy, brief.seconds, long.seconds))
        elapsed = time.perf_counter() - start
        baseline = brief_ev.baseline_accuracy
    tau, tau_p = kendalltau([r[1] for r in rows], [r[2] for r in rows])
    rho, _ = spearmanr([r[1] for r in rows], [r[2] for r in rows])
    table = Table(
        title=f"proxy fidelity: {args.steps} vs {args.steps * args.factor} fine-tune steps "
        f"(digits CNN, FP32 {baseline:.4f}, seed {args.seed})"
    )
    for col in (
        "plan",
        f"acc @{args.steps}",
        f"acc @{args.steps * args.factor}",
        "s brief",
        "s long",
    ):
        table.add_column(col, justify="left" if col == "plan" else "right")
    for name, b, lg, sb, sl in rows:
        table.add_row(name, f"{b:.4f}", f"{lg:.4f}", f"{sb:.1f}", f"{sl:.1f}")
    table.add_section()
    table.add_row("Kendall tau-b", f"{tau:.3f}", f"p={tau_p:.1e}", "", "")
    table.add_row("Spearman rho", f"{rho:.3f}", "", "", "")
    Console().print(table)
    print(
        f"{len(rows)} plans, {elapsed:.0f} s in all; load average (1 min) {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
