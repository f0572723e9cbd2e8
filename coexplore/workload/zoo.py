"""The built-in zoo: ImageNet-size workloads shipped as data files in ``coexplore/data/zoo/``.

Each ``<name>.yaml`` holds one network's layers at batch 1 and 224x224 input, extracted from the
torchvision architecture by `coexplore.workload._zoo_gen` (which cites each source). Layer names
are torchvision's qualified module names.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from coexplore.workload.layer import Workload
from coexplore.workload.yaml_io import load_yaml

_ZOO_PACKAGE = "coexplore"


def _zoo_dir():
    return resources.files(_ZOO_PACKAGE).joinpath("data", "zoo")


def names() -> list[str]:
    """The zoo's workload names, sorted.

    Example:
        >>> names()
        ['alexnet', 'mobilenet_v2', 'resnet18', 'resnet50', 'vgg16']
    """
    return sorted(entry.name[:-5] for entry in _zoo_dir().iterdir() if entry.name.endswith(".yaml"))


def get(name: str) -> Workload:
    """Load the zoo workload ``name`` (cached: a `Workload` is immutable).

    Args:
        name: one of `names()`; case-insensitive, ``-`` accepted for ``_``.

    Raises:
        KeyError: an unknown name; the message lists the zoo's names.

    Example:
        >>> get("resnet18").macs
        1814073344
    """
    key = name.strip().lower().replace("-", "_")
    if key not in names():
        raise KeyError(f"unknown zoo workload {name!r}; the zoo has: {', '.join(names())}")
    return _load(key)


@cache
def _load(key: str) -> Workload:
    with resources.as_file(_zoo_dir().joinpath(f"{key}.yaml")) as path:
        return load_yaml(path)
