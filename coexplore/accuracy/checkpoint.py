"""A user's trained FP32 network as the proxy's starting point: no pretraining.

Accepted files (``proxy.checkpoint`` / ``--checkpoint``):

* a ``state_dict``: ``torch.save(model.state_dict(), path)``, or a dict holding one under
  ``state_dict``, ``model_state_dict`` or ``model`` (a training script's checkpoint with epoch and
  optimizer beside it). Read with ``torch.load(weights_only=True)``, which unpickles tensors and
  plain containers only, never code.
* a whole module: ``torch.save(model, path)``. Only ``weights_only=False`` can read one, and that
  unpickles arbitrary objects: it runs code named in the file, as a study file's ``model:
  module:factory`` or ``dataset: file.py:function`` does. Use it only for files you trust; its class
  must be importable as when it was saved. Its ``state_dict`` is what the proxy takes.

Either way the weights are loaded into the proxy's model (``model:``, built for the data set's
classes and input shape); a key the model lacks, a key the file lacks, or a shape that differs is
refused naming the first such key. A ``module.`` prefix on every key (``nn.DataParallel``) is
dropped. The checkpoint's own accuracy on the validation split is the baseline, measured once and
cached by the file's content hash (and the data and validation subset it was measured on).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from coexplore.accuracy.errors import ProxyError

if TYPE_CHECKING:
    from coexplore.accuracy.config import ProxyConfig

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
"""Keys under which a training script's checkpoint dict commonly holds the model's state_dict."""


class CheckpointError(ProxyError, ValueError):
    """A checkpoint cannot be read or does not fit the model; the message names the first problem."""


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes: the checkpoint's identity in cache keys."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tensors_only(obj: object) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, Mapping) and obj and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        return dict(obj)
    return None


def read_state_dict(path: Path | str) -> tuple[dict[str, torch.Tensor], str]:
    """The checkpoint's state_dict and its format (``state_dict`` or ``module``), on the CPU.

    Raises:
        CheckpointError: missing, unreadable, or holding neither a state_dict nor a module.
    """
    path = Path(path)
    where = f"checkpoint: {path}"
    if not path.is_file():
        raise CheckpointError(f"{where}: file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        fmt = "state_dict"
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):  # not a pickled object: garbage or truncated
            raise CheckpointError(f"{where}: not a torch checkpoint (unreadable pickle)") from None
        # Not plain tensors: a whole pickled module. Unpickling it runs code (documented above).
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - any reason the file cannot be read, in one line
            raise CheckpointError(f"{where}: cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
        fmt = "module"
    except Exception as exc:  # noqa: BLE001 - truncated, not a torch file, ...
        text = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(f"{where}: not a torch checkpoint ({type(exc).__name__}: {text})") from None
    if isinstance(obj, nn.Module):
        return {k: v.detach().cpu() for k, v in obj.state_dict().items()}, "module"
    state = _tensors_only(obj)
    if state is None and isinstance(obj, Mapping):
        state = next((s for k in WRAPPER_KEYS if (s := _tensors_only(obj.get(k))) is not None), None)
    if state is None:
        raise CheckpointError(f"{where}: holds a {type(obj).__name__}, neither a state_dict (names -> tensors, "
                              f"or one under {', '.join(WRAPPER_KEYS)}) nor a torch.nn.Module")
    return state, fmt


def fit(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    """``state`` ready for ``model.load_state_dict`` (a ``module.`` prefix dropped), or refused.

    Raises:
        CheckpointError: naming the first key (in the model's order) that is missing, then the first
            the model does not have, then the first whose shape differs.

    Example:
        >>> fit(nn.Linear(2, 3), {"weight": torch.zeros(3, 2)}, "ckpt")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        CheckpointError: ckpt: does not fit the model: missing key 'bias' ...
    """
    expected = model.state_dict()
    if all(k.startswith("module.") for k in state) and not any(k.startswith("module.") for k in expected):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    lead = f"{where}: does not fit the model:"
    if missing:
        more = f" ({len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(f"{lead} missing key {missing[0]!r}{more}")
    if extra:
        more = f" ({len(extra) - 1} more)" if len(extra) > 1 else ""
        raise CheckpointError(f"{lead} unexpected key {extra[0]!r}{more}")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(
                f"{lead} {k!r} has shape {list(state[k].shape)}, the model's is {list(v.shape)}"
            )
    return state


def cached_baseline(cache_dir: Path, key: str, measure: Callable[[], tuple[int, int]]) -> tuple[int, int]:
    """``(correct, total)`` of a checkpoint on its validation images: from ``cache_dir`` when a
    file for ``key`` exists, else ``measure()`` once and stored."""
    path = Path(cache_dir) / f"baseline-{key[:24]}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return int(stored["correct"]), int(stored["total"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    correct, total = measure()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "correct": correct, "total": total}), encoding="utf-8")
    tmp.replace(path)
    return correct, total


def preflight(config: ProxyConfig) -> None:
    """Check a proxy config's user inputs before a study is created: the data function's return
    and, with a checkpoint, that it fits the model built for that data. Loads the data set only
    when the config names a data function or a checkpoint.

    Raises:
        ProxyError: (``DatasetError``, ``ModelError``, :class:`CheckpointError``) one line.
    """
    from coexplore.accuracy.datasets import dataset_spec
    from coexplore.accuracy.models import ModelError, build_model

    spec = dataset_spec(config.dataset)
    if config.checkpoint is None and ":" not in config.dataset:
        return
    data = spec.load(config.data_dir)
    model_name = config.model or spec.default_model
    if not model_name:
        raise ModelError("model: a user data set needs a model (model: or --model; a registered name or "
                         "path/to/file.py:factory)")
    if config.checkpoint is not None:
        with torch.random.fork_rng(devices=[]):
            model = build_model(model_name, data.num_classes, data.input_shape[1])
        state, _ = read_state_dict(config.checkpoint)
        fit(model, state, f"checkpoint: {config.checkpoint}")
