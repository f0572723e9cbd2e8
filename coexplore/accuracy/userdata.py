"""A user's own data set: ``path/to/file.py:function`` or ``package.module:function``.

The function takes no arguments and returns ``(train, val)``. Each part is either

* a pair of tensors (or NumPy arrays) ``(x, y)``: inputs ``N x C x H x W``, floating point, and
  labels ``N``, integers ``0 .. classes - 1``; or
* a map-style ``torch.utils.data.Dataset`` (``len`` and ``[i]``) whose items are ``(x, y)`` pairs,
  ``x`` a ``C x H x W`` tensor or array and ``y`` an integer; it is read once into memory.

The data is used exactly as returned: normalize it in the function the way the network was
trained. The number of classes is the largest label + 1 over both parts and the input shape is one
sample's; the proxy model and the PPA workload are built for that shape. ``val`` is the validation
split every plan (and a checkpoint's baseline) is measured on; there is no test split (the proxy
never reads one). Calling the function runs the user's code, as a ``module:factory`` model does.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from coexplore.accuracy.datasets import DatasetError, Splits

_LAST: dict[tuple[str, float], Splits] = {}
"""The last user data set loaded, by spec and file time: study-file validation and the evaluator
of the same process call the function once."""


def is_user_spec(name: str) -> bool:
    """Whether ``name`` names a user object (``file.py:function`` or ``module:function``)."""
    return ":" in name


def _one_line(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def load_object(spec: str, what: str) -> Any:
    """The object ``name`` of ``path/to/file.py:name`` or ``package.module:name``.

    A relative file path resolves against the working directory (a study file resolves its own
    paths first); a module resolves on ``sys.path`` and the working directory. ``what`` names the
    field in error messages (``dataset``, ``model``).

    Raises:
        DatasetError: the file or module cannot be loaded, or has no such name.
    """
    module_spec, _, attr = spec.rpartition(":")
    if not module_spec or not attr:
        raise DatasetError(f"{what}: {spec!r} must be path/to/file.py:name or package.module:name")
    if module_spec.endswith(".py"):
        path = Path(module_spec).resolve()
        if not path.is_file():
            raise DatasetError(f"{what}: {spec!r}: file {path} not found")
        name = f"_coexplore_user_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        module = sys.modules.get(name)
        if module is None or getattr(module, "__file__", None) != str(path):
            file_spec = importlib.util.spec_from_file_location(name, path)
            assert file_spec is not None and file_spec.loader is not None
            module = importlib.util.module_from_spec(file_spec)
            sys.modules[name] = module  # so classes defined there pickle and unpickle
            try:
                file_spec.loader.exec_module(module)
            except Exception as err:  # noqa: BLE001 - user code: its error in one line
                sys.modules.pop(name, None)
                raise DatasetError(f"{what}: {spec!r}: {path.name} failed to load: {_one_line(err)}") from None
    else:
        added = str(Path.cwd()) not in sys.path
        if added:
            sys.path.insert(0, str(Path.cwd()))
        try:
            module = importlib.import_module(module_spec)
        except Exception as err:  # noqa: BLE001 - user code: its error in one line
            raise DatasetError(f"{what}: {spec!r}: cannot import {module_spec}: {_one_line(err)}") from None
        finally:
            if added:
                sys.path.remove(str(Path.cwd()))
    obj = getattr(module, attr, None)
    if obj is None:
        raise DatasetError(f"{what}: {spec!r}: {module_spec} has no {attr!r}")
    return obj


def _as_tensor(value: Any) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


def _part(value: Any, part: str, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` tensors of one returned part (a pair of tensors or a Dataset)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and not isinstance(value[0], (tuple, list)):
        x, y = _as_tensor(value[0]), _as_tensor(value[1])
    elif hasattr(value, "__getitem__") and hasattr(value, "__len__"):
        n = len(value)
        if n == 0:
            raise DatasetError(f"{where}: {part} is empty")
        try:
            items = [value[i] for i in range(n)]
            x = torch.stack([_as_tensor(item[0]) for item in items])
            y = torch.as_tensor([int(item[1]) for item in items])
        except Exception as err:  # noqa: BLE001 - a Dataset's items are user code
            raise DatasetError(f"{where}: {part}: items must be (x, y) pairs of a C x H x W tensor and an "
                               f"integer label ({_one_line(err)})") from None
    else:
        raise DatasetError(f"{where}: {part} must be a pair (x, y) of tensors or a torch Dataset of "
                           f"(x, y) items, got {type(value).__name__}")
    if x.ndim != 4 or not x.is_floating_point():
        raise DatasetError(f"{where}: {part} inputs must be floating point N x C x H x W, "
                           f"got {x.dtype} of shape {list(x.shape)}")
    if y.ndim != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise DatasetError(f"{where}: {part} labels must be integers of shape N, got {y.dtype} of shape {list(y.shape)}")
    if len(x) != len(y) or len(y) == 0:
        raise DatasetError(f"{where}: {part} has {len(x)} inputs but {len(y)} labels (need as many, at least one)")
    if int(y.min()) < 0:
        raise DatasetError(f"{where}: {part} labels must be 0 .. classes-1, found {int(y.min())}")
    return x.float().contiguous(), y.long().contiguous()


def load_user_dataset(spec: str) -> Splits:
    """Call a user's data function and check what it returns (see the module docstring).

    Raises:
        DatasetError: the function cannot be loaded, raises, or returns something else; one line.

    Example:
        >>> load_user_dataset("examples/byo/data.py:digits_data").num_classes  # doctest: +SKIP
        10
    """
    module_spec = spec.rpartition(":")[0]
    path = Path(module_spec)
    stamp = path.stat().st_mtime if module_spec.endswith(".py") and path.is_file() else 0.0
    if (spec, stamp) in _LAST:
        return _LAST[(spec, stamp)]
    where = f"dataset {spec!r}"
    func = load_object(spec, "dataset")
    if not callable(func):
        raise DatasetError(f"{where}: {type(func).__name__} is not callable; name a function returning (train, val)")
    try:
        result = func()
    except Exception as err:  # noqa: BLE001 - user code: its error in one line
        raise DatasetError(f"{where}: the function raised {_one_line(err)}") from None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise DatasetError(f"{where}: must return (train, val), each a pair (x, y) of tensors or a torch "
                           f"Dataset; got {type(result).__name__}")
    train_x, train_y = _part(result[0], "train", where)
    val_x, val_y = _part(result[1], "val", where)
    if train_x.shape[1:] != val_x.shape[1:]:
        raise DatasetError(f"{where}: train samples are {list(train_x.shape[1:])} but val samples "
                           f"{list(val_x.shape[1:])}")
    classes = int(max(train_y.max(), val_y.max())) + 1
    if classes < 2:
        raise DatasetError(f"{where}: labels hold one class; a classifier needs at least two")
    empty_x = torch.zeros((0, *train_x.shape[1:]))
    splits = Splits(spec, train_x, train_y, val_x, val_y, empty_x, torch.zeros(0, dtype=torch.long), classes)
    _LAST.clear()
    _LAST[(spec, stamp)] = splits
    return splits
