"""The per-layer inference operators as PyTorch modules, one per operator x mode choice.

Each :class:`ChoiceOp` computes one Conv2d/Linear layer the way its hardware does:

- digital ``mac`` / ``shift1`` / ``shift2`` / ``binary``: the layer's convolution with weights and
  inputs through the proxy's quantizers (:mod:`coexplore.quant`: INT-n LSQ, power-of-two sums,
  XNOR-Net binary with the distribution loss), picked as for the PE type that runs it;
- CIM ``mac`` / ``binary``: the same products, but summed ``rows`` at a time as the macro's bit
  lines do, each partial sum quantized to the ADC's bits (LSQ step, straight-through), then added
  digitally. Bit slices and bit-serial passes are not simulated one by one: the partial sum of the
  whole weights and inputs is quantized (exact for one slice and one pass, pessimistic otherwise);
- CIM ``l1``: the multiplication-free operator ``y = -sum |x - w|`` (AdderNet, Chen et al., CVPR
  2020; MF-Net, Nasrin et al., TCAS-I 2021), partial sums of ``rows`` terms through the ADC, then
  a batch norm as AdderNet puts after every adder layer (it folds into the next layer's scale).

Linear layers are 1x1 convolutions over one position.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from coexplore.cim.choices import OperatorChoice
from coexplore.quant import ACT_QUANTIZERS, WEIGHT_QUANTIZERS, UniformActQuantizer, layer_spec

_QUANT_PE = {"mac": "int16", "shift1": "lightpe1", "shift2": "lightpe2", "binary": "binary", "l1": "int16"}
"""The PE type whose quantizers an operator uses (int16: uniform INT-n at any bits)."""


class LayerGeometry:
    """The convolution parameters of a Conv2d or Linear, to unfold inputs and fold outputs back."""

    def __init__(self, layer: nn.Conv2d | nn.Linear) -> None:
        self.is_conv = isinstance(layer, nn.Conv2d)
        if self.is_conv:
            self.kernel, self.stride = layer.kernel_size, layer.stride
            self.padding, self.dilation, self.groups = layer.padding, layer.dilation, layer.groups
            if isinstance(self.padding, str):
                raise ValueError(f"ENOS operators: padding={self.padding!r} is not supported; use integers")
            self.out_channels = layer.out_channels
        else:
            self.groups, self.out_channels = 1, layer.out_features

    def unfold(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        """``x`` as ``N x groups x (Cg*R*S) x positions``, and the output spatial shape."""
        if not self.is_conv:
            lead = x.shape[:-1]
            return x.reshape(-1, 1, x.shape[-1], 1), tuple(lead)
        n, _, h, w = x.shape
        cols = F.unfold(x, self.kernel, dilation=self.dilation, padding=self.padding, stride=self.stride)
        p = (h + 2 * self.padding[0] - self.dilation[0] * (self.kernel[0] - 1) - 1) // self.stride[0] + 1
        q = (w + 2 * self.padding[1] - self.dilation[1] * (self.kernel[1] - 1) - 1) // self.stride[1] + 1
        return cols.reshape(n, self.groups, -1, cols.shape[-1]), (n, p, q)

    def fold(self, y: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        """``N x groups x Kg x positions`` back to the layer's output layout."""
        if not self.is_conv:
            return y.reshape(*shape, self.out_channels)
        n, p, q = shape
        return y.reshape(n, self.out_channels, p, q)


class ChoiceOp(nn.Module):
    """One operator x mode implementation of a layer, with its own quantizers.

    Args:
        choice: the operator choice.
        layer: the FP32 Conv2d/Linear it computes (its geometry; weights are passed to ``forward``).
        plan_bits: the plan's bits for the layer (the choice may fix its own).
        rows: CIM bit-line length: products summed per ADC conversion (CIM choices only).
        adc_bits: CIM ADC resolution (CIM choices only).

    Example:
        >>> from coexplore.cim.choices import CHOICES
        >>> conv = nn.Conv2d(4, 8, 3, padding=1)
        >>> op = ChoiceOp(CHOICES["l1@cim"], conv, plan_bits=8, rows=16, adc_bits=5)
        >>> op(torch.randn(2, 4, 6, 6), conv.weight).shape
        torch.Size([2, 8, 6, 6])
    """

    def __init__(self, choice: OperatorChoice, layer: nn.Conv2d | nn.Linear, plan_bits: int = 8,
                 rows: int = 64, adc_bits: int = 5) -> None:
        super().__init__()
        self.choice = choice
        self.geometry = LayerGeometry(layer)
        self.weight_bits, self.act_bits = choice.bits(plan_bits)
        spec = layer_spec(_QUANT_PE[choice.operator], "", self.weight_bits, self.act_bits)
        self.weight_quantizer = WEIGHT_QUANTIZERS[spec.weight_scheme](
            spec.weight_bits, layer.weight.detach(), **spec.weight_options)
        self.input_quantizer = ACT_QUANTIZERS[spec.act_scheme](spec.act_bits)
        self.is_cim = choice.mode == "cim"
        self.rows = int(rows)
        self.adc_bits = int(adc_bits)
        self.psum_quantizer = UniformActQuantizer(self.adc_bits) if self.is_cim else None
        self.norm: nn.Module | None = None
        if choice.operator == "l1":
            self.norm = nn.BatchNorm2d(self.geometry.out_channels) if self.geometry.is_conv \
                else nn.BatchNorm1d(self.geometry.out_channels)

    def extra_repr(self) -> str:
        cim = f", rows={self.rows}, adc_bits={self.adc_bits}" if self.is_cim else ""
        return f"{self.choice.name}, weight_bits={self.weight_bits}, act_bits={self.act_bits}{cim}"

    def forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """The layer's output for input ``x`` with real-valued ``weight`` (quantized here)."""
        xq = self.input_quantizer(x)
        wq = self.weight_quantizer(weight)
        if not self.is_cim:
            y = self._digital(xq, wq, bias)
        else:
            y = self._cim(xq, wq, bias)
        if self.norm is not None:
            y = self._normalize(y)
        return y

    def _digital(self, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        g = self.geometry
        if not g.is_conv:
            return F.linear(x, w, bias)
        return F.conv2d(x, w, bias, g.stride, g.padding, g.dilation, g.groups)

    def _cim(self, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        g = self.geometry
        cols, shape = g.unfold(x)                                  # N x G x C x P
        n, groups, c, positions = cols.shape
        chunks = -(-c // self.rows)
        pad = chunks * self.rows - c
        wg = w.reshape(groups, -1, c)                               # G x Kg x C
        if pad:
            cols = F.pad(cols, (0, 0, 0, pad))
            wg = F.pad(wg, (0, pad))
        xs = cols.reshape(n, groups, chunks, self.rows, positions)
        ws = wg.reshape(groups, wg.shape[1], chunks, self.rows)
        if self.choice.operator == "l1":
            # cdist over the row dimension: N x G x chunks x P x Kg, sums of |x - w| per chunk.
            a = xs.permute(0, 1, 2, 4, 3)
            b = ws.permute(0, 2, 1, 3).unsqueeze(0)
            psum = torch.cdist(a, b, p=1).permute(0, 1, 4, 2, 3)  # N x G x Kg x chunks x P
            sign = -1.0
        else:
            psum = torch.einsum("ngjrp,gkjr->ngkjp", xs, ws)
            sign = 1.0
        n_, g_, kg, j_, p_ = psum.shape
        q = self.psum_quantizer(psum.reshape(n_, g_ * kg, j_, p_)).reshape(psum.shape)
        y = sign * q.sum(dim=3)                                      # N x G x Kg x P
        out = g.fold(y, shape)
        if bias is not None:
            out = out + (bias.reshape(1, -1, 1, 1) if g.is_conv else bias)
        return out

    def _normalize(self, y: torch.Tensor) -> torch.Tensor:
        if isinstance(self.norm, nn.BatchNorm1d) and y.dim() > 2:
            flat = y.reshape(-1, y.shape[-1])
            return self.norm(flat).reshape(y.shape)
        return self.norm(y)
