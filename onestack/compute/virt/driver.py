"""The virt driver contract: small ABCs split by concern, plus capability flags.

The layers above (agent, tasks, API) only ever talk to a :class:`Driver`; a hypervisor
backend (fake, container, qemu) implements the concerns it supports and declares the rest
unsupported in :class:`Capabilities`, which the API turns into a clean 4xx/409.

Arguments are plain JSON-able dicts (they arrive over the bus): ``instance`` is
{uuid, name, flavor: {vcpus, ram, disk, ...}, image: {...}, metadata, user_data, ...};
``network_info`` a list of port dicts; ``block_devices`` a list of volume connection dicts.
Every operation is idempotent: "ensure X", never "do X blindly".
"""
from __future__ import annotations

import abc
import dataclasses
from typing import Any

# power_state values as upstream Nova reports them
NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED = 0, 1, 3, 4, 6, 7


class DriverError(Exception):
    """The hypervisor failed an operation (becomes an instance fault)."""


class InstanceNotFound(DriverError):
    pass


class Unsupported(DriverError):
    """The driver cannot do this (a capability is missing)."""


@dataclasses.dataclass(frozen=True)
class Capabilities:
    pause: bool = False
    suspend: bool = False
    rescue: bool = False
    snapshot: bool = False
    console_output: bool = False
    remote_consoles: tuple[str, ...] = ()       # "novnc", "spice-html5", "serial", "mks", "rdp"
    volume_attach: bool = False
    interface_attach: bool = False
    resize: bool = False
    live_migration: bool = False
    crash_dump: bool = False
    set_admin_password: bool = False
    diagnostics: bool = False
    hypervisor_type: str = "fake"


@dataclasses.dataclass
class NodeResources:
    """What one node (hypervisor) offers; reported to placement as inventory."""
    nodename: str
    vcpus: int
    memory_mb: int
    local_gb: int
    hypervisor_type: str
    hypervisor_version: int = 1000
    cpu_info: dict[str, Any] = dataclasses.field(default_factory=dict)
    host_ip: str = "127.0.0.1"
    traits: tuple[str, ...] = ()


class HostResources(abc.ABC):
    @abc.abstractmethod
    def nodes(self) -> list[NodeResources]: ...

    @abc.abstractmethod
    def uptime(self) -> str: ...


class Lifecycle(abc.ABC):
    @abc.abstractmethod
    def spawn(self, instance: dict[str, Any], image: dict[str, Any], network_info: list[dict[str, Any]],
              block_devices: list[dict[str, Any]], admin_password: str | None = None) -> None:
        """Ensure the instance exists and runs (idempotent)."""

    @abc.abstractmethod
    def destroy(self, instance: dict[str, Any]) -> None:
        """Ensure the instance is gone (idempotent; a missing instance is fine)."""

    @abc.abstractmethod
    def rebuild(self, instance: dict[str, Any], image: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def get_info(self, instance: dict[str, Any]) -> dict[str, Any]:
        """{"power_state": int, ...}; raises InstanceNotFound."""

    @abc.abstractmethod
    def list_instances(self) -> list[str]: ...


class Power(abc.ABC):
    @abc.abstractmethod
    def power_off(self, instance: dict[str, Any], timeout: int = 0) -> None: ...

    @abc.abstractmethod
    def power_on(self, instance: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def reboot(self, instance: dict[str, Any], hard: bool) -> None: ...

    def pause(self, instance: dict[str, Any]) -> None:
        raise Unsupported("pause")

    def unpause(self, instance: dict[str, Any]) -> None:
        raise Unsupported("unpause")

    def suspend(self, instance: dict[str, Any]) -> None:
        raise Unsupported("suspend")

    def resume(self, instance: dict[str, Any]) -> None:
        raise Unsupported("resume")

    def trigger_crash_dump(self, instance: dict[str, Any]) -> None:
        raise Unsupported("trigger_crash_dump")


class Snapshot(abc.ABC):
    @abc.abstractmethod
    def snapshot(self, instance: dict[str, Any], path: str) -> dict[str, Any]:
        """Write the instance's disk image to ``path``; returns {disk_format, container_format}."""


class Console(abc.ABC):
    @abc.abstractmethod
    def console_output(self, instance: dict[str, Any]) -> str: ...

    def remote_console(self, instance: dict[str, Any], kind: str) -> dict[str, Any]:
        raise Unsupported(f"{kind} console")


class Rescue(abc.ABC):
    @abc.abstractmethod
    def rescue(self, instance: dict[str, Any], image: dict[str, Any], admin_password: str | None) -> None: ...

    @abc.abstractmethod
    def unrescue(self, instance: dict[str, Any]) -> None: ...


class VolumeAttach(abc.ABC):
    @abc.abstractmethod
    def attach_volume(self, instance: dict[str, Any], connection: dict[str, Any], device: str) -> None: ...

    @abc.abstractmethod
    def detach_volume(self, instance: dict[str, Any], connection: dict[str, Any], device: str) -> None: ...


class InterfaceAttach(abc.ABC):
    @abc.abstractmethod
    def attach_interface(self, instance: dict[str, Any], vif: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def detach_interface(self, instance: dict[str, Any], vif: dict[str, Any]) -> None: ...


class Migrate(abc.ABC):
    @abc.abstractmethod
    def migrate_out(self, instance: dict[str, Any]) -> dict[str, Any]:
        """Power off and hand over the instance's disks; returns a transfer token."""

    @abc.abstractmethod
    def migrate_in(self, instance: dict[str, Any], token: dict[str, Any], power_on: bool) -> None:
        """Adopt an instance sent by ``migrate_out`` (resize/cold migration/evacuation)."""


class Driver(HostResources, Lifecycle, Power, abc.ABC):
    """A complete backend: host resources + lifecycle + power are mandatory; the other
    concerns (Snapshot, Console, Rescue, VolumeAttach, InterfaceAttach, Migrate) are
    mixed in by the drivers that support them, and advertised in ``capabilities``."""
    capabilities: Capabilities = Capabilities()

    def diagnostics(self, instance: dict[str, Any]) -> dict[str, Any]:
        raise Unsupported("diagnostics")

    def set_admin_password(self, instance: dict[str, Any], password: str) -> None:
        raise Unsupported("set_admin_password")
