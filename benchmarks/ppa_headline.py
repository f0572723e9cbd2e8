"""The shape of the seed papers' headline (QUIDAM, Inci et al. 2022) over the QUIDAM-like space.

QUIDAM reports, across its design space, more than 5x spread in performance per area and more
than 35x in energy, and LightPE designs with up to 5.7x more performance per area and energy
improvement than the best INT16 design (arXiv:2206.15463, abstract). This script evaluates the
whole hardware grid of ``spaces/quidam.yaml`` (PE types x array shape x scratchpads x GLB x DRAM
bandwidth; 51,840 points, each PE type at its native precision) on a workload and prints the
same figures.

Usage:
    .venv/bin/python benchmarks/ppa_headline.py [--workload resnet18]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from coexplore.hardware import DesignBatch
from coexplore.ppa import evaluate
from coexplore.workload import resolve

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="resnet18")
    parser.add_argument("--space", default=str(ROOT / "spaces" / "quidam.yaml"))
    args = parser.parse_args()

    from coexplore.search.space import load_space

    cols = load_space(args.space).hardware_grid()
    wl = resolve(args.workload)
    start = time.perf_counter()
    res = evaluate(DesignBatch.from_columns(cols), wl)
    seconds = time.perf_counter() - start
    df = pd.DataFrame({"pe_type": cols["pe_type"], "gops_per_mm2": res.gops_per_mm2,
                       "energy_j": res.energy_j, "feasible": res.feasible})
    ok = df[df.feasible]
    print(f"{args.workload}: {len(df):,} design points ({len(ok):,} feasible) in {seconds:.2f} s\n")

    print(f"{'pe_type':<10}{'best GOPS/mm^2':>16}{'min energy (mJ)':>18}{'median GOPS/mm^2':>18}{'median mJ':>12}")
    by_pe = ok.groupby("pe_type", sort=False)
    for pe, g in by_pe:
        print(f"{pe:<10}{g.gops_per_mm2.max():>16.2f}{1e3 * g.energy_j.min():>18.3f}"
              f"{g.gops_per_mm2.median():>18.2f}{1e3 * g.energy_j.median():>12.3f}")

    pa_spread = ok.gops_per_mm2.max() / ok.gops_per_mm2.min()
    e_spread = ok.energy_j.max() / ok.energy_j.min()
    light = ok[ok.pe_type.isin(["lightpe1", "lightpe2"])]
    int16 = ok[ok.pe_type == "int16"]
    pa_gain = light.gops_per_mm2.max() / int16.gops_per_mm2.max()
    e_gain = int16.energy_j.min() / light.energy_j.min()
    print()
    print(f"{'figure':<46}{'measured':>10}{'QUIDAM':>10}")
    print(f"{'perf/area spread across design points (max/min)':<46}{pa_spread:>9.1f}x{'> 5x':>10}")
    print(f"{'energy spread across design points (max/min)':<46}{e_spread:>9.1f}x{'> 35x':>10}")
    print(f"{'best LightPE vs best INT16, perf/area':<46}{pa_gain:>9.2f}x{'<= 5.7x':>10}")
    print(f"{'best LightPE vs best INT16, energy':<46}{e_gain:>9.2f}x{'<= 5.7x':>10}")


if __name__ == "__main__":
    main()
