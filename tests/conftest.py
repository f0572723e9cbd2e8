"""Shared fixtures: a throwaway PostgreSQL database per test, skipped with one line without a server."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # scripts/test.sh runs one test process per core: one math thread each (and in the CLIs they
    # start), since torch's spare threads spin and a BoTorch step took 40x longer oversubscribed
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

PG_HOST = os.environ.get("COEXPLORE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("COEXPLORE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("COEXPLORE_TEST_PG_USER", "postgres")


def _admin_connect():
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3)
    conn.autocommit = True
    return conn


def _server_available() -> str | None:
    try:
        _admin_connect().close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        return f"no PostgreSQL server at {PG_HOST}:{PG_PORT} ({type(exc).__name__}); skipping PostgreSQL tests"


@contextmanager
def throwaway_database(prefix: str = "coexplore_test") -> Iterator[str]:
    """A freshly created, uniquely named PostgreSQL database's SQLAlchemy URL, dropped afterwards;
    the test is skipped (one line saying why) where there is no server."""
    reason = _server_available()
    if reason:
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = _admin_connect()
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL to a freshly created, uniquely named database, dropped afterwards."""
    with throwaway_database() as url:
        yield url


@functools.cache
def reading_storage(url: str):
    """One Optuna storage per URL for a test's own reads: a storage per read opens a connection pool
    per read, and polling tests ran PostgreSQL out of connections beside parallel tests."""
    import optuna

    return optuna.storages.RDBStorage(url)
