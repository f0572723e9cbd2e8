"""Study files (``studies/*.yaml``): what to search, how, with which budget, and where to store it.

A study file::

    name: quickstart
    model: digits_cnn              # proxy model (None: the data set's default); by default also the PPA workload
    dataset: digits                # or path/to/file.py:function returning (train, val) (coexplore.accuracy.userdata)
    workload: null                 # zoo name, .csv/.yaml file or module:function; default: the model's layers
    space: ../spaces/quickstart.yaml                        # a path, or the space inline
    objectives: ../objectives/accuracy-energy-area.yaml     # a path, or inline
    reference_point: null          # optional override of the objectives file's reference point
    sampler: {name: tpe}           # botorch | gp | nsga2 | tpe | random
    hardware_search: sweep         # sweep (default for PE type x bits spaces) | joint
    sweep: {max_points: 200000, samples: 20000, refine_rounds: 3, order: bound}
    n_trials: 40                   # budget: joint: COMPLETE trials; sweep: model-side choices swept
    seed: 0
    proxy: {...}                   # the accuracy proxy's settings (ProxyConfig, minus model/dataset)
    storage: null                  # SQLAlchemy URL; default sqlite:///coexplore-runs/coexplore.db
    tracking_uri: null             # MLflow; default beside an SQLite storage
    tracking: true

Relative paths in a study file (space, objectives, workload and proxy files, ``proxy.data_dir``,
``proxy.checkpoint``, the file of a ``file.py:name`` model or dataset)
resolve relative to the directory of the study file, not the working directory, so a study runs
the same from anywhere. The resolved config (files inlined, paths absolute) is what the study
stores, so ``resume`` and ``worker`` need only the study name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from coexplore.record import mask_url
from coexplore.search.configio import ConfigError, read_yaml, validate
from coexplore.search.model_axes import architecture_problems, has_transforms
from coexplore.search.objectives import ObjectivesConfig, parse_objectives
from coexplore.search.samplers import SamplerConfig, TPESettings
from coexplore.search.space import SearchSpace, parse_space

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class SweepSettings(BaseModel):
    """How ``hardware_search: sweep`` solves the hardware of one model-side choice: the whole grid of
    the PE type when it has at most ``max_points`` designs, else ``samples`` random grid points and
    ``refine_rounds`` rounds of their front's grid neighbours (one axis step each way)."""

    model_config = ConfigDict(extra="forbid")

    max_points: int = Field(default=200_000, ge=1)
    samples: int = Field(default=20_000, ge=1)
    refine_rounds: int = Field(default=3, ge=0)
    order: Literal["bound", "sampler"] = "bound"
    """``bound``: sweep first the choice whose hardware front could add most to the study's front at
    the best accuracy seen, and stop when none can (needs an enumerable model side, else the sampler
    proposes); ``sampler``: the study's sampler proposes every choice."""
_FILE_SUFFIXES = (".yaml", ".yml", ".csv", ".json")


_TRACKING_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks")


def check_tracking_uri(value: str) -> str:
    """An MLflow tracking URI: a server (``http(s)://``), a database (``sqlite:///path.db``,
    ``postgresql://...``), ``file:`` or a folder; anything else is refused before a study starts."""
    scheme = value.split("://", 1)[0].split("+", 1)[0].lower() if "://" in value else ""
    if (scheme and scheme not in _TRACKING_SCHEMES) or not value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an MLflow tracking URI; expected http(s)://host:port, "
                         "sqlite:///path.db, postgresql://user@host/db or a folder")
    return value


class _StudyFile(BaseModel):
    """The top level of a study file, before the space/objectives/proxy sections are resolved."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME, max_length=100)
    model: str | None = None
    dataset: str = Field(min_length=1)
    workload: str | None = None
    space: str | dict[str, Any]
    objectives: str | dict[str, Any]
    reference_point: dict[str, float] | None = None
    sampler: SamplerConfig = Field(default_factory=lambda: TPESettings(name="tpe"))
    hardware_search: Literal["joint", "sweep"] | None = None
    sweep: SweepSettings = Field(default_factory=SweepSettings)
    n_trials: int = Field(ge=1)
    seed: int = Field(default=0, ge=0, lt=2**32)
    proxy: dict[str, Any] = Field(default_factory=dict)
    storage: str | None = None
    tracking_uri: Annotated[str, AfterValidator(check_tracking_uri)] | None = None
    tracking: bool = True
    heartbeat_interval: Annotated[int, Field(ge=1)] = 10
    grace_period: Annotated[int, Field(ge=2)] | None = None
    max_consecutive_failures: Annotated[int, Field(ge=1)] = 10
    max_infeasible_trials: Annotated[int, Field(ge=0)] = 50


class StudyConfig(BaseModel):
    """A resolved study: everything inline, every path absolute; what is stored with the study."""

    model_config = ConfigDict(extra="forbid")

    name: str
    model: str | None
    dataset: str
    workload: str | None
    space: SearchSpace
    objectives: ObjectivesConfig
    sampler: SamplerConfig
    n_trials: int
    hardware_search: Literal["joint", "sweep"] = "joint"
    """``sweep``: the sampler proposes the model side and the PPA model solves the hardware
    (:mod:`coexplore.search.nested`); n_trials counts model-side choices. ``joint``: one design per
    trial. (Stored studies from before the field ran joint.)"""
    sweep: SweepSettings = Field(default_factory=SweepSettings)
    seed: int
    proxy: dict[str, Any]
    storage: str | None
    tracking_uri: str | None
    tracking: bool
    heartbeat_interval: int
    grace_period: int | None
    max_consecutive_failures: int
    max_infeasible_trials: int = 50
    files: dict[str, str] = Field(default_factory=dict, exclude=True)
    """The files the study was built from (``study``, ``space``, ``objectives``), absolute; not stored."""

    def proxy_config(self) -> Any:
        """The proxy's own config (``ProxyConfig``) with this study's model, dataset and seed."""
        from coexplore.accuracy.config import ProxyConfig

        data = {"model": self.model, "dataset": self.dataset, "seed": self.seed, **self.proxy}
        return ProxyConfig.model_validate(data)

    def stored(self) -> dict[str, Any]:
        """The JSON-ready dict stored on the study (no storage URL: it may hold a password)."""
        data = self.model_dump(mode="json")
        data.pop("storage", None)
        if data.get("tracking_uri"):
            data["tracking_uri"] = mask_url(data["tracking_uri"])
        return data


def _resolve_path(value: str, base: Path) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _resolve_py(value: str | None, base: Path) -> str | None:
    """``path/to/file.py:name`` with the file resolved against ``base``; anything else unchanged."""
    if value and ".py:" in value:
        file, _, name = value.rpartition(":")
        return f"{_resolve_path(file, base)}:{name}"
    return value


def _section(value: Any, key: str, base: Path, source: str) -> tuple[dict[str, Any], str | None, str]:
    """(mapping, source file for errors, prefix) of a section given inline or as a path."""
    if isinstance(value, str):
        path = _resolve_path(value, base)
        if not Path(path).is_file():
            raise ConfigError([f"{source}: {key}: file not found: {value} (paths resolve relative to the study file: {path})"])
        return read_yaml(path), path, ""
    return value, source, key


def _check_proxy(data: dict[str, Any], source: str) -> list[str]:
    """Validate the proxy section against ``ProxyConfig``; model/dataset/seed are top-level keys."""
    from coexplore.accuracy import DATASETS, MODELS
    from coexplore.accuracy.config import ProxyConfig

    lines = []
    if data.get("dataset") not in DATASETS and ":" not in str(data.get("dataset")):
        lines.append(f"{source}: dataset: unknown '{data.get('dataset')}'; allowed: {', '.join(DATASETS)}, "
                     "or path/to/file.py:function")
    model = data.get("model")
    if model is not None and ":" not in model and model not in MODELS:
        lines.append(f"{source}: model: unknown '{model}'; allowed: {', '.join(MODELS)} or 'module:factory'")
    if lines:
        return lines
    try:
        validate(ProxyConfig, data, "proxy", source)
    except ConfigError as exc:
        top = tuple(f"{source}: proxy.{k}" for k in ("model:", "dataset:", "seed:"))
        return [line.replace("proxy.", "", 1) if line.startswith(top) else line for line in exc.lines]
    from coexplore.accuracy import ProxyError
    from coexplore.accuracy.checkpoint import CheckpointError, preflight

    try:  # a data function's return, a checkpoint that does not fit: refused before a study exists
        preflight(ProxyConfig.model_validate(data))
    except ProxyError as exc:
        return [f"{source}: {'proxy.' if isinstance(exc, CheckpointError) else ''}{exc}"]
    return []


def resolve_study(raw: dict[str, Any], *, source: str = "<study>", base: Path | None = None) -> StudyConfig:
    """Validate a study mapping and resolve its referenced files; raise ``ConfigError`` on any problem.

    Every problem of every section is collected before raising, one line each.

    Args:
        raw: the parsed study YAML (or a stored, already resolved config).
        source: the study file name for error lines.
        base: directory that relative paths resolve against (the study file's).
    """
    base = base or Path.cwd()
    top = validate(_StudyFile, raw, "", source)
    lines: list[str] = []
    space = objectives = None
    files = {"study": str(Path(source).resolve())} if Path(source).is_file() else {}
    try:
        data, src, prefix = _section(top.space, "space", base, source)
        if src != source:
            files["space"] = src
        space = parse_space(data, prefix, src)
    except ConfigError as exc:
        lines += exc.lines
    try:
        data, src, prefix = _section(top.objectives, "objectives", base, source)
        if src != source:
            files["objectives"] = src
        objectives = parse_objectives(data, prefix, src)
    except ConfigError as exc:
        lines += exc.lines
    if objectives is not None and top.reference_point is not None:
        if set(top.reference_point) != set(objectives.names):
            lines.append(f"{source}: reference_point: must give exactly the objectives {objectives.names}")
        else:
            objectives = objectives.model_copy(update={"reference_point": dict(top.reference_point)})
    proxy = dict(top.proxy)
    for key in ("model", "dataset", "seed"):
        if key in proxy:
            lines.append(f"{source}: proxy.{key}: set it at the top level of the study file, not under proxy")
    for key, value in list(proxy.items()):
        if isinstance(value, str) and (key.endswith(("_dir", "_path")) or key == "checkpoint"
                                       or value.endswith(_FILE_SUFFIXES)):
            proxy[key] = _resolve_path(value, base)
    user = {k: _resolve_py(v, base) for k, v in (("model", top.model), ("dataset", top.dataset))}
    if not lines:
        lines += _check_proxy({**user, "seed": top.seed, **proxy}, source)
    workload = top.workload
    if workload and workload.endswith(_FILE_SUFFIXES):
        workload = _resolve_path(workload, base)
    if workload:
        from coexplore.workload import resolve

        try:
            resolve(workload)
        except Exception as exc:  # noqa: BLE001 - any reason the spec cannot be read is a config problem
            msg = str(exc.args[0]) if exc.args else type(exc).__name__
            lines.append(f"{source}: workload: {msg.splitlines()[0]}")
    if top.hardware_search == "sweep" and space is not None and space.hybrid:
        lines.append(f"{source}: hardware_search: 'sweep' needs a PE type x bits space (model:); "
                     "a hybrid (operators:) space is searched joint")
    pruned = space is not None and has_transforms(space.model)  # model.prune, model.vip or model.architecture
    if pruned and (top.hardware_search == "sweep" or top.workload):
        lines.append(f"{source}: " + ("hardware_search: 'sweep' does not cost transformed networks yet; a space "
                     "with model.prune, model.vip or model.architecture is searched joint"
                     if top.hardware_search == "sweep" else
                     f"workload: {top.workload!r} cannot be transformed; with model.prune, model.vip or "
                     "model.architecture the PPA model costs the proxy model's own (transformed) layers"))
    if not lines and space is not None:
        for path, msg in architecture_problems(space.model, user["model"]):
            lines.append(f"{source}: space.model.architecture{'.' + path if path else ''}: {msg}")
    if lines:
        raise ConfigError(lines)
    assert space is not None and objectives is not None
    stored_before_modes = source.startswith("<config stored")  # a study stored before the field ran joint
    mode = top.hardware_search or ("joint" if space.hybrid or stored_before_modes or pruned else "sweep")
    return StudyConfig(
        **{k: v for k, v in top.model_dump().items()
           if k not in ("space", "objectives", "reference_point", "proxy", "workload", "sampler", "hardware_search",
                        "sweep", "model", "dataset")},
        **user,
        sampler=top.sampler,
        hardware_search=mode,
        sweep=top.sweep,
        workload=workload,
        space=space,
        objectives=objectives,
        proxy=proxy,
        files=files,
    )


def load_study(path: str | Path) -> StudyConfig:
    """Read, validate and resolve a study file; raise ``ConfigError`` (one line per problem).

    Example:
        >>> cfg = load_study("studies/quickstart.yaml")
        >>> cfg.objectives.names
        ['accuracy', 'energy_mj', 'area_mm2']
    """
    path = Path(path)
    return resolve_study(read_yaml(path), source=str(path), base=path.resolve().parent)


def check_overrides(**values: Any) -> None:
    """Validate command-line overrides of study-file fields (``name``, ``seed``, ``n_trials``) by the
    study file's own rules; raise ``ConfigError`` naming the option.

    Example:
        >>> check_overrides(name="../x")  # doctest: +SKIP
        ConfigError: --name: String should match pattern ...
    """
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        info = _StudyFile.model_fields[key]
        try:
            from pydantic import TypeAdapter

            kind = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation  # 3.10 syntax too
            TypeAdapter(kind).validate_python(value)
        except Exception as exc:  # noqa: BLE001 - pydantic ValidationError: take its message
            errors = exc.errors() if hasattr(exc, "errors") else [{"msg": str(exc)}]
            msg = errors[0]["msg"].removeprefix("Value error, ")
            if key == "name":
                msg = "a study name is 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit"
            lines.append(f"--{key.replace('_', '-')}: {value!r}: {msg}")
    if lines:
        raise ConfigError(lines)
