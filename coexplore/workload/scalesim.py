"""SCALE-Sim topology CSV import and export (the conv format of SCALE-Sim 2/3).

A topology file has a header line, then one row per layer::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,

IFMAP sizes already include the padding, and SCALE-Sim computes the output size as
``ceil((H - R + stride) / stride)`` where PyTorch (and `Layer`) use ``floor((H - R) / stride) + 1``.
The two differ by one row when ``(H - R) % stride != 0``: SCALE-Sim then simulates an extra
output row/column that reads past the input (ResNet-18's ``conv1``: 113x113 against 112x112; its
stride-2 3x3 convs: 29x29 against 28x28, 7% more MACs).

* Export writes the *exact* input extent the convolution reads, ``H = (p - 1) * stride + r``
  (padding included, trailing padding that no window reaches dropped), for which both roundings
  agree: SCALE-Sim simulates exactly our output size and MACs.
* Import takes ``output_rounding``: ``"scalesim"`` (default) reproduces what SCALE-Sim simulates
  (the file means what SCALE-Sim makes of it; the implicit extra rows become part of ``h``),
  ``"floor"`` reads the file as a PyTorch convolution would. Imported layers have ``padding=0``
  and ``groups=1`` (SCALE-Sim has neither), except ``DP`` rows (below).

Grouped convs are exported with ``Channels = c / groups``, which keeps the MACs exact (SCALE-Sim
has no groups). On import, a row whose name contains ``DP`` is what SCALE-Sim makes of it: one
layer per channel, each with one channel and ``Num Filter`` filters, i.e. a grouped conv with
``groups = c`` and ``k = c * Num Filter``; export refuses such names rather than write them.
Linear and matmul layers (1x1 maps) are exported with the batch or token count as the IFMAP
height; a conv with ``n > 1`` cannot be written (no batch dimension).
An optional ninth column (SCALE-Sim 3's ``N:M`` sparsity) is accepted when it is ``1:1``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from coexplore.workload.layer import Layer, Workload
from coexplore.workload.yaml_io import WorkloadFileError
from coexplore.yamlio import UserFileError, read_text

SCALESIM_HEADER = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                   "Channels", "Num Filter", "Strides")
OutputRounding = Literal["scalesim", "floor"]


def scalesim_row(layer: Layer) -> tuple[str, int, int, int, int, int, int, int]:
    """The SCALE-Sim topology row that simulates exactly ``layer``'s output size and MACs.

    Args:
        layer: any conv, linear or matmul layer (conv layers need ``n == 1``).

    Example:
        >>> scalesim_row(Layer("conv1", c=3, k=64, h=224, w=224, r=7, s=7, stride=2, padding=3))
        ('conv1', 229, 229, 7, 7, 3, 64, 2)
    """
    if "DP" in layer.name:
        raise ValueError(f"layer {layer.name}: SCALE-Sim treats names containing 'DP' as "
                         "depthwise and expands them per channel; rename the layer")
    if "," in layer.name:
        raise ValueError(f"layer {layer.name}: a SCALE-Sim layer name cannot contain ','")
    if layer.r == layer.s == layer.stride == 1 and layer.padding == 0:
        # 1x1 on any map (linear, matmul, pointwise conv): batch folds into the rows exactly.
        return (layer.name, layer.n * layer.h, layer.w, 1, 1, layer.c // layer.groups, layer.k, 1)
    if layer.n != 1:
        raise ValueError(f"layer {layer.name}: n={layer.n}; SCALE-Sim topologies have no batch "
                         "dimension (write one workload per batch element)")
    h = (layer.p - 1) * layer.stride + layer.r
    w = (layer.q - 1) * layer.stride + layer.s
    return (layer.name, h, w, layer.r, layer.s, layer.c // layer.groups, layer.k, layer.stride)


def to_scalesim_csv(workload: Workload, path: str | Path) -> None:
    """Write ``workload`` as a SCALE-Sim conv topology CSV (rows end with ``,`` as SCALE-Sim's do).

    Args:
        workload: the layers to write (see `scalesim_row` for how each is expressed).
        path: destination ``.csv`` file.
    """
    lines = [", ".join(SCALESIM_HEADER) + ","]
    lines += [", ".join(str(v) for v in scalesim_row(layer)) + "," for layer in workload.layers]
    Path(path).write_text("\n".join(lines) + "\n")


def _layer_from_row(cells: list[str], where: str, rounding: OutputRounding) -> Layer:
    name = cells[0]
    if not name:
        raise WorkloadFileError(f"{where}, column 1 ({SCALESIM_HEADER[0]}): empty layer name")
    values = []
    for col in range(1, 8):
        text = cells[col]
        try:
            value = int(text)
        except ValueError:
            raise WorkloadFileError(f"{where}, column {col + 1} ({SCALESIM_HEADER[col]}): "
                                    f"{text!r} is not an integer") from None
        if value < 1:
            raise WorkloadFileError(f"{where}, column {col + 1} ({SCALESIM_HEADER[col]}): "
                                    f"must be >= 1, got {value}")
        values.append(value)
    h, w, r, s, c, k, stride = values
    for col, (size, filt) in ((3, (h, r)), (4, (w, s))):
        if filt > size:
            raise WorkloadFileError(f"{where}, column {col + 1} ({SCALESIM_HEADER[col]}): filter "
                                    f"{filt} larger than the IFMAP {size}")
    if rounding == "scalesim":  # grow the map to the rows SCALE-Sim's ceil reads
        h = (math.ceil((h - r + stride) / stride) - 1) * stride + r
        w = (math.ceil((w - s + stride) / stride) - 1) * stride + s
    kind = "linear" if h == w == r == s == 1 else "conv"
    if "DP" in name:  # SCALE-Sim runs it as `c` one-channel layers of `k` filters each
        return Layer(name=name, kind=kind, c=c, k=c * k, h=h, w=w, r=r, s=s, stride=stride,
                     groups=c)
    return Layer(name=name, kind=kind, c=c, k=k, h=h, w=w, r=r, s=s, stride=stride)


def from_scalesim_csv(path: str | Path, name: str | None = None,
                      output_rounding: OutputRounding = "scalesim") -> Workload:
    """Read a SCALE-Sim conv topology CSV into a `Workload`.

    Args:
        path: the topology ``.csv``; its first line is a header.
        name: workload name; defaults to the file stem.
        output_rounding: ``"scalesim"`` (SCALE-Sim's ceil output size, the default) or
            ``"floor"`` (PyTorch's); see the module docstring.

    Raises:
        WorkloadFileError: a malformed row, naming the file, line and column.

    Example:
        >>> wl = from_scalesim_csv("resnet18.csv")  # doctest: +SKIP
    """
    if output_rounding not in ("scalesim", "floor"):
        raise ValueError(f"output_rounding must be 'scalesim' or 'floor', got {output_rounding!r}")
    path = Path(path)
    try:
        lines = read_text(path).splitlines()
    except UserFileError as exc:
        raise WorkloadFileError(str(exc)) from None
    if not lines:
        raise WorkloadFileError(f"{path}: empty file; expected the header "
                                f"'{', '.join(SCALESIM_HEADER)},' and one row per layer")
    layers: list[Layer] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if cells[-1] == "":
            cells.pop()  # SCALE-Sim rows end with a comma
        where = f"{path}: line {number}"
        if len(cells) == 9 and cells[8].replace(" ", "") in ("1:1", ""):
            cells = cells[:8]
        if len(cells) != 8:
            raise WorkloadFileError(f"{where}: {len(cells)} columns, expected 8 "
                                    f"({', '.join(SCALESIM_HEADER)}) and an optional '1:1' "
                                    f"sparsity column")
        layer = _layer_from_row(cells, where, output_rounding)
        if layer.name in first_line:
            raise WorkloadFileError(f"{where}, column 1 ({SCALESIM_HEADER[0]}): layer name "
                                    f"{layer.name!r} repeats line {first_line[layer.name]}")
        first_line[layer.name] = number
        layers.append(layer)
    if not layers:
        raise WorkloadFileError(f"{path}: no layer rows after the header")
    return Workload(name=name or path.stem, layers=tuple(layers))
