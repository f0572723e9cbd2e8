"""Start the MLflow UI (``mlflow server``) on 127.0.0.1 for a tracking store, and wait until it answers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from coexplore.tracking.store import ARTIFACTS_DIR_NAME, is_http_uri, prepare_store, sqlite_path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


class UiError(RuntimeError):
    """The UI cannot be started as asked (port taken, server exited, not up in time)."""


def absolute_store_uri(tracking_uri: str) -> str:
    """A local ``sqlite:///relative.db`` made absolute so the server's working directory does not matter."""
    db = sqlite_path(tracking_uri)
    return f"sqlite:///{db.resolve().as_posix()}" if db is not None else tracking_uri


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port on ``host`` that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def server_command(tracking_uri: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> list[str]:
    """The ``mlflow server`` command line for a store: one worker, artifacts served from beside
    a local SQLite store (``mlartifacts``), bound to ``host`` (127.0.0.1: this machine only)."""
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", absolute_store_uri(tracking_uri),
           "--host", host, "--port", str(port), "--workers", "1"]
    db = sqlite_path(tracking_uri)
    if db is not None:
        cmd += ["--artifacts-destination", (db.parent.resolve() / ARTIFACTS_DIR_NAME).as_posix()]
    return cmd


def answers(url: str, timeout_s: float = 5.0) -> str | None:
    """None when ``<url>/health`` answers 200 within ``timeout_s``, else why not (one attempt)."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as resp:
            return None if resp.status == 200 else f"{url}/health answered HTTP {resp.status}"
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        return f"tracking server {url} did not answer: {getattr(exc, 'reason', exc)}"


def wait_until_up(url: str, proc: subprocess.Popen | None = None, timeout_s: float = 180.0) -> None:
    """Poll ``<url>/health`` until it answers 200; raise :class:`UiError` on exit or timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise UiError(f"mlflow server exited with code {proc.returncode} before answering at {url}")
        if answers(url, timeout_s=2) is None:
            return
        time.sleep(0.3)
    raise UiError(f"mlflow server did not answer at {url} within {timeout_s:.0f} s")


def start_server(
    tracking_uri: str, host: str = DEFAULT_HOST, port: int | None = None, timeout_s: float = 180.0,
    log_file: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start ``mlflow server`` for ``tracking_uri`` and return (process, address) once it answers.

    Args:
        tracking_uri: the backend store (``sqlite:///coexplore-runs/mlflow.db``, ``postgresql://...``).
        host: interface to bind; 127.0.0.1 keeps it on this machine.
        port: port to listen on; a free one when None.
        timeout_s: how long to wait for the health check.
        log_file: where the server's output goes (discarded when None).

    Example:
        >>> proc, url = start_server("sqlite:///coexplore-runs/mlflow.db")  # doctest: +SKIP
        >>> stop_server(proc)  # doctest: +SKIP
    """
    if is_http_uri(tracking_uri):
        raise UiError(f"{tracking_uri} is already a tracking server; open it in a browser")
    port = free_port(host) if port is None else port
    if port_in_use(host, port):
        raise UiError(f"port {port} on {host} is in use; pass --port with a free port (e.g. {free_port(host)})")
    prepare_store(tracking_uri)
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log_file, "ab")) if log_file is not None else subprocess.DEVNULL
        proc = subprocess.Popen(server_command(tracking_uri, host, port), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={"MLFLOW_DISABLE_TELEMETRY": "true", **os.environ})
    url = f"http://{host}:{port}"
    try:
        wait_until_up(url, proc, timeout_s)
    except BaseException:
        stop_server(proc)
        raise
    return proc, url


def stop_server(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Stop a server started by :func:`start_server` (its whole process group: uvicorn workers too)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout_s)
    except ProcessLookupError:
        pass
