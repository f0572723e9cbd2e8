"""The SQL result cache: SQLite and PostgreSQL, created when missing, duplicate inserts are no-ops."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from coexplore.accuracy import ResultCache, stable_hash


def test_a_stored_result_comes_back_from_a_new_connection(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    ResultCache(url).put("k1", 0.9, 0.95, 2.0, {"plan": "p"})
    got = ResultCache(url).get("k1")
    assert got is not None and (got.accuracy, got.baseline_accuracy, got.detail) == (
        0.9,
        0.95,
        {"plan": "p"},
    )
    assert ResultCache(url).get("other") is None


def test_inserting_a_stored_key_again_keeps_the_first_result(tmp_path: Path) -> None:
    cache = ResultCache(f"sqlite:///{tmp_path / 'c.db'}")
    cache.put("k", 0.5, 0.9, 1.0, {})
    cache.put("k", 0.6, 0.9, 1.0, {})
    assert cache.get("k").accuracy == 0.5 and len(cache) == 1


def test_stable_hash_ignores_key_order() -> None:
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


@pytest.mark.postgres
def test_postgres_cache_takes_concurrent_inserts_of_one_key(postgres_url: str) -> None:
    errors: list[BaseException] = []

    def worker(acc: float) -> None:
        try:
            ResultCache(postgres_url).put("same", acc, 0.9, 1.0, {"w": acc})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(0.1 * i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    cache = ResultCache(postgres_url)
    assert len(cache) == 1 and cache.get("same") is not None
