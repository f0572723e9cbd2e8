"""`coexplore proxy evaluate` as a user runs it: JSON keys, table, and one-line errors with status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coexplore.cli import app

runner = CliRunner()


def _run(*args: str, cache: Path) -> object:
    return runner.invoke(app, ["proxy", "evaluate", *args, "--cache-dir", str(cache)])


@pytest.mark.slow
def test_json_output_has_the_documented_keys_and_a_second_run_hits_the_cache(
    tmp_path: Path,
) -> None:
    args = (
        "--dataset",
        "digits",
        "--pe-type",
        "lightpe1",
        "--bits",
        "4",
        "--steps",
        "10",
        "--format",
        "json",
    )
    first = _run(*args, cache=tmp_path)
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert set(data) == {
        "accuracy", "baseline_accuracy", "drop", "seconds", "cache_hit", "fidelity", "steps"
    }
    assert data["fidelity"] == "brief"
    assert 0 <= data["accuracy"] <= 1 and data["cache_hit"] is False
    second = json.loads(_run(*args, cache=tmp_path).stdout)
    assert second["cache_hit"] is True and second["accuracy"] == data["accuracy"]
    table = _run("--pe-type", "lightpe1", "--bits", "4", "--steps", "10", cache=tmp_path)
    assert table.exit_code == 0 and "cache hit" in table.stdout and "yes" in table.stdout


@pytest.mark.parametrize(
    "args,option",
    [
        (("--pe-type", "int3"), "--pe-type"),
        (("--pe-type", "int8", "--bits", "40"), "--bits"),
        (("--pe-type", "int8", "--steps", "-1"), "--steps"),
        (("--pe-type", "int8", "--layer-bits", "features.0"), "--layer-bits"),
        (("--pe-type", "int8", "--layer-bits", "conv9=4"), "--layer-bits"),
        (("--pe-type", "lightpe2", "--bits", "3"), "--bits"),
        (("--pe-type", "int8", "--dataset", "cifar10"), "--data-dir"),
        (("--pe-type", "int8", "--dataset", "imagenet"), "--dataset"),
        (("--pe-type", "int8", "--model", "nope"), "--model"),
        (("--pe-type", "int8", "--format", "xml"), "--format"),
        (("--pe-type", "int8", "--device", "tpu"), "--device"),
        (("--pe-type", "int8", "--fidelity", "medium"), "--fidelity"),
    ],
)
def test_bad_input_prints_one_line_naming_the_option_and_exits_2(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    result = _run(*args, cache=tmp_path)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {option}:"), result.stderr
