"""Servers the CLI starts (MLflow UI, optuna-dashboard, later Optuna's gRPC proxy and an MLflow
tracking server), supervised so that none outlives the command that started it.

Public API:
- :class:`Supervisor` — a command's servers; SIGINT/SIGTERM/SIGHUP become :class:`Stopped`, and
  leaving its ``with`` block stops every server (process group, bounded wait, SIGKILL).
- :class:`ServerProcess`, :func:`spawn`, :func:`stop_process` — one server in its own session,
  with a parent-death signal on Linux, its log, its readiness wait and its stop.
- :class:`ServerExited`, :class:`ServerError` — a server died (with its log's tail) or never answered.
- :func:`http_probe` — readiness check by HTTP 200.
- :func:`check_host`, :class:`BindAddress`, :class:`HostError`, :func:`port_in_use`,
  :func:`free_port` — what ``--host``/``--port`` may be, and the address to print.
"""

from __future__ import annotations

from coexplore.servers._address import BindAddress, HostError, check_host, free_port, port_in_use
from coexplore.servers._supervise import (
    STOP_SIGNALS,
    Probe,
    ServerError,
    ServerExited,
    ServerProcess,
    Stopped,
    Supervisor,
    http_probe,
    process_tree,
    spawn,
    stop_process,
)

__all__ = [
    "STOP_SIGNALS",
    "BindAddress",
    "HostError",
    "Probe",
    "ServerError",
    "ServerExited",
    "ServerProcess",
    "Stopped",
    "Supervisor",
    "check_host",
    "free_port",
    "http_probe",
    "port_in_use",
    "process_tree",
    "spawn",
    "stop_process",
]
