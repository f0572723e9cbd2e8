"""Test helper: every process a command starts, however deep, read from /proc (Linux)."""

from __future__ import annotations

import os
import time

from coexplore.servers import port_in_use


def _table() -> dict[int, tuple[str, int, int]]:
    """pid -> (state, ppid, session id) of every process."""
    rows: dict[int, tuple[str, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            rows[int(entry)] = (fields[0].decode(), int(fields[1]), int(fields[3]))
    return rows


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def handles(pid: int, signum: int) -> bool:
    """True when process ``pid`` has a handler installed for ``signum`` (SigCgt in /proc)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(caught & (1 << (signum - 1)))


class ProcessWatch:
    """The processes of one command: its own, their descendants and the sessions they run in.

    Call :meth:`poll` often while the command runs, so that a server is known before its parent
    dies; a process whose command line names ``--port PORT`` counts too, in case it never was seen.
    Zombies count as gone.
    """

    def __init__(self, root: int, port: int | None = None) -> None:
        self.pids = {root}
        self.sids = {root}
        self.root = root
        self.port = port

    def poll(self) -> dict[int, tuple[str, int, int]]:
        table = _table()
        grown = True
        while grown:
            grown = False
            for pid, (state, ppid, sid) in table.items():
                if pid not in self.pids and state not in "ZX" and (ppid in self.pids or sid in self.sids):
                    self.pids.add(pid)
                    self.sids.add(sid)
                    grown = True
        return table

    def children(self) -> list[int]:
        """Live processes whose parent is the command itself."""
        return [pid for pid, (state, ppid, _) in self.poll().items() if ppid == self.root and state not in "ZX"]

    def alive(self) -> list[str]:
        """``pid command line`` of each process of the command that still runs."""
        found = []
        for pid, (state, _, sid) in self.poll().items():
            if state in "ZX":
                continue
            cmd = _cmdline(pid)
            by_port = self.port is not None and f"--port {self.port}" in cmd
            if pid in self.pids or sid in self.sids or by_port:
                found.append(f"{pid} {cmd[:160]}")
        return found

    def wait_until_gone(self, timeout_s: float = 10.0) -> tuple[list[str], bool]:
        """(processes still alive, port still taken) after waiting up to ``timeout_s`` for neither."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = self.alive()
            taken = self.port is not None and port_in_use("127.0.0.1", self.port)
            if (not left and not taken) or time.monotonic() > deadline:
                return left, taken
            time.sleep(0.1)
