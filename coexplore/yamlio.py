"""Reading the YAML and text files users write: UTF-8 with the file named on failure, safe YAML
(no Python objects, no alias bombs) and duplicate keys refused with their line.

Every file coexplore reads from a user (study, space, objectives, design points, technology
points, workloads) goes through :func:`read_text` and :func:`load_yaml`, so a problem is always
one line that names the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class UserFileError(ValueError):
    """A user file cannot be read or parsed; the message is one line naming the file."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML would keep the last)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue  # SafeLoader reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_text(path: str | Path) -> str:
    """The file's text as UTF-8.

    Raises:
        UserFileError: the file cannot be read or is not UTF-8 (one line naming the file).
    """
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserFileError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
    except IsADirectoryError:
        raise UserFileError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise UserFileError(f"{path}: cannot read file: {exc.strerror or exc}") from None


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML text safely; duplicate keys are errors.

    Raises:
        UserFileError: not valid YAML, or a duplicate key (one line naming ``source`` and the line).
    """
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc)
        raise UserFileError(f"{source}:{where}: not valid YAML: {what}".replace("\n", " ")) from None


def read_yaml_file(path: str | Path) -> Any:
    """:func:`read_text` then :func:`load_yaml`."""
    return load_yaml(read_text(path), str(path))
