"""Reading declarative YAML files and reporting their problems one line per field, with its path."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from coexplore.hardware.design import format_validation_error
from coexplore.yamlio import UserFileError, read_yaml_file

M = TypeVar("M", bound=BaseModel)

# Tags of discriminated unions; pydantic puts them in an error's location, users never write them.
_UNION_TAGS = frozenset({"int", "float", "categorical", "botorch", "gp", "nsga2", "tpe", "random"})


class ConfigError(ValueError):
    """A study, space or objectives file is invalid; ``lines`` holds one problem per line.

    Each line reads ``<file>: <yaml.path>: <what is wrong>`` so a user can go straight to it.
    """

    MAX_LINES = 30
    """At most this many problems are listed; the rest are counted in one more line."""

    def __init__(self, lines: Iterable[str]) -> None:
        lines = list(lines)
        if len(lines) > self.MAX_LINES:
            lines = [*lines[: self.MAX_LINES], f"... and {len(lines) - self.MAX_LINES} more problems"]
        self.lines = lines
        super().__init__("\n".join(self.lines))


def _is_union_tag(part: str) -> bool:
    return part in _UNION_TAGS or part.startswith("function-")


def error_lines(err: ValidationError, prefix: str = "", source: str | None = None) -> list[str]:
    """One line per pydantic error: ``[source: ]prefix.field.path: message``.

    Args:
        err: the validation error.
        prefix: YAML path of the validated mapping inside its file ("" at the top).
        source: file name to put in front of each line.
    """
    lines = format_validation_error(err, prefix, skip_loc=_is_union_tag, plain=True)
    return [f"{source}: {line}" for line in lines] if source else lines


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML file that must hold a mapping; raise :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        data = read_yaml_file(path)
    except UserFileError as exc:
        raise ConfigError([str(exc)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of keys, got {type(data).__name__}"])
    return data


def validate(model: type[M], data: Any, prefix: str = "", source: str | None = None) -> M:
    """Validate ``data`` into ``model``; raise :class:`ConfigError` with one line per problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(error_lines(exc, prefix, source)) from exc
