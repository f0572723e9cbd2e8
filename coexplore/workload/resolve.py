"""One entry point from a user's workload spec (CLI ``--workload``, study files) to a `Workload`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from coexplore.workload import zoo
from coexplore.workload.layer import Workload
from coexplore.workload.scalesim import from_scalesim_csv
from coexplore.workload.yaml_io import WorkloadFileError, load_yaml

__all__ = ["resolve"]


def _one_line(err: BaseException) -> str:
    """``Type: message`` of a user code error, with the line for a syntax error."""
    where = f" (line {err.lineno})" if isinstance(err, SyntaxError) and err.lineno else ""
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}{where}: {text}"


def _load_python(module_spec: str) -> ModuleType:
    """Import ``pkg.mod`` (from ``sys.path`` or the working directory) or a ``path/to/file.py``."""
    if module_spec.endswith(".py"):
        path = Path(module_spec)
        if not path.is_file():
            raise WorkloadFileError(f"workload module file {module_spec} does not exist")
        spec = importlib.util.spec_from_file_location(f"_coexplore_workload_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 - user code: any error is the user's to see in one line
            raise WorkloadFileError(f"workload module {module_spec} failed to load: {_one_line(err)}") from None
        return module
    added = str(Path.cwd()) not in sys.path
    if added:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(module_spec)
    except ModuleNotFoundError as err:
        raise WorkloadFileError(f"workload module {module_spec!r} cannot be imported: {err}") from None
    except Exception as err:  # noqa: BLE001 - user code: any error is the user's to see in one line
        raise WorkloadFileError(f"workload module {module_spec!r} failed to load: {_one_line(err)}") from None
    finally:
        if added:
            sys.path.remove(str(Path.cwd()))


def _from_function(spec: str) -> Workload:
    import torch

    from coexplore.workload.extract import from_module

    module_spec, _, func_name = spec.rpartition(":")
    module = _load_python(module_spec)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise WorkloadFileError(f"workload {spec!r}: {module_spec} has no function {func_name!r}")
    try:
        result = func()
    except Exception as err:  # noqa: BLE001 - user code: any error is the user's to see in one line
        raise WorkloadFileError(f"workload {spec!r}: {func_name}() raised {_one_line(err)}") from None
    if (not isinstance(result, tuple) or len(result) != 2
            or not isinstance(result[0], torch.nn.Module)
            or not all(isinstance(d, int) for d in result[1])):
        raise WorkloadFileError(f"workload {spec!r}: {func_name}() must return "
                                f"(torch.nn.Module, input_shape tuple of ints), got {result!r:.200}")
    module_obj, input_shape = result
    return from_module(module_obj, tuple(input_shape), name=func_name)


def resolve(spec: str) -> Workload:
    """Turn a workload spec into a `Workload`.

    Args:
        spec: one of
            * a zoo name (`zoo.names()`: ``resnet18``, ``mobilenet_v2``, ...);
            * a path to a ``.csv`` SCALE-Sim topology (read with SCALE-Sim's output rounding)
              or a ``.yaml``/``.yml`` layer list (`load_yaml`);
            * ``module:function`` or ``path/to/file.py:function``, where ``function()`` returns
              ``(torch.nn.Module, input_shape)``; the layers are extracted with `from_module`.

    Raises:
        KeyError: an unknown name (the message lists the zoo).
        WorkloadFileError: a file or module that cannot be read (the message names where).

    Example:
        >>> resolve("resnet18").layer_names[0]
        'conv1'
    """
    text = spec.strip()
    suffix = Path(text).suffix.lower()
    if suffix in (".csv", ".yaml", ".yml"):
        path = Path(text)
        if not path.is_file():
            raise WorkloadFileError(f"workload file {text} does not exist")
        return from_scalesim_csv(path) if suffix == ".csv" else load_yaml(path)
    if ":" in text:
        return _from_function(text)
    try:
        return zoo.get(text)
    except KeyError:
        raise KeyError(f"unknown workload {spec!r}: not a zoo name ({', '.join(zoo.names())}), "
                       f"a .csv/.yaml path, or module:function") from None
