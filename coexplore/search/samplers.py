"""Samplers a study may use, their settings (the study file's ``sampler:`` section), and factories.

``botorch`` is qLogNEHVI (Daulton et al., NeurIPS 2021; the log form: Ament et al., NeurIPS 2023)
with outcome constraints through ``optuna_integration.BoTorchSampler``, with a lean acquisition
optimization: Optuna-integration's default (20 restarts x 1024 raw samples, 256 MC samples) costs
20-60 s per trial on a 2-core machine (docs/PEERS.md), more than the accuracy proxy it spares. The
defaults below (2 restarts x 128 raw samples, 64 MC samples, 50 L-BFGS iterations, the last
``max_history`` trials, one torch thread) cost about 2 s per trial on the quickstart space
(``benchmarks/samplers.py``, 2 cores, 2026-11-23). One thread matters most: on two busy cores the
default thread count made one GP fit + acquisition 13x slower (52 s vs 4 s for 20 trials).

Measured on the quickstart space against its enumerated true front (fraction of the true
hypervolume after 25 / 50 / 100 trials, sampler seconds per trial): GP 0.988 / 0.999 / 0.999 at
1 s; TPE 0.903 / 0.975 / 0.995 at 0.015 s; lean BoTorch 0.972 flat at 2 s (it settles on one PE
type and repeats points: conditional bit-width parameters fall outside its intersection search
space and are sampled at random); NSGA-II 0.874 / 0.891 / 0.960 and random 0.865 / 0.905 / 0.927
at 0.002 s.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import optuna
    import torch


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BotorchSettings(_Strict):
    """qLogNEHVI via BoTorch: GP per outcome, constraints modelled as outcomes."""

    name: Literal["botorch"]
    n_startup_trials: int = Field(default=10, ge=1)
    num_restarts: int = Field(default=2, ge=1)
    raw_samples: int = Field(default=128, ge=8)
    mc_samples: int = Field(default=64, ge=8)
    maxiter: int = Field(default=50, ge=1)
    max_history: int = Field(default=60, ge=5)
    consider_running_trials: bool = True
    threads: int = Field(default=1, ge=1)


class GPSettings(_Strict):
    """Optuna's native GP sampler (log EHVI, constraints)."""

    name: Literal["gp"]
    n_startup_trials: int = Field(default=10, ge=1)


class NSGA2Settings(_Strict):
    """NSGA-II (Deb et al., IEEE TEVC 2002) with constrained domination."""

    name: Literal["nsga2"]
    population_size: int = Field(default=20, ge=2)
    mutation_prob: float | None = Field(default=None, ge=0, le=1)
    crossover_prob: float = Field(default=0.9, ge=0, le=1)


class TPESettings(_Strict):
    """Multi-objective TPE (Ozaki et al., GECCO 2020)."""

    name: Literal["tpe"]
    n_startup_trials: int = Field(default=10, ge=1)
    multivariate: bool = True


class RandomSettings(_Strict):
    """Uniform random sampling: the baseline every other sampler must beat."""

    name: Literal["random"]


SamplerConfig = Annotated[
    BotorchSettings | GPSettings | NSGA2Settings | TPESettings | RandomSettings, Field(discriminator="name")
]
SAMPLERS: tuple[str, ...] = ("botorch", "gp", "nsga2", "tpe", "random")


class LeanQLogNEHVI:
    """A ``candidates_func`` for ``BoTorchSampler``: qLogNEHVI with a cheap acquisition optimization.

    Tensors (BoTorch maximizes): ``train_x`` n x d, ``train_obj`` n x m, ``train_con`` n x c or
    None (feasible iff <= 0), ``bounds`` 2 x d, ``pending_x`` p x d or None; returns 1 x d.

    Args:
        ref_point: hypervolume reference point in BoTorch's maximization sign (m).
        settings: restarts, raw samples, MC samples, iterations, history cap.
    """

    def __init__(self, ref_point: Sequence[float], settings: BotorchSettings) -> None:
        self.ref_point = [float(v) for v in ref_point]
        self.s = settings

    def __call__(
        self,
        train_x: torch.Tensor,
        train_obj: torch.Tensor,
        train_con: torch.Tensor | None,
        bounds: torch.Tensor,
        pending_x: torch.Tensor | None,
    ) -> torch.Tensor:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(self.s.threads)  # small GPs: extra threads only contend (13x slower on 2 busy cores)
        try:
            return self._candidates(train_x, train_obj, train_con, bounds, pending_x)
        finally:
            torch.set_num_threads(threads)

    def _candidates(self, train_x, train_obj, train_con, bounds, pending_x):
        import torch
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from botorch.optim import optimize_acqf
        from botorch.sampling import SobolQMCNormalSampler
        from botorch.utils.transforms import normalize, unnormalize
        from gpytorch.mlls import ExactMarginalLogLikelihood

        h = self.s.max_history
        train_x, train_obj = train_x[-h:], train_obj[-h:]
        n_obj = train_obj.size(-1)
        kwargs: dict[str, Any] = {}
        train_y = train_obj
        if train_con is not None:
            train_con = train_con[-h:]
            train_y = torch.cat([train_obj, train_con], dim=-1)
            n_con = train_con.size(-1)
            kwargs["objective"] = IdentityMCMultiOutputObjective(outcomes=list(range(n_obj)))
            kwargs["constraints"] = [
                (lambda Z, i=i: Z[..., n_obj + i]) for i in range(n_con)
            ]
        x = normalize(train_x, bounds=bounds)
        pending = normalize(pending_x, bounds=bounds) if pending_x is not None and len(pending_x) else None
        model = SingleTaskGP(x, train_y, outcome_transform=Standardize(m=train_y.size(-1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        acqf = qLogNoisyExpectedHypervolumeImprovement(
            model=model,
            ref_point=self.ref_point,
            X_baseline=x,
            prune_baseline=True,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([self.s.mc_samples])),
            X_pending=pending,
            **kwargs,
        )
        unit = torch.zeros_like(bounds)
        unit[1] = 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cand, _ = optimize_acqf(
                acq_function=acqf,
                bounds=unit,
                q=1,
                num_restarts=self.s.num_restarts,
                raw_samples=self.s.raw_samples,
                options={"batch_limit": 5, "maxiter": self.s.maxiter},
            )
        return unnormalize(cand.detach(), bounds=bounds)


def make_sampler(
    settings: Any,
    *,
    seed: int | None,
    directions: Sequence[str],
    reference_point: Sequence[float],
) -> optuna.samplers.BaseSampler:
    """Build the Optuna sampler named by ``settings.name``.

    Constraints need no wiring: trials set them with ``Trial.set_constraint`` and Optuna 5's
    samplers (NSGA-II, TPE, GP, BoTorch) read them from the trials.

    Args:
        settings: one of the ``*Settings`` models (a study file's ``sampler:`` section).
        seed: sampler seed (None: nondeterministic; workers use distinct seeds).
        directions: ``"minimize"``/``"maximize"`` per objective.
        reference_point: hypervolume reference point in objective units.
    """
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    name = settings.name
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(
            population_size=settings.population_size,
            mutation_prob=settings.mutation_prob,
            crossover_prob=settings.crossover_prob,
            seed=seed,
        )
    if name == "tpe":
        return optuna.samplers.TPESampler(
            n_startup_trials=settings.n_startup_trials,
            multivariate=settings.multivariate,
            seed=seed,
        )
    if name == "gp":
        return optuna.samplers.GPSampler(
            n_startup_trials=settings.n_startup_trials, seed=seed, warn_independent_sampling=False,
        )
    if name == "botorch":
        from optuna_integration import BoTorchSampler

        ref = [-v if d == "minimize" else v for v, d in zip(reference_point, directions)]
        return BoTorchSampler(
            candidates_func=LeanQLogNEHVI(ref, settings),
            n_startup_trials=settings.n_startup_trials,
            consider_running_trials=settings.consider_running_trials,
            seed=seed,
        )
    raise ValueError(f"unknown sampler '{name}'; allowed: {', '.join(SAMPLERS)}")
