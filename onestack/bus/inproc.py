"""The default bus: in-process, with the same contract as the AMQP one.

Arguments and results are round-tripped through JSON so a caller can never come to rely
on sharing objects with the callee — what works here works across hosts.
"""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, TimeoutError as FutTimeout
from typing import Any, Callable

from onestack.bus.base import BusError

log = logging.getLogger(__name__)


def _wire(value: Any) -> Any:
    return json.loads(json.dumps(value))


class InProcBus:
    def __init__(self, workers: int = 8):
        self._endpoints: dict[str, Any] = {}
        self._subs: dict[str, list[Callable[[dict[str, Any]], None]]] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bus")
        self._lock = threading.Lock()

    def serve(self, topic: str, endpoint: Any) -> None:
        with self._lock:
            self._endpoints[topic] = endpoint

    def topics(self) -> list[str]:
        return sorted(self._endpoints)

    def _invoke(self, topic: str, method: str, kwargs: dict[str, Any]) -> Any:
        endpoint = self._endpoints.get(topic)
        if endpoint is None:
            raise BusError("NoSuchTopic", f"no endpoint serves topic {topic!r}")
        if method.startswith("_") or not callable(getattr(endpoint, method, None)):
            raise BusError("NoSuchMethod", f"{topic} has no method {method!r}")
        try:
            return _wire(getattr(endpoint, method)(**_wire(kwargs)))
        except BusError:
            raise
        except Exception as e:  # the far side's failure travels as a BusError
            raise BusError(type(e).__name__, str(e)) from e

    def call(self, topic: str, method: str, timeout: float = 60.0, **kwargs: Any) -> Any:
        future = self._pool.submit(self._invoke, topic, method, kwargs)
        try:
            return future.result(timeout=timeout)
        except FutTimeout:
            raise TimeoutError(f"bus call {topic}.{method} timed out after {timeout}s") from None

    def cast(self, topic: str, method: str, **kwargs: Any) -> None:
        def run() -> None:
            try:
                self._invoke(topic, method, kwargs)
            except Exception:
                log.exception("cast %s.%s failed", topic, method)
        self._pool.submit(run)

    def publish(self, event: str, payload: dict[str, Any]) -> None:
        text = json.dumps(payload)   # not JSON: fails here, in the publisher, as on the wire
        for fn in list(self._subs.get(event, [])):
            self._pool.submit(fn, json.loads(text))   # every subscriber gets its own copy

    def subscribe(self, event: str, fn: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            self._subs.setdefault(event, []).append(fn)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
