"""Volume backends: each keeps volumes somewhere real and answers idempotent ensure-calls."""
from __future__ import annotations

from pathlib import Path

from onestack.volume.drivers.base import VolumeDriver
from onestack.volume.drivers.file import FileDriver
from onestack.volume.drivers.qcow2 import Qcow2Driver

KINDS: dict[str, type[VolumeDriver]] = {"file": FileDriver, "qcow2": Qcow2Driver}
_instances: dict[str, VolumeDriver] = {}


def setup(names: list[str], root: Path) -> dict[str, VolumeDriver]:
    _instances.clear()
    for name in names:
        if name not in KINDS:
            raise ValueError(f"unknown volume backend {name!r}; known: {', '.join(KINDS)}")
        drv = KINDS[name](root / name)
        if drv.available():
            _instances[name] = drv
    return dict(_instances)


def get(name: str) -> VolumeDriver:
    try:
        return _instances[name]
    except KeyError:
        raise LookupError(f"volume backend {name!r} is not enabled on this host") from None


def all_backends() -> dict[str, VolumeDriver]:
    return dict(_instances)
