"""`coexplore ui` starts a real `mlflow server` on 127.0.0.1; the observer logs to it over REST."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from coexplore.tracking import MlflowObserver
from coexplore.tracking.ui import free_port
from tests.procwatch import ProcessWatch
from tests.tracking.conftest import OBJECTIVES, drive, new_study

pytestmark = pytest.mark.slow
START_TIMEOUT_S = 240


def _rest(url: str, endpoint: str, body: dict | None = None, query: str = "") -> dict:
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/{endpoint}{query}", method="POST" if body else "GET",
                                 data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """`coexplore ui` on a free port for a fresh store; yields (url, process); stopped afterwards."""
    tmp = tmp_path_factory.mktemp("ui")
    port = free_port()
    cmd = [sys.executable, "-c", "from coexplore.cli import main; main()", "ui",
           "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    line = ""
    while time.monotonic() < deadline and proc.poll() is None:
        line = proc.stdout.readline()
        if "MLflow UI" in line:
            break
    try:
        assert "MLflow UI" in line, f"coexplore ui did not start: {proc.stderr.read() if proc.poll() else line}"
        watch = ProcessWatch(proc.pid, port)
        watch.poll()  # the server and its uvicorn worker, known before anything stops them
        yield url, proc, line, watch
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_ui_prints_the_address_it_serves(ui):
    url, _, line, _ = ui
    assert url in line
    with urllib.request.urlopen(f"{url}/health", timeout=10) as resp:
        assert resp.status == 200


def test_observer_logs_a_study_through_the_rest_api(ui, tmp_path):
    url = ui[0]
    study = new_study(f"sqlite:///{tmp_path / 'study.db'}", "rest-study")
    observer = MlflowObserver(url)
    drive(study, observer, 6)
    exp = _rest(url, "experiments/get-by-name", query="?experiment_name=rest-study")["experiment"]
    found = _rest(url, "runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 100,
                                        "filter": "tags.`coexplore.role` = 'trial'"})["runs"]
    by_number = {int(next(t["value"] for t in r["data"]["tags"] if t["key"] == "trial_number")): r for r in found}
    assert sorted(by_number) == [t.number for t in study.trials]
    for t in study.trials:
        if t.values is None:
            continue
        metrics = {m["key"]: m["value"] for m in by_number[t.number]["data"]["metrics"]}
        for obj, v in zip(OBJECTIVES, t.values):
            assert metrics[obj["name"]] == pytest.approx(v, rel=1e-12)
    arts = _rest(url, "artifacts/list", query=f"?run_id={observer.parent_run_id}&path=plots")
    names = {f["path"] for f in arts.get("files", [])}
    # artifacts travel through the server too (which plots there are is tests/tracking/test_plots.py's)
    assert any(n.endswith(".png") for n in names) and any(n.endswith(".html") for n in names), names


def test_ui_stops_its_server_on_sigterm(ui):
    _, proc, _, watch = ui
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(30) == 0
    left, taken = watch.wait_until_gone(10)
    assert left == [] and not taken
