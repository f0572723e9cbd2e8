"""Run server processes so that none outlives the command that started them.

Each server gets a session (one process group with everything it starts) and, on Linux, SIGTERM
when the thread that started it dies (``PR_SET_PDEATHSIG``: a SIGKILLed command takes it down). A
:class:`Supervisor` turns SIGINT/SIGTERM/SIGHUP into :class:`Stopped` from before the first server
starts; leaving its ``with`` block signals each group and strays (SIGTERM, bounded wait, SIGKILL).
A server that dies on its own raises :class:`ServerExited` with the last lines of its log.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop a supervised command (and with it its servers)."""
STOP_TIMEOUT_S = 5.0
"""How long a server gets to exit after SIGTERM before it is SIGKILLed."""
_PR_SET_PDEATHSIG = 1
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_LINE = re.compile(r"\s*([\w.]*(Error|Exception|Exit)\b|ERROR\b|error:|Error:|FATAL|fatal:)")

Probe = Callable[[], "str | None"]
"""A readiness check: None when the server answers, else why not (one short phrase)."""


class ServerError(RuntimeError):
    """A server could not be started, or did not answer in time."""


class ServerExited(ServerError):
    """A server process ended on its own; the message ends with the last lines of its log."""

    def __init__(self, server: ServerProcess, when: str) -> None:
        self.server = server
        self.returncode = server.popen.returncode
        super().__init__(f"{server.name} {server.exit_reason()} {when}{server.log_excerpt()}")


class Stopped(BaseException):
    """A stop signal arrived (SIGINT, SIGTERM or SIGHUP); like KeyboardInterrupt, not an Exception."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {self.signame}")

    @property
    def signame(self) -> str:
        return signal.Signals(self.signum).name


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def spawn(
    argv: Sequence[str], *, log_file: Path, env: Mapping[str, str] | None = None,
    cwd: Path | None = None, child_sigmask: set[signal.Signals] | None = None,
) -> subprocess.Popen:
    """Start ``argv`` in a new session, output appended to ``log_file``, stdin closed.

    On Linux the child gets SIGTERM when the calling *thread* ends (``PR_SET_PDEATHSIG``): call it
    from the main thread of a command.

    Args:
        argv: the command line.
        log_file: file that receives stdout and stderr.
        env: the whole environment of the child (default: this process's).
        cwd: working directory of the child.
        child_sigmask: the signal mask the child starts with (when the caller blocked signals
            around the spawn, the mask from before; None keeps the inherited one).
    """
    parent = os.getpid()

    def _in_child() -> None:  # runs between fork and exec: no Python-level allocation worth noting
        if child_sigmask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, child_sigmask)
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before the death signal was armed
                os._exit(1)

    with open(log_file, "ab") as out:
        return subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True,
                                preexec_fn=_in_child)  # noqa: PLW1509 - prctl has no other way in; commands spawn before any thread starts


def _processes() -> dict[int, tuple[str, int, int]] | None:
    """pid -> (state, ppid, session) of every process, from /proc; None where there is no /proc."""
    if not os.path.isdir("/proc/self"):
        return None
    table: dict[int, tuple[str, int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(entry)] = (fields[0].decode(), int(fields[1]), int(fields[3]))
    return table


def process_tree(root: int) -> set[int]:
    """Live processes of a server started by :func:`spawn`: its session, plus descendants that
    left it (``setsid``). Zombies count as gone. Without /proc: ``{root}`` while its group lives."""
    table = _processes()
    if table is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(root, 0)
            return {root}
        return set()
    live = {pid for pid, (state, _, sid) in table.items() if sid == root and state not in "ZX"}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (state, ppid, _) in table.items():
            if ppid == parent and pid not in live and state not in "ZX":
                live.add(pid)
                frontier.append(pid)
    return live


def _signal(pgid: int, pids: set[int], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_process(popen: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S,
                 hurry: Callable[[], bool] = lambda: False) -> None:
    """Stop a process started by :func:`spawn` and everything it started: SIGTERM, up to
    ``timeout_s`` for all of them to exit (less when ``hurry()`` turns true), then SIGKILL."""
    known = process_tree(popen.pid) | ({popen.pid} if popen.poll() is None else set())
    _signal(popen.pid, known, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while True:
        popen.poll()  # reap our own child, or it would count as alive
        known = {p for p in known if _alive(p)} | process_tree(popen.pid)
        if not known or time.monotonic() > deadline or hurry():
            break
        time.sleep(0.05)
    if known:
        _signal(popen.pid, known, signal.SIGKILL)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and (popen.poll() is None or any(_alive(p) for p in known)):
            time.sleep(0.02)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=5)


def _wait_up(server: ServerProcess, probe: Probe, timeout_s: float, watched: Sequence[ServerProcess]) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        for other in watched:
            if other.popen.poll() is not None:
                raise ServerExited(other, f"before {server.name} answered" if other is not server
                                   else "before it answered")
        why = probe()
        if why is None:
            return
        if time.monotonic() > deadline:
            raise ServerError(f"{server.name} did not answer within {timeout_s:.0f} s ({why})"
                              f"{server.log_excerpt()}")
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def http_probe(url: str, timeout_s: float = 2.0) -> Probe:
    """A :data:`Probe` that is satisfied when ``GET url`` answers HTTP 200.

    Example:
        >>> http_probe("http://127.0.0.1:9/health")()  # doctest: +ELLIPSIS
        'http://127.0.0.1:9/health did not answer: ...'
    """
    def probe() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                return None if resp.status == 200 else f"{url} answered HTTP {resp.status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            return f"{url} did not answer: {getattr(exc, 'reason', exc)}"

    return probe


@dataclass
class ServerProcess:
    """One server started by :func:`spawn`: its name, process and log file.

    Example:
        >>> server = ServerProcess.start([sys.executable, "-m", "http.server", "8765"], name="http")  # doctest: +SKIP
        >>> server.wait_until_up(http_probe("http://127.0.0.1:8765/"))  # doctest: +SKIP
        >>> server.stop()  # doctest: +SKIP
    """

    name: str
    popen: subprocess.Popen
    log_path: Path
    owns_log: bool = True

    @classmethod
    def start(cls, argv: Sequence[str], *, name: str, env: Mapping[str, str] | None = None,
              log_file: Path | None = None, cwd: Path | None = None,
              child_sigmask: set[signal.Signals] | None = None) -> ServerProcess:
        """Spawn ``argv`` (see :func:`spawn`); its output goes to ``log_file``, else a temporary
        file that :meth:`stop` removes unless the server failed."""
        owns = log_file is None
        if log_file is None:
            fd, tmp = tempfile.mkstemp(prefix=f"coexplore-{re.sub(r'[^A-Za-z0-9]+', '-', name)}-", suffix=".log")
            os.close(fd)
            log_file = Path(tmp)
        popen = spawn(argv, log_file=log_file, env=env, cwd=cwd, child_sigmask=child_sigmask)
        return cls(name=name, popen=popen, log_path=log_file, owns_log=owns)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exit_reason(self) -> str:
        """``exited with code 1``, ``was killed by SIGKILL``, or ``is running``."""
        rc = self.popen.poll()
        if rc is None:
            return "is running"
        if rc < 0:
            with contextlib.suppress(ValueError):
                return f"was killed by {signal.Signals(-rc).name}"
        return f"exited with code {rc}"

    def log_tail(self, lines: int = 12) -> list[str]:
        """The last non-empty lines of the server's log (ANSI colours removed)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [s for s in (_ANSI.sub("", raw).rstrip() for raw in text.splitlines()) if s.strip()][-lines:]

    def log_excerpt(self) -> str:
        """``: REASON; last lines of its log (PATH):`` and the lines indented, where REASON is the
        log's last error line (``ValueError: ...``, ``ERROR: ...``) or else its last line."""
        tail = self.log_tail()
        if not tail:
            return f" (its log {self.log_path} is empty)"
        reason = next((s for s in reversed(tail) if _ERROR_LINE.match(s)), tail[-1]).strip()
        return (f": {reason[:300]}; last lines of its log ({self.log_path}):\n"
                + "\n".join(f"  {s[:400]}" for s in tail))

    def wait_until_up(self, probe: Probe, timeout_s: float = 120.0) -> None:
        """Poll ``probe`` until it is satisfied.

        Raises:
            ServerExited: the process ended first.
            ServerError: ``timeout_s`` passed; the message has the probe's last answer and the log.
        """
        _wait_up(self, probe, timeout_s, [self])

    def stop(self, timeout_s: float = STOP_TIMEOUT_S, hurry: Callable[[], bool] = lambda: False) -> None:
        """Stop the server and everything it started (:func:`stop_process`); remove a temporary
        log unless the server had failed on its own."""
        failed = self.popen.poll() not in (None, 0)
        stop_process(self.popen, timeout_s, hurry)
        if self.owns_log and not failed:
            with contextlib.suppress(OSError):
                self.log_path.unlink()


class Supervisor:
    """Servers of one command: none outlives it, whatever stops it.

    On entering, SIGINT, SIGTERM and SIGHUP (those not ignored, as under ``nohup``) raise
    :class:`Stopped` in the main thread; on leaving, every server is stopped and the previous
    handlers are restored. A second signal while stopping skips the grace period
    (``stop_timeout_s``, between SIGTERM and SIGKILL for each server).

    Example:
        >>> with Supervisor() as sup:  # doctest: +SKIP
        ...     server = sup.start(["mlflow", "server", "--port", "5000"], name="mlflow server")
        ...     sup.wait_until_up(server, http_probe("http://127.0.0.1:5000/health"))
        ...     sup.serve()  # returns only by raising ServerExited or Stopped
    """

    def __init__(self, stop_timeout_s: float = STOP_TIMEOUT_S) -> None:
        self.stop_timeout_s = stop_timeout_s
        self.servers: list[ServerProcess] = []
        self._previous: dict[int, object] = {}
        self._stopping = self._hurry = self._spawning = False
        self._pending: int | None = None

    def __enter__(self) -> Supervisor:  # noqa: PYI034 - typing.Self needs Python 3.11
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                previous = signal.getsignal(sig)
                if previous is not signal.SIG_IGN:
                    self._previous[sig] = previous
                    signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        try:
            self.stop()
        finally:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)  # type: ignore[arg-type]
            self._previous.clear()

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self._stopping:
            self._hurry = True
            return
        if self._spawning:  # another thread took the signal: handle it once the server is recorded
            self._pending = signum
            return
        raise Stopped(signum)

    def start(self, argv: Sequence[str], *, name: str, env: Mapping[str, str] | None = None,
              log_file: Path | None = None, cwd: Path | None = None) -> ServerProcess:
        """Start a server (:meth:`ServerProcess.start`) that this supervisor will stop.

        A stop signal from before the fork until the server is recorded (blocked in this thread,
        held back if another thread takes it) is handled right after, with the server known.
        """
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        self._spawning = True
        try:
            server = ServerProcess.start(argv, name=name, env=env, log_file=log_file, cwd=cwd,
                                         child_sigmask=blocked)
            self.servers.append(server)
        finally:
            self._spawning = False
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if self._pending is not None:
            signum, self._pending = self._pending, None
            raise Stopped(signum)
        return server

    def wait_until_up(self, server: ServerProcess, probe: Probe, timeout_s: float = 120.0) -> None:
        """:meth:`ServerProcess.wait_until_up`, also failing when another server of ours exits."""
        _wait_up(server, probe, timeout_s, self.servers)

    def serve(self) -> NoReturn:
        """Block until a server exits (:class:`ServerExited`) or a stop signal comes (:class:`Stopped`)."""
        if not self.servers:
            raise ServerError("no server was started")
        while True:
            for server in self.servers:
                if server.popen.poll() is not None:
                    raise ServerExited(server, "while serving")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every server, the last started first (bounded: see :func:`stop_process`)."""
        self._stopping = True  # from here on a stop signal only shortens the grace period
        while self.servers:
            self.servers.pop().stop(self.stop_timeout_s, hurry=lambda: self._hurry)
