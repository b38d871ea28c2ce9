"""One settings file for every service: ``[fenwei]`` for what they share, a table per service.

::

    [fenwei]              core.settings.Settings            FENWEI_<KEY>
    [ingest], [alerts]…   the section's registered model    FENWEI_<SECTION>_<KEY>

Environment variables win over the file, key by key. Each service declares its section's
pydantic model in the ``fenwei.settings`` entry-point group (name = section, value =
``pkg.module:Model``), so ``core`` imports no service; the sections without a service package
of their own (``[aqi]``, ``[api]``, ``[clock]``, ``[stack]``) are in :mod:`core.sections`.

A section model may offer two hooks:

* ``from_config(config) -> Model``: the section merged with the shared ``[fenwei]`` values
  (what :meth:`Config.section` returns); without it the section is validated alone;
* ``servers() -> list[str]``: URLs of servers the section names beyond the shared three
  (``fenwei config check`` tries them).

An unknown section or key is an error naming it, with a close match when there is one.
"""
from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .settings import Settings, SettingsError

GROUP = "fenwei.settings"
SHARED = "fenwei"


class ConfigError(SettingsError):
    """The settings file or a FENWEI_* variable is invalid; ``problems`` names each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def section_models() -> dict[str, type[BaseModel]]:
    """Every registered section name with its model class (imports the services)."""
    return {name: ep.load() for name, ep in _entry_points().items()}


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def env_name(section: str, key: str) -> str:
    """The variable that overrides ``key`` of ``section`` (``FENWEI_API_PORT``)."""
    return f"FENWEI_{key.upper()}" if section == SHARED else \
        f"FENWEI_{section.upper()}_{key.upper()}"


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


@dataclass
class Config:
    """The shared ``settings`` and every section, validated on first use."""

    settings: Settings
    path: Path | None = None
    file: dict[str, dict[str, Any]] = field(default_factory=dict)  # section -> raw file table
    _eps: dict = field(default_factory=dict, repr=False)
    _cache: dict[str, BaseModel] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> list[str]:
        """The registered section names."""
        return sorted(self._eps)

    def model(self, name: str) -> type[BaseModel]:
        if name not in self._eps:
            raise ConfigError([f"unknown section [{name}]{_suggest(name, self._eps)}"])
        return self._eps[name].load()

    def values(self, name: str) -> dict[str, Any]:
        """The keys of ``[name]`` given in the file or the environment (env wins), unvalidated."""
        fields = self.model(name).model_fields
        out = dict(self.file.get(name, {}))
        for key in fields:
            var = env_name(name, key)
            if var in os.environ:
                out[key] = os.environ[var]
        return out

    def section(self, name: str) -> BaseModel:
        """The section's model instance (merged with ``[fenwei]`` by its ``from_config``)."""
        if name not in self._cache:
            model = self.model(name)
            try:
                builder = getattr(model, "from_config", None)
                self._cache[name] = builder(self) if builder else \
                    model.model_validate(self.values(name))
            except ValidationError as exc:
                raise ConfigError(self._explain(name, exc)) from None
            except SettingsError as exc:
                raise ConfigError(getattr(exc, "problems", [f"[{name}]: {exc}"])) from None
        return self._cache[name]

    def validate(self, names: list[str] | None = None) -> None:
        """Build every section (default: all registered); one ConfigError with every problem."""
        problems: list[str] = []
        for name in self.names if names is None else names:
            try:
                self.section(name)
            except ConfigError as exc:
                problems += exc.problems
            except Exception as exc:  # noqa: BLE001 - a service model that cannot load
                problems.append(f"[{name}]: cannot load its settings model: {exc}")
        if problems:
            raise ConfigError(problems)

    def _where(self, name: str, key: str) -> str:
        var = env_name(name, key)
        if var in os.environ:
            return var
        return f"[{name}] {key}" + (f" in {self.path}" if self.path else "")

    def _explain(self, name: str, exc: ValidationError) -> list[str]:
        out = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:   # a rule across keys
                where = f" in {self.path}" if self.path else ""
                out.append(f"bad value [{name}]{where}: {msg}")
                continue
            key = ".".join(str(p) for p in err["loc"])
            out.append(f"bad value {self._where(name, str(err['loc'][0]))}"
                       f"{key[len(str(err['loc'][0])):]}: {msg}")
        return out


def load_config(path: str | Path | None = None) -> Config:
    """Read the settings file (default ``$FENWEI_CONFIG``; none: defaults and FENWEI_*).

    Checks every section name and key against the registered models and validates
    ``[fenwei]`` and every section present in the file; sections only named by variables are
    validated on :meth:`Config.section`. Raises :class:`ConfigError` listing every problem.
    """
    path = path or os.environ.get("FENWEI_CONFIG") or None
    doc = _read(Path(path)) if path else {}
    eps = _entry_points()
    where = f" in {path}" if path else ""
    problems: list[str] = []
    if SHARED not in doc:   # the old form: [fenwei] keys at top level
        shared = {k: v for k, v in doc.items() if not isinstance(v, dict)}
        doc = {SHARED: shared, **{k: v for k, v in doc.items() if isinstance(v, dict)}}
    file: dict[str, dict[str, Any]] = {}
    for name, table in doc.items():
        if name == SHARED:
            continue
        if not isinstance(table, dict):
            problems.append(f"unknown key {name}{where}: put it under [fenwei] or a section")
        elif name not in eps:
            problems.append(f"unknown section [{name}]{where}{_suggest(name, [*eps, SHARED])}")
        else:
            file[name] = table
    shared = doc.get(SHARED, {})
    problems += _unknown_keys(SHARED, shared, Settings.model_fields, where)
    settings = _shared(shared, path, problems)
    config = Config(settings, Path(path) if path else None, file, eps)  # type: ignore[arg-type]
    for name, table in file.items():
        try:
            fields = config.model(name).model_fields
        except Exception as exc:  # noqa: BLE001 - the service's model does not import
            problems.append(f"[{name}]: cannot load its settings model: {exc}")
            continue
        problems += _unknown_keys(name, table, fields, where)
        file[name] = {k: v for k, v in table.items() if k in fields}   # the rest: reported
        try:
            config.section(name)
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return config


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"config file {path}: {exc}"]) from exc


def _unknown_keys(name: str, table: dict, fields, where: str) -> list[str]:
    return [f"unknown key [{name}] {key}{where}{_suggest(key, fields)}"
            for key in table if key not in fields]


def _shared(values: dict[str, Any], path, problems: list[str]) -> Settings:
    """``[fenwei]``: file keys not overridden by a FENWEI_* variable (Settings reads those)."""
    init = {k: v for k, v in values.items()
            if k in Settings.model_fields and env_name(SHARED, k) not in os.environ}
    try:
        return Settings(**init)
    except ValidationError as exc:
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            var = env_name(SHARED, key)
            src = var if var in os.environ else f"[fenwei] {key}" + (f" in {path}" if path else "")
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"bad value {src}: {msg}")
        return Settings.model_construct()
