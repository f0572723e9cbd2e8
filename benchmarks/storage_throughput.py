"""Study storage throughput: trials/s and per-trial storage latency with 1-64 concurrent workers,
direct PostgreSQL vs Optuna's gRPC proxy in front of PostgreSQL vs SQLite, and database connections.

Run: ``.venv/bin/python benchmarks/storage_throughput.py [--workers 1 4 16 64] [--trials-per-worker 5]``
(PostgreSQL at ``$COEXPLORE_TEST_PG_HOST:5432``, user postgres; each row gets a fresh database,
dropped afterwards). Each worker is a thread with its own storage client (its own connection
pool or gRPC channel, as a process would have) running coexplore's optimize loop
(:func:`coexplore.search.loop.optimize`: budget check, heartbeats every 10 s, retry callback) on
a near-free objective that does what a hardware-only trial does when the accuracy proxy's cache
hits: suggest the tiny space's five parameters, look the plan up in the proxy result cache
(through the same engine: the SQL table, or the cache study behind the proxy), and store a trial
record of about 1 KB. A trial's latency is the time from the end of the worker's previous trial to
the end of this one, so it is all storage work (the objective's own arithmetic is microseconds).
Connections: the most ``pg_stat_activity`` rows on the study database seen during the row.
Threads share one GIL, so client-side CPU is serialized as it would not be across machines; the
load average printed with the table says how busy the 2-core machine was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import optuna
from rich.console import Console
from rich.table import Table

from coexplore.accuracy.cache import open_result_cache
from coexplore.search.grpc import STORAGE_ENV, grpc_probe
from coexplore.search.loop import optimize
from coexplore.search.storage import open_storage
from coexplore.servers import free_port

PG = os.environ.get("COEXPLORE_TEST_PG_HOST", "127.0.0.1")
RECORD = {"metrics": {f"m{i}": i * 0.5 for i in range(24)}, "per_layer": [[0.1] * 6 for _ in range(8)],
          "source": "benchmark"}


def _admin():
    import psycopg2

    conn = psycopg2.connect(host=PG, user="postgres", dbname="postgres", connect_timeout=3)
    conn.autocommit = True
    return conn


def _connections(conn, name: str) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,))
        return int(cur.fetchone()[0])


def _objective(cache, key: str):
    def run(trial: optuna.Trial) -> list[float]:
        rows = trial.suggest_int("pe_rows", 4, 16, step=4)
        glb = trial.suggest_int("glb_kib", 16, 128, log=True)
        trial.suggest_categorical("dram_gbps", [6.4, 25.6])
        trial.suggest_categorical("pe_type", ["int8", "int4"])
        trial.suggest_categorical("weight_bits", [4, 8])
        hit = cache.get(key)
        trial.set_user_attr("record", {**RECORD, "accuracy": hit.accuracy})
        return [hit.accuracy, 1.0 / rows, glb * 0.01]
    return run


def _row(backend: str, workers: int, trials_per_worker: int) -> dict:
    """Run ``workers`` threads to a budget on a fresh storage of ``backend``; the row's figures."""
    name, proxy, folder = None, None, tempfile.mkdtemp(prefix="storage-bench-")
    if backend == "sqlite":
        url = f"sqlite:///{folder}/bench.db"
    else:
        name = f"coexplore_bench_{uuid.uuid4().hex[:10]}"
        with contextlib.closing(_admin()) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg2://postgres@{PG}/{name}"
    try:
        client_url = url
        if backend == "grpc proxy":
            port = free_port()
            proxy = subprocess.Popen([sys.executable, "-m", "coexplore.search.grpc", "--port", str(port)],
                                     env={**os.environ, STORAGE_ENV: url}, stdout=subprocess.DEVNULL)
            probe, end = grpc_probe("127.0.0.1", port), time.monotonic() + 60
            while probe() is not None and time.monotonic() < end:
                time.sleep(0.1)
            client_url = f"grpc://127.0.0.1:{port}"
        budget = max(40, workers * trials_per_worker)
        optuna.create_study(study_name="bench", storage=open_storage(client_url, heartbeat_interval=None),
                            directions=["maximize", "minimize", "minimize"]).set_user_attr("n_trials", budget)
        key = "k" * 64
        open_result_cache(client_url).put(key, 0.9, 0.95, 1.0, {"plan": "int8"})
        latencies: list[float] = []
        lock = threading.Lock()
        peak = [0]
        done = threading.Event()

        errors: list[str] = []

        def worker() -> None:
            try:
                run_worker()
            except Exception as exc:  # noqa: BLE001 - e.g. "too many clients": counted, shown in the table
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")

        def run_worker() -> None:
            storage = open_storage(client_url, heartbeat_interval=10)
            study = optuna.load_study(study_name="bench", storage=storage,
                                      sampler=optuna.samplers.RandomSampler())
            cache = open_result_cache(client_url)
            last = [time.perf_counter()]

            class Timer:  # an observer: the time since this worker's previous trial ended
                def on_study_start(self, study) -> None: ...
                def on_study_end(self, study) -> None: ...
                def on_interrupt(self, study) -> None: ...

                def on_trial_end(self, study, trial) -> None:
                    now = time.perf_counter()
                    with lock:
                        latencies.append(now - last[0])
                    last[0] = now

            from coexplore.search.observers import ObserverGroup

            optimize(study, _objective(cache, key), budget, observers=ObserverGroup([Timer()]), poll_s=0.2,
                     max_infeasible_trials=0, storage=storage)

        def watch() -> None:  # its connection is taken before the workers', so a full server cannot refuse it
            with contextlib.closing(_admin()) as conn:
                ready.set()
                while not done.wait(0.5):
                    peak[0] = max(peak[0], _connections(conn, name))

        ready = threading.Event()

        watcher = threading.Thread(target=watch, daemon=True) if name else None
        if watcher:
            watcher.start()
            ready.wait(10)
        start = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        done.set()
        complete = len(optuna.load_study(study_name="bench", storage=open_storage(client_url, heartbeat_interval=None))
                       .get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [latencies[0]] * 99
        return {"backend": backend, "workers": workers, "complete": complete, "trials_per_s": complete / wall,
                "p50_ms": q[49] * 1e3, "p99_ms": q[98] * 1e3, "connections": peak[0] if name else None,
                "failed_workers": len(errors), "first_error": errors[0] if errors else None}
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        if name:
            with contextlib.closing(_admin()) as conn, conn.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--trials-per-worker", type=int, default=5, help="budget = max(40, workers x this)")
    parser.add_argument("--backends", nargs="+", default=["postgresql", "grpc proxy", "sqlite"])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows = []
    table = Table("storage", "workers", "complete", "trials/s", "p50 ms/trial", "p99 ms/trial", "DB connections",
                  "workers failed")
    for workers in args.workers:
        for backend in args.backends:
            r = _row(backend, workers, args.trials_per_worker)
            rows.append(r)
            table.add_row(backend, str(workers), str(r["complete"]), f"{r['trials_per_s']:.1f}", f"{r['p50_ms']:.0f}",
                          f"{r['p99_ms']:.0f}", "file" if r["connections"] is None else str(r["connections"]),
                          str(r["failed_workers"]))
            Console().print(f"{backend} x{workers}: {r['trials_per_s']:.1f} trials/s"
                            + (f"; {r['failed_workers']} workers failed: {r['first_error']}" if r["failed_workers"] else ""),
                            highlight=False, markup=False)
    Console().print(table)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; optuna {optuna.__version__}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
