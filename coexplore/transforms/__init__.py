"""Model-side transforms: the DNN-configuration axis of a study, applied before quantization.

Order (:data:`STAGES`): architecture (Single-Path NAS, :mod:`coexplore.nas`), filter pruning,
virtual pooling (ViP), then the trial's quantization plan. The PPA model costs the workload of the
transformed network, and the proxy fine-tunes that same network, so a model-side choice changes
cost and accuracy consistently. Adding a transform: one file with a :class:`ModelTransform`
subclass and one line in :data:`TRANSFORMS`.

Importing this package loads neither torch nor the proxy (search spaces validate the settings);
the torch-backed names load on first use.

Example:
    >>> from coexplore.transforms import STAGES, TRANSFORMS
    >>> STAGES, sorted(TRANSFORMS)
    (('architecture', 'pruning', 'virtual_pooling'), ['prune', 'vip_layers'])
"""

from __future__ import annotations

import importlib
from typing import Any

from coexplore.transforms._base import STAGES, ModelTransform
from coexplore.transforms.settings import METHODS, Evolution, PruneSettings

TRANSFORMS: dict[str, str] = {
    "prune": "coexplore.transforms.prune:FilterPruning",
    "vip_layers": "coexplore.transforms.vip:VirtualPooling",
}
"""Registered transforms: the name of their value in a trial's choices -> ``module:class``."""

_LAZY = {
    "Affine": "ranking", "channel_scores": "ranking", "keep_counts": "ranking",
    "ChannelGraph": "channels", "ChannelGroup": "channels", "PruningError": "channels",
    "channel_graph": "channels", "prune_model": "channels",
    "LearnedRanking": "legr", "evolve": "legr",
    "FilterPruning": "prune", "ModelSide": "pipeline", "apply_transforms": "pipeline",
    "VirtualPooling": "vip", "interpolate": "vip", "rewrite_workload": "vip",
}


def transform_class(name: str) -> type[ModelTransform]:
    """The registered transform class for a choice name (``"prune"``)."""
    if name not in TRANSFORMS:
        raise KeyError(f"no transform named {name!r}; registered: {', '.join(TRANSFORMS)}")
    module, _, cls = TRANSFORMS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"coexplore.transforms.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'coexplore.transforms' has no attribute {name!r}")


__all__ = [  # noqa: PLE0604 - the lazily loaded names are listed too
    "METHODS", "STAGES", "TRANSFORMS", "Evolution", "ModelTransform", "PruneSettings", "transform_class",
    *sorted(_LAZY),
]
