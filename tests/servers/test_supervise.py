"""coexplore.servers: a supervised server and everything it starts never outlive their command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from coexplore.servers import (
    HostError,
    ServerExited,
    ServerProcess,
    Stopped,
    Supervisor,
    check_host,
    port_in_use,
    process_tree,
)
from tests.procwatch import ProcessWatch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# A server that ignores SIGTERM and starts a child (in its group, or in a session of its own)
# that ignores it too, then prints the child's pid.
STUBBORN = textwrap.dedent("""
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"],
        start_new_session=sys.argv[1] == "escape")
    print(child.pid, flush=True)
    time.sleep(600)
""")


def _wait_for(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def _grandchild_pid(server: ServerProcess) -> int:
    _wait_for(lambda: server.log_path.read_text().strip() != "")
    return int(server.log_path.read_text().split()[0])


@pytest.mark.parametrize("where", ["group", "escape"])
def test_stopping_kills_a_server_and_its_children_that_ignore_sigterm(where):
    with Supervisor(stop_timeout_s=0.5) as sup:
        server = sup.start([sys.executable, "-c", STUBBORN, where], name="stubborn")
        child = _grandchild_pid(server)
        started = time.monotonic()
    assert time.monotonic() - started < 5
    assert _gone(server.pid) and _gone(child)
    assert process_tree(server.pid) == set()


def test_a_server_that_dies_raises_with_the_tail_of_its_log():
    script = "import sys; print('loading'); print('error: port 5000 is taken', file=sys.stderr); sys.exit(3)"
    with Supervisor() as sup, pytest.raises(ServerExited) as info:
        server = sup.start([sys.executable, "-c", script], name="demo server")
        sup.wait_until_up(server, lambda: "not yet", timeout_s=30)
    message = str(info.value)
    assert message.startswith("demo server exited with code 3 before it answered")
    assert "error: port 5000 is taken" in message and str(server.log_path) in message
    assert server.log_path.exists(), "the log of a failed server is kept"
    server.log_path.unlink()


def test_a_stop_signal_raises_stopped_stops_the_server_and_restores_the_handler():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Stopped, match="SIGTERM"), Supervisor() as sup:
        server = sup.start([sys.executable, "-c", "import time; time.sleep(600)"], name="sleeper")
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert _gone(server.pid)
    assert not server.log_path.exists(), "the temporary log of a server we stopped is removed"
    assert signal.getsignal(signal.SIGTERM) is before


def _to_this_thread() -> None:
    """Sent to this thread, where it is blocked: delivered when start() unblocks it (sent to the
    process, another thread, e.g. pytest-xdist's, might take it, and CPython runs the handler later)."""
    signal.pthread_kill(threading.get_ident(), signal.SIGHUP)


def _handled_during_the_spawn() -> None:
    """Another thread took it and Python runs the handler now, in the middle of the spawn."""
    signal.getsignal(signal.SIGHUP)(signal.SIGHUP, None)


@pytest.mark.parametrize("deliver", [_to_this_thread, _handled_during_the_spawn])
def test_a_signal_during_the_spawn_is_handled_once_the_server_is_known(monkeypatch, deliver):
    spawned: list[ServerProcess] = []
    real_start = ServerProcess.start.__func__

    def start_then_signal(cls, *args, **kwargs):
        server = real_start(cls, *args, **kwargs)
        spawned.append(server)
        deliver()
        return server

    monkeypatch.setattr(ServerProcess, "start", classmethod(start_then_signal))
    with pytest.raises(Stopped, match="SIGHUP"), Supervisor() as sup:
        sup.start([sys.executable, "-c", "import time; time.sleep(600)"], name="sleeper")
        pytest.fail("the signal should have been raised by start()")
    assert sup.servers == [] and _gone(spawned[0].pid)


def test_a_sigkilled_parent_takes_its_server_down():
    parent_script = textwrap.dedent("""
        import sys, time
        from coexplore.servers import ServerProcess
        server = ServerProcess.start([sys.executable, "-c", "import time; time.sleep(600)"], name="orphan")
        print(server.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_script], stdout=subprocess.PIPE, text=True)
    server_pid = int(parent.stdout.readline())
    watch = ProcessWatch(parent.pid)
    watch.poll()
    parent.kill()
    parent.wait(10)
    left, _ = watch.wait_until_gone(10)
    assert left == [] and _gone(server_pid)


@pytest.mark.parametrize(("host", "phrase"), [
    ("999.1.1.1", "not a valid IP address"),
    ("203.0.113.7", "not an address of this machine"),
    ("no-such-host.invalid", "neither an IP address nor a known host name"),
])
def test_a_host_this_machine_cannot_listen_on_is_refused(host, phrase):
    with pytest.raises(HostError, match=phrase):
        check_host(host)


def test_loopback_and_wildcard_addresses():
    assert check_host("127.0.0.1").loopback and check_host("localhost").loopback
    wildcard = check_host("0.0.0.0")
    assert not wildcard.loopback and wildcard.url(8080) == "http://127.0.0.1:8080"


def test_a_listening_port_is_in_use_and_a_free_one_is_suggested():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        address = check_host("127.0.0.1")
        assert address.in_use(port) and port_in_use("127.0.0.1", port)
        suggestion = address.suggest_port(port)
        assert suggestion != port and not address.in_use(suggestion)
