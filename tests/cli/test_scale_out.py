"""Scale-out on Optuna's and MLflow's own engines: `coexplore storage serve` (Optuna's gRPC proxy in
front of PostgreSQL), `coexplore mlflow serve` (MLflow's tracking server), workers on
``grpc://127.0.0.1:PORT`` as the docs/recipes call them, and a kill soak of 8 workers, the proxy
and the tracking server.

Every server here is real and listens on 127.0.0.1; PostgreSQL databases are created and dropped
per test (``postgres_url`` and :func:`_second_database`).
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from coexplore.record.front import pareto_trials, study_directions
from coexplore.servers import free_port
from tests.cli.test_servers import Command
from tests.conftest import PG_USER, reading_storage, throwaway_database
from tests.search.tiny_study import write_tiny_study

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
COEXPLORE = [str(Path(sys.executable).parent / "coexplore")]
RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
START_TIMEOUT_S = 180


# ------------------------------------------------------------------------------------ helpers
@pytest.fixture()
def second_database() -> Iterator[str]:
    """A second throwaway PostgreSQL database (MLflow's), dropped afterwards."""
    with throwaway_database("coexplore_test_ml") as url:
        yield url


class Served:
    """`coexplore storage serve` or `coexplore mlflow serve` in its own process group, restartable."""

    def __init__(self, args: list[str], cwd: Path, port: int) -> None:
        self.args, self.cwd, self.port = args, cwd, port
        self.starts = 0
        self.start()

    def start(self) -> None:
        self.starts += 1
        self.out = self.cwd / f"served-{self.port}-{self.starts}.out"
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen([*COEXPLORE, *self.args, "--port", str(self.port)], stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.cwd, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Ctrl-C to stop" not in self.out.read_text():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.out.read_text()
            time.sleep(0.1)

    def server_pid(self) -> int:
        """The server process (the command's child), whose group holds everything it started."""
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(stat[1]) == self.proc.pid:
                    return int(entry)
        raise AssertionError(f"no server under {self.args}")

    def kill_server(self) -> None:
        """SIGKILL the server and everything it started (not the command): the command then ends
        with the server's reason, and is started again on the same port."""
        os.killpg(self.server_pid(), signal.SIGKILL)
        assert self.proc.wait(30) == 1
        assert "killed by SIGKILL" in self.out.read_text()
        self.start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


@pytest.fixture()
def cluster(tmp_path, postgres_url, second_database) -> Iterator[dict]:
    """A gRPC proxy on a PostgreSQL study database and an MLflow server on its own PostgreSQL database."""
    proxy_port, mlflow_port = free_port(), free_port()
    proxy = Served(["storage", "serve", "--storage", postgres_url], tmp_path, proxy_port)
    tracking = Served(["mlflow", "serve", "--backend-store-uri", second_database, "--artifacts-destination",
                       str(tmp_path / "artifacts")], tmp_path, mlflow_port)
    try:
        yield {"storage": f"grpc://127.0.0.1:{proxy_port}", "tracking": f"http://127.0.0.1:{mlflow_port}",
               "database": postgres_url, "proxy": proxy, "mlflow": tracking}
    finally:
        proxy.stop()
        tracking.stop()


def _cli(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*COEXPLORE, "study", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env={**os.environ, **(env or {})})


def _trials(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=reading_storage(url)).get_trials(deepcopy=False)


def _check_runs(url: str, tracking_uri: str, name: str) -> None:
    """One MLflow run per finished trial, and on_pareto true exactly on the Pareto set."""
    from mlflow import MlflowClient

    trials = _trials(url, name)
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id], "tags.`coexplore.role` = 'trial'", max_results=5000)
    counts = Counter(int(r.data.tags["trial_number"]) for r in runs)
    assert counts == Counter({t.number: 1 for t in trials if t.state.is_finished()}), "one run per finished trial"
    front = {t.number for t in pareto_trials(trials, study_directions(optuna.load_study(study_name=name,
                                                                                       storage=reading_storage(url))))}
    assert {int(r.data.tags["trial_number"]) for r in runs if r.data.tags["on_pareto"] == "true"} == front


# ------------------------------------------------------------------------- URLs and heartbeats
def test_a_grpc_url_needs_host_and_port():
    from coexplore.search.grpc import grpc_address

    assert grpc_address("grpc://proxy.local:13000") == ("proxy.local", 13000)
    for bad in ("grpc://127.0.0.1", "grpc://:13000", "grpc://h:1/db"):
        with pytest.raises(ValueError, match="expected grpc://HOST:PORT"):
            grpc_address(bad)


def test_a_grpc_storage_without_a_proxy_is_one_line_naming_the_serve_command(tmp_path):
    res = _cli("status", "tiny", "--storage", f"grpc://127.0.0.1:{free_port()}", cwd=tmp_path, timeout=60,
               env={"COEXPLORE_GRPC_CONNECT_S": "1"})
    assert res.returncode == 1
    assert "no gRPC storage proxy answers" in res.stderr and "coexplore storage serve" in res.stderr


def _sqlite_proxy(db: Path, port: int) -> subprocess.Popen:
    """Optuna's gRPC proxy (our server module) on an SQLite file, once it answers."""
    from coexplore.search.grpc import STORAGE_ENV, grpc_probe

    proc = subprocess.Popen([sys.executable, "-m", "coexplore.search.grpc", "--port", str(port)],
                            env={**os.environ, STORAGE_ENV: f"sqlite:///{db}"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe, end = grpc_probe("127.0.0.1", port), time.monotonic() + 60
    while probe() is not None and time.monotonic() < end:
        time.sleep(0.1)
    return proc


@pytest.fixture()
def sqlite_proxy(tmp_path) -> Iterator[str]:
    """Optuna's gRPC proxy on an SQLite file: its grpc:// URL."""
    port = free_port()
    proc = _sqlite_proxy(tmp_path / "s.db", port)
    try:
        yield f"grpc://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_through_grpc_a_silent_running_trial_is_failed_and_retried_and_a_beating_one_is_not(sqlite_proxy):
    from coexplore.search.storage import open_storage

    storage = open_storage(sqlite_proxy, heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="hb", storage=storage)
    study.enqueue_trial({"x": 0.5})
    silent = study.ask()  # its process died before its first beat
    silent.suggest_float("x", 0, 1)
    beating = study.ask()
    storage.record_heartbeat(beating._trial_id)
    for _ in range(8):
        optuna.storages.fail_stale_trials(study)
        storage.record_heartbeat(beating._trial_id)
        time.sleep(0.5)
    states = {t.number: t.state for t in study.get_trials()}
    assert states[silent.number] == TrialState.FAIL
    assert states[beating.number] == TrialState.RUNNING
    retry = [t for t in study.get_trials() if t.system_attrs.get("failed_trial") == silent.number]
    assert len(retry) == 1 and retry[0].state == TrialState.WAITING and retry[0].params == {"x": 0.5}


def test_through_a_slow_proxy_a_silent_trial_is_still_failed(sqlite_proxy, monkeypatch):
    """Reads slower than the heartbeat interval (a loaded proxy) must not hide a dead worker's
    trial for ever: it would hold its share of the budget and every worker would wait on it."""
    from coexplore.search.storage import open_storage

    storage = open_storage(sqlite_proxy, heartbeat_interval=1, grace_period=3)
    study = optuna.create_study(study_name="slow", storage=storage)
    silent = study.ask()
    read = type(storage).get_all_trials

    def slow_read(self, *args, **kwargs):
        time.sleep(1.5)
        return read(self, *args, **kwargs)

    monkeypatch.setattr(type(storage), "get_all_trials", slow_read)
    end = time.monotonic() + 20
    while study.get_trials()[silent.number].state == TrialState.RUNNING and time.monotonic() < end:
        optuna.storages.fail_stale_trials(study)
    assert study.get_trials()[silent.number].state == TrialState.FAIL


def test_a_proxy_restart_restarts_the_watch_on_a_silent_trial(tmp_path):
    """Nobody can beat while the proxy is away: a trial watched for most of the grace period
    before a restart is not failed right after it, and is failed a grace period later."""
    from coexplore.search.storage import open_storage

    port = free_port()
    proxy = _sqlite_proxy(tmp_path / "s.db", port)
    try:
        storage = open_storage(f"grpc://127.0.0.1:{port}", heartbeat_interval=1, grace_period=5)
        study = optuna.create_study(study_name="restart", storage=storage)
        silent = study.ask()
        watched = time.monotonic()
        while time.monotonic() - watched < 3.5:
            optuna.storages.fail_stale_trials(study)
            time.sleep(0.25)
        proxy.kill()
        proxy.wait(10)
        time.sleep(max(0.0, 5.2 - (time.monotonic() - watched)))  # silent for longer than the grace period
        proxy = _sqlite_proxy(tmp_path / "s.db", port)
        optuna.storages.fail_stale_trials(study)
        back = time.monotonic()
        assert study.get_trials()[silent.number].state == TrialState.RUNNING
        while study.get_trials()[silent.number].state == TrialState.RUNNING and time.monotonic() - back < 20:
            optuna.storages.fail_stale_trials(study)
            time.sleep(0.25)
        assert study.get_trials()[silent.number].state == TrialState.FAIL
        assert time.monotonic() - back >= 5 - 0.5
    finally:
        proxy.terminate()
        proxy.wait(10)


def test_the_proxy_result_cache_is_a_study_hidden_from_the_list(sqlite_proxy):
    from coexplore.accuracy.cache import open_result_cache
    from coexplore.search.report import list_studies
    from coexplore.search.storage import open_storage, study_names

    storage = open_storage(sqlite_proxy, heartbeat_interval=None)
    writer, reader = open_result_cache(sqlite_proxy), open_result_cache(sqlite_proxy)
    assert reader.get("k") is None
    writer.put("k", 0.5, 0.9, 1.25, {"plan": [4, 8]})
    got = reader.get("k")
    assert (got.accuracy, got.baseline_accuracy, got.train_seconds, got.detail) == (0.5, 0.9, 1.25, {"plan": [4, 8]})
    assert len(reader) == 1
    assert study_names(storage) == [] and list_studies(storage) == []


# ------------------------------------------------------------------ the serve commands' lifecycle
def _serve_args(kind: str, tmp_path: Path, port: int) -> list[str]:
    if kind == "storage":
        return ["storage", "serve", "--storage", f"sqlite:///{tmp_path / 's.db'}", "--port", str(port)]
    return ["mlflow", "serve", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--artifacts-destination", str(tmp_path / "art"), "--port", str(port)]


# Each stop signal and each moment at least once per command, without every combination (the stop
# path before a child exists is the Supervisor's, tested with `ui` in tests/cli/test_servers.py).
LIFECYCLE = [
    ("storage", "before_child", "SIGINT"), ("storage", "child_starting", "SIGTERM"),
    ("storage", "serving", "SIGHUP"), ("storage", "serving", "SIGKILL"),
    ("mlflow", "child_starting", "SIGINT"), ("mlflow", "serving", "SIGTERM"), ("mlflow", "serving", "SIGKILL"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "moment", "sig"), LIFECYCLE)
def test_stopping_a_serve_command_leaves_nothing_running(tmp_path, kind, moment, sig):
    port = free_port()
    cmd = Command(_serve_args(kind, tmp_path, port), tmp_path, port)
    cmd.wait_for(moment)
    rc = cmd.stop(signal.Signals[sig])
    cmd.assert_nothing_left()
    if sig != "SIGKILL":
        assert rc == 0, cmd.output()
        assert f"stopped ({sig})" in cmd.output()


@pytest.mark.slow
@pytest.mark.postgres
def test_storage_serve_prints_its_address_and_never_the_password(tmp_path, postgres_url):
    secret = "s3cr3t-pw"
    url = postgres_url.replace(f"{PG_USER}@", f"{PG_USER}:{secret}@")
    port = free_port()
    env = {"COEXPLORE_STORAGE": url}  # the password stays off the command's own command line too
    cmd = Command(["storage", "serve", "--port", str(port)], tmp_path, port, env=env)
    cmd.wait_for("serving")
    child = cmd.server_pid()
    assert secret.encode() not in Path(f"/proc/{child}/cmdline").read_bytes()
    assert f"grpc://127.0.0.1:{port}" in cmd.output() and ":***@" in cmd.output()
    cmd.stop(signal.SIGTERM)
    cmd.assert_nothing_left()
    assert secret not in cmd.output()


def test_a_proxy_cannot_serve_a_proxy(tmp_path):
    res = subprocess.run([*COEXPLORE, "storage", "serve", "--storage", "grpc://127.0.0.1:1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 2 and "is a proxy already" in res.stderr


# ------------------------------------------------------------------------- recipes and commands
def _recipe_workers() -> dict[str, list[str]]:
    """The worker command line of each recipe in docs/recipes, with its variables left as $NAME."""
    slurm = next(line for line in (RECIPES / "slurm-workers.sh").read_text().splitlines()
                 if line.startswith("srun coexplore study worker"))
    job = yaml.safe_load((RECIPES / "k8s-workers.yaml").read_text())
    k8s = job["spec"]["template"]["spec"]["containers"][0]["command"]
    compose = yaml.safe_load((RECIPES / "compose.yaml").read_text())["services"]["worker"]["command"]
    return {
        "slurm": shlex.split(slurm.removeprefix("srun ")),
        "k8s": [re.sub(r"\$\((\w+)\)", r"$\1", a) for a in k8s],
        "compose": [a.replace("${COEXPLORE_STUDY:-quickstart}", "$COEXPLORE_STUDY")
                    .replace("grpc://storage:13000", "$COEXPLORE_STORAGE")
                    .replace("http://mlflow:5000", "$MLFLOW_TRACKING_URI") for a in compose],
    }


@pytest.mark.slow
@pytest.mark.postgres
def test_each_recipe_worker_command_joins_a_study_through_the_proxy_and_the_tracking_server(tmp_path, cluster):
    storage, tracking = cluster["storage"], cluster["tracking"]
    study = write_tiny_study(tmp_path, name="recipes", n_trials=3, finetune_steps=3, tracking=True,
                             tracking_uri=tracking)
    res = _cli("start", str(study), "--storage", storage, "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    variables = {"COEXPLORE_STUDY": "recipes", "COEXPLORE_STORAGE": storage, "MLFLOW_TRACKING_URI": tracking}
    budget = 3
    for recipe, argv in _recipe_workers().items():
        assert argv[:3] == ["coexplore", "study", "worker"], recipe
        argv = [re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], a) for a in argv]
        budget += 2
        optuna.load_study(study_name="recipes", storage=cluster["database"]).set_user_attr("n_trials", budget)
        where = tmp_path / recipe  # its own folder: no file shared with the other workers
        where.mkdir()
        done = subprocess.run([*COEXPLORE, *argv[1:]], cwd=where, capture_output=True, text=True, timeout=300,
                              check=False)
        assert done.returncode == 0, f"{recipe}: {done.stderr}"
        assert "this process ran 2 trials" in done.stdout, f"{recipe}: {done.stdout}"
    trials = _trials(cluster["database"], "recipes")
    assert sum(t.state == TrialState.COMPLETE for t in trials) == budget == 9
    _check_runs(cluster["database"], tracking, "recipes")

    # every reading command takes grpc:// too
    for args in (["status", "recipes"], ["pareto", "recipes", "--format", "json"], ["list"],
                 ["export", "recipes", "--format", "csv"], ["report", "recipes"]):
        res = _cli(*args, "--storage", storage, cwd=tmp_path)
        assert res.returncode == 0, f"{args}: {res.stderr}"
    assert "coexplore-proxy-cache" not in _cli("list", "--storage", storage, cwd=tmp_path).stdout
    assert len(json.loads(_cli("pareto", "recipes", "--format", "json", "--storage", storage,
                               cwd=tmp_path).stdout)) >= 1
    assert _cli("delete", "recipes", "--yes", "--storage", storage, cwd=tmp_path).returncode == 0
    assert "recipes" not in _cli("list", "--storage", storage, cwd=tmp_path).stdout


@pytest.mark.slow
@pytest.mark.postgres
def test_grpc_workers_share_proxy_results_through_the_proxy_without_a_shared_folder(tmp_path, postgres_url):
    port = free_port()
    proxy = Served(["storage", "serve", "--storage", postgres_url], tmp_path, port)
    try:
        storage = f"grpc://127.0.0.1:{port}"
        study = write_tiny_study(tmp_path, name="first", n_trials=5, finetune_steps=3)
        one, two = tmp_path / "one", tmp_path / "two"
        one.mkdir()
        two.mkdir()
        first = _cli("start", str(study), "--storage", storage, "--no-progress", cwd=one)
        assert first.returncode == 0, first.stderr
        # the same search under another name from another folder: same plans, all from the cache
        second = _cli("start", str(study), "--name", "second", "--storage", storage, "--no-progress", cwd=two)
        assert second.returncode == 0, second.stderr
        assert "accuracy proxy evaluations: 0 for 5 finished trials" in second.stdout, second.stdout
        assert (one / "coexplore-runs" / "proxy-cache").is_dir() and (two / "coexplore-runs" / "proxy-cache").is_dir()
    finally:
        proxy.stop()


# ----------------------------------------------------------------------------------- the soak
def _many_plans(study: Path) -> None:
    """49 quantization plans (weight x activation bits): most trials fine-tune, so kills land mid-trial."""
    data = yaml.safe_load(study.read_text())
    data["space"]["model"] = {"pe_type": ["int8"], "weight_bits": {"choices": [2, 3, 4, 5, 6, 7, 8]},
                              "act_bits": {"choices": [2, 3, 4, 5, 6, 7, 8]}}
    study.write_text(yaml.safe_dump(data, sort_keys=False))


def _until(condition: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.05)


def _close_budget(handle: optuna.Study, db: str, extra: int) -> int:
    """Set the budget to the trials already complete or running plus ``extra``; again if a trial
    started while it was set (it may have read the open budget). Returns the budget."""
    while True:
        trials = _trials(db, "tiny")
        budget = sum(t.state in (TrialState.COMPLETE, TrialState.RUNNING) for t in trials) + extra
        handle.set_user_attr("n_trials", budget)
        if len(_trials(db, "tiny")) == len(trials):
            return budget


class _Workers:
    """Worker processes, each writing to its own log, with Python's fault handler on: a worker that
    does not stop is sent SIGABRT, which prints every thread's stack into its log."""

    def __init__(self, n: int, cmd: list[str], cwd: Path) -> None:
        self.cmd, self.cwd = cmd, cwd
        self.logs: dict[int, Path] = {}  # process id -> its log
        self.procs = [self._start() for _ in range(n)]

    def _start(self) -> subprocess.Popen:
        log = self.cwd / f"worker-{len(self.logs) + 1}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(self.cmd, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONFAULTHANDLER": "1"})
        self.logs[proc.pid] = log
        return proc

    def replace(self, k: int) -> None:
        if self.procs[k].poll() is None:  # one may have stopped on its own while a server was down
            self.procs[k].kill()
        self.procs[k].wait(30)
        self.procs[k] = self._start()

    def wait(self, timeout: float) -> list[int]:
        """Exit codes once all have stopped; past ``timeout`` the stacks of those still running."""
        end = time.monotonic() + timeout
        while any(p.poll() is None for p in self.procs) and time.monotonic() < end:
            time.sleep(0.5)
        stuck = [p for p in self.procs if p.poll() is None]
        for p in stuck:
            p.send_signal(signal.SIGABRT)
            p.wait(30)
        assert not stuck, "workers still running after the budget closed:\n" + "\n".join(
            self.logs[p.pid].read_text()[-6000:] for p in stuck)
        return [p.returncode for p in self.procs]

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()


@pytest.mark.slow
@pytest.mark.postgres
def test_soak_of_eight_workers_through_the_proxy_with_kills_of_workers_proxy_and_tracking_server(tmp_path, cluster):
    storage, tracking, db = cluster["storage"], cluster["tracking"], cluster["database"]
    study = write_tiny_study(tmp_path, n_trials=1, finetune_steps=10, tracking=True,
                             tracking_uri=tracking, heartbeat_interval=2, grace_period=6)
    _many_plans(study)
    res = _cli("start", str(study), "--storage", storage, "--n-trials", "1", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    worker = [*COEXPLORE, "study", "worker", "tiny", "--storage", storage, "--no-progress"]

    # 8 workers; 20 worker kills, 2 of the proxy and 2 of the tracking server, at random moments
    # while they run: the budget stays open until the kills are over, so no kill finds the study done
    handle = optuna.load_study(study_name="tiny", storage=reading_storage(db))
    handle.set_user_attr("n_trials", 10_000)
    rng = random.Random(17)
    events = ["worker"] * 20 + ["proxy"] * 2 + ["mlflow"] * 2
    rng.shuffle(events)
    workers = _Workers(8, worker, tmp_path)
    mid_trial = 0
    try:
        for event in events:
            time.sleep(rng.uniform(0.3, 2.0))
            if event == "worker":
                _until(lambda: any(t.state == TrialState.RUNNING for t in _trials(db, "tiny")), 60)
                time.sleep(rng.uniform(0.0, 0.5))
                mid_trial += any(t.state == TrialState.RUNNING for t in _trials(db, "tiny"))
                workers.replace(rng.randrange(8))
            else:
                cluster[event].kill_server()
        kept = {t.number: t.values for t in _trials(db, "tiny") if t.state == TrialState.COMPLETE}
        budget = _close_budget(handle, db, extra=8)
        closed = time.monotonic()
        codes = workers.wait(400)
        stopped_s = time.monotonic() - closed
    finally:
        workers.kill()
    res = _cli("resume", "tiny", "--storage", storage, "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr

    trials = _trials(db, "tiny")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    retried = [t for t in trials if "failed_trial" in t.system_attrs]
    reasons = Counter(str(t.user_attrs.get("error") or t.system_attrs.get("fail_reason") or "stale heartbeat")[:80]
                      for t in failed)
    print(f"\nsoak: {len(trials)} trials, {len(complete)} complete, {len(failed)} failed ({dict(reasons)}), "
          f"{len(retried)} retried, {mid_trial} of 20 worker kills mid-trial, worker exit codes after the kills {codes}, "
          f"all stopped {stopped_s:.0f} s after the budget closed")
    assert len(complete) == budget
    assert len({t.number for t in trials}) == len(trials)
    assert not any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    assert {t.number: t.values for t in complete if t.number in kept} == kept, "nothing lost"
    assert {t.system_attrs["failed_trial"] for t in retried} <= {t.number for t in failed}
    _check_runs(db, tracking, "tiny")
    assert mid_trial >= 5, f"only {mid_trial} of 20 kills landed mid-trial"
