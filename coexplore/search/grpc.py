"""Studies through Optuna's gRPC storage proxy: ``grpc://HOST:PORT`` as a storage URL, and the proxy server.

Past a few dozen workers, direct database connections exhaust a PostgreSQL server; Optuna's answer
is one proxy process (:func:`optuna.storages.run_grpc_proxy_server`) in front of the RDB storage,
and :class:`optuna.storages.GrpcStorageProxy` in every worker. This module adds only what the
proxy lacks for coexplore's loop:

- Heartbeats. ``GrpcStorageProxy`` is not a :class:`~optuna.storages._heartbeat.BaseHeartbeat`
  (Optuna 5.0), so a killed worker's trial would stay RUNNING forever. :class:`HeartbeatGrpcStorage`
  records a beat as a trial system attribute through the proxy, and calls a RUNNING trial stale
  when its beat has not changed for ``grace_period`` seconds of the *observer's* clock (machines'
  clocks need not agree). Optuna's own machinery then does the rest: ``study.optimize`` runs the
  heartbeat thread and ``fail_stale_trials``, and :class:`RetryHeartbeatStaleTrialCallback` queues
  the retry, as with an RDB storage.
- Patience. Every call waits for a proxy that is restarting (``wait_for_ready``, up to
  :data:`PROXY_WAIT_S`) and a call cut off by a dying proxy is retried, so a proxy restart pauses
  the workers instead of failing their trials.

The server side is ``python -m coexplore.search.grpc`` (run by ``coexplore storage serve`` under a
supervisor); the storage URL travels in :data:`STORAGE_ENV`, never on the command line.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import optuna
from optuna.storages import GrpcStorageProxy
from optuna.storages._heartbeat import BaseHeartbeat
from optuna.trial import FrozenTrial, TrialState

SCHEME = "grpc"
BEAT_ATTR = "coexplore:heartbeat"
"""Trial system attribute holding a worker's last beat (``token:count``); only its changes matter."""
PROXY_WAIT_S = float(os.environ.get("COEXPLORE_GRPC_WAIT_S", "120"))
"""How long one storage call waits for an unreachable proxy (a restart) before it fails."""
STORAGE_ENV = "COEXPLORE_GRPC_STORAGE"
"""Environment variable that hands the proxy server its storage URL."""
DEFAULT_PORT = 13000
"""Optuna's own default port for the proxy."""
_RETRY = {
    "methodConfig": [{
        "name": [{"service": "optuna.StorageService"}],
        "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.5s", "maxBackoff": "5s",
                        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]},
    }],
}


def is_grpc_url(url: str | None) -> bool:
    """True for ``grpc://HOST:PORT`` (a storage reached through Optuna's gRPC proxy)."""
    return bool(url) and urlsplit(url).scheme == SCHEME


def grpc_address(url: str) -> tuple[str, int]:
    """(host, port) of ``grpc://HOST:PORT``.

    Raises:
        ValueError: no host or port, or a path (the proxy serves one storage: nothing to select).

    Example:
        >>> grpc_address("grpc://127.0.0.1:13000")
        ('127.0.0.1', 13000)
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != SCHEME or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ValueError(f"{url}: expected grpc://HOST:PORT, e.g. grpc://127.0.0.1:{DEFAULT_PORT} "
                         "(the address `coexplore storage serve` prints)")
    return parts.hostname, port


class _PatientStub:
    """The generated stub, every call waiting for the server up to a deadline."""

    def __init__(self, stub: Any, timeout_s: float) -> None:
        self._stub = stub
        self._timeout_s = timeout_s

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return functools.partial(getattr(self._stub, name), wait_for_ready=True, timeout=self._timeout_s)


class HeartbeatGrpcStorage(GrpcStorageProxy, BaseHeartbeat):
    """:class:`optuna.storages.GrpcStorageProxy` with heartbeats, patient calls and a retry callback.

    Args:
        host, port: the proxy's address.
        heartbeat_interval: seconds between beats of a running trial (None: no heartbeats).
        grace_period: seconds a RUNNING trial's beat may stay unchanged before it is failed
            (default 2 x interval); counted from when this process first saw that beat.
        heartbeat_stale_trial_callback: run for each trial failed as stale (e.g. a retry).
        wait_s: how long each call waits for an unreachable proxy.

    Example:
        >>> storage = HeartbeatGrpcStorage("127.0.0.1", 13000, heartbeat_interval=10)  # doctest: +SKIP
        >>> study = optuna.load_study(study_name="s", storage=storage)  # doctest: +SKIP
    """

    def __init__(self, host: str, port: int, *, heartbeat_interval: int | None = None,
                 grace_period: int | None = None,
                 heartbeat_stale_trial_callback: Callable[[optuna.Study, FrozenTrial], None] | None = None,
                 wait_s: float = PROXY_WAIT_S) -> None:
        self._wait_s = wait_s
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self._stale_callback = heartbeat_stale_trial_callback
        self._token = secrets.token_hex(4)
        self._beats = 0
        self._seen: dict[int, tuple[Any, float]] = {}
        self._connected_at = time.monotonic()  # when the channel last became READY
        self._connected = True  # False from a connection loss until the channel is READY again
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(host=host, port=port)

    def _setup(self) -> None:
        import grpc
        from optuna.storages._grpc.auto_generated import api_pb2_grpc
        from optuna.storages._grpc.client import GrpcClientCache

        self._channel = grpc.insecure_channel(f"{self._host}:{self._port}", options=[
            ("grpc.max_receive_message_length", -1), ("grpc.enable_retries", 1),
            ("grpc.service_config", json.dumps(_RETRY)),
        ])
        self._stub = _PatientStub(api_pb2_grpc.StorageServiceStub(self._channel), self._wait_s)
        self._cache = GrpcClientCache(self._stub)
        self._channel.subscribe(self._on_connectivity, try_to_connect=False)

    def _on_connectivity(self, state: Any) -> None:
        """Channel state changes (a gRPC thread): a loss of the proxy and the reconnection after it."""
        import grpc

        if state == grpc.ChannelConnectivity.READY:
            self._connected_at, self._connected = time.monotonic(), True
        else:  # IDLE after a lost connection, CONNECTING, TRANSIENT_FAILURE, SHUTDOWN
            self._connected = False

    # -------------------------------------------------------------------------- BaseHeartbeat
    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        return self._stale_callback

    def record_heartbeat(self, trial_id: int) -> None:
        """Change the trial's beat attribute; a proxy that is down or a trial already finished
        (failed by another worker) is skipped: the next beat tries again."""
        import grpc

        self._beats += 1
        try:
            self.set_trial_system_attr(trial_id, BEAT_ATTR, f"{self._token}:{self._beats}")
        except (grpc.RpcError, optuna.exceptions.UpdateFinishedTrialError, KeyError, RuntimeError):
            pass

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        """RUNNING trials whose beat this process has seen unchanged for the grace period while
        the proxy was reachable.

        Silence while the proxy was away proves nothing (no worker could beat), so every watch
        restarts when the channel reconnects (gRPC notices a lost connection even between calls),
        while it is not connected, and after a read that blocked longer than the grace period. A
        read that is merely slow, from a busy proxy, restarts nothing: otherwise a loaded proxy
        would keep a dead worker's trial RUNNING, and its budget share taken, for ever. Nor does a
        long pause between reads (a worker busy with a trial checks only when the next one
        starts): a beat unchanged across the pause has been unchanged at least that long.
        """
        interval = self.heartbeat_interval
        if interval is None:
            return []
        grace = self.grace_period or 2 * interval
        start = time.monotonic()
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        now = time.monotonic()
        restart = now if now - start > grace or not self._connected else self._connected_at
        stale, seen = [], {}
        for trial in running:
            beat = trial.system_attrs.get(BEAT_ATTR)
            before = self._seen.get(trial._trial_id)
            since = max(before[1], restart) if before is not None and before[0] == beat else now
            seen[trial._trial_id] = (beat, since)
            if now - since >= grace:
                stale.append(trial._trial_id)
        self._seen = seen
        return stale


def grpc_probe(host: str, port: int, timeout_s: float = 2.0) -> Callable[[], str | None]:
    """A readiness probe for :class:`coexplore.servers.Supervisor`: None once the proxy answers a
    storage call, else why not."""

    def probe() -> str | None:
        import grpc
        from optuna.storages._grpc.auto_generated import api_pb2, api_pb2_grpc

        try:
            with grpc.insecure_channel(f"{host}:{port}") as channel:
                api_pb2_grpc.StorageServiceStub(channel).GetAllStudies(api_pb2.GetAllStudiesRequest(),
                                                                       timeout=timeout_s)
            return None
        except grpc.RpcError as exc:
            return f"no answer from grpc://{host}:{port} ({exc.code().name})"

    return probe


def server_command(storage_url: str, host: str, port: int, threads: int) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of the proxy server for ``storage_url``.

    Example:
        >>> argv, env = server_command("postgresql://u:pw@db/s", "127.0.0.1", 13000, 16)
        >>> argv[1:3], "pw" in " ".join(argv), env[STORAGE_ENV]
        (['-m', 'coexplore.search.grpc'], False, 'postgresql://u:pw@db/s')
    """
    argv = [sys.executable, "-m", "coexplore.search.grpc", "--host", host, "--port", str(port),
            "--threads", str(threads)]
    return argv, {**os.environ, STORAGE_ENV: storage_url}


def serve(storage_url: str, host: str, port: int, threads: int = 16) -> None:
    """Run Optuna's gRPC proxy for ``storage_url`` until SIGTERM/SIGINT (then stop within 2 s).

    The storage is opened as every coexplore command opens it (foreign databases refused, pooled
    connections checked before use) and wrapped in Optuna's cached storage, as Optuna advises.
    """
    from concurrent.futures import ThreadPoolExecutor

    from optuna.storages import get_storage
    from optuna.storages._grpc.server import make_server

    from coexplore.record import mask_url
    from coexplore.search.storage import open_storage

    storage = get_storage(open_storage(storage_url, create=True, heartbeat_interval=None))
    server = make_server(storage, host, port, ThreadPoolExecutor(max_workers=threads))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"optuna {optuna.__version__} gRPC storage proxy on {host}:{port} for {mask_url(storage_url)} "
          f"({threads} threads)", flush=True)
    stop.wait()
    server.stop(grace=2).wait(3)


def main(argv: list[str] | None = None) -> None:
    """``python -m coexplore.search.grpc --host H --port P``: the proxy for ``$COEXPLORE_GRPC_STORAGE``."""
    parser = argparse.ArgumentParser(prog="python -m coexplore.search.grpc")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    url = os.environ.pop(STORAGE_ENV, None)
    if not url:
        sys.exit(f"error: no storage: set {STORAGE_ENV} to the study storage URL")
    from coexplore.search.storage import StorageError

    try:
        serve(url, args.host, args.port, args.threads)
    except StorageError as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    main()
