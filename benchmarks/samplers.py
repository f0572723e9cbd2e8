"""Search efficiency: hypervolume after N trials per sampler, against the true front of an enumerable space.

The space (default ``spaces/quickstart.yaml`` on the digits CNN) is small enough to enumerate:
every hardware grid point x every model-side choice goes through the real PPA model, with the real
accuracy proxy's results precomputed once per distinct quantization plan and cached (the proxy's
result cache, in ``--cache``), so every sampler sees the same exact objective at lookup cost.

Printed per sampler: hypervolume as a fraction of the true front's after each N in ``--trials``
(mean and min-max over ``--seeds``), sampler seconds per trial (its own overhead: the objective is a
lookup), distinct proxy plans asked for, and an estimated wall clock at realistic trial costs
(sampler overhead + measured proxy seconds for each distinct plan + PPA time), with hypervolume per
wall-clock minute: what a user waits for.

Run: ``.venv/bin/python benchmarks/samplers.py`` (about 15-30 min on 2 cores with botorch and gp);
``--samplers nsga2,tpe,random --seeds 2 --trials 25,50`` for a quick look.
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from pathlib import Path

import numpy as np
import optuna

from coexplore.hardware.design import DesignBatch
from coexplore.record import compute_metrics, write_record
from coexplore.record.front import hypervolume
from coexplore.search.evaluate import PPA_TOTALS, TrialEvaluator
from coexplore.search.objectives import parse_objectives
from coexplore.search.samplers import SAMPLERS, make_sampler
from coexplore.search.space import load_space

ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES = {  # digits-scale reference point: just worse than the worst feasible design of the grid
    "objectives": ["accuracy", "energy_mj", "area_mm2"],
    "constraints": ["accuracy_drop <= 10"],
    "reference_point": {"accuracy": 0.8, "energy_mj": 0.02, "area_mm2": 1.5},
}


def model_choices(space) -> list[dict]:
    """Every model-side parameter combination (network-level bits) as Optuna param dicts."""
    out = []
    for pe in space.model.pe_type:
        axes = {"pe_type": [pe]}
        for key in ("weight_bits", "act_bits"):
            spec = getattr(space.model, key)
            if spec is not None and pe in space.model.searched_pe_types(key):
                if spec.per != "network":
                    raise SystemExit(f"benchmark enumerates network-level bits only; {key}.per is {spec.per}")
                axes[key] = list(spec.choices)
        out += [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    return out


def enumerate_front(evaluator: TrialEvaluator, space, objectives) -> tuple[np.ndarray, float, float]:
    """(objective values of all feasible points, true hypervolume, mean proxy seconds per plan)."""
    grid = space.hardware_grid()
    names = list(space.hardware)
    feasible_vals, plan_seconds = [], {}
    for params in model_choices(space):
        fixed = {k: grid[k][0] for k in names}
        _, choice = space.suggest(optuna.trial.FixedTrial({**params, **fixed}), evaluator.layer_names)
        plan = evaluator.plan(choice)
        res = evaluator.proxy.evaluate(plan)
        if not res.cache_hit:
            plan_seconds[res.key] = res.seconds
        else:
            plan_seconds.setdefault(res.key, evaluator.proxy.cache.get(res.key).train_seconds)
        cols = {k: [v for pe, v in zip(grid["pe_type"], grid[k]) if pe == choice.pe_type] for k in grid}
        w, a = plan.resolve(evaluator.layer_names)  # the workload is the proxy model's: same layers
        ppa = evaluator.ppa_evaluate(DesignBatch.from_columns(cols), evaluator.workload, weight_bits=np.asarray(w),
                                     act_bits=np.asarray(a))
        raw = {k: np.asarray(getattr(ppa, k), dtype=float) for k in PPA_TOTALS}
        n = len(cols["pe_type"])
        raw.update(accuracy=np.full(n, res.accuracy), baseline_accuracy=np.full(n, res.baseline_accuracy))
        m = compute_metrics(raw)
        ok = np.asarray(ppa.feasible, dtype=bool)
        for c in objectives.parsed_constraints():
            ok &= np.array([c.violation({c.metric: v}) <= 0 for v in m[c.metric]])
        vals = np.stack([m[n] for n in objectives.names], axis=1)[ok]
        feasible_vals.append(vals)
    allv = np.concatenate(feasible_vals)
    hv = hypervolume(allv, objectives.directions, objectives.reference)
    return allv, hv, float(np.mean(list(plan_seconds.values())))


def run_sampler(name: str, seed: int, n_trials: int, evaluator: TrialEvaluator, objectives) -> dict:
    """One search; returns hypervolume after each trial, sampler seconds, distinct plans asked."""
    settings = {"name": name}
    if name in ("botorch", "gp", "tpe"):
        settings["n_startup_trials"] = 10
    from pydantic import TypeAdapter

    from coexplore.search.samplers import SamplerConfig

    cfg = TypeAdapter(SamplerConfig).validate_python(settings)
    sampler = make_sampler(cfg, seed=seed, directions=objectives.directions, reference_point=objectives.reference)
    study = optuna.create_study(directions=objectives.directions, sampler=sampler)
    objective_seconds, sampler_seconds, plans, hv = [], [], set(), []
    front: list = []
    for _ in range(n_trials):
        t0 = time.perf_counter()
        trial = study.ask()  # the sampler works here and at the first suggest (relative sampling)
        hw, choice = evaluator.space.suggest(trial, evaluator.layer_names)
        t1 = time.perf_counter()
        out = evaluator.evaluate(hw, choice)  # the trial record: PPA model + a proxy cache hit
        t2 = time.perf_counter()
        write_record(trial, out)  # its constraints too, which the samplers read
        study.tell(trial, out.values)
        sampler_seconds.append(t1 - t0 + time.perf_counter() - t2)
        objective_seconds.append(t2 - t1)
        plans.add(evaluator.plan(choice).key())
        if out.feasible:
            front.append(out.values)
        hv.append(hypervolume(np.array(front), objectives.directions, objectives.reference) if front else 0.0)
    return {"hv": hv, "sampler_s": float(np.mean(sampler_seconds)), "sampler_last_s": float(np.mean(sampler_seconds[-10:])),
            "ppa_s": float(np.mean(objective_seconds)), "plans": len(plans)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(ROOT / "spaces" / "quickstart.yaml"))
    ap.add_argument("--samplers", default="random,nsga2,tpe,gp,botorch")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--trials", default="25,50,100")
    ap.add_argument("--finetune-steps", type=int, default=120)
    ap.add_argument("--cache", default=str(ROOT / "coexplore-runs" / "bench-cache"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    import torch

    torch.set_num_threads(1)
    from coexplore.accuracy import ProxyConfig, ProxyEvaluator

    space = load_space(args.space)
    objectives = parse_objectives(OBJECTIVES)
    cache = Path(args.cache)
    proxy = ProxyEvaluator(ProxyConfig(model="digits_cnn", dataset="digits", finetune_steps=args.finetune_steps, threads=1),
                           cache_dir=cache, cache_url=f"sqlite:///{(cache / 'proxy.db').resolve()}")
    evaluator = TrialEvaluator(space, objectives, proxy, proxy.workload())
    t0 = time.perf_counter()
    allv, true_hv, proxy_s = enumerate_front(evaluator, space, objectives)
    n_hw = space.grid_size() // len(space.model.pe_type)
    print(f"space {args.space}: {len(allv)} feasible of {n_hw} hardware points x {len(model_choices(space))} model-side choices;"
          f" true front hypervolume {true_hv:.6g} (enumerated in {time.perf_counter() - t0:.0f} s);"
          f" proxy {proxy_s:.1f} s per distinct plan (measured)")
    checkpoints = [int(x) for x in args.trials.split(",")]
    n_max = max(checkpoints)
    header = f"{'sampler':8} " + " ".join(f"{'HV@' + str(c):>17}" for c in checkpoints)
    header += f" {'sampler s/trial':>15} {'last 10':>8} {'plans':>6} {'est. wall min':>13} {'HV/min':>8}"
    print(header)
    for name in args.samplers.split(","):
        if name not in SAMPLERS:
            raise SystemExit(f"unknown sampler {name}; allowed: {', '.join(SAMPLERS)}")
        runs = [run_sampler(name, seed, n_max, evaluator, objectives) for seed in range(args.seeds)]
        cells = []
        for c in checkpoints:
            r = np.array([run["hv"][c - 1] / true_hv for run in runs])
            cells.append(f"{r.mean():.3f} [{r.min():.2f}-{r.max():.2f}]")
        s_trial = float(np.mean([r["sampler_s"] for r in runs]))
        s_last = float(np.mean([r["sampler_last_s"] for r in runs]))
        plans = float(np.mean([r["plans"] for r in runs]))
        wall = n_max * (s_trial + np.mean([r["ppa_s"] for r in runs])) + plans * proxy_s
        final = float(np.mean([run["hv"][-1] / true_hv for run in runs]))
        print(f"{name:8} " + " ".join(f"{c:>17}" for c in cells)
              + f" {s_trial:15.3f} {s_last:8.3f} {plans:6.1f} {wall / 60:13.1f} {final / (wall / 60):8.3f}", flush=True)


if __name__ == "__main__":
    main()
