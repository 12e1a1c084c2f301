"""One table: which services, agents and workers a process runs for each role.

Services register explicitly: each ``onestack/<svc>/__init__.py`` exposes ``SERVICE``
(an api.routing.ServiceSpec). A service is listed here once it exists.
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

# Every service onestack knows, in start order (identity first: the others' catalog
# entries and tokens come from it). A service is present once its package exists.
ORDER = ["identity", "placement", "image", "network", "volume", "compute", "object",
         "orchestration", "telemetry", "dashboard"]
_HERE = Path(__file__).parent
SERVICES = [n for n in ORDER if (_HERE / n / "__init__.py").exists()]

ROLES: dict[str, list[str]] = {
    "api": SERVICES,
    "all": SERVICES,
}


def service_names(roles: str) -> list[str]:
    names: list[str] = []
    for role in (r.strip() for r in roles.split(",") if r.strip()):
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; known: {', '.join(sorted(ROLES))}")
        names += [n for n in ROLES[role] if n not in names]
    return names


def load(names: list[str]) -> list[Any]:
    """Import the named services (registering their config sections, models, policies)."""
    importlib.import_module("onestack.dataplane.host")   # the [dataplane] section, shared by drivers
    return [importlib.import_module(f"onestack.{n}").SERVICE for n in names]


@dataclasses.dataclass
class Cloud:
    """What a running process hosts: its settings and its services."""
    settings: Any
    services: list[Any]

    def service(self, name: str) -> Any | None:
        return next((s for s in self.services if s.name == name), None)
