"""The accuracy proxy's result cache for workers that reach the study storage only through Optuna's
gRPC proxy (``grpc://HOST:PORT``): results are study system attributes of one cache study.

A gRPC worker cannot open the database where :class:`coexplore.accuracy.ResultCache` keeps its
table, so the cache goes through the storage API instead: each result is the system attribute
``proxy:<key>`` of the study :data:`CACHE_STUDY` in the same storage (created when missing, hidden
from ``study list``). Results are deterministic per key, so two workers storing the same key store
the same value and the last write is as good as the first. Importing this module registers the
``grpc`` scheme with :func:`coexplore.accuracy.cache.open_result_cache`.
"""

from __future__ import annotations

import threading
from typing import Any

import optuna

from coexplore.accuracy.cache import CachedResult, register_backend

CACHE_STUDY = "coexplore-proxy-cache"
"""The study whose system attributes hold the proxy results of every study behind the proxy."""
_PREFIX = "proxy:"


class StudyAttrResultCache:
    """Proxy results by key as system attributes of :data:`CACHE_STUDY` (the ResultCache interface).

    Args:
        storage: any Optuna storage (here a gRPC proxy client).

    Example:
        >>> cache = StudyAttrResultCache(optuna.storages.InMemoryStorage())
        >>> cache.put("k", 0.9, 0.95, 1.5, {"plan": "x"}); cache.get("k").accuracy
        0.9
    """

    def __init__(self, storage: optuna.storages.BaseStorage) -> None:
        self.storage = storage
        self._known: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        try:
            self.study_id = storage.get_study_id_from_name(CACHE_STUDY)
        except KeyError:
            try:
                self.study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE], CACHE_STUDY)
            except optuna.exceptions.DuplicatedStudyError:  # another worker created it first
                self.study_id = storage.get_study_id_from_name(CACHE_STUDY)

    def _refresh(self) -> None:
        attrs = self.storage.get_study_system_attrs(self.study_id)
        self._known = {k[len(_PREFIX):]: v for k, v in attrs.items() if k.startswith(_PREFIX)}

    def get(self, key: str) -> CachedResult | None:
        """The stored result for ``key``, or None (stored results are kept in memory; a miss reads
        the storage again, to see other workers' results)."""
        with self._lock:
            if key not in self._known:
                self._refresh()
            row = self._known.get(key)
        if row is None:
            return None
        return CachedResult(key, row["accuracy"], row["baseline_accuracy"], row["train_seconds"], row["detail"])

    def put(self, key: str, accuracy: float, baseline_accuracy: float, train_seconds: float, detail: dict) -> None:
        """Store a result (a key stored by another worker holds the same deterministic result)."""
        import json

        row = {"accuracy": float(accuracy), "baseline_accuracy": float(baseline_accuracy),
               "train_seconds": float(train_seconds), "detail": json.loads(json.dumps(detail, default=str))}
        self.storage.set_study_system_attr(self.study_id, _PREFIX + key, row)
        with self._lock:
            self._known[key] = row

    def __len__(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._known)

    def dispose(self) -> None:
        """Nothing to release (the storage client is shared)."""


def _open(url: str) -> StudyAttrResultCache:
    from coexplore.search.storage import open_storage

    return StudyAttrResultCache(open_storage(url, create=False, heartbeat_interval=None))


register_backend("grpc", _open)
