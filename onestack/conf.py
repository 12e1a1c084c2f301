"""The one settings object.

Precedence: embedded defaults < TOML file (``STATE_DIR/onestack.toml`` or ``--config``)
< ``ONESTACK_<SECTION>__<KEY>`` environment variables (``ONESTACK_<KEY>`` for the
top-level section) < command-line flags.

Each service declares its own section as a dataclass next to its code
(``<svc>/conf.py``) and registers it with :func:`register_section`; every field has a
default, so an empty config file is a working cloud.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from pathlib import Path
from typing import Any, get_type_hints

_SECTIONS: dict[str, type] = {}


class ConfigError(ValueError):
    """A setting that cannot be used (unknown key, wrong type, unreadable file)."""


@dataclasses.dataclass
class Core:
    state_dir: str = "~/.local/share/onestack"
    host: str = "127.0.0.1"
    port: int = 5000
    # What clients are told to use (catalog URLs); defaults to http://host:port.
    public_url: str = ""
    region: str = "RegionOne"
    database_url: str = ""  # default sqlite:///STATE_DIR/onestack.db
    log_level: str = "INFO"
    # Largest request body any JSON API accepts (streamed uploads have their own limits).
    max_request_body_size: int = 114688
    task_workers: int = 4
    policy_file: str = ""  # default STATE_DIR/policy.yaml when present
    bus_url: str = "inproc://"
    roles: str = "all"
    # Serve identity as soon as it is up and start the other services in the background
    # (requests for them wait); false: start everything, then serve.
    staged_start: bool = True


def register_section(name: str, cls: type) -> type:
    """Register a service's settings dataclass under ``[name]``."""
    if name in _SECTIONS and _SECTIONS[name] is not cls:
        raise ValueError(f"config section {name!r} registered twice")
    _SECTIONS[name] = cls
    return cls


def _coerce(value: Any, typ: Any, where: str) -> Any:
    if typ in ("bool", bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where}: expected a boolean, got {value!r}")
    if typ in ("int", int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if typ in ("float", float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if typ in ("str", str):
        return str(value)
    if isinstance(value, str) and "list" in str(typ):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


class Settings:
    """Attribute access per section: ``settings.core.port``, ``settings.identity.token_expiration``."""

    def __init__(self, sections: dict[str, Any]):
        self._sections = sections

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_sections"][name]
        except KeyError:
            raise AttributeError(f"no config section {name!r}") from None

    @property
    def state_dir(self) -> Path:
        return Path(os.path.expanduser(self.core.state_dir))

    @property
    def database_url(self) -> str:
        return self.core.database_url or f"sqlite:///{self.state_dir / 'onestack.db'}"

    @property
    def public_url(self) -> str:
        return (self.core.public_url or f"http://{self.core.host}:{self.core.port}").rstrip("/")

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {name: dataclasses.asdict(sec) for name, sec in self._sections.items()}


def load(flags: dict[str, Any] | None = None, config_file: str | None = None,
         env: dict[str, str] | None = None, *, partial: bool = False) -> Settings:
    """Build the settings from defaults, file, environment and flags (in that order).

    ``partial``: sections not registered yet are left for :func:`extend` (a staged start
    imports the other services after it serves identity) instead of being an error."""
    source = (flags, config_file, env)
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    sections: dict[str, type] = {"core": Core, **_SECTIONS}
    raw: dict[str, dict[str, Any]] = {name: {} for name in sections}

    state_dir = flags.get("state_dir") or env.get("ONESTACK_STATE_DIR") or Core.state_dir
    path = Path(config_file) if config_file else Path(os.path.expanduser(state_dir)) / "onestack.toml"
    if config_file and not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    strict: set[tuple[str, str]] = set()   # (section, key) from the file or flags: must exist
    if path.exists():
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        for key, value in data.items():
            if isinstance(value, dict):
                if key not in raw:
                    if partial:
                        continue
                    raise ConfigError(f"{path}: unknown config section [{key}]")
                raw[key].update(value)
                strict.update((key, k) for k in value)
            else:
                raw["core"][key] = value
                strict.add(("core", key))

    for key, value in env.items():
        if not key.startswith("ONESTACK_"):
            continue
        name = key[len("ONESTACK_"):].lower()
        if "__" in name:
            section, _, field = name.partition("__")
        else:
            section, field = "core", name
        if section in raw:
            raw[section][field] = value

    for key, value in flags.items():
        section, _, field = key.rpartition(".")
        if (section or "core") not in raw:
            raise ConfigError(f"unknown config section [{section}] (flag {key})")
        raw[section or "core"][field] = value
        strict.add((section or "core", field))

    built: dict[str, Any] = {}
    for name, cls in sections.items():
        hints = get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        values = {}
        for field, value in raw[name].items():
            if field not in known:
                # Environment may carry unrelated ONESTACK_* variables; files and flags may not.
                if (name, field) in strict:
                    raise ConfigError(f"{path if path.exists() else 'flags'}: unknown setting "
                                     f"{field!r} in [{name}]; known: {', '.join(sorted(known))}")
                continue
            values[field] = _coerce(value, hints[field], f"[{name}] {field}")
        built[name] = cls(**values)
    settings = Settings(built)
    settings.__dict__["_source"] = source
    return settings


def extend(settings: Settings) -> None:
    """Add the sections registered since ``settings`` was loaded, from the same file,
    environment and flags (strictly: an unknown section or key is a ConfigError now)."""
    flags, config_file, env = settings.__dict__.get("_source", (None, None, None))
    full = load(flags, config_file, env)
    for name, section in full._sections.items():
        settings._sections.setdefault(name, section)


_current: Settings | None = None


def get() -> Settings:
    """The settings of this process (loaded from the environment on first use)."""
    global _current
    if _current is None:
        _current = load()
    return _current


def set_current(settings: Settings) -> None:
    global _current
    _current = settings
