"""`coexplore ui` and `coexplore dashboard`: stopped at any moment, by any stop signal or by SIGKILL,
they leave no process behind and free their port; a server that dies ends them with its reason.

Each case runs the real command in its own process group and signals that group, as a terminal
does on Ctrl-C or when it closes. "before_child": the command's signal handler is in place and
no server has been started yet; "child_starting": the server process exists but does not answer
yet; "serving": the address was printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coexplore.cli import app
from coexplore.servers import free_port
from tests.procwatch import ProcessWatch, handles

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
# The stop signals as a terminal's command has them: a test run started in the background (`cmd &`)
# hands SIGINT down ignored, and an ignored signal is one the CLI rightly leaves alone (as under nohup).
CLI = [sys.executable, "-c", ("import signal\n"
                              "for s in (signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)\n"
                              "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
                              "from coexplore.cli import main; main()")]
STUDY = "srv-study"
START_TIMEOUT_S = 180
GONE_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Path:
    """A folder with a small finished Optuna study (study.db) and its MLflow experiment (mlflow.db)."""
    import optuna
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("servers")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=STUDY, storage=f"sqlite:///{folder / 'study.db'}",
                                directions=["maximize", "minimize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=4)
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    client.create_experiment(STUDY, artifact_location=(folder / "mlartifacts").as_uri())
    return folder


def _args(stores: Path, command: str, port: int, study: bool = False) -> list[str]:
    if command == "ui":
        return ["ui", *([STUDY] if study else []), "--tracking-uri", f"sqlite:///{stores / 'mlflow.db'}",
                "--storage", f"sqlite:///{stores / 'study.db'}", "--port", str(port)]
    return ["dashboard", STUDY, "--storage", f"sqlite:///{stores / 'study.db'}", "--port", str(port)]


class Command:
    """The CLI in its own process group, output in files, its processes watched."""

    def __init__(self, args: list[str], cwd: Path, port: int, env: dict[str, str] | None = None) -> None:
        self.out, self.err = cwd / f"out-{port}.txt", cwd / f"err-{port}.txt"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(CLI + args, stdout=out, stderr=err, cwd=cwd, start_new_session=True,
                                         env={**os.environ, **(env or {})})
        self.watch = ProcessWatch(self.proc.pid, port)

    def wait_for(self, moment: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            self.watch.poll()
            assert self.proc.poll() is None, f"the command ended early: {self.output()}"
            ready = handles(self.proc.pid, signal.SIGTERM)  # the command's handler is in place
            if moment == "before_child" and ready:
                return
            if moment == "child_starting" and ready and self.server_pid() is not None:
                return
            if moment == "serving" and "Ctrl-C to stop" in self.out.read_text():
                return
            time.sleep(0.01)
        pytest.fail(f"never reached {moment}: {self.output()}")

    def server_pid(self) -> int | None:
        """The server the command started (its child with ``--port PORT``), if any yet."""
        for pid in self.watch.children():
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f"--port\0{self.watch.port}".encode() in f.read():
                    return pid
        return None

    def stop(self, sig: int) -> int:
        if sig == signal.SIGKILL:
            self.watch.poll()
            self.proc.send_signal(sig)  # the command alone: its servers must follow by themselves
        else:
            os.killpg(self.proc.pid, sig)
        return self.proc.wait(30)

    def output(self) -> str:
        return self.out.read_text() + self.err.read_text()

    def assert_nothing_left(self) -> None:
        left, taken = self.watch.wait_until_gone(GONE_WITHIN_S)
        if left:
            for line in left:  # do not leak into the next test
                os.kill(int(line.split()[0]), signal.SIGKILL)
        assert not left, f"still running {GONE_WITHIN_S:.0f} s after the command ended: {left}"
        assert not taken, f"port {self.watch.port} still taken"


# Every signal at every moment, without the full product (each case starts the CLI, ~3 s on two
# idle cores; a server takes 3-5 s more): the stop path before a child exists is the same for both
# commands. ui serving: SIGHUP in the study test below, SIGTERM in tests/tracking/test_server.py.
CASES = [
    ("ui", "before_child", "SIGHUP"), ("dashboard", "before_child", "SIGINT"),
    ("dashboard", "before_child", "SIGTERM"),
    ("ui", "child_starting", "SIGINT"), ("ui", "child_starting", "SIGTERM"), ("ui", "child_starting", "SIGHUP"),
    ("dashboard", "child_starting", "SIGHUP"), ("dashboard", "child_starting", "SIGTERM"),
    ("ui", "serving", "SIGINT"),
    ("dashboard", "serving", "SIGTERM"), ("dashboard", "serving", "SIGHUP"),
    ("ui", "child_starting", "SIGKILL"), ("ui", "serving", "SIGKILL"), ("dashboard", "serving", "SIGKILL"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "moment", "sig"), CASES)
def test_stopping_the_command_leaves_nothing_running(stores, tmp_path, command, moment, sig):
    port = free_port()
    cmd = Command(_args(stores, command, port), tmp_path, port)
    cmd.wait_for(moment)
    rc = cmd.stop(signal.Signals[sig])
    cmd.assert_nothing_left()
    if sig != "SIGKILL":
        assert rc == 0, cmd.output()
        assert f"stopped ({sig})" in cmd.output()


@pytest.mark.slow
def test_ui_prints_and_opens_the_study_runs_table(stores, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    port = free_port()
    cmd = Command([*_args(stores, "ui", port, study=True), "--open"], tmp_path, port, env={"BROWSER": str(browser)})
    cmd.wait_for("serving")
    from mlflow.tracking import MlflowClient

    exp_id = MlflowClient(f"sqlite:///{stores / 'mlflow.db'}").get_experiment_by_name(STUDY).experiment_id
    url = f"http://127.0.0.1:{port}/#/experiments/{exp_id}/runs?workflowType=machine_learning&viewStateShareKey=coexplore-review"
    assert f"MLflow UI: {url}" in cmd.out.read_text()
    deadline = time.monotonic() + 10
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert opened.read_text().strip() == url
    assert cmd.stop(signal.SIGHUP) == 0
    cmd.assert_nothing_left()


@pytest.mark.slow
def test_dashboard_prints_the_study_page_and_ends_with_its_server_reason(stores, tmp_path):
    import urllib.request

    port = free_port()
    cmd = Command(_args(stores, "dashboard", port), tmp_path, port)
    cmd.wait_for("serving")
    url = f"http://127.0.0.1:{port}/dashboard/studies/1"
    assert f"optuna-dashboard: {url}" in cmd.out.read_text()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=10) as resp:
        assert STUDY in resp.read().decode()
    os.kill(cmd.server_pid(), signal.SIGKILL)
    assert cmd.proc.wait(30) == 1
    assert "optuna-dashboard was killed by SIGKILL while serving" in cmd.err.read_text()
    assert "listening on" in cmd.err.read_text(), "the message ends with the server's log"
    cmd.assert_nothing_left()


@pytest.mark.slow
def test_ui_ends_with_the_reason_when_the_server_cannot_start(tmp_path):
    port = free_port()
    cmd = Command(["ui", "--tracking-uri", "mysql+nosuchdriver://u@127.0.0.1:1/db", "--port", str(port)],
                  tmp_path, port)
    assert cmd.proc.wait(START_TIMEOUT_S) == 1
    err = cmd.err.read_text()
    assert "mlflow server exited with code 1 before it answered: " in err
    assert "nosuchdriver" in err and "last lines of its log" in err
    cmd.assert_nothing_left()


@pytest.mark.slow
def test_a_non_loopback_host_is_warned_about(stores, tmp_path):
    port = free_port("0.0.0.0")
    cmd = Command([*_args(stores, "ui", port), "--host", "0.0.0.0"], tmp_path, port)
    cmd.wait_for("child_starting")
    assert cmd.stop(signal.SIGTERM) == 0
    warnings = [line for line in cmd.err.read_text().splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0] and "no authentication" in warnings[0]
    cmd.assert_nothing_left()


@pytest.mark.parametrize("command", ["ui", "dashboard"])
def test_an_invalid_host_is_one_line_naming_the_option(stores, command):
    result = CliRunner().invoke(app, [*_args(stores, command, 5000), "--host", "999.1.1.1"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --host") and "999.1.1.1" in lines[0]


def test_a_taken_port_names_a_free_one(stores, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = CliRunner().invoke(app, _args(stores, "ui", port))
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"error: port {port} on 127.0.0.1 is in use; --port ")
    suggested = int(line.split("--port ")[1].split()[0])
    assert suggested != port


def test_an_unknown_study_lists_the_studies_there(stores):
    result = CliRunner().invoke(app, ["dashboard", "nope", "--storage", f"sqlite:///{stores / 'study.db'}"])
    assert result.exit_code == 1
    assert "no study named 'nope'" in result.output and STUDY in result.output
