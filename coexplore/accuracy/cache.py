"""Where proxy results and FP32 checkpoints persist: an SQL table and files in ``cache_dir``.

Results live in the table ``coexplore_proxy_results`` of any SQLAlchemy database (the study's Optuna
storage, so workers on other machines share it; SQLite and PostgreSQL both work). The table is
created when missing; inserting a key that another worker inserted first is a no-op, so concurrent
evaluations of the same plan are safe. Checkpoints are files written atomically (temp + rename).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from sqlalchemy import (
    Column,
    Float,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

TABLE_NAME = "coexplore_proxy_results"

_INSERT_OR_IGNORE = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
"""Dialects whose ``INSERT ... ON CONFLICT DO NOTHING`` skips a stored key without an error."""


def stable_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys): a cache key."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CachedResult:
    """One stored evaluation."""

    key: str
    accuracy: float
    baseline_accuracy: float
    train_seconds: float
    detail: dict


class ResultCache:
    """Proxy results by key in an SQL table (created if missing).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///study.db`` or ``postgresql+psycopg2://...``.

    Example:
        >>> import tempfile, os
        >>> cache = ResultCache(f"sqlite:///{tempfile.mkdtemp()}/c.db")
        >>> cache.put("k", 0.9, 0.95, 1.5, {"plan": "x"}); cache.get("k").accuracy
        0.9
    """

    def __init__(self, url: str) -> None:
        self.url = url
        connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        self.metadata = MetaData()
        self.table = Table(
            TABLE_NAME,
            self.metadata,
            Column("key", String(64), primary_key=True),
            Column("accuracy", Float, nullable=False),
            Column("baseline_accuracy", Float, nullable=False),
            Column("train_seconds", Float, nullable=False),
            Column("detail", Text, nullable=False),
            Column("created_unix", Float, nullable=False),
        )
        self._create_table()

    def _create_table(self) -> None:
        for attempt in range(3):
            try:
                self.metadata.create_all(self.engine, checkfirst=True)
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                # Another worker created it between our check and our CREATE; look again.
                if attempt == 2:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def get(self, key: str) -> CachedResult | None:
        """The stored result for ``key``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.key == key)).first()
        if row is None:
            return None
        return CachedResult(
            row.key, row.accuracy, row.baseline_accuracy, row.train_seconds, json.loads(row.detail)
        )

    def put(
        self,
        key: str,
        accuracy: float,
        baseline_accuracy: float,
        train_seconds: float,
        detail: dict,
    ) -> None:
        """Store a result; a key already stored (by any worker) is left as it is."""
        values = {
            "key": key,
            "accuracy": float(accuracy),
            "baseline_accuracy": float(baseline_accuracy),
            "train_seconds": float(train_seconds),
            "detail": json.dumps(detail, sort_keys=True, default=str),
            "created_unix": time.time(),
        }
        insert_or_ignore = _INSERT_OR_IGNORE.get(self.engine.dialect.name)
        if insert_or_ignore is not None:
            stmt = (
                insert_or_ignore(self.table)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["key"])
            )
        else:
            stmt = insert(self.table).values(**values)
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt)
        except IntegrityError:
            pass  # inserted by another worker first: same key, same deterministic result

    def __len__(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


_BACKENDS: dict[str, Any] = {}
"""URL scheme -> factory of a result cache with ResultCache's get/put/dispose (registered from above)."""


def register_backend(scheme: str, factory: Any) -> None:
    """Serve URLs of ``scheme`` with ``factory(url)`` instead of an SQL table (e.g. ``grpc``: the
    study storage reached through Optuna's gRPC proxy, registered by ``coexplore.search.grpc_cache``)."""
    _BACKENDS[scheme] = factory


def open_result_cache(url: str) -> Any:
    """The result cache at ``url``: a registered backend for its scheme, else a :class:`ResultCache`."""
    factory = _BACKENDS.get(url.split("://", 1)[0])
    return factory(url) if factory is not None else ResultCache(url)


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write ``payload`` with ``torch.save`` atomically (temp file + rename in the same folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path) -> dict | None:
    """The checkpoint at ``path``, or None when missing or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a truncated or foreign file is rebuilt, not fatal
        return None
