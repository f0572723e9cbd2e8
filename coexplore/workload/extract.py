"""Extraction of a `Workload` from any `torch.nn.Module` by running one sample input through it.

Every convolution (1-D or 2-D, grouped and depthwise included), linear layer and Python-level
tensor product (``torch.matmul``, ``@``, ``torch.bmm``) that runs during the forward pass becomes
a `Layer`. They are caught at the functional level (``F.conv1d``, ``F.conv2d``, ``F.linear``,
matmul) by a ``TorchFunctionMode``, so subclasses and custom modules that call the functionals
themselves (fake-quantized convs, for instance) are seen too, and named from the module stack:

  * a call made by an ``nn.Conv1d``/``nn.Conv2d``/``nn.Linear`` (or subclass) is named by that
    module's qualified name from ``module.named_modules()``, so a quantization plan and the PPA
    model name the same layers;
  * any other call is named ``"<owner>.<op>"`` (``op`` one of ``conv1d``, ``conv2d``, ``linear``,
    ``matmul``), ``owner`` being the qualified name of the module whose ``forward`` issued it;
  * a name used more than once keeps it for the first call; call ``i`` (from 1) is named
    ``"<name>@<i>"`` (``@`` never occurs in a qualified module name), e.g. a module run twice;
  * the root module, whose qualified name is ``""``, is named after the workload.

Geometry: a layer whose shape does not fit `Layer`'s square stride/padding (asymmetric stride or
padding, dilation, ``padding="same"`` with uneven padding, non-zero padding modes, every Conv1d
with padding) is recorded with its padding folded into the input and the input trimmed to the
rows and columns the filter reads: ``h = (p - 1) * stride + r``, ``padding = 0``. Output size and
MACs stay exact; only the input footprint of dilated or anisotropically strided layers is
approximate. Products inside fused kernels (``F.scaled_dot_product_attention``,
``nn.MultiheadAttention``'s functional path) are not visible and not recorded.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from coexplore.workload.layer import Layer, Workload

_MATMUL_FUNCS = {torch.matmul, torch.bmm, torch.Tensor.matmul, torch.Tensor.__matmul__,
                 torch.Tensor.bmm, torch.Tensor.__rmatmul__}
_CONV_FUNCS = {F.conv1d: "conv1d", F.conv2d: "conv2d"}
_CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
_LAYER_MODULES = (nn.Conv1d, nn.Conv2d, nn.Linear)


def _pair(value: Any, spatial: int) -> tuple[int, int]:
    """A (height, width) pair from a conv argument; 1-D convs have height 1."""
    if isinstance(value, (tuple, list)):
        values = [int(v) for v in value]
    else:
        values = [int(value)] * spatial
    return (1, values[0]) if spatial == 1 else (values[0], values[-1])


def conv_layer(name: str, x: torch.Tensor, weight: torch.Tensor, y: torch.Tensor,
               stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Layer:
    """The `Layer` of one ``F.conv1d``/``F.conv2d`` call from its arguments and output.

    Args:
        name: the layer name.
        x: the input, ``(N, C, H, W)``, ``(C, H, W)``, ``(N, C, L)`` or ``(C, L)``.
        weight: ``(K, C / groups, R, S)`` or ``(K, C / groups, S)``.
        y: the output tensor (its spatial size is taken as the truth).
        stride, padding, dilation, groups: as passed to the functional.
    """
    spatial = weight.dim() - 2
    n = int(math.prod(x.shape[:-spatial - 1])) if x.dim() == spatial + 2 else 1
    h, w = (1, int(x.shape[-1])) if spatial == 1 else (int(x.shape[-2]), int(x.shape[-1]))
    p, q = (1, int(y.shape[-1])) if spatial == 1 else (int(y.shape[-2]), int(y.shape[-1]))
    r, s = (1, int(weight.shape[-1])) if spatial == 1 else tuple(int(d) for d in weight.shape[-2:])
    k, c = int(weight.shape[0]), int(weight.shape[1]) * int(groups)
    common = {"name": name, "kind": "conv", "c": c, "k": k, "r": r, "s": s,
              "groups": int(groups), "n": n}
    st = _pair(stride, spatial)
    if not isinstance(padding, str) and spatial == 2:
        pad = _pair(padding, 2)
        if st[0] == st[1] and pad[0] == pad[1] and _pair(dilation, 2) == (1, 1):
            layer = Layer(h=h, w=w, stride=st[0], padding=pad[0], **common)
            if (layer.p, layer.q) == (p, q):
                return layer
    # Folded form: exact output size and MACs, input trimmed to the rows/columns read.
    step = st[1] if p == 1 else st[0]
    return Layer(h=(p - 1) * step + r, w=(q - 1) * step + s, stride=step, padding=0, **common)


def linear_layer(name: str, x: torch.Tensor, weight: torch.Tensor) -> Layer:
    """``F.linear(x, weight)`` as a 1x1 layer; ``n`` is the product of ``x``'s leading dims."""
    n = int(math.prod(x.shape[:-1])) if x.dim() > 1 else 1
    return Layer(name=name, kind="linear", c=int(weight.shape[-1]), k=int(weight.shape[0]), n=n)


def matmul_layer(name: str, a: torch.Tensor, b: torch.Tensor) -> Layer | None:
    """``(..., M, Kd) @ (..., Kd, N)`` as a 1x1 layer: ``h = M``, ``c = Kd``, ``k = N``,
    ``n`` the broadcast batch size; ``None`` for products of scalars."""
    if a.dim() == 0 or b.dim() == 0:
        return None
    m = int(a.shape[-2]) if a.dim() >= 2 else 1
    cols = int(b.shape[-1]) if b.dim() >= 2 else 1
    batch = torch.broadcast_shapes(a.shape[:-2] if a.dim() > 2 else (),
                                   b.shape[:-2] if b.dim() > 2 else ())
    return Layer(name=name, kind="matmul", c=int(a.shape[-1]), k=cols, h=m,
                 n=int(math.prod(batch)))


class _Recorder(TorchFunctionMode):
    """Records conv/linear/matmul calls, naming each from the stack of running modules."""

    def __init__(self, stack: list[tuple[str, nn.Module]], records: list[Layer]) -> None:
        super().__init__()
        self.stack = stack
        self.records = records

    def _name(self, op: str) -> str:
        owner, module = self.stack[-1] if self.stack else ("", None)
        if op != "matmul" and isinstance(module, _LAYER_MODULES):
            return owner
        return f"{owner}.{op}" if owner else op

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in _CONV_FUNCS:
            call = {**dict(zip(_CONV_ARGS, args)), **kwargs}
            call.pop("bias", None)
            x, weight = call.pop("input"), call.pop("weight")
            self.records.append(conv_layer(self._name(_CONV_FUNCS[func]), x, weight, out, **call))
        elif func is F.linear:
            x = args[0] if args else kwargs["input"]
            weight = args[1] if len(args) > 1 else kwargs["weight"]
            self.records.append(linear_layer(self._name("linear"), x, weight))
        elif func in _MATMUL_FUNCS and len(args) >= 2 and all(
                isinstance(a, torch.Tensor) for a in args[:2]):
            a, b = (args[1], args[0]) if func is torch.Tensor.__rmatmul__ else args[:2]
            layer = matmul_layer(self._name("matmul"), a, b)
            if layer is not None:
                self.records.append(layer)
        return out


def from_module(module: nn.Module, input_shape: tuple[int, ...], name: str | None = None, *,
                dtype: torch.dtype = torch.float32) -> Workload:
    """Trace the compute layers of ``module`` by running one zero input of ``input_shape``.

    The module runs once in eval mode under ``torch.no_grad()`` on the device of its first
    parameter (``meta`` works: shapes only, no arithmetic); its training flag is restored
    afterwards. Layers appear in execution order.

    Args:
        module: any ``torch.nn.Module``.
        input_shape: shape of the sample input, batch included (e.g. ``(1, 3, 224, 224)``).
        name: workload name; defaults to the module's class name in lower case.
        dtype: dtype of the sample input.

    Returns:
        The `Workload` of every conv, linear and Python-level matmul call (see module docs).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Flatten(), nn.Linear(8 * 64, 10))
        >>> [l.name for l in from_module(net, (1, 3, 8, 8)).layers]
        ['0', '2']
    """
    wl_name = name or type(module).__name__.lower()
    qualified = {id(m): n for n, m in module.named_modules()}
    stack: list[tuple[str, nn.Module]] = []
    records: list[Layer] = []

    def pre_hook(mod: nn.Module, args: tuple) -> None:
        stack.append((qualified.get(id(mod)) or wl_name, mod))

    def post_hook(mod: nn.Module, args: tuple, output: Any) -> None:
        stack.pop()

    handles = []
    for sub in module.modules():
        handles.append(sub.register_forward_pre_hook(pre_hook))
        handles.append(sub.register_forward_hook(post_hook, always_call=True))
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad(), _Recorder(stack, records):
            module(torch.zeros(input_shape, dtype=dtype, device=device))
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return Workload(name=wl_name, layers=tuple(_unique_names(records)))


def _unique_names(records: list[Layer]) -> list[Layer]:
    """Suffix the second and later uses of a name with ``@1``, ``@2``, ..."""
    seen: Counter[str] = Counter()
    layers = []
    for layer in records:
        count = seen[layer.name]
        seen[layer.name] += 1
        if count:
            layer = replace(layer, name=f"{layer.name}@{count}")
        layers.append(layer)
    return layers
