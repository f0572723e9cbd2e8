"""The contract of a model-side transform and the fixed order in which transforms apply."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from torch import nn

    from coexplore.workload import Workload

STAGES: tuple[str, ...] = ("architecture", "pruning", "virtual_pooling")
"""Order of application: architecture (Single-Path NAS), then filter pruning, then virtual pooling
(ViP); the trial's quantization plan is applied last, by the proxy, to the transformed network."""


class ModelTransform(ABC):
    """One axis of the DNN configuration: turns the FP32 proxy model into a variant of it.

    A transform is bound to one proxy model (and to anything it learned about it once, such as a
    LeGR ranking). A trial chooses a *value* for it (``prune: 0.5``); equal values give equal
    networks on every fold, and :meth:`key` says everything the variant's accuracy depends on.
    Layer names stay stable: a transform may shrink or reshape a layer, never rename it.

    Subclasses set :attr:`name` (the key of the value in a trial's choices) and :attr:`stage`
    (one of :data:`STAGES`), and register in :data:`coexplore.transforms.TRANSFORMS`.
    """

    name: ClassVar[str]
    stage: ClassVar[str]

    def prepare(self) -> None:
        """Learn whatever the transform learns once (cached); default: nothing."""

    @abstractmethod
    def is_identity(self, value: Any) -> bool:
        """True when ``value`` leaves the network as it is (``prune: 0``)."""

    @abstractmethod
    def key(self, value: Any) -> dict:
        """JSON-able description of the network ``value`` gives: part of the accuracy cache key."""

    @abstractmethod
    def apply(self, model: nn.Module, value: Any) -> nn.Module:
        """The transformed ``model`` (of any fold: same architecture, its own weights); may modify it."""

    @abstractmethod
    def workload(self, value: Any) -> Workload:
        """The workload of the network ``value`` gives alone (batch of 1), for the PPA model."""
