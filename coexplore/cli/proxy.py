"""`coexplore proxy` commands: the accuracy proxy from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from coexplore.hardware.pe.registry import native_bits, pe_type_names

if TYPE_CHECKING:
    from coexplore.accuracy import ProxyConfig, ProxyEvaluator
    from coexplore.accuracy.training import Progress as ProgressCallback

app = typer.Typer(
    help="Accuracy proxy: quantize, fine-tune briefly, validate.", no_args_is_help=True
)

_OPTION_OF_FIELD = {
    "model": "--model",
    "dataset": "--dataset",
    "data_dir": "--data-dir",
    "seed": "--seed",
    "finetune_steps": "--steps",
    "threads": "--threads",
    "device": "--device",
    "checkpoint": "--checkpoint",
    "val_samples": "--val-samples",
    "pe_type": "--pe-type",
    "weight_bits": "--bits",
    "act_bits": "--act-bits",
    "layer_weight_bits": "--layer-bits",
    "layer_act_bits": "--layer-act-bits",
    "pin_first_last": "--pin-first-last",
}


# Options every command shares.
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Model name or module:factory (default: the data set's)."),
]
DatasetOption = Annotated[
    str,
    typer.Option(
        "--dataset",
        help="Data set: digits, cifar10, or path/to/file.py:function returning (train, val) "
        "(each a pair of tensors x N x C x H x W, y N, or a torch Dataset of (x, y)); runs that code.",
    ),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder of the data set's files (CIFAR-10).")
]
CacheDirOption = Annotated[
    Path | None, typer.Option("--cache-dir", help="Checkpoint and result cache folder.")
]


def _fail(option: str, message: str) -> NoReturn:
    """Print one line naming the option and exit with status 2 (bad usage)."""
    typer.echo(f"error: {option}: {message}", err=True)
    raise typer.Exit(2)


def default_cache_dir() -> Path:
    """``$COEXPLORE_CACHE_DIR``, else ``$XDG_CACHE_HOME/coexplore/proxy`` (``~/.cache/...``)."""
    if os.environ.get("COEXPLORE_CACHE_DIR"):
        return Path(os.environ["COEXPLORE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "coexplore" / "proxy"


def parse_layer_bits(text: str | None, option: str) -> dict[str, int]:
    """Parse ``name=bits,name=bits`` into a dict; a malformed item exits naming ``option``."""
    out: dict[str, int] = {}
    if not text:
        return out
    for item in text.split(","):
        name, sep, bits = item.strip().partition("=")
        if not sep or not name.strip():
            _fail(option, f"expected name=bits, got {item.strip()!r}")
        if name.strip() in out:
            _fail(option, f"layer {name.strip()!r} given twice")
        try:
            out[name.strip()] = int(bits)
        except ValueError:
            _fail(option, f"bits of {name.strip()!r} must be an integer, got {bits!r}")
    return out


def _validation_exit(err: ValidationError) -> NoReturn:
    first = err.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    option = _OPTION_OF_FIELD.get(field, field or "input")
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    _fail(option, msg)


def _option_of_error(exc: Exception) -> str:
    """The command-line option an evaluator set-up error is about."""
    from coexplore.accuracy import DatasetError, ModelError
    from coexplore.accuracy.checkpoint import CheckpointError

    text = str(exc)
    if isinstance(exc, CheckpointError):
        return "--checkpoint"
    if isinstance(exc, ModelError):
        return "--model"
    if isinstance(exc, DatasetError):
        return (
            "--data-dir"
            if "data-dir" in text or not text.startswith(("dataset", "proxy.dataset"))
            else "--dataset"
        )
    if "device" in text.split(":")[0]:
        return "--device"
    return "--model"


def _open_evaluator(
    config: ProxyConfig,
    cache_dir: Path | None,
    cache_url: str | None = None,
    progress: ProgressCallback | None = None,
) -> ProxyEvaluator:
    """The evaluator of ``config``; a set-up error exits naming the option it is about."""
    from coexplore.accuracy import ProxyError, ProxyEvaluator

    if cache_dir is not None and cache_dir.exists() and not cache_dir.is_dir():
        _fail("--cache-dir", f"{cache_dir} is a file, not a folder")
    if cache_url is not None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(cache_url)
        except ArgumentError:
            _fail("--cache-url", f"{cache_url!r} is not a database URL; expected e.g. sqlite:///cache.db")
    try:
        return ProxyEvaluator(
            config,
            cache_dir=cache_dir or default_cache_dir(),
            cache_url=cache_url,
            progress=progress,
        )
    except ProxyError as exc:
        _fail(_option_of_error(exc), str(exc).removeprefix("checkpoint: "))


def _check_bits(pe_type: str, bits: int | None, act_bits: int | None, layer_bits: str | None,
                layer_act_bits: str | None) -> None:
    """Refuse widths above what the PE type holds (they would quietly run at its native width)."""
    w_native, a_native = native_bits(pe_type)
    layer_w = parse_layer_bits(layer_bits, "--layer-bits").values()
    layer_a = parse_layer_bits(layer_act_bits, "--layer-act-bits").values()
    for option, values, native in (("--bits", [bits or 0], w_native), ("--act-bits", [act_bits or 0], a_native),
                                   ("--layer-bits", layer_w, w_native), ("--layer-act-bits", layer_a, a_native)):
        if any(v > native for v in values):
            _fail(option, f"{max(values)} bits is more than a {pe_type} PE holds ({native}); use at most "
                          f"{native}, or a wider PE type")


@app.command("evaluate")
def evaluate(
    pe_type: Annotated[str, typer.Option("--pe-type", help="PE type: int16, int8, int4, lightpe1, lightpe2, binary (or a registered one).")],
    bits: Annotated[
        int | None,
        typer.Option("--bits", help="Weight bits of every layer (default: the PE's native)."),
    ] = None,
    act_bits: Annotated[
        int | None, typer.Option("--act-bits", help="Activation bits (default: the PE's native).")
    ] = None,
    layer_bits: Annotated[
        str | None, typer.Option("--layer-bits", help="Per-layer weight bits: name=bits,...")
    ] = None,
    layer_act_bits: Annotated[
        str | None, typer.Option("--layer-act-bits", help="Per-layer activation bits.")
    ] = None,
    pin_first_last: Annotated[
        int | None, typer.Option("--pin-first-last", help="Bits of the first and last layer.")
    ] = None,
    model: ModelOption = None,
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    steps: Annotated[
        int | None, typer.Option("--steps", help="Fine-tune steps (default: the proxy's).")
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of pretraining, batch order and fine-tune.")
    ] = 0,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="Torch threads (default: by model size and cores)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Trained FP32 weights: a state_dict file (read with weights_only=True) or a whole "
            "saved module (unpickling runs its code: trusted files only). Nothing is pretrained.",
        ),
    ] = None,
    val_samples: Annotated[
        int | None,
        typer.Option("--val-samples", help="Validate on this many validation images (default: all)."),
    ] = None,
    cache_dir: CacheDirOption = None,
    cache_url: Annotated[
        str | None, typer.Option("--cache-url", help="SQLAlchemy URL of the result cache.")
    ] = None,
    fidelity: Annotated[
        str,
        typer.Option(
            "--fidelity",
            help="brief (the search's proxy) or high (10x the steps, cached apart: a re-check).",
        ),
    ] = "brief",
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Quantize the model by a plan, fine-tune (briefly, or at high fidelity), print accuracy,
    baseline, drop and time."""
    from coexplore.accuracy import ProxyConfig, ProxyError
    from coexplore.quant import QuantPlan, QuantPlanError

    if fmt not in ("table", "json"):
        _fail("--format", f"must be table or json, got {fmt!r}")
    if fidelity not in ("brief", "high"):
        _fail("--fidelity", f"must be brief or high, got {fidelity!r}")
    if pe_type not in pe_type_names():
        _fail("--pe-type", f"unknown {pe_type!r}; allowed: {', '.join(pe_type_names())}")
    _check_bits(pe_type, bits, act_bits, layer_bits, layer_act_bits)
    try:
        plan = QuantPlan(
            pe_type=pe_type,
            weight_bits=bits,
            act_bits=act_bits,
            pin_first_last=pin_first_last,
            layer_weight_bits=parse_layer_bits(layer_bits, "--layer-bits"),
            layer_act_bits=parse_layer_bits(layer_act_bits, "--layer-act-bits"),
        )
        extra = {"finetune_steps": steps} if steps is not None else {}
        config = ProxyConfig(
            model=model,
            dataset=dataset,
            data_dir=data_dir,
            seed=seed,
            threads=threads,
            device=device,
            checkpoint=checkpoint,
            val_samples=val_samples,
            **extra,
        )
    except ValidationError as exc:
        _validation_exit(exc)
    if data_dir is not None and not data_dir.is_dir():
        _fail("--data-dir", f"{data_dir} is not a folder")
    err = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done)

        ev = _open_evaluator(config, cache_dir, cache_url, progress)
        try:
            result = ev.evaluate(plan, fidelity=fidelity)
        except QuantPlanError as exc:
            text = str(exc)
            option = (
                "--layer-act-bits"
                if text.startswith("layer_act_bits")
                else ("--layer-bits" if text.startswith("layer_weight_bits") else "--bits")
            )
            _fail(option, text)
        except ProxyError as exc:
            typer.echo(f"error: proxy evaluation failed: {exc}", err=True)
            raise typer.Exit(1)
        finally:
            ev.close()
    if fmt == "json":
        payload = result.to_dict()
        del payload["key"]  # the cache key is internal
        typer.echo(json.dumps(payload))
        return
    table = Table(
        title=f"proxy: {ev.model_name} on {dataset}, {pe_type}, {fidelity} fidelity "
        f"({result.steps} steps x {len(ev.folds)} fold(s))"
    )
    for col in ("accuracy", "baseline", "drop", "seconds", "cache hit"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{result.accuracy:.4f}",
        f"{result.baseline_accuracy:.4f}",
        f"{result.drop:+.4f}",
        f"{result.seconds:.2f}",
        "yes" if result.cache_hit else "no",
    )
    Console().print(table)


@app.command("layers")
def layers(
    model: ModelOption = None,
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    cache_dir: CacheDirOption = None,
) -> None:
    """List the quantizable layer names (forward order) that --layer-bits accepts."""
    from coexplore.accuracy import ProxyConfig

    try:
        config = ProxyConfig(model=model, dataset=dataset, data_dir=data_dir)
    except ValidationError as exc:
        _validation_exit(exc)
    ev = _open_evaluator(config, cache_dir)
    for name in ev.layer_names:
        typer.echo(name)
    ev.close()
