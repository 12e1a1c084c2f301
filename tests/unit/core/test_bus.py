"""The in-process bus keeps the cross-host contract: JSON only, remote errors as BusError."""
from __future__ import annotations

import threading
import time

import pytest

from onestack import bus
from onestack.bus import BusError
from onestack.bus.inproc import InProcBus


class Agent:
    def __init__(self):
        self.seen = []
        self.cast_done = threading.Event()

    def add(self, a, b):
        return a + b

    def echo(self, value):
        value_copy = value
        if isinstance(value, dict):
            value["touched"] = True   # the caller's object must not change
        return value_copy

    def shape(self):
        return {"t": (1, 2), "n": None, "f": 1.5}

    def fail(self):
        raise ValueError("no such flavor")

    def slow(self, seconds):
        time.sleep(seconds)
        return "late"

    def note(self, msg):
        self.seen.append(msg)
        self.cast_done.set()

    def _private(self):
        return "secret"


@pytest.fixture
def b():
    x = InProcBus(workers=4)
    agent = Agent()
    x.serve("compute.host1", agent)
    x.agent = agent
    yield x
    x.close()


def test_call_returns_the_result(b):
    assert b.call("compute.host1", "add", a=2, b=3) == 5
    assert b.topics() == ["compute.host1"]


def test_arguments_and_results_round_trip_through_json(b):
    arg = {"k": [1, 2]}
    out = b.call("compute.host1", "echo", value=arg)
    assert out == {"k": [1, 2], "touched": True}
    assert arg == {"k": [1, 2]}                      # no shared memory with the callee
    assert b.call("compute.host1", "shape") == {"t": [1, 2], "n": None, "f": 1.5}  # tuple -> list
    with pytest.raises(BusError) as e:
        b.call("compute.host1", "echo", value={1, 2})   # not JSON: refused like on the wire
    assert e.value.kind == "TypeError"


def test_remote_errors_travel_as_bus_errors(b):
    with pytest.raises(BusError) as e:
        b.call("compute.host1", "fail")
    assert e.value.kind == "ValueError" and e.value.message == "no such flavor"
    assert str(e.value) == "ValueError: no such flavor"


@pytest.mark.parametrize("topic,method,kind", [
    ("compute.host2", "add", "NoSuchTopic"),
    ("compute.host1", "nope", "NoSuchMethod"),
    ("compute.host1", "_private", "NoSuchMethod"),
])
def test_unknown_targets(b, topic, method, kind):
    with pytest.raises(BusError) as e:
        b.call(topic, method)
    assert e.value.kind == kind


def test_call_timeout(b):
    with pytest.raises(TimeoutError, match="timed out"):
        b.call("compute.host1", "slow", timeout=0.1, seconds=0.5)


def test_cast_does_not_wait_and_swallows_errors(b):
    b.cast("compute.host1", "fail")                   # logged, not raised
    b.cast("compute.host1", "note", msg="hello")
    assert b.agent.cast_done.wait(5)
    assert b.agent.seen == ["hello"]


def test_publish_reaches_every_subscriber_with_a_copy(b):
    got, done = [], threading.Barrier(3, timeout=5)

    def sub(payload):
        payload["mutated"] = True
        got.append(payload)
        done.wait()
    b.subscribe("image.deleted", sub)
    b.subscribe("image.deleted", sub)
    original = {"id": "i1"}
    b.publish("image.deleted", original)
    b.publish("nobody.listens", {"x": 1})
    done.wait()
    assert len(got) == 2 and got[0] is not got[1] and original == {"id": "i1"}


def test_process_bus_is_a_singleton_and_replaceable():
    first = bus.get()
    assert bus.get() is first
    other = InProcBus(workers=1)
    bus.set_bus(other)
    try:
        assert bus.get() is other
    finally:
        bus.set_bus(first)
        other.close()
