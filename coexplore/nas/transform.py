"""The architecture as a model-side transform: a trial's network is cut out of the trained supernet.

The proxy pretrains the supernet once (its FP32 checkpoint, cached), so every architecture starts
from the shared superkernels: :meth:`SinglePathArchitecture.apply` cuts the trial's sub-network out
of them, the proxy quantizes it by the trial's plan and fine-tunes it briefly, and the PPA model
costs :meth:`~SinglePathArchitecture.workload`, the same sub-network traced (a 5x5 depthwise layer
costs 25/9 the MACs of its 3x3 choice, a skipped block nothing).

Example:
    >>> arch = SinglePathArchitecture(proxy)  # doctest: +SKIP
    >>> arch.workload("k3e3,k5e6,skip,k3e6,k5e3").macs  # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

import torch

from coexplore.nas.cut import ArchitectureError, is_supernet, subnetwork
from coexplore.nas.settings import (
    ARCH_CHOICE,
    LARGEST,
    ArchitectureAxis,
    BlockChoice,
    decode,
    encode,
)
from coexplore.transforms import ModelTransform

if TYPE_CHECKING:
    from torch import nn

    from coexplore.accuracy import ProxyEvaluator
    from coexplore.workload import Workload


class SinglePathArchitecture(ModelTransform):
    """Cuts the trial's architecture (value: an architecture string, ``"k3e6,k5e3,skip,..."``) out of
    the proxy's single-path supernet.

    Args:
        proxy: the study's accuracy proxy; its model must be a :class:`~coexplore.nas.SinglePathSupernet`.

    Raises:
        ArchitectureError: the proxy's model is not a single-path supernet.
    """

    name = ARCH_CHOICE
    stage = "architecture"

    def __init__(self, proxy: ProxyEvaluator) -> None:
        self.proxy = proxy
        self.skeleton = _skeleton(proxy.model_name, proxy.data.num_classes, proxy.input_shape[1])
        self.blocks = self.skeleton.block_names()

    def choices(self, value: Any) -> list[BlockChoice]:
        """The per-block choices of ``value``; refuses a skip on a block that changes shape.

        Raises:
            ArchitectureError: a malformed string, a wrong block count or a skip that cannot be.
        """
        try:
            out = decode(value, len(self.blocks))
        except ValueError as exc:
            raise ArchitectureError(f"architecture {value!r}: {exc}") from None
        residual = set(self.skeleton.skippable())
        bad = [b for b, c in zip(self.blocks, out) if c.skip and b not in residual]
        if bad:
            raise ArchitectureError(f"architecture {value!r}: {', '.join(bad)} cannot be skipped "
                                    f"(skippable: {', '.join(residual) or 'none'})")
        return out

    def is_identity(self, value: Any) -> bool:
        return all(c == LARGEST for c in self.choices(value))

    def key(self, value: Any) -> dict:
        return {"architecture": encode(self.choices(value)), "supernet": "single-path, shared superkernels"}

    def apply(self, model: nn.Module, value: Any) -> nn.Module:
        return subnetwork(model, self.choices(value))

    def workload(self, value: Any) -> Workload:
        from coexplore.workload import from_module

        return from_module(subnetwork(self.skeleton, self.choices(value)), self.proxy.input_shape,
                           self.proxy.model_name)


def _skeleton(model_name: str, num_classes: int, in_channels: int) -> Any:
    """A freshly built model (global RNG untouched), checked to be a single-path supernet."""
    from coexplore.accuracy import build_model

    with torch.random.fork_rng(devices=[]):
        model = build_model(model_name, num_classes, in_channels)
    if not is_supernet(model):
        raise ArchitectureError(f"model {model_name!r} is a {type(model).__name__}, not a single-path supernet; "
                                "use model: coexplore.nas:supernet_digits (8x8) or coexplore.nas:supernet_32")
    return model


def architecture_problems(model_name: str, axis: ArchitectureAxis, num_classes: int = 10,
                          in_channels: int = 1) -> list[tuple[str, str]]:
    """(field, message) for each way ``axis`` does not fit the model (checked before a study exists):
    the model is no supernet, ``skip`` names no block or a block that changes shape."""
    try:
        model = _skeleton(model_name, num_classes, in_channels)
    except ArchitectureError as exc:
        return [("", str(exc))]
    blocks, residual = model.block_names(), model.skippable()
    problems = []
    unmatched = [p for p in axis.skip if not any(fnmatch.fnmatchcase(b, p) for b in blocks)]
    if unmatched:
        problems.append(("skip", f"{unmatched} match no block; blocks: {', '.join(blocks)}"))
    bad = [b for b in axis.skippable(blocks) if b not in residual]
    if bad:
        problems.append(("skip", (f"{', '.join(bad)} cannot be skipped (stride 2 or channels change); "
                                  f"skippable: {', '.join(residual)}")))
    return problems
