"""Secrets in URLs and configs, and the database file behind an ``sqlite:///`` URL.

Every layer that prints, stores or logs a storage or tracking URL masks it with these, so a
password in ``postgresql://user:pw@host/db`` never reaches output, a stored config or MLflow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

_SECRET_IN_URL = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<secret>[^@\s/]+)(?P<at>@)")
_SECRET_KEYS = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|credential", re.IGNORECASE)


def mask_url(url: str) -> str:
    """Replace the password in every ``scheme://user:password@host`` of ``url`` by ``***``.

    Example:
        >>> mask_url("postgresql://alice:s3cret@db:5432/studies")
        'postgresql://alice:***@db:5432/studies'
    """
    return _SECRET_IN_URL.sub(lambda m: f"{m.group('head')}***{m.group('at')}", url)


def mask_secrets(value: Any) -> Any:
    """A copy of a nested config (dicts, lists, scalars) with passwords in URLs and secret-named
    fields masked."""
    if isinstance(value, dict):
        return {
            k: ("***" if isinstance(k, str) and _SECRET_KEYS.search(k) and v not in (None, "") else mask_secrets(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [mask_secrets(v) for v in value]
    if isinstance(value, str):
        return mask_url(value)
    return value


def sqlite_path(url: str) -> Path | None:
    """The database file of an ``sqlite:///`` URL (relative to the working directory), else None."""
    if not url.startswith("sqlite:"):
        return None
    path = url.split("sqlite:///", 1)[-1] if url.startswith("sqlite:///") else ""
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(unquote(path))
