"""Compute's view of the other services (through their interface.py only).

A service that is not deployed in this cloud makes the feature that needs it fail cleanly
with errors.ServiceUnavailable (400) rather than an import error deep inside a task.
"""
from __future__ import annotations

import importlib
from typing import Any

from onestack import roles
from onestack.compute.errors import ServiceUnavailable


def _iface(name: str, feature: str) -> Any:
    if name not in roles.SERVICES:
        raise ServiceUnavailable(f"The {name} service is not available in this cloud; {feature} "
                                 "cannot be used.")
    return importlib.import_module(f"onestack.{name}.interface")


def available(name: str) -> bool:
    return name in roles.SERVICES


def image(feature: str = "booting from an image") -> Any:
    return _iface("image", feature)


def network(feature: str = "networking") -> Any:
    return _iface("network", feature)


def volume(feature: str = "volumes") -> Any:
    return _iface("volume", feature)


def placement() -> Any:
    from onestack.placement import interface
    return interface
