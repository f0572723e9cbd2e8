"""optuna-dashboard on a study's Optuna storage, run as a supervised server (``coexplore dashboard``).

The server is this module run as ``python -m coexplore.servers.dashboard``: one process (a threaded
wsgiref server around ``optuna_dashboard.wsgi``), so stopping its process group stops all of it.
The storage URL reaches it through the environment, never the command line, which every user of
the machine can read (``ps``), because a PostgreSQL URL carries a password.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from coexplore.servers._supervise import Probe, http_probe

DEFAULT_PORT = 8080
"""optuna-dashboard's own default port."""
STORAGE_ENV = "COEXPLORE_DASHBOARD_STORAGE"


def installed() -> bool:
    """True when the optuna-dashboard package can be imported."""
    return importlib.util.find_spec("optuna_dashboard") is not None


def dashboard_command(storage_url: str, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that serve optuna-dashboard for ``storage_url``.

    Example:
        >>> argv, env = dashboard_command("sqlite:///coexplore-runs/coexplore.db", "127.0.0.1", 8080)
        >>> argv[1:3], env[STORAGE_ENV]
        (['-m', 'coexplore.servers.dashboard'], 'sqlite:///coexplore-runs/coexplore.db')
    """
    argv = [sys.executable, "-m", "coexplore.servers.dashboard", "--host", host, "--port", str(port)]
    return argv, {**os.environ, STORAGE_ENV: storage_url}


def study_url(base_url: str, study_id: int) -> str:
    """The dashboard page of one study (Optuna's internal study id, not its name)."""
    return f"{base_url}/dashboard/studies/{study_id}"


def ready_probe(base_url: str) -> Probe:
    """Satisfied once the dashboard's API answers."""
    return http_probe(f"{base_url}/api/meta")


class _ThreadedServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would bury the start-up errors the log is kept for


def main(argv: list[str] | None = None) -> None:
    """Serve optuna-dashboard on ``--host``/``--port`` for the storage in ``$COEXPLORE_DASHBOARD_STORAGE``."""
    parser = argparse.ArgumentParser(prog="python -m coexplore.servers.dashboard")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    storage = os.environ.pop(STORAGE_ENV, None)
    if not storage:
        sys.exit(f"no storage: set {STORAGE_ENV} to the Optuna storage URL")
    import optuna_dashboard

    app = optuna_dashboard.wsgi(storage)
    server_class = _ThreadedServer
    if ":" in args.host:
        server_class = type("_ThreadedServer6", (_ThreadedServer,), {"address_family": socket.AF_INET6})
    httpd = make_server(args.host, args.port, app, server_class=server_class, handler_class=_QuietHandler)
    print(f"optuna-dashboard {optuna_dashboard.__version__} listening on {args.host}:{args.port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
