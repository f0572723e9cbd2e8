"""Our layer-list YAML format: one flow mapping per layer with the `Layer` fields.

```yaml
# comment
name: resnet18
layers:
- {name: conv1, kind: conv, n: 1, c: 3, k: 64, h: 224, w: 224, r: 7, s: 7, stride: 2, padding: 3, groups: 1}
```

Only ``name`` is required in a layer; missing fields take `Layer`'s defaults. A file may also be a
bare list of layers (the workload is then named after the file).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, get_args

import yaml

from coexplore.workload.layer import Layer, LayerKind, Workload
from coexplore.yamlio import UserFileError, read_yaml_file

LAYER_FIELDS = tuple(f.name for f in fields(Layer))
_INT_FIELDS = tuple(f for f in LAYER_FIELDS if f not in ("name", "kind"))
LAYER_KINDS = get_args(LayerKind)


class WorkloadFileError(ValueError):
    """A workload file that cannot be read: names the file, the place in it and what is allowed."""


def layer_from_mapping(entry: Any, where: str) -> Layer:
    """Validate one layer entry and build its `Layer`.

    Args:
        entry: the mapping read from the file.
        where: the location for error messages, e.g. ``"net.yaml: layers[3]"``.
    """
    if not isinstance(entry, dict):
        raise WorkloadFileError(f"{where}: a layer must be a mapping of {', '.join(LAYER_FIELDS)}; "
                                f"got {type(entry).__name__}")
    unknown = sorted(set(map(str, entry)) - set(LAYER_FIELDS))
    if unknown:
        raise WorkloadFileError(f"{where}: unknown field(s) {', '.join(unknown)}; "
                                f"allowed: {', '.join(LAYER_FIELDS)}")
    if "name" not in entry or not str(entry["name"]).strip():
        raise WorkloadFileError(f"{where}: field 'name' is required")
    if entry.get("kind", "conv") not in LAYER_KINDS:
        raise WorkloadFileError(f"{where}.kind: {entry['kind']!r} is not one of "
                                f"{', '.join(LAYER_KINDS)}")
    values: dict[str, Any] = {"name": str(entry["name"]).strip(), "kind": entry.get("kind", "conv")}
    for key in _INT_FIELDS:
        if key in entry:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise WorkloadFileError(f"{where}.{key}: must be an integer, got {value!r}")
            values[key] = value
    try:
        return Layer(**values)
    except ValueError as err:
        raise WorkloadFileError(f"{where}: {err}") from None


def load_yaml(path: str | Path) -> Workload:
    """Read a workload from our layer-list YAML file.

    Args:
        path: the ``.yaml`` file.

    Example:
        >>> load_yaml("coexplore/data/zoo/resnet18.yaml").macs
        1814073344
    """
    path = Path(path)
    try:
        doc = read_yaml_file(path)
    except UserFileError as exc:
        raise WorkloadFileError(str(exc)) from None
    if isinstance(doc, list):
        name, entries = path.stem, doc
    elif isinstance(doc, dict) and isinstance(doc.get("layers"), list):
        name, entries = str(doc.get("name", path.stem)), doc["layers"]
    else:
        raise WorkloadFileError(f"{path}: expected a mapping with 'name' and a list 'layers' "
                                f"(or a bare list of layers)")
    if not entries:
        raise WorkloadFileError(f"{path}: 'layers' is empty")
    layers = [layer_from_mapping(entry, f"{path}: layers[{i}]") for i, entry in enumerate(entries)]
    seen: dict[str, int] = {}
    for i, layer in enumerate(layers):
        if layer.name in seen:
            raise WorkloadFileError(f"{path}: layers[{i}].name {layer.name!r} repeats "
                                    f"layers[{seen[layer.name]}]; layer names must be unique")
        seen[layer.name] = i
    return Workload(name=name, layers=tuple(layers))


def dump_yaml(workload: Workload, path: str | Path, comment: str = "") -> None:
    """Write ``workload`` as layer-list YAML, one flow mapping per line.

    Args:
        workload: the workload to write.
        path: destination file.
        comment: text written as leading ``#`` comment lines (e.g. the source of the shapes).
    """
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines.append(f"name: {yaml.safe_dump(workload.name, default_style=None).splitlines()[0]}")
    lines.append("layers:")
    for layer in workload.layers:
        row = {key: getattr(layer, key) for key in LAYER_FIELDS}
        lines.append("- " + yaml.safe_dump(row, default_flow_style=True, sort_keys=False,
                                           width=1 << 16).strip())
    Path(path).write_text("\n".join(lines) + "\n")
