"""Where studies live: Optuna RDB storage (SQLite file by default, any SQLAlchemy URL) with heartbeats.

Heartbeats let a study survive a dead worker: each running trial records a heartbeat every
``heartbeat_interval`` seconds; a trial silent for ``grace_period`` seconds is failed by the next
process that looks, and :class:`optuna.storages.RetryFailedTrialCallback` queues a copy of it (same
parameters) so the budget of COMPLETE trials is still met.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from coexplore.record import mask_url, sqlite_path

if TYPE_CHECKING:
    import optuna

DEFAULT_STORAGE_URL = "sqlite:///coexplore-runs/coexplore.db"
"""Default study storage: one SQLite file for all studies, under ``./coexplore-runs/``."""
STORAGE_ENV = "COEXPLORE_STORAGE"
"""Environment variable that overrides the default storage URL."""

__all__ = ["DEFAULT_STORAGE_URL", "STORAGE_ENV", "StorageError", "mask_url", "open_storage", "proxy_cache_dir", "resolve_storage_url", "study_names"]


class StorageError(RuntimeError):
    """The storage cannot be opened, or a study is missing from it (message has the URL masked)."""


def resolve_storage_url(cli: str | None = None, config: str | None = None) -> str:
    """The storage URL to use: ``--storage``, else the study file's, else ``$COEXPLORE_STORAGE``, else the default."""
    return cli or config or os.environ.get(STORAGE_ENV) or DEFAULT_STORAGE_URL


def open_storage(
    url: str,
    *,
    create: bool = True,
    heartbeat_interval: int | None = 10,
    grace_period: int | None = None,
    max_retry: int = 3,
) -> optuna.storages.BaseStorage:
    """Open (and on ``create``, create) an RDB storage with heartbeats and retry of stale trials.

    Args:
        url: SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg2://user@host/db``, ...), or
            ``grpc://HOST:PORT`` for Optuna's gRPC storage proxy (:mod:`coexplore.search.grpc`).
        create: make the SQLite folder if missing; with False a missing SQLite file is an error
            (read-only commands never create storage).
        heartbeat_interval: seconds between heartbeats of a running trial (None: no heartbeats).
        grace_period: seconds without a heartbeat before a trial is failed (default 2 x interval).
        max_retry: how many times one failed-by-heartbeat trial is queued again.
    """
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    check_storage_url(url)
    if url.startswith("grpc:"):
        return _open_grpc(url, heartbeat_interval, grace_period, max_retry)
    db = sqlite_path(url)
    if db is not None:
        if not create and not db.exists():
            raise StorageError(f"no study storage at {mask_url(url)} (start a study first, or pass --storage)")
        if db.exists() and not db.is_file():
            raise StorageError(f"storage {mask_url(url)}: {db} is not a file")
        if create and db.exists() and not os.access(db, os.W_OK):
            # in WAL mode SQLite would accept writes into the -wal file until a checkpoint fails:
            # refuse up front rather than fail trials part-way
            raise StorageError(f"cannot open storage {mask_url(url)} for writing: "
                               f"{_READ_ONLY}")
        db.parent.mkdir(parents=True, exist_ok=True)
    foreign = foreign_tables(url)
    if foreign:
        raise StorageError(
            f"storage {mask_url(url)} is not an Optuna study storage (it holds tables {', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}{'; it looks like an MLflow tracking store' if 'experiments' in foreign else ''}"
            "); left untouched: pass another --storage"
        )
    engine_kwargs: dict = {"pool_pre_ping": True}
    if db is not None:
        engine_kwargs = {"connect_args": {"timeout": 60}}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            kwargs: dict = {}
            if heartbeat_interval is not None:
                kwargs = {
                    "heartbeat_interval": heartbeat_interval,
                    "grace_period": grace_period,
                    "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=max_retry),
                }
            storage = RDBStorage(url, engine_kwargs=engine_kwargs, **kwargs)
        if db is not None:
            _fast_sqlite(storage.engine)
        return storage
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy/driver errors vary; report them masked
        raise StorageError(f"cannot open storage {mask_url(url)}: {storage_problem(exc)}") from None


_OWN_TABLES = frozenset({"studies", "trials", "version_info", "alembic_version", "coexplore_proxy_results"})
"""Tables of an Optuna storage coexplore may find (its proxy result cache lives beside them)."""


def _open_grpc(url: str, heartbeat_interval: int | None, grace_period: int | None,
               max_retry: int) -> optuna.storages.BaseStorage:
    """A client of Optuna's gRPC storage proxy (``coexplore storage serve``), with heartbeats."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    from coexplore.search import grpc_cache  # noqa: F401 - registers the proxy result cache for grpc://
    from coexplore.search.grpc import HeartbeatGrpcStorage, grpc_address

    try:
        host, port = grpc_address(url)
    except ValueError as exc:
        raise StorageError(f"storage {exc}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        callback = RetryHeartbeatStaleTrialCallback(max_retry=max_retry) if heartbeat_interval is not None else None
    try:
        storage = HeartbeatGrpcStorage(host, port, heartbeat_interval=heartbeat_interval,
                                       grace_period=grace_period, heartbeat_stale_trial_callback=callback)
        storage.wait_server_ready(timeout=_GRPC_CONNECT_S)
    except ImportError:
        raise StorageError(f"storage {url}: grpcio is not installed (`pip install grpcio`, or scripts/setup.sh)") from None
    except ConnectionError:
        raise StorageError(f"cannot open storage {url}: no gRPC storage proxy answers there within "
                           f"{_GRPC_CONNECT_S:.0f} s (start one with `coexplore storage serve --storage URL "
                           f"--port {port}`)") from None
    return storage


_GRPC_CONNECT_S = float(os.environ.get("COEXPLORE_GRPC_CONNECT_S", "30"))
"""How long opening a ``grpc://`` storage waits for the proxy to answer."""


def check_storage_url(url: str) -> None:
    """Refuse URLs that cannot hold a study: in-memory SQLite keeps nothing after the process ends.

    Raises:
        StorageError: naming the URL and what to pass instead.
    """
    if url.startswith("sqlite:") and sqlite_path(url) is None:
        raise StorageError(f"storage {mask_url(url)}: an in-memory database keeps nothing when the process ends; "
                           "use a file, e.g. sqlite:///coexplore-runs/coexplore.db")
    if "://" not in url:
        raise StorageError(f"storage {mask_url(url)}: not a database URL; expected e.g. sqlite:///path.db, "
                           "postgresql://user@host/db or grpc://HOST:PORT")


def foreign_tables(url: str) -> list[str]:
    """The tables of an existing database that hold other data than an Optuna storage ([] if none
    or if it is Optuna's); read without writing anything."""
    db = sqlite_path(url)
    if db is not None:
        if not db.is_file() or db.stat().st_size == 0:
            return []
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(f"file:{db.as_posix()}?mode=ro", uri=True, timeout=30)) as conn:
                names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"storage {mask_url(url)}: {db} is not an SQLite database ({exc})") from None
    else:
        import sqlalchemy

        try:
            engine = sqlalchemy.create_engine(url)
            try:
                names = sqlalchemy.inspect(engine).get_table_names()
            finally:
                engine.dispose()
        except Exception as exc:  # noqa: BLE001 - driver errors vary
            raise StorageError(f"cannot open storage {mask_url(url)}: {storage_problem(exc)}") from None
    if set(names) <= _OWN_TABLES or set(names) & {"studies", "version_info"}:
        return []
    return sorted(set(names) - _OWN_TABLES)


_READ_ONLY = "the database is read-only (reading commands such as status, pareto and export still work)"


def storage_problem(exc: BaseException) -> str:
    """One line saying why a storage operation failed (read-only, unreachable, locked, ...)."""
    text = str(exc)
    if "readonly database" in text or "read-only" in text.lower():
        return _READ_ONLY
    first = text.splitlines()[0] if text else type(exc).__name__
    return mask_url(first)[:300]


def _fast_sqlite(engine) -> None:
    """WAL journal and normal sync: ~25 commits per trial cost ~1 ms each instead of ~10 ms, and
    readers (``study status``) never block the running study."""
    from sqlalchemy import event

    def on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        except Exception:  # noqa: BLE001,S110 - a read-only database stays in its mode; reading works
            pass
        finally:
            cur.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()


def proxy_cache_dir(url: str) -> Path:
    """Folder for the proxy's FP32 checkpoints: ``$COEXPLORE_PROXY_CACHE_DIR``, else ``proxy-cache/``
    beside an SQLite storage, else under ./coexplore-runs/ (each gRPC or PostgreSQL worker pretrains
    once into its own folder unless they share one)."""
    if os.environ.get(PROXY_CACHE_ENV):
        return Path(os.environ[PROXY_CACHE_ENV])
    db = sqlite_path(url)
    return (db.parent if db is not None else Path("coexplore-runs")) / "proxy-cache"


PROXY_CACHE_ENV = "COEXPLORE_PROXY_CACHE_DIR"
"""Environment variable naming the FP32 checkpoint folder (e.g. on a file system workers share)."""


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    """Names of the studies in ``storage``."""
    return [s.study_name for s in storage.get_all_studies() if s.study_name != "coexplore-proxy-cache"]


def fail_orphan_trials(study: optuna.Study, storage: optuna.storages.BaseStorage | None) -> list[int]:
    """Fail RUNNING trials that never recorded a heartbeat and are older than the grace period,
    and queue their retry, as Optuna does for stale heartbeats; returns their numbers.
    ``storage`` is the study's RDB storage as opened (None or another kind: nothing to do; a
    ``grpc://`` client's own stale check already covers trials that never beat, see
    :mod:`coexplore.search.grpc`).

    A process killed between creating a trial and its first heartbeat leaves such a trial, which
    Optuna's own stale check skips (it only looks at trials with a heartbeat). The heartbeat table
    is read through the storage's public engine by its table name (Optuna has no public query).
    """
    import datetime

    import sqlalchemy
    from optuna.storages import RDBStorage
    from optuna.trial import TrialState

    if not isinstance(storage, RDBStorage) or storage.get_heartbeat_interval() is None:
        return []
    grace = storage.grace_period or 2 * storage.get_heartbeat_interval()
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=grace)
    old = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
           if t.datetime_start is not None and t.datetime_start < cutoff]
    if not old:
        return []
    study_id = storage.get_study_id_from_name(study.study_name)
    ids = {storage.get_trial_id_from_study_id_trial_number(study_id, t.number): t.number for t in old}
    with storage.engine.connect() as conn:
        beating = {r[0] for r in conn.execute(sqlalchemy.text("SELECT trial_id FROM trial_heartbeats"))}
    failed = []
    callback = storage.get_heartbeat_stale_trial_callback()
    for trial_id, number in ids.items():
        if trial_id in beating or not storage.set_trial_state_values(trial_id, TrialState.FAIL):
            continue
        failed.append(number)
        if callback is not None:
            callback(study, storage.get_trial(trial_id))
    return failed
