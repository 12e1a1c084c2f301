"""The bus contract. Messages are JSON documents: nothing may assume shared memory."""
from __future__ import annotations

from typing import Any, Callable, Protocol


class BusError(Exception):
    """A call failed on the far side (carries the remote error's class name and message)."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Bus(Protocol):
    def serve(self, topic: str, endpoint: Any) -> None:
        """Expose ``endpoint``'s public methods on ``topic`` (e.g. "compute.host1")."""

    def call(self, topic: str, method: str, timeout: float = 60.0, **kwargs: Any) -> Any:
        """Invoke and wait for the JSON result; raises BusError or TimeoutError."""

    def cast(self, topic: str, method: str, **kwargs: Any) -> None:
        """Invoke without waiting."""

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        """Notify every subscriber of ``event``."""

    def subscribe(self, event: str, fn: Callable[[dict[str, Any]], None]) -> None: ...

    def topics(self) -> list[str]: ...

    def close(self) -> None: ...
