"""Storage: default location, masking of passwords, read-only commands create nothing."""

from __future__ import annotations

import pytest

from coexplore.record import mask_url
from coexplore.search.storage import (
    DEFAULT_STORAGE_URL,
    STORAGE_ENV,
    StorageError,
    open_storage,
    proxy_cache_dir,
    resolve_storage_url,
)


def test_default_storage_is_an_sqlite_file_under_coexplore_runs(monkeypatch):
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    assert resolve_storage_url() == DEFAULT_STORAGE_URL == "sqlite:///coexplore-runs/coexplore.db"


def test_command_line_beats_study_file_beats_environment(monkeypatch):
    monkeypatch.setenv(STORAGE_ENV, "sqlite:///env.db")
    assert resolve_storage_url("sqlite:///cli.db", "sqlite:///file.db") == "sqlite:///cli.db"
    assert resolve_storage_url(None, "sqlite:///file.db") == "sqlite:///file.db"
    assert resolve_storage_url() == "sqlite:///env.db"


def test_passwords_are_masked():
    assert mask_url("postgresql+psycopg2://bob:pw@db:5432/s") == "postgresql+psycopg2://bob:***@db:5432/s"


def test_opening_creates_the_sqlite_folder_on_demand(tmp_path):
    open_storage(f"sqlite:///{tmp_path}/a/b/s.db")
    assert (tmp_path / "a" / "b" / "s.db").exists()


def test_read_only_open_of_a_missing_sqlite_file_creates_nothing(tmp_path):
    with pytest.raises(StorageError, match="no study storage"):
        open_storage(f"sqlite:///{tmp_path}/x/s.db", create=False)
    assert not (tmp_path / "x").exists()


def test_unreachable_server_error_is_masked():
    with pytest.raises(StorageError) as exc:
        open_storage("postgresql+psycopg2://bob:hunter2@127.0.0.1:1/none")
    assert "hunter2" not in str(exc.value) and "bob:***@" in str(exc.value)


def test_proxy_checkpoints_live_beside_an_sqlite_storage(tmp_path):
    assert proxy_cache_dir(f"sqlite:///{tmp_path}/s.db") == tmp_path / "proxy-cache"
