"""Bad input gets one clear line, the right exit status, and nothing is created or changed.

One row per case: the command, the exit status (2 bad input, 1 runtime failure), a phrase the
message must contain, and the check that the storage holds exactly what it held before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from coexplore.cli import app
from tests.search.tiny_study import write_tiny_study

runner = CliRunner()


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _study_file(tmp: Path, **changes) -> Path:
    path = write_tiny_study(tmp, n_trials=2)
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _duplicate_key(tmp: Path) -> list[str]:
    path = _study_file(tmp)
    path.write_text(path.read_text() + "n_trials: 9999\n")
    return ["study", "start", str(path)]


def _not_utf8(tmp: Path) -> list[str]:
    path = tmp / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    return ["study", "start", str(path)]


def _mlflow_db_as_storage(tmp: Path) -> list[str]:
    import sqlite3

    db = tmp / "mlflow.db"
    with sqlite3.connect(db) as conn:  # the shape of another tool's database
        conn.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE runs (run_uuid TEXT PRIMARY KEY)")
    return ["study", "start", str(_study_file(tmp)), "--storage", f"sqlite:///{db}"]


def _space_with_duplicate_key(tmp: Path) -> list[str]:
    space = tmp / "space.yaml"
    space.write_text("hardware:\n  pe_rows: {type: int, low: 4, high: 8}\n  pe_rows: {type: int, low: 4, high: 16}\n"
                     "model: {pe_type: [int8]}\n")
    return ["study", "start", str(_study_file(tmp, space=str(space)))]


def _raising_workload(tmp: Path) -> list[str]:
    (tmp / "wl.py").write_text("def build():\n    raise RuntimeError('boom')\n")
    return ["ppa", "evaluate", "--hw", _design(tmp), "--workload", f"{tmp / 'wl.py'}:build"]


def _syntax_error_workload(tmp: Path) -> list[str]:
    (tmp / "wl.py").write_text("def build(:\n")
    return ["ppa", "evaluate", "--hw", _design(tmp), "--workload", f"{tmp / 'wl.py'}:build"]


def _design(tmp: Path, **fields) -> str:
    path = tmp / "hw.yaml"
    path.write_text(yaml.safe_dump({"pe_type": "int8", **fields}))
    return str(path)


def _bad_fit(tmp: Path) -> list[str]:
    (tmp / "pts.yaml").write_text("fits:\n  - {quantity: mac_energy_pj, family: int, x: [4, 8], y: [0.1, 0.3], degree: 5}\n")
    return ["ppa", "evaluate", "--hw", _design(tmp), "--workload", "alexnet", "--tech", str(tmp / "pts.yaml")]


def _too_many_bits(tmp: Path) -> list[str]:
    return ["ppa", "evaluate", "--hw", _design(tmp, weight_bits=16), "--workload", "alexnet"]


def _cache_dir_file(tmp: Path) -> list[str]:
    (tmp / "afile").write_text("")
    return ["proxy", "evaluate", "--dataset", "digits", "--pe-type", "int8", "--cache-dir", str(tmp / "afile")]


CASES = {
    "duplicate key in a study file": (_duplicate_key, 2, "duplicate key 'n_trials'"),
    "study file not UTF-8": (_not_utf8, 2, "not UTF-8"),
    "duplicate key in a space file": (_space_with_duplicate_key, 2, "duplicate key 'pe_rows'"),
    "empty --name": (lambda t: ["study", "start", str(_study_file(t)), "--name", ""], 2, "--name"),
    "path in --name": (lambda t: ["study", "start", str(_study_file(t)), "--name", "../../x"], 2, "--name"),
    "seed beyond 2^32": (lambda t: ["study", "start", str(_study_file(t)), "--seed", str(2**40)], 2, "--seed"),
    "in-memory storage": (lambda t: ["study", "start", str(_study_file(t)), "--storage", "sqlite://"], 1,
                          "in-memory"),
    "storage that is not a URL": (lambda t: ["study", "status", "x", "--storage", "notaurl"], 1,
                                  "not a database URL"),
    "another tool's database as storage": (_mlflow_db_as_storage, 1, "not an Optuna study storage"),
    "unknown study": (lambda t: ["study", "status", "nope", "--storage", f"sqlite:///{t}/s.db"], 1,
                      "no study storage"),
    "unknown study to delete": (lambda t: ["study", "delete", "nope", "--yes"], 1, "no study storage"),
    "malformed --tracking-uri": (lambda t: ["study", "start", str(_study_file(t)), "--tracking-uri", "notauri://x y"],
                                 2, "is not an MLflow tracking URI"),
    "workload function that raises": (_raising_workload, 2, "build() raised RuntimeError: boom"),
    "workload file with a syntax error": (_syntax_error_workload, 2, "SyntaxError (line 1)"),
    "degree the points cannot support": (_bad_fit, 2, "degree 5 needs at least 6 points"),
    "design asking a PE for more bits than it holds": (_too_many_bits, 2, "more than a int8 PE holds"),
    "proxy bits above the PE's": (lambda t: ["proxy", "evaluate", "--dataset", "digits", "--pe-type", "binary",
                                             "--bits", "8"], 2, "more than a binary PE holds"),
    "a layer's bits given twice": (lambda t: ["proxy", "evaluate", "--dataset", "digits", "--pe-type", "int8",
                                              "--layer-bits", "features.0=4,features.0=8"], 2, "given twice"),
    "proxy cache URL that is not a URL": (lambda t: ["proxy", "evaluate", "--dataset", "digits", "--pe-type", "int8",
                                                     "--cache-url", "notaurl"], 2, "not a database URL"),
    "proxy cache folder that is a file": (_cache_dir_file, 2, "is a file, not a folder"),
    "unknown metric in objectives": (lambda t: ["study", "start", str(_study_file(
        t, objectives={"objectives": ["speed"], "reference_point": {"speed": 1}}))], 2, "unknown metric 'speed'"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_one_line_and_changes_nothing(case, tmp_path, monkeypatch):
    make, code, phrase = CASES[case]
    monkeypatch.chdir(tmp_path)
    args = make(tmp_path)
    before = _digest(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert phrase in result.output
    assert "Traceback" not in result.output
    assert _digest(tmp_path) == before, "nothing created or changed"


def test_a_model_that_fails_to_build_leaves_no_half_created_study(tmp_path, monkeypatch):
    """The model is built after the study is created (it may be any module:factory): the study is
    rolled back, so its name stays free."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["study", "start", str(_study_file(tmp_path, model="os:getcwd")),
                                 "--storage", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2 and "not a torch.nn.Module" in result.output
    listing = runner.invoke(app, ["study", "list", "--storage", f"sqlite:///{tmp_path}/s.db", "--format", "json"])
    assert listing.output.strip() == "[]"
