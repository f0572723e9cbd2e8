"""Where tracking data lives: the default MLflow store next to the study storage, and secret masking.

MLflow recommends a database-backed tracking store: since MLflow 3.7 its default is
``sqlite:///mlflow.db`` and the ``./mlruns`` file store is "legacy", in keep-the-lights-on mode and
"to be deprecated soon" (mlflow.org/docs/latest/self-hosting/architecture/backend-store). So
coexplore keeps an SQLite tracking database beside the study database in ``./coexplore-runs/``
and the artifacts in ``./coexplore-runs/mlartifacts``.
Any other tracking URI (a shared ``http://`` server, a PostgreSQL-backed store) works unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from coexplore.record.secrets import mask_secrets, mask_url, sqlite_path

__all__ = ["ARTIFACTS_DIR_NAME", "artifact_location", "default_tracking_uri", "experiment_artifact_location", "is_http_uri", "mask_secrets",
           "mask_url", "prepare_store", "safe_key", "sqlite_path"]

DEFAULT_RUNS_DIR = Path("coexplore-runs")
TRACKING_DB_NAME = "mlflow.db"
ARTIFACTS_DIR_NAME = "mlartifacts"

_BAD_KEY_CHARS = re.compile(r"[^/\w.\- :]")


def safe_key(name: str) -> str:
    """An MLflow-valid metric/param key for ``name`` (bad characters become ``_``), at most 250 chars."""
    key = _BAD_KEY_CHARS.sub("_", str(name)).strip("/") or "_"
    key = re.sub(r"/+", "/", key).replace("/./", "/_/").replace("/../", "/__/")
    if key in (".", "..") or key.startswith(("../", "./")):
        key = "_" + key
    return key[:250]


def default_tracking_uri(study_storage_url: str | None = None) -> str:
    """The tracking URI to use when none is given: ``mlflow.db`` next to an SQLite study database.

    For any other study storage (PostgreSQL, journal) the default is
    ``sqlite:///coexplore-runs/mlflow.db`` in the working directory.

    Args:
        study_storage_url: the Optuna storage URL of the study, if known.

    Example:
        >>> default_tracking_uri("sqlite:///coexplore-runs/coexplore.db")
        'sqlite:///coexplore-runs/mlflow.db'
    """
    db = sqlite_path(study_storage_url) if study_storage_url else None
    folder = db.parent if db is not None else DEFAULT_RUNS_DIR
    return f"sqlite:///{(folder / TRACKING_DB_NAME).as_posix()}"


def artifact_location(tracking_uri: str) -> str | None:
    """Absolute ``file://`` artifact root for a store this process writes directly, else None.

    A local SQLite store keeps ``mlartifacts`` beside it; another database (PostgreSQL, MySQL)
    opened directly uses ``./coexplore-runs/mlartifacts`` rather than MLflow's ``./mlruns``. For a
    tracking server (``http(s)://``) None lets the server choose (its ``--artifacts-destination``).
    """
    db = sqlite_path(tracking_uri)
    if db is not None:
        return (db.parent / ARTIFACTS_DIR_NAME).resolve().as_uri()
    if "://" in tracking_uri and not is_http_uri(tracking_uri) and not tracking_uri.startswith("file:"):
        return (DEFAULT_RUNS_DIR / ARTIFACTS_DIR_NAME).resolve().as_uri()
    return None


RUN_ARTIFACT_URI_LIMIT = 200
"""MLflow's database schema stores a run's artifact URI in 200 characters (``runs.artifact_uri``);
PostgreSQL refuses a longer one, so the run cannot be created at all."""
_RUN_SUFFIX = len("/0123456789abcdef0123456789abcdef/artifacts")


def experiment_artifact_location(tracking_uri: str, experiment_name: str) -> str | None:
    """The artifact folder of a study's experiment (None: the store or server chooses).

    The study name names the folder; where the whole run URI (folder, run id, ``/artifacts``)
    would pass MLflow's 200-character column, the name is shortened and a hash of it added, so
    studies in deep folders or with long names still get their runs.
    """
    root = artifact_location(tracking_uri)
    if root is None:
        return None
    name = safe_key(experiment_name).replace("/", "_")
    room = RUN_ARTIFACT_URI_LIMIT - _RUN_SUFFIX - len(root) - 1
    if len(name) > room:
        digest = hashlib.sha1(experiment_name.encode()).hexdigest()[:10]
        name = f"{name[:max(0, room - 11)]}-{digest}".lstrip("-")
    return f"{root}/{name}"


def prepare_store(tracking_uri: str) -> None:
    """Create the folder of a local SQLite tracking database and put the database in WAL mode.

    Write-ahead logging (persistent in the file) costs one fsync per commit instead of several,
    which is most of MLflow's per-trial overhead on SQLite, and lets ``coexplore ui`` read while a
    study writes. WAL needs a local file system (the default ``./coexplore-runs/``).
    """
    db = sqlite_path(tracking_uri)
    if db is None:
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error:
        pass  # e.g. a network file system without shared memory: MLflow works in its default mode


def is_http_uri(tracking_uri: str) -> bool:
    """True when ``tracking_uri`` points at a tracking server (``http(s)://``)."""
    return urlsplit(tracking_uri).scheme in ("http", "https")
