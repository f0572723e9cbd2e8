"""Servers for one study run from many processes: `coexplore storage serve` (Optuna's gRPC storage
proxy in front of the study database) and `coexplore mlflow serve` (MLflow's tracking server).

Both run their server under a :class:`coexplore.servers.Supervisor` (see :mod:`coexplore.cli.servers`):
SIGINT, SIGTERM or SIGHUP at any moment stop it, and a SIGKILLed command takes it down through the
parent-death signal. Database URLs reach the servers through their environment, never their
command line, and are printed with the password masked. Exit status: 0 stopped by a signal, 1 a
server or storage problem, 2 a bad option value.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from coexplore.cli.servers import START_TIMEOUT_S, _bind_address, _check_port, _supervised, err, out

storage_app = typer.Typer(help="The study storage shared by many workers.", no_args_is_help=True)
mlflow_app = typer.Typer(help="The MLflow tracking server shared by many workers.", no_args_is_help=True)

_HOST_HELP = ("Interface to bind (127.0.0.1: this machine only; 0.0.0.0 or an address for workers on other "
              "machines: unauthenticated, keep it on a private network).")


@storage_app.command("serve")
def storage_serve(
    storage: str | None = typer.Option(None, "--storage", help="SQLAlchemy URL of the study database the proxy serves (default: $COEXPLORE_STORAGE or sqlite:///coexplore-runs/coexplore.db); PostgreSQL for many workers."),
    host: str = typer.Option("127.0.0.1", "--host", help=_HOST_HELP),
    port: int = typer.Option(13000, "--port", min=1, max=65535, help="Port to listen on (Optuna's default 13000)."),
    threads: int = typer.Option(16, "--threads", min=1, max=1024, help="Threads serving requests (each may hold one database connection)."),
) -> None:
    """Run Optuna's gRPC storage proxy in front of the study storage; workers use --storage grpc://HOST:PORT (Ctrl-C stops it)."""
    from coexplore.record import mask_url
    from coexplore.search.grpc import grpc_probe, is_grpc_url, server_command
    from coexplore.search.storage import check_storage_url, resolve_storage_url

    with _supervised() as sup:
        address = _bind_address(host, "the study storage")
        url = resolve_storage_url(storage)
        if is_grpc_url(url):
            err.print(f"error: --storage {url} is a proxy already; pass the database URL behind it", markup=False)
            raise typer.Exit(2)
        check_storage_url(url)
        _check_port(address, port)
        argv, env = server_command(url, address.ip, port, threads)
        server = sup.start(argv, name="gRPC storage proxy", env=env)
        err.print(f"starting Optuna's gRPC storage proxy on {address.ip}:{port} (log {server.log_path})",
                  markup=False)
        probe_host = "127.0.0.1" if address.wildcard else address.ip
        sup.wait_until_up(server, grpc_probe(probe_host, port), START_TIMEOUT_S)
        where = f"grpc://{_url_host(address, host)}:{port}"
        out.print(f"storage proxy: {where}  (for {mask_url(url)}; workers pass --storage {where}; "
                  "Ctrl-C to stop)", markup=False)
        sup.serve()


@mlflow_app.command("serve")
def mlflow_serve(
    backend_store_uri: str | None = typer.Option(None, "--backend-store-uri", help="Database of runs and metrics (default: sqlite:///coexplore-runs/mlflow.db); PostgreSQL for many workers."),
    artifacts_destination: Path | None = typer.Option(None, "--artifacts-destination", help="Folder (or s3://, gs:// ...) where the server stores artifacts that workers upload (default: coexplore-runs/mlartifacts)."),
    host: str = typer.Option("127.0.0.1", "--host", help=_HOST_HELP),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Server processes answering requests."),
) -> None:
    """Run MLflow's tracking server on a database; workers log to it with --tracking-uri http://HOST:PORT (Ctrl-C stops it)."""
    from coexplore.tracking.store import (
        DEFAULT_RUNS_DIR,
        default_tracking_uri,
        mask_url,
        prepare_store,
    )
    from coexplore.tracking.ui import absolute_store_uri, ready_probe

    with _supervised() as sup:
        address = _bind_address(host, "the MLflow tracking server")
        uri = backend_store_uri or default_tracking_uri()
        if "://" not in uri:
            err.print(f"error: --backend-store-uri {mask_url(uri)}: expected a database URL, e.g. "
                      "postgresql://user@host/mlflow or sqlite:///coexplore-runs/mlflow.db", markup=False)
            raise typer.Exit(2)
        if _has_optuna_tables(uri):
            err.print(f"error: --backend-store-uri {mask_url(uri)} holds an Optuna study storage; give MLflow "
                      "a database of its own", markup=False)
            raise typer.Exit(2)
        _check_port(address, port)
        prepare_store(uri)
        dest = str(artifacts_destination) if artifacts_destination is not None else str(DEFAULT_RUNS_DIR / "mlartifacts")
        if "://" not in dest:
            Path(dest).mkdir(parents=True, exist_ok=True)
            dest = Path(dest).resolve().as_posix()
        argv = [sys.executable, "-m", "mlflow", "server", "--host", address.ip, "--port", str(port),
                "--workers", str(workers), "--artifacts-destination", dest]
        if not address.loopback:
            argv += ["--allowed-hosts", "*"]
        env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": absolute_store_uri(uri),
               "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        server = sup.start(argv, name="mlflow server", env=env)
        err.print(f"starting mlflow server on {address.ip}:{port} (a first start on a new database creates its "
                  f"tables; log {server.log_path})", markup=False)
        sup.wait_until_up(server, ready_probe(address.url(port)), START_TIMEOUT_S)
        where = f"http://{_url_host(address, host)}:{port}"
        out.print(f"MLflow tracking server: {where}  (runs in {mask_url(uri)}, artifacts in {dest}; workers pass "
                  f"--tracking-uri {where}; Ctrl-C to stop)", markup=False)
        sup.serve()


def _url_host(address, given: str) -> str:
    """The host to print in an address: the machine's name for a wildcard bind, else as bound."""
    if address.wildcard:
        import socket

        return socket.getfqdn() or given
    return f"[{given}]" if ":" in given else given


def _has_optuna_tables(uri: str) -> bool:
    """True when the database at ``uri`` exists and holds Optuna's tables."""
    import sqlalchemy

    from coexplore.record import sqlite_path

    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        return False
    try:
        engine = sqlalchemy.create_engine(uri)
        try:
            return "version_info" in sqlalchemy.inspect(engine).get_table_names()
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - unreachable: the server reports it with its log
        return False


def register(root: typer.Typer) -> None:
    """Add `storage serve` and `mlflow serve` to the root app."""
    root.add_typer(storage_app, name="storage")
    root.add_typer(mlflow_app, name="mlflow")
