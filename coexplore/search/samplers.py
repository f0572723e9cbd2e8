"""Samplers a study may use: each is one settings class (the study file's ``sampler:`` section)
whose ``build`` makes the Optuna sampler; adding a sampler is one class plus one entry in
:data:`_SETTINGS`.

``botorch`` is qLogEHVI (Daulton et al., NeurIPS 2020; the log form: Ament et al., NeurIPS 2023;
``acquisition: qlognehvi`` for the noisy variant) with constraints modelled as outcomes and pending
trials of other workers as ``X_pending``, through ``optuna_integration.BoTorchSampler``: every
parameter of a PE type x bits space is unconditional, so all of them are in its GP (categoricals
one-hot, candidates rounded back by the integration). Lean on purpose: Optuna-integration's
defaults cost 20-60 s per trial on 2 cores (docs/PEERS.md), and BoTorch 0.18's default GP fit
(batched L-BFGS-B, up to 5 attempts) took 70 s of an 86 s step on a loaded 2-core machine. Here:
one capped, warm-started Adam fit, 2 restarts x 128 raw samples, 64 MC samples, a timeout on the
acquisition optimization, the last ``max_history`` trials, one torch thread.

Measured (benchmarks/samplers.py, quickstart space enumerated, 2026-11-30, docs/benchmarks.md):
nested search (``hardware_search: sweep``) beats every joint sampler at equal wall clock; in joint
mode at 50 trials TPE 0.988, BoTorch 0.951, GP 0.937, NSGA-II 0.892, random 0.887 of the true
hypervolume (median of 5 seeds; BoTorch 3). The schema default is TPE: the cheapest per step, and
the best joint sampler at equal wall clock on the quickstart.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import optuna
    import torch


class _Strict(BaseModel):
    """Sampler settings: each subclass also defines ``build(seed, directions, reference_point)``,
    the Optuna sampler of those settings (settings and construction together)."""

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
    acquisition: Literal["qlogehvi", "qlognehvi"] = "qlogehvi"
    fit_maxiter: int = Field(default=100, ge=1)
    fit_timeout_s: float = Field(default=1.5, gt=0)
    acq_timeout_s: float = Field(default=1.5, gt=0)
    consider_running_trials: bool = True
    threads: int = Field(default=1, ge=1)

    def build(self, seed, directions, reference_point):
        from optuna_integration import BoTorchSampler

        ref = [-v if d == "minimize" else v for v, d in zip(reference_point, directions)]
        return BoTorchSampler(candidates_func=LeanQLogNEHVI(ref, self), n_startup_trials=self.n_startup_trials,
                              consider_running_trials=self.consider_running_trials, seed=seed)


class GPSettings(_Strict):
    """Optuna's native GP sampler (log EHVI, constraints)."""

    name: Literal["gp"]
    n_startup_trials: int = Field(default=10, ge=1)

    def build(self, seed, directions, reference_point):
        import optuna

        return optuna.samplers.GPSampler(n_startup_trials=self.n_startup_trials, seed=seed,
                                         warn_independent_sampling=False)


class NSGA2Settings(_Strict):
    """NSGA-II (Deb et al., IEEE TEVC 2002) with constrained domination."""

    name: Literal["nsga2"]
    population_size: int = Field(default=20, ge=2)
    mutation_prob: float | None = Field(default=None, ge=0, le=1)
    crossover_prob: float = Field(default=0.9, ge=0, le=1)

    def build(self, seed, directions, reference_point):
        import optuna

        return optuna.samplers.NSGAIISampler(population_size=self.population_size, mutation_prob=self.mutation_prob,
                                             crossover_prob=self.crossover_prob, seed=seed)


class TPESettings(_Strict):
    """Multi-objective TPE (Ozaki et al., GECCO 2020)."""

    name: Literal["tpe"]
    n_startup_trials: int = Field(default=10, ge=1)
    multivariate: bool = True

    def build(self, seed, directions, reference_point):
        import optuna

        return optuna.samplers.TPESampler(n_startup_trials=self.n_startup_trials, multivariate=self.multivariate,
                                          seed=seed)


class RandomSettings(_Strict):
    """Uniform random sampling: the baseline every other sampler must beat."""

    name: Literal["random"]

    def build(self, seed, directions, reference_point):
        import optuna

        return optuna.samplers.RandomSampler(seed=seed)


_SETTINGS = (BotorchSettings, GPSettings, NSGA2Settings, TPESettings, RandomSettings)
"""Every sampler: adding one is one settings class (fields + ``build``) and one entry here."""
SamplerConfig = Annotated[Union[_SETTINGS], Field(discriminator="name")]  # noqa: UP007 - a tuple of classes
SAMPLERS: tuple[str, ...] = tuple(c.model_fields["name"].annotation.__args__[0] for c in _SETTINGS)


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
        self._hyper: dict[str, Any] | None = None  # the last fit's hyperparameters (warm start)

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
        from botorch.optim.fit import fit_gpytorch_mll_torch
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
            # one attempt, capped iterations and time, warm-started from the last fit: BoTorch 0.18's
            # default (up to 5 attempts, unbounded L-BFGS) took 70 s of an 86 s step on 2 busy cores
            own = model.state_dict()
            if self._hyper is not None and all(k in own and own[k].shape == v.shape for k, v in self._hyper.items()):
                model.load_state_dict(self._hyper, strict=False)
            # Adam steps (fit_gpytorch_mll_torch): the batched scipy L-BFGS-B ignored its timeout
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), max_attempts=1,
                             optimizer=fit_gpytorch_mll_torch, warning_handler=lambda w: True,
                             optimizer_kwargs={"step_limit": self.s.fit_maxiter, "timeout_sec": self.s.fit_timeout_s})
            self._hyper = {k: v for k, v in model.state_dict().items() if "outcome_transform" not in k}
        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([self.s.mc_samples]))
        if self.s.acquisition == "qlogehvi":  # the observed feasible front, partitioned once
            from botorch.acquisition.multi_objective.logei import qLogExpectedHypervolumeImprovement
            from botorch.utils.multi_objective.box_decompositions.non_dominated import (
                FastNondominatedPartitioning,
            )

            feasible = (train_con <= 0).all(-1) if train_con is not None else torch.ones(len(train_obj), dtype=bool)
            ref = torch.tensor(self.ref_point, dtype=train_obj.dtype)
            part = FastNondominatedPartitioning(ref_point=ref, Y=train_obj[feasible])
            acqf = qLogExpectedHypervolumeImprovement(model=model, ref_point=self.ref_point, partitioning=part,
                                                      sampler=sampler, X_pending=pending, **kwargs)
        else:  # noisy: the baseline front under each posterior sample (a partitioning per MC sample)
            acqf = qLogNoisyExpectedHypervolumeImprovement(model=model, ref_point=self.ref_point, X_baseline=x,
                                                           prune_baseline=True, sampler=sampler, X_pending=pending,
                                                           **kwargs)
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
                options={"batch_limit": 5, "maxiter": self.s.maxiter}, timeout_sec=self.s.acq_timeout_s,
            )
        return unnormalize(cand.detach(), bounds=bounds)


def make_sampler(
    settings: Any,
    *,
    seed: int | None,
    directions: Sequence[str],
    reference_point: Sequence[float],
    canonical: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> optuna.samplers.BaseSampler:
    """Build the Optuna sampler named by ``settings.name``.

    Constraints need no wiring: trials set them with ``Trial.set_constraint`` and Optuna 5's
    samplers (NSGA-II, TPE, GP, BoTorch) read them from the trials.

    Args:
        settings: one of the ``*Settings`` models (a study file's ``sampler:`` section).
        seed: sampler seed (None: nondeterministic; workers use distinct seeds).
        directions: ``"minimize"``/``"maximize"`` per objective.
        reference_point: hypervolume reference point in objective units.
        canonical: maps proposed parameters to the canonical ones of the same design
            (:meth:`coexplore.search.space.SearchSpace.canonical_params`); the sampler then only
            ever proposes canonical points (:class:`Canonical`).
    """
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if not isinstance(settings, _SETTINGS):
        raise ValueError(  # noqa: TRY004 - a config error (the study file's sampler name), not a type error
            f"unknown sampler '{getattr(settings, 'name', settings)}'; allowed: {', '.join(SAMPLERS)}")
    sampler = settings.build(seed, directions, reference_point)
    if canonical is None:
        return sampler
    from coexplore.search.canonical import Canonical

    return Canonical(sampler, canonical)
