"""Hosts talk through the bus: call (request/reply), cast (fire and forget), publish/subscribe."""
from onestack.bus.base import Bus, BusError  # noqa: F401


_bus = None


def get() -> "Bus":
    global _bus
    if _bus is None:
        from onestack.bus.inproc import InProcBus
        _bus = InProcBus()
    return _bus


def set_bus(bus: "Bus") -> None:
    global _bus
    _bus = bus
