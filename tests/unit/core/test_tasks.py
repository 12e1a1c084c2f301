"""The durable task engine on a real SQLite database: steps, Retry, failure, recovery."""
from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid

import pytest
from sqlalchemy import select

from onestack import db
from onestack.db.base import utcnow
from onestack.tasks import engine as eng
from onestack.tasks import recovery
from onestack.tasks.models import DONE, FAILED, PENDING, RUNNING, Task


@pytest.fixture
def database(tmp_path):
    db.init(f"sqlite:///{tmp_path / 'tasks.db'}")
    Task.__table__.create(db.engine())
    yield
    db.engine().dispose()


@pytest.fixture
def engine(database):
    e = eng.Engine()
    e.start(2)
    yield e
    e.stop()


def kind(name: str) -> str:
    return f"unittest-{name}-{uuid.uuid4().hex[:6]}"


def row(task_id: str) -> Task:
    with db.read() as s:
        return s.get(Task, task_id)


def wait_state(task_id: str, states=(DONE, FAILED), timeout: float = 20.0) -> Task:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        t = row(task_id)
        if t.state in states:
            return t
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} still {row(task_id).state}")


def submit(engine, k: str, **payload) -> str:
    with db.write() as s:
        return engine.submit(s, k, resource_type="widget", resource_id="w1", project_id="p1",
                             payload=payload)


def test_steps_run_in_order_and_payload_is_kept(engine):
    calls = []

    def one(run):
        calls.append(("one", run.step))
        run.payload["a"] = 1

    def two(run):
        calls.append(("two", run.payload["a"]))
        run.payload["b"] = run.payload["a"] + 1
    k = eng.register(eng.TaskSpec(kind("steps"), [one, two])).kind
    tid = submit(engine, k, start=True)
    t = wait_state(tid)
    assert t.state == DONE and t.error is None and t.owner is None
    assert calls == [("one", 0), ("two", 1)]
    assert t.payload == {"start": True, "a": 1, "b": 2} and t.step == 2
    assert (t.resource_type, t.resource_id, t.project_id) == ("widget", "w1", "p1")


def test_retry_then_success(engine):
    tries = []

    def flaky(run):
        tries.append(run.attempts)
        if len(tries) < 3:
            raise eng.Retry("not yet", delay=0.01)
    k = eng.register(eng.TaskSpec(kind("retry"), [flaky], max_attempts=5)).kind
    t = wait_state(submit(engine, k))
    assert t.state == DONE and tries == [0, 1, 2]


def test_retry_gives_up_and_cleans_up(engine):
    cleaned = []

    def never(run):
        raise eng.Retry("still busy", delay=0.01)
    spec = eng.TaskSpec(kind("giveup"), [never], max_attempts=2,
                        on_failure=lambda run, err: cleaned.append(err))
    t = wait_state(submit(engine, eng.register(spec).kind))
    assert t.state == FAILED and "gave up after 2 attempts: still busy" in t.error
    assert cleaned == [t.error]


def test_failure_runs_on_failure_and_stops(engine):
    seen = []

    def ok(run):
        seen.append("ok")
        run.payload["made"] = "thing"

    def boom(run):
        raise RuntimeError("disk on fire")

    def never(run):
        seen.append("never")

    def cleanup(run, error):
        seen.append(("cleanup", run.payload.get("made"), error))
    k = eng.register(eng.TaskSpec(kind("fail"), [ok, boom, never], on_failure=cleanup)).kind
    t = wait_state(submit(engine, k))
    assert t.state == FAILED and t.error == "RuntimeError: disk on fire" and t.step == 1
    assert seen == ["ok", ("cleanup", "thing", "RuntimeError: disk on fire")]


def test_failing_cleanup_still_fails_the_task(engine):
    def boom(run):
        raise ValueError("x")

    def bad_cleanup(run, error):
        raise OSError("cleanup broke too")
    k = eng.register(eng.TaskSpec(kind("badclean"), [boom], on_failure=bad_cleanup)).kind
    assert wait_state(submit(engine, k)).state == FAILED


def test_submit_is_part_of_the_transaction(engine):
    k = eng.register(eng.TaskSpec(kind("tx"), [lambda run: None])).kind
    with pytest.raises(RuntimeError):
        with db.write() as s:
            engine.submit(s, k)
            raise RuntimeError("the resource write failed")
    with db.read() as s:
        assert s.scalars(select(Task).where(Task.kind == k)).all() == []
    with pytest.raises(KeyError, match="unknown task kind"):
        with db.write() as s:
            engine.submit(s, "no-such-kind")


def test_delayed_task_waits_for_not_before(engine):
    k = eng.register(eng.TaskSpec(kind("delay"), [lambda run: None])).kind
    with db.write() as s:
        tid = engine.submit(s, k, delay=3600)
    time.sleep(0.5)
    assert row(tid).state == PENDING


def test_unregistered_kind_in_the_table_fails(engine):
    with db.write() as s:
        s.add(Task(id=str(uuid.uuid4()), kind="ghost-kind", state=PENDING, payload={}))
    engine.wake()
    with db.read() as s:
        tid = s.scalar(select(Task.id).where(Task.kind == "ghost-kind"))
    t = wait_state(tid)
    assert t.state == FAILED and "no handler" in t.error


def test_periodic_jobs(engine):
    hits = threading.Event()
    engine.every("unittest", 0.05, hits.set)
    assert hits.wait(5)


# ------------------------------------------------------------------ recovery after a crash
def _orphan(k: str, step: int, owner: str, heartbeat: dt.datetime | None, payload=None) -> str:
    tid = str(uuid.uuid4())
    with db.write() as s:
        s.add(Task(id=tid, kind=k, state=RUNNING, step=step, owner=owner, heartbeat_at=heartbeat,
                   payload=payload or {}))
    return tid


def test_recovery_resumes_at_the_interrupted_step(database):
    done = []
    steps = [lambda run: done.append(0), lambda run: done.append(1), lambda run: done.append(2)]
    k = eng.register(eng.TaskSpec(kind("resume"), steps)).kind
    # a process on this host with another pid died while running step 1
    dead = f"{socket.gethostname()}:999999:deadbeef"
    tid = _orphan(k, 1, dead, utcnow(), {"half": "made"})
    assert recovery.recover() == {"resumed": 1, "failed": 0}
    t = row(tid)
    assert (t.state, t.step, t.owner, t.payload) == (PENDING, 1, None, {"half": "made"})
    e = eng.Engine()
    e.start(1)
    try:
        assert wait_state(tid).state == DONE
    finally:
        e.stop()
    assert done == [1, 2]   # step 0 was already committed; step 1 re-runs (idempotent)


def test_recovery_fails_non_resumable_tasks_and_cleans_up(database):
    cleaned = []
    spec = eng.TaskSpec(kind("noresume"), [lambda run: None], resumable=False,
                        on_failure=lambda run, err: cleaned.append((run.id, err)))
    k = eng.register(spec).kind
    tid = _orphan(k, 0, f"{socket.gethostname()}:999998:x", utcnow())
    assert recovery.recover() == {"resumed": 0, "failed": 1}
    t = row(tid)
    assert t.state == FAILED and t.error == "interrupted by a restart"
    assert cleaned == [(tid, "interrupted by a restart")]


def test_recovery_of_an_unknown_kind_fails_it(database):
    tid = _orphan("kind-nobody-registers", 0, f"{socket.gethostname()}:999997:x", None)
    assert recovery.recover()["failed"] == 1
    assert "no handler" in row(tid).error


def test_recovery_leaves_live_owners_alone(database):
    k = eng.register(eng.TaskSpec(kind("live"), [lambda run: None])).kind
    # another host with a fresh heartbeat: still working
    alive = _orphan(k, 0, "other-host:1:abc", utcnow())
    # another host whose heartbeat is stale: dead
    stale = _orphan(k, 0, "other-host:2:abc", utcnow() - dt.timedelta(minutes=5))
    # this very engine's own task
    mine = _orphan(k, 0, eng.ENGINE.owner, utcnow())
    assert recovery.recover(stale_after=60) == {"resumed": 1, "failed": 0}
    assert row(alive).state == RUNNING
    assert row(stale).state == PENDING
    assert row(mine).state == RUNNING
