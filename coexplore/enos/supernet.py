"""The ENOS supernet: every quantizable layer becomes a softmax mixture of its operator choices.

Each Conv2d/Linear (named as in ``model.named_modules()``, the names the workload and the
quantization plan use) is replaced in place by a :class:`MixedLayer` holding one
:class:`~coexplore.enos.operators.ChoiceOp` per choice and a vector of architecture weights
``alpha`` (one per choice). Forward is ``sum_o softmax(alpha)_o * op_o(x)``; once an assignment is
fixed (:meth:`EnosSupernet.discretize`) only the chosen operator runs. The multiplicative operators
share the layer's weight (one-shot quantization supernet); the ``l1`` operator keeps its own copy,
since AdderNet templates are not multiplication weights.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from coexplore.cim.choices import OperatorChoice, resolve_choices
from coexplore.enos.operators import ChoiceOp
from coexplore.quant import quantizable_layers


class MixedLayer(nn.Module):
    """A layer computed as a softmax-weighted mixture of operator choices.

    Args:
        layer: the FP32 Conv2d/Linear it replaces (its weight and bias are taken over).
        choices: the operator choices for this layer.
        plan_bits: the plan's bits for this layer.
        rows, adc_bits: the CIM macro's bit-line length and ADC bits (for CIM choices).
    """

    def __init__(self, layer: nn.Conv2d | nn.Linear, choices: Sequence[OperatorChoice], plan_bits: int = 8,
                 rows: int = 64, adc_bits: int = 5) -> None:
        super().__init__()
        self.weight = nn.Parameter(layer.weight.detach().clone())
        self.bias = nn.Parameter(layer.bias.detach().clone()) if layer.bias is not None else None
        self.choices = tuple(choices)
        self.ops = nn.ModuleList(ChoiceOp(c, layer, plan_bits, rows, adc_bits) for c in self.choices)
        self.l1_weight = nn.Parameter(layer.weight.detach().clone()) \
            if any(c.operator == "l1" for c in self.choices) else None
        self.alpha = nn.Parameter(torch.zeros(len(self.choices)))
        self.fixed: int | None = None

    def probabilities(self) -> torch.Tensor:
        """``softmax(alpha)``: the mixture weight of each choice (shape ``O``)."""
        return torch.softmax(self.alpha, dim=0)

    def _run(self, i: int, x: torch.Tensor) -> torch.Tensor:
        w = self.l1_weight if self.choices[i].operator == "l1" else self.weight
        return self.ops[i](x, w, self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed is not None:
            return self._run(self.fixed, x)
        probs = self.probabilities()
        return sum(probs[i] * self._run(i, x) for i in range(len(self.ops)))

    def extra_repr(self) -> str:
        fixed = self.choices[self.fixed].name if self.fixed is not None else "mixed"
        return f"choices={[c.name for c in self.choices]}, {fixed}"


class EnosSupernet(nn.Module):
    """A model whose quantizable layers are :class:`MixedLayer` mixtures over operator choices.

    Args:
        model: an FP32 model (deep-copied; the original is untouched).
        choices: choice names (see :data:`coexplore.cim.choices.CHOICES`), the same for every layer.
        plan_bits: the plan's bits, one for all layers or one per quantizable layer.
        rows, adc_bits: the CIM macro's bit-line length and ADC bits.
        layers: names of the layers to search (default: every Conv2d/Linear); others stay FP32.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 10))
        >>> sn = EnosSupernet(net, ["mac@digital", "l1@cim"])
        >>> sn(torch.randn(2, 1, 8, 8)).shape, sn.layer_names
        (torch.Size([2, 10]), ('0', '3'))
    """

    def __init__(self, model: nn.Module, choices: Sequence[str], plan_bits: int | Sequence[int] = 8,
                 rows: int = 64, adc_bits: int = 5, layers: Sequence[str] | None = None) -> None:
        super().__init__()
        self.net = copy.deepcopy(model)
        self.choices = resolve_choices(list(choices))
        names = list(layers) if layers is not None else quantizable_layers(self.net)
        bits = [int(plan_bits)] * len(names) if isinstance(plan_bits, int) else [int(b) for b in plan_bits]
        if len(bits) != len(names):
            raise ValueError(f"plan_bits: {len(bits)} values for {len(names)} layers {names}")
        modules = dict(self.net.named_modules())
        missing = [n for n in names if n not in modules]
        if missing:
            raise ValueError(f"layers {missing} not in the model; its Conv2d/Linear layers: {quantizable_layers(self.net)}")
        self.layer_names: tuple[str, ...] = tuple(names)
        self.plan_bits: tuple[int, ...] = tuple(bits)
        for name, b in zip(names, bits):
            parent_name, _, attr = name.rpartition(".")
            parent = modules[parent_name] if parent_name else self.net
            setattr(parent, attr, MixedLayer(modules[name], self.choices, b, rows, adc_bits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @torch.no_grad()
    def calibrate(self, batch: torch.Tensor) -> None:
        """Initialise every quantizer's scale and the l1 operators' batch norms from one batch.

        The pretrained layers run in eval mode (their BN statistics stay); each l1 operator's batch
        norm takes the batch's statistics as its running ones, so the quantizers after it calibrate
        on normalized values, as they will see them.
        """
        was_training = self.training
        norms = [op.norm for m in self.mixed_layers() for op in m.ops if op.norm is not None]
        self.eval()
        for norm in norms:
            norm.train()
            norm.momentum = None  # cumulative average: one batch sets the running statistics
        try:
            self.net(batch)
        finally:
            for norm in norms:
                norm.momentum = 0.1
            self.train(was_training)

    def mixed_layers(self) -> list[MixedLayer]:
        """The mixed layers, in the order of :attr:`layer_names`."""
        modules = dict(self.net.named_modules())
        return [modules[n] for n in self.layer_names]

    def arch_parameters(self) -> list[nn.Parameter]:
        """The architecture weights ``alpha``, one vector per layer."""
        return [m.alpha for m in self.mixed_layers()]

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter but the architecture weights (network weights, BN, quantizer steps)."""
        arch = {id(p) for p in self.arch_parameters()}
        return (p for p in self.parameters() if id(p) not in arch)

    def probabilities(self) -> torch.Tensor:
        """``softmax(alpha)`` per layer: ``L x O`` (differentiable)."""
        return torch.stack([m.probabilities() for m in self.mixed_layers()])

    def expected_cost(self, cost: torch.Tensor) -> torch.Tensor:
        """``sum_l sum_o softmax(alpha_l)_o * cost[l, o]`` for a cost table ``L x O``."""
        return (self.probabilities() * cost).sum()

    def assignment(self) -> list[str]:
        """The argmax choice name per layer (the discrete assignment the search ends with)."""
        idx = self.probabilities().argmax(dim=1).tolist()
        return [self.choices[i].name for i in idx]

    def discretize(self, assignment: Sequence[str]) -> EnosSupernet:
        """Fix every layer to one choice (in place); only that operator runs from now on."""
        if len(assignment) != len(self.layer_names):
            raise ValueError(f"assignment: {len(assignment)} choices for {len(self.layer_names)} layers")
        names = [c.name for c in self.choices]
        for layer, choice in zip(self.mixed_layers(), assignment):
            if choice not in names:
                raise ValueError(f"assignment: {choice!r} is not among this supernet's choices {names}")
            layer.fixed = names.index(choice)
            for i, op in enumerate(layer.ops):
                if i != layer.fixed:  # drop regularizers left by the mixture's last forward pass
                    op.input_quantizer.regularization = None
        return self

    def alphas(self) -> np.ndarray:
        """The architecture weights as an ``L x O`` array (for reports)."""
        return np.stack([a.detach().cpu().numpy() for a in self.arch_parameters()])
