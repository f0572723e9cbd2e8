"""The MLflow UI (``mlflow server``) for a tracking store: its command line, start and stop, and the
address of a study's runs table.

The server runs as a supervised process (:mod:`coexplore.servers`): its own process group, a
parent-death signal on Linux, stopped with everything it started. MLflow's GenAI job runner
(a huey consumer pool) is switched off: reviewing studies never uses it, and it doubles start-up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from coexplore.servers import Probe, ServerError, ServerProcess, free_port, http_probe, port_in_use
from coexplore.tracking.store import ARTIFACTS_DIR_NAME, is_http_uri, prepare_store, sqlite_path

__all__ = [
    "DEFAULT_HOST", "DEFAULT_PORT", "UiError", "absolute_store_uri", "answers", "experiment_id", "experiments_url",
    "free_port", "port_in_use", "ready_probe", "runs_table_url", "server_command", "start_server",
    "stop_server",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000


class UiError(ServerError):
    """The UI cannot be started as asked (port taken, server exited, not up in time)."""


def absolute_store_uri(tracking_uri: str) -> str:
    """A local ``sqlite:///relative.db`` made absolute so the server's working directory does not matter."""
    db = sqlite_path(tracking_uri)
    return f"sqlite:///{db.resolve().as_posix()}" if db is not None else tracking_uri


def server_command(tracking_uri: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> tuple[list[str], dict[str, str]]:
    """The ``mlflow server`` command line and environment for a store: one worker, artifacts served
    from beside a local SQLite store (``mlartifacts``), bound to ``host`` (127.0.0.1: this machine only).

    The store URI travels in ``MLFLOW_BACKEND_STORE_URI``, not on the command line that ``ps``
    shows every user, because a database URL may carry a password.

    Example:
        >>> argv, env = server_command("sqlite:///runs/mlflow.db", port=5001)
        >>> argv[1:4], env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"]
        (['-m', 'mlflow', 'server'], 'false')
    """
    argv = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port), "--workers", "1"]
    db = sqlite_path(tracking_uri)
    if db is not None:
        argv += ["--artifacts-destination", (db.parent.resolve() / ARTIFACTS_DIR_NAME).as_posix()]
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": absolute_store_uri(tracking_uri),
           "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return argv, env


def ready_probe(url: str) -> Probe:
    """Satisfied once ``<url>/health`` answers 200."""
    return http_probe(f"{url}/health")


def answers(url: str, timeout_s: float = 5.0) -> str | None:
    """None when ``<url>/health`` answers 200 within ``timeout_s``, else why not (one attempt)."""
    why = http_probe(f"{url}/health", timeout_s)()
    return None if why is None else f"tracking server {why}"


def experiments_url(base_url: str) -> str:
    """The experiments list in MLflow's machine-learning view (the bare address opens GenAI pages).

    Example:
        >>> experiments_url("http://127.0.0.1:5000")
        'http://127.0.0.1:5000/#/experiments?workflowType=machine_learning'
    """
    return f"{base_url.rstrip('/')}/#/experiments?workflowType=machine_learning"


def runs_table_url(base_url: str, experiment_id: str) -> str:
    """The runs table of an experiment in MLflow's machine-learning view (not the GenAI pages).

    Example:
        >>> runs_table_url("http://127.0.0.1:5000", "1")
        'http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning'
    """
    return f"{base_url.rstrip('/')}/#/experiments/{quote(str(experiment_id))}/runs?workflowType=machine_learning"


def experiment_id(tracking_uri: str, study_name: str) -> str:
    """The id of the study's experiment (named after the study) in a tracking store or server.

    Raises:
        LookupError: no such experiment; the message lists the experiments there.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(study_name)
    if exp is None or exp.lifecycle_stage != "active":
        names = sorted(e.name for e in client.search_experiments() if e.name != "Default")
        raise LookupError(f"no MLflow experiment for study '{study_name}' (it logs one when it runs with "
                          f"tracking on); experiments there: {', '.join(names) or '(none)'}")
    return exp.experiment_id


def start_server(
    tracking_uri: str, host: str = DEFAULT_HOST, port: int | None = None, timeout_s: float = 180.0,
    log_file: Path | None = None,
) -> tuple[ServerProcess, str]:
    """Start ``mlflow server`` for ``tracking_uri`` and return (server, address) once it answers.

    The server gets SIGTERM when the calling thread ends (Linux); stop it with :func:`stop_server`.
    A command that must survive signals uses :class:`coexplore.servers.Supervisor` instead.

    Args:
        tracking_uri: the backend store (``sqlite:///coexplore-runs/mlflow.db``, ``postgresql://...``).
        host: interface to bind; 127.0.0.1 keeps it on this machine.
        port: port to listen on; a free one when None.
        timeout_s: how long to wait for the health check.
        log_file: where the server's output goes (a temporary file when None).

    Example:
        >>> server, url = start_server("sqlite:///coexplore-runs/mlflow.db")  # doctest: +SKIP
        >>> stop_server(server)  # doctest: +SKIP
    """
    if is_http_uri(tracking_uri):
        raise UiError(f"{tracking_uri} is already a tracking server; open it in a browser")
    port = free_port(host) if port is None else port
    if port_in_use(host, port):
        raise UiError(f"port {port} on {host} is in use; pass --port with a free port (e.g. {free_port(host)})")
    prepare_store(tracking_uri)
    argv, env = server_command(tracking_uri, host, port)
    server = ServerProcess.start(argv, name="mlflow server", env=env, log_file=log_file)
    url = f"http://{host}:{port}"
    try:
        server.wait_until_up(ready_probe(url), timeout_s)
    except ServerError as exc:
        server.stop()
        raise UiError(str(exc)) from None
    except BaseException:
        server.stop()
        raise
    return server, url


def stop_server(server: ServerProcess | subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Stop a server started by :func:`start_server` and everything it started (bounded, then SIGKILL)."""
    if isinstance(server, ServerProcess):
        server.stop(timeout_s)
    else:
        from coexplore.servers import stop_process

        stop_process(server, timeout_s)
