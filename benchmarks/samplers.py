"""Search efficiency: hypervolume per sampler and mode (joint, nested sweep) by trials and by wall clock.

Quickstart (default): ``spaces/quickstart.yaml`` on the digits CNN is small enough to enumerate
(12 distinct model-side choices x 720 hardware points, all through the real PPA model), so the true
front is known. Accuracies come from a table of real proxy results (``--table``, measured once per
distinct quantization plan with the quickstart's proxy settings and kept in
``benchmarks/data/``), so every sampler sees the same exact objective at lookup cost, and wall clock
is simulated: measured sampler and PPA seconds plus the measured proxy seconds for each plan a run
asks for the first time (``--proxy-seconds`` to price a costlier proxy).

Large (``--large``): ``spaces/quidam-layers.yaml`` (per-layer weight bits on 4 layers x 3 widths,
4 PE types, the QUIDAM hardware grid): no enumeration; fractions are of the best front found by any
run. Its accuracies are an additive surrogate of the quickstart table (per-layer weight-bit drops
weighted by the layer's MAC share, plus the activation drop), stated as such.

Printed per sampler and mode: hypervolume fraction (median [min-max] over ``--seeds``) after
25/50/100 trials (joint) or 4/8/12 model-side choices (nested), at 1/3/10 simulated minutes, the
minutes to reach 0.97 and 0.99, proxy evaluations, and sampler seconds per trial.

Run: ``.venv/bin/python benchmarks/samplers.py`` (quickstart; tens of minutes on 2 shared cores with
gp and botorch); ``.venv/bin/python benchmarks/samplers.py --large --seeds 3``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
from pydantic import TypeAdapter

from coexplore.record import write_record
from coexplore.record.front import front_hypervolume, hypervolume, study_front
from coexplore.search.evaluate import TrialEvaluator
from coexplore.search.nested import HardwareSweep, run_nested
from coexplore.search.objectives import parse_objectives
from coexplore.search.samplers import SAMPLERS, SamplerConfig, make_sampler
from coexplore.search.space import load_space
from coexplore.search.study_config import SweepSettings

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "benchmarks" / "data" / "sampler_accuracy_quickstart.json"
OBJECTIVES = {  # digits-scale reference point: just worse than the worst feasible design of the grid
    "objectives": ["accuracy", "energy_mj", "area_mm2"],
    "constraints": ["accuracy_drop <= 10"],
    "reference_point": {"accuracy": 0.8, "energy_mj": 0.02, "area_mm2": 1.5},
}
OBJECTIVES_LARGE = {**OBJECTIVES,  # the QUIDAM grid's designs are larger: just worse than its worst feasible one
                    "reference_point": {"accuracy": 0.8, "energy_mj": 0.005, "area_mm2": 70.0}}
BUDGETS_MIN = (1, 3, 10)


class TableProxy:
    """The accuracy proxy's contract (``layer_names``, ``evaluate(plan)``) answered from a table;
    ``cache_hit`` is False the first time a run asks for a plan (``reset`` starts a run)."""

    def __init__(self, lookup, layer_names: list[str], workload) -> None:
        self.lookup, self.layer_names, self._workload = lookup, list(layer_names), workload
        self.seen: set[str] = set()

    def workload(self):
        return self._workload

    def reset(self) -> None:
        self.seen = set()

    def evaluate(self, plan):
        key = plan.key()
        acc, base = self.lookup(plan)
        hit = key in self.seen
        self.seen.add(key)
        return SimpleNamespace(accuracy=acc, baseline_accuracy=base, drop=base - acc, seconds=0.0, cache_hit=hit,
                               key=key)


def real_proxy(finetune_steps: int):
    """The quickstart's accuracy proxy (digits CNN), its cache under ``coexplore-runs/bench-cache``."""
    from coexplore.accuracy import ProxyConfig, ProxyEvaluator

    cache = ROOT / "coexplore-runs" / "bench-cache"
    return ProxyEvaluator(ProxyConfig(model="digits_cnn", dataset="digits", finetune_steps=finetune_steps, threads=1),
                          cache_dir=cache, cache_url=f"sqlite:///{(cache / 'proxy.db').resolve()}")


def measured_table(space, proxy, path: Path) -> dict:
    """plan key -> {accuracy, baseline_accuracy, seconds}: the real proxy on every model-side choice
    of ``space`` (network-level bits), read from ``path`` when there, else measured and written."""
    if path.is_file():
        return json.loads(path.read_text())
    table = {}
    for params in space.model_params(proxy.layer_names):
        from coexplore.quant import QuantPlan

        plan = QuantPlan(**space.model_choice(params, proxy.layer_names).model_dump())
        proxy.evaluate(plan)  # the first miss also pretrains: time a second, cache-free call below
        res = proxy.evaluate(plan)
        secs = proxy.cache.get(res.key).train_seconds
        table[plan.key()] = {"accuracy": res.accuracy, "baseline_accuracy": res.baseline_accuracy, "seconds": secs,
                             "params": params}
        print(f"  proxy {params}: accuracy {res.accuracy:.4f} in {secs:.1f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1))
    return table


def surrogate(table: dict, layer_macs: dict[str, float]):
    """An additive per-layer accuracy model from the network-level table (the large benchmark)."""
    by = {(r["params"]["pe_type"], r["params"].get("weight_bits"), r["params"].get("act_bits")): r
          for r in table.values()}
    base = next(iter(table.values()))["baseline_accuracy"]
    a88 = by[("int8", 8, 8)]["accuracy"]
    w_drop = {w: a88 - by[("int8", w, 8)]["accuracy"] for w in (2, 4, 8)}
    a_drop = {a: a88 - by[("int8", 8, a)]["accuracy"] for a in (4, 8)}
    total = sum(layer_macs.values())

    def lookup(plan):
        w, a = plan.resolve(list(layer_macs))
        if plan.pe_type.startswith("lightpe"):
            return by[(plan.pe_type, 8 if plan.pe_type == "lightpe2" else 4, min(8, a[1]))]["accuracy"], base
        drop = sum(layer_macs[n] / total * w_drop[min(8, b)] for n, b in zip(layer_macs, w))
        return a88 - drop - a_drop[min(8, a[1])], base

    return lookup


def sampler_settings(name: str):
    extra = {"n_startup_trials": 10} if name in ("botorch", "gp", "tpe") else {}
    return TypeAdapter(SamplerConfig).validate_python({"name": name, **extra})


def joint_run(name: str, seed: int, n_max: int, ev: TrialEvaluator, cost: dict, cap_s: float) -> list[tuple]:
    """One joint search: (trials, simulated seconds, hypervolume, proxy evaluations) after each trial."""
    obj = ev.objectives
    sampler = make_sampler(sampler_settings(name), seed=seed, directions=obj.directions,
                           reference_point=obj.reference, canonical=ev.space.canonical_params)
    study = optuna.create_study(directions=obj.directions, sampler=sampler)
    ev.proxy.reset()
    clock, plans, front, trace = 0.0, 0, [], []
    for i in range(n_max):
        t0 = time.perf_counter()
        trial = study.ask()
        hw, choice = ev.space.suggest(trial, ev.layer_names)
        rec = ev.evaluate(hw, choice)
        write_record(trial, rec)
        study.tell(trial, rec.values)
        clock += time.perf_counter() - t0
        if not rec.proxy_cache_hit:
            plans += 1
            clock += cost.get(ev.plan(choice).key(), cost["mean"])
        if rec.feasible:
            front.append(rec.values)
        hv = hypervolume(np.array(front), obj.directions, obj.reference) if front else 0.0
        trace.append((i + 1, clock, hv, plans, i + 1, clock - sum(cost.get(k, cost["mean"]) for k in ev.proxy.seen)))
        if clock > cap_s and i + 1 >= 50:  # past the last wall-clock budget and the 50-trial checkpoint
            break
    return trace


def nested_run(name: str, seed: int, n_max: int, ev: TrialEvaluator, cost: dict, settings: SweepSettings) -> list[tuple]:
    """One nested search: (choices swept, simulated seconds, hypervolume, proxy evaluations, trials) per choice."""
    obj = ev.objectives
    sampler = make_sampler(sampler_settings(name), seed=seed, directions=obj.directions,
                           reference_point=obj.reference, canonical=ev.space.canonical_params)
    study = optuna.create_study(directions=obj.directions, sampler=sampler)
    ev.proxy.reset()
    trace: list[tuple] = []
    t0 = time.perf_counter()

    def step(stats) -> None:  # after each choice: its clock (the front's hypervolume is not timed)
        nonlocal t0
        own = time.perf_counter() - t0 + (trace[-1][5] if trace else 0.0)
        proxy = sum(cost.get(key, cost["mean"]) for key in ev.proxy.seen)
        hv = front_hypervolume(study_front(study), obj.directions, obj.reference)
        trace.append((stats.choices_swept, own + proxy, hv, len(ev.proxy.seen), len(study.trials), own))
        t0 = time.perf_counter()

    run_nested(study, ev, n_max, settings, seed=seed, on_choice=step)
    return trace


def _at(trace: list[tuple], col: int, limit: float) -> tuple[float, bool]:
    """Hypervolume at the last trace point with ``trace[col] <= limit``; True when the run had ended."""
    pts = [p for p in trace if p[col] <= limit]
    return (pts[-1][2] if pts else 0.0), bool(trace) and trace[-1][col] <= limit


def _cell(vals: list[float], ended: bool = False) -> str:
    v = np.array(vals)
    return f"{np.median(v):.3f} [{v.min():.2f}-{v.max():.2f}]{'+' if ended else ' '}"


def _minutes_to(traces: list[list[tuple]], ref: float, frac: float) -> str:
    t = [next((p[1] / 60 for p in tr if p[2] >= frac * ref), np.inf) for tr in traces]
    med = float(np.median(t))
    return "never" if not np.isfinite(med) else f"{med:.2f} [{min(t):.2f}-{max(t):.2f}]".replace("inf", "never")


def report(rows: list[tuple[str, str, list]], ref: float, checkpoints: dict[str, list[int]], cap_note: str) -> None:
    head = (f"| mode | sampler | HV at N (N = {'/'.join(map(str, checkpoints['joint']))} trials joint, "
            f"{'/'.join(map(str, checkpoints['nested']))} choices nested) | "
            + " | ".join(f"HV at {b} min" for b in BUDGETS_MIN)
            + " | min to 0.97 | min to 0.99 | proxy evals | trials | s/step w/o proxy |")
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    for mode, name, traces in rows:
        cells = []
        for n in checkpoints[mode]:
            vals = [(tr[min(n, len(tr)) - 1][2] / ref) if tr else 0.0 for tr in traces]
            cells.append(_cell(vals, any(len(tr) < n for tr in traces)))
        budget_cells = []
        for b in BUDGETS_MIN:
            got = [_at(tr, 1, b * 60) for tr in traces]
            budget_cells.append(_cell([g[0] / ref for g in got], any(g[1] for g in got) and mode == "joint"))
        plans = np.median([tr[-1][3] for tr in traces])
        trials = np.median([tr[-1][4] if mode == "nested" else tr[-1][0] for tr in traces])
        per = np.median([tr[-1][5] / max(1, tr[-1][0]) for tr in traces])
        print(f"| {mode} | {name} | {' / '.join(cells)} | " + " | ".join(budget_cells)
              + f" | {_minutes_to(traces, ref, 0.97)} | {_minutes_to(traces, ref, 0.99)} | {plans:.0f} | {trials:.0f}"
              f" | {per:.3f} |", flush=True)
    print(cap_note)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", action="store_true", help="per-layer bits on the QUIDAM grid (no enumeration)")
    ap.add_argument("--samplers", default="random,nsga2,tpe,gp,botorch")
    ap.add_argument("--nested-samplers", default="bound,random,tpe,gp,botorch",
                    help="'bound': sweep.order bound (the default); others: sweep.order sampler with that sampler")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=100, help="joint trials per run (at most)")
    ap.add_argument("--choices", type=int, default=16, help="model-side choices per nested run (at most)")
    ap.add_argument("--proxy-seconds", type=float, default=None, help="price of one proxy plan (default: measured)")
    ap.add_argument("--finetune-steps", type=int, default=120)
    ap.add_argument("--table", default=str(TABLE))
    ap.add_argument("--dump", default="", help="write this process's runs to a JSON file")
    ap.add_argument("--merge", default="", help="comma-separated --dump files to report with this process's runs")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import torch

    torch.set_num_threads(1)
    proxy = real_proxy(args.finetune_steps)
    wl, layers = proxy.workload(), list(proxy.layer_names)
    quick = load_space(ROOT / "spaces" / "quickstart.yaml")
    table = measured_table(quick, proxy, Path(args.table))
    proxy_s = float(np.mean([r["seconds"] for r in table.values()]))
    if args.proxy_seconds is not None:
        proxy_s = args.proxy_seconds
    cost = {"mean": proxy_s} if args.proxy_seconds is not None else \
        {"mean": proxy_s, **{k: r["seconds"] for k, r in table.items()}}
    objectives = parse_objectives(OBJECTIVES_LARGE if args.large else OBJECTIVES)
    if args.large:
        space = load_space(ROOT / "spaces" / "quidam-layers.yaml")
        lookup = surrogate(table, {layer.name: float(layer.macs) for layer in wl.layers})
    else:
        space = quick

        def lookup(plan):
            r = table[plan.key()]
            return r["accuracy"], r["baseline_accuracy"]
    ev = TrialEvaluator(space, objectives, TableProxy(lookup, layers, wl), wl)
    settings = SweepSettings()
    true_hv = None
    if not args.large:
        sweeper = HardwareSweep(ev, SweepSettings(max_points=10**9))
        allv = []
        for params in space.model_params(layers):
            choice = space.model_choice(params, layers)
            r = ev.proxy.evaluate(ev.plan(choice))
            vals, viol = sweeper._measure(np.arange(sweeper.size), choice.pe_type, *ev._layer_bits(ev.plan(choice)),
                                          (r.accuracy, r.baseline_accuracy))
            allv.append(vals[viol <= 0])
        true_hv = hypervolume(np.concatenate(allv), objectives.directions, objectives.reference)
        print(f"quickstart space: {len(space.model_params(layers))} model-side choices x {sweeper.size} hardware points;"
              f" true hypervolume {true_hv:.6g}; proxy {proxy_s:.2f} s per plan")
    else:
        print(f"large space: {len(space.model_params(layers, limit=10**6))} model-side choices x"
              f" {HardwareSweep(ev, settings).size} hardware points per PE type; proxy "
              f"{proxy_s:.2f} s per plan (surrogate accuracies)")
    cap_s = max(BUDGETS_MIN) * 60
    rows = []
    for name in args.nested_samplers.split(","):
        if name:  # "bound": the default order (sampler unused where the model side is enumerable)
            order = "bound" if name == "bound" else "sampler"
            t0 = time.perf_counter()
            rows.append(("nested", name, [nested_run("tpe" if name == "bound" else name, s, args.choices, ev, cost,
                                                     settings.model_copy(update={"order": order}))
                                          for s in range(args.seeds)]))
            print(f"  (nested {name}: {time.perf_counter() - t0:.0f} s real)", flush=True)
    for name in filter(None, args.samplers.split(",")):
        if name not in SAMPLERS:
            raise SystemExit(f"unknown sampler {name}; allowed: {', '.join(SAMPLERS)}")
        t0 = time.perf_counter()
        rows.append(("joint", name, [joint_run(name, s, args.trials, ev, cost, cap_s) for s in range(args.seeds)]))
        print(f"  (joint {name}: {time.perf_counter() - t0:.0f} s real)", flush=True)
    if args.dump:  # runs of several processes, reported together with --merge
        Path(args.dump).write_text(json.dumps({"true_hv": true_hv, "rows": rows}))
    for path in filter(None, args.merge.split(",")):
        rows += [tuple(r) for r in json.loads(Path(path).read_text())["rows"]]
    ref = true_hv if true_hv is not None else max(tr[-1][2] for _, _, trs in rows for tr in trs)
    what = "the true front's hypervolume" if true_hv is not None else "the best hypervolume any run found"
    report(rows, ref, {"joint": [25, 50, 100], "nested": [4, 8, 12]},
           f"Fractions of {what}; median [min-max] over {args.seeds} seeds; '+': some run ended (trial or choice "
           f"budget, or every choice swept) before that point, its last value shown.")


if __name__ == "__main__":
    main()
