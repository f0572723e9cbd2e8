"""Commands that serve a review UI: `coexplore ui` (MLflow) and `coexplore dashboard` (optuna-dashboard).

Each runs its server under a :class:`coexplore.servers.Supervisor`, entered before anything
starts: SIGINT, SIGTERM or SIGHUP at any moment stop the server and everything it started, and a
SIGKILLed command takes the server down through the parent-death signal. Exit status: 0 stopped by
a signal (the servers are down), 1 a server or study problem (a server that died ends with the
last lines of its log), 2 a bad option value such as `--host`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from coexplore.servers import BindAddress, Supervisor

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

START_TIMEOUT_S = 180.0
_HOST_HELP = "Interface to bind (127.0.0.1: this machine only; anything else is reachable from the network, unauthenticated)."
_STORAGE_HELP = "SQLAlchemy URL of the study storage (default: $COEXPLORE_STORAGE or sqlite:///coexplore-runs/coexplore.db)."
_OPEN_HELP = "Also open the address in the default web browser."


@contextmanager
def _supervised() -> Iterator[Supervisor]:
    """A Supervisor for the command; a stop signal ends it with status 0, errors as one masked message."""
    from coexplore.servers import ServerError, Stopped, Supervisor
    from coexplore.tracking.store import mask_url

    try:
        with Supervisor() as sup:
            yield sup
    except Stopped as stop:
        with suppress(OSError):  # SIGHUP: the terminal may be gone
            err.print(f"stopped ({stop.signame}); nothing left running", markup=False)
        raise typer.Exit(0) from None
    except (ServerError, LookupError, OSError) as exc:
        err.print(f"error: {mask_url(str(exc))}", markup=False)
        raise typer.Exit(1) from None
    except Exception as exc:  # MlflowException and storage errors: what, masked
        if type(exc).__name__ not in ("MlflowException", "RestException", "StorageError"):
            raise
        err.print(f"error: {mask_url(str(exc))}", markup=False)
        raise typer.Exit(1) from None


def _bind_address(host: str, what: str) -> BindAddress:
    """``--host`` checked (exit 2 naming it when unusable); a one-line warning when not loopback."""
    from coexplore.servers import HostError, check_host

    try:
        address = check_host(host)
    except HostError as exc:
        err.print(f"error: --host: {exc}; use 127.0.0.1 (this machine only) or an address of this machine",
                  markup=False)
        raise typer.Exit(2) from None
    if not address.loopback:
        err.print(f"warning: --host {host} makes {what} reachable from the network, and it has no "
                  "authentication: anyone who can connect can read and change it", markup=False)
    return address


def _check_port(address: BindAddress, port: int) -> None:
    """Exit 1 with a free port to use instead when ``port`` is taken."""
    if address.in_use(port):
        err.print(f"error: port {port} on {address.host} is in use; --port {address.suggest_port(port)} is free",
                  markup=False)
        raise typer.Exit(1)


def _serve(sup: Supervisor, url: str, open_browser: bool) -> None:
    if open_browser:
        import webbrowser

        if not webbrowser.open(url):
            err.print("note: no web browser found; open the address above yourself", markup=False)
    sup.serve()


def ui(
    study: str | None = typer.Argument(None, help="Study whose runs table to open (default: the experiments list)."),
    tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow store (default: the study's, else sqlite:///coexplore-runs/mlflow.db beside the default storage)."),
    port: int = typer.Option(5000, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help=_HOST_HELP),
    storage: str | None = typer.Option(None, "--storage", help=_STORAGE_HELP),
    open_browser: bool = typer.Option(False, "--open", help=_OPEN_HELP),
) -> None:
    """Start the MLflow UI and print the address of the study's runs table (Ctrl-C stops it)."""
    from coexplore.search.storage import resolve_storage_url
    from coexplore.tracking.review import view_url
    from coexplore.tracking.store import (
        default_tracking_uri,
        is_http_uri,
        mask_url,
        prepare_store,
        sqlite_path,
    )
    from coexplore.tracking.ui import (
        experiment_id,
        experiments_url,
        ready_probe,
        runs_table_url,
        server_command,
    )

    with _supervised() as sup:
        address = _bind_address(host, "the MLflow UI")
        if study is not None:
            from coexplore.cli.tracking import load_study, tracking_uri_for

            loaded, storage_url = load_study(study, storage)
            uri = tracking_uri_for(loaded, storage_url, tracking_uri)
        else:
            uri = tracking_uri or default_tracking_uri(resolve_storage_url(storage))
        if is_http_uri(uri):
            where = view_url(runs_table_url(uri, experiment_id(uri, study))) if study else uri
            out.print(f"{mask_url(where)}  (a tracking server already: open it in a browser)", markup=False)
            return
        db = sqlite_path(uri)
        if db is not None and not db.exists():
            if study is not None:
                raise LookupError(f"study '{study}' has no tracking store yet: {db} does not exist")
            err.print(f"note: no tracking store at {db} yet; it fills when a study runs", markup=False)
        _check_port(address, port)
        prepare_store(uri)
        argv, env = server_command(uri, address.ip, port)
        server = sup.start(argv, name="mlflow server", env=env)
        err.print(f"starting mlflow server on {address.ip}:{port} (a few seconds; log {server.log_path})",
                  markup=False)
        if study is not None:
            import mlflow.tracking  # noqa: F401 - imported while the server starts, on the other core
        base = address.url(port)
        sup.wait_until_up(server, ready_probe(base), START_TIMEOUT_S)
        url = view_url(runs_table_url(base, experiment_id(base, study))) if study is not None else experiments_url(base)
        label = f"study {study}; " if study is not None else ""
        out.print(f"MLflow UI: {url}  ({label}store {mask_url(uri)}; Ctrl-C to stop)", markup=False)
        if study is None:
            err.print("note: `coexplore ui STUDY` prints the address of a study's runs table", markup=False)
        _serve(sup, url, open_browser)


def dashboard(
    study: str = typer.Argument(..., help="Study name."),
    storage: str | None = typer.Option(None, "--storage", help=_STORAGE_HELP),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help=_HOST_HELP),
    open_browser: bool = typer.Option(False, "--open", help=_OPEN_HELP),
) -> None:
    """Start optuna-dashboard on the study's Optuna storage and print the study's page (Ctrl-C stops it)."""
    from coexplore.servers.dashboard import dashboard_command, installed, ready_probe, study_url
    from coexplore.tracking.store import mask_url

    with _supervised() as sup:
        address = _bind_address(host, "optuna-dashboard")
        if not installed():
            raise LookupError("optuna-dashboard is not installed: `pip install optuna-dashboard` "
                              "(scripts/setup.sh installs it)")
        from coexplore.cli.tracking import load_study

        loaded, storage_url = load_study(study, storage)
        study_id = loaded._study_id  # optuna-dashboard addresses studies by Optuna's internal id
        _check_port(address, port)
        argv, env = dashboard_command(storage_url, address.ip, port)
        server = sup.start(argv, name="optuna-dashboard", env=env)
        err.print(f"starting optuna-dashboard on {address.ip}:{port} (log {server.log_path})", markup=False)
        base = address.url(port)
        sup.wait_until_up(server, ready_probe(base), START_TIMEOUT_S)
        url = study_url(base, study_id)
        out.print(f"optuna-dashboard: {url}  (study {study}; storage {mask_url(storage_url)}; Ctrl-C to stop)",
                  markup=False)
        _serve(sup, url, open_browser)


def register(root: typer.Typer) -> None:
    """Add `ui` and `dashboard` to the root app."""
    root.command("ui")(ui)
    root.command("dashboard")(dashboard)
