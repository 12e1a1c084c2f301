"""Durable, resumable long operations.

A task is a row in ``tasks`` plus a registered :class:`TaskSpec`: an ordered list of
idempotent steps and an optional ``on_failure`` cleanup. The row is written in the same
transaction as the resource it works on (:func:`submit`) and handed to a worker after
commit. After each step the engine commits the step index and the payload, so a crash
resumes at the step that was running (steps are idempotent) — see recovery.py.

A step raises :class:`Retry` for a transient failure (retried with backoff up to
``max_attempts``); any other exception fails the task and runs ``on_failure``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
import uuid
from typing import Any, Callable

from sqlalchemy import bindparam, select, update

from onestack import db
from onestack.db.base import utcnow
from onestack.tasks.models import DONE, FAILED, PENDING, RUNNING, Task

log = logging.getLogger(__name__)


class Retry(Exception):
    """A transient failure: run this step again later."""

    def __init__(self, message: str = "", delay: float = 1.0):
        super().__init__(message)
        self.delay = delay


@dataclasses.dataclass
class TaskRun:
    id: str
    kind: str
    resource_type: str
    resource_id: str
    project_id: str | None
    payload: dict[str, Any]
    step: int
    attempts: int
    # a step sets this when it did the task's remaining steps' work itself (e.g. a build
    # that finished in one go): the engine records the task done at once, without running
    # (and saving between) the steps left, which stay idempotent no-ops on a resume
    complete: bool = False


@dataclasses.dataclass
class TaskSpec:
    kind: str
    steps: list[Callable[[TaskRun], None]]
    on_failure: Callable[[TaskRun, str], None] | None = None
    max_attempts: int = 5
    resumable: bool = True   # False: a crash mid-task fails it (and runs on_failure)


_SPECS: dict[str, TaskSpec] = {}
_T = Task.__table__
_PENDING = select(_T.c.id).where(_T.c.state == PENDING, _T.c.not_before <= bindparam("now"))
_ANY_PENDING = _PENDING.limit(1)
_TAKE_NEXT = update(_T).where(
    _T.c.id == _PENDING.order_by(_T.c.created_at).limit(1).scalar_subquery(), _T.c.state == PENDING).values(
    state=RUNNING, owner=bindparam("p_owner"), heartbeat_at=bindparam("now")).returning(*_T.c)


def register(spec: TaskSpec) -> TaskSpec:
    if spec.kind in _SPECS and _SPECS[spec.kind] is not spec:
        raise ValueError(f"task kind {spec.kind!r} registered twice")
    _SPECS[spec.kind] = spec
    return spec


def spec_for(kind: str) -> TaskSpec | None:
    return _SPECS.get(kind)


class Engine:
    def __init__(self) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._running: set[str] = set()
        self._periodic: list[tuple[str, float, Callable[[], None]]] = []

    # ------------------------------------------------------------ submit
    def submit(self, session: Any, kind: str, resource_type: str = "", resource_id: str = "",
               project_id: str | None = None, payload: dict[str, Any] | None = None,
               delay: float = 0.0) -> str:
        if kind not in _SPECS:
            raise KeyError(f"unknown task kind {kind!r}")
        task = Task(id=str(uuid.uuid4()), kind=kind, resource_type=resource_type,
                    resource_id=resource_id, project_id=project_id, payload=payload or {},
                    state=PENDING, step=0,
                    not_before=utcnow() + dt.timedelta(seconds=delay))
        session.add(task)
        db.session.after_commit(session, self.wake)
        return task.id

    def wake(self) -> None:
        # one new task: one idle worker (waking all of them made the others race for it,
        # each with a write transaction that found nothing)
        with self._cond:
            self._cond.notify()

    def _wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------ workers
    def start(self, workers: int = 4) -> None:
        self._stop.clear()
        for i in range(workers):
            t = threading.Thread(target=self._worker, name=f"task-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._heartbeat, name="task-heartbeat", daemon=True)
        t.start()
        self._threads.append(t)
        for name, every, fn in self._periodic:
            self._start_periodic(name, every, fn)

    def every(self, name: str, seconds: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` every ``seconds`` while the engine runs (expirers, power sync, ...)."""
        self._periodic.append((name, seconds, fn))
        if self._threads:
            self._start_periodic(name, seconds, fn)

    def _start_periodic(self, name: str, seconds: float, fn: Callable[[], None]) -> None:
        def loop() -> None:
            while not self._stop.wait(seconds):
                try:
                    fn()
                except Exception:
                    log.exception("periodic job %s failed", name)
        t = threading.Thread(target=loop, name=f"periodic-{name}", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._wake_all()
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()

    def _claim(self) -> Any:
        # plain (Core) statements on the tasks table: these run several times per task
        now = utcnow()
        with db.read() as s:   # most wake-ups find nothing: look before taking the write slot
            if s.connection().execute(_ANY_PENDING, {"now": now}).first() is None:
                return None
        with db.write() as s:   # the oldest pending task, taken in one statement
            return s.connection().execute(_TAKE_NEXT, {"p_owner": self.owner, "now": now}).first()

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                task = self._claim()
            except Exception:
                log.exception("claiming a task failed")
                task = None
            if task is None:
                with self._cond:
                    self._cond.wait(timeout=1.0)
                continue
            self._run(task)

    def _heartbeat(self) -> None:
        while not self._stop.wait(10.0):
            ids = list(self._running)
            if not ids:
                continue
            try:
                with db.write() as s:
                    s.execute(update(Task).where(Task.id.in_(ids), Task.owner == self.owner)
                              .values(heartbeat_at=utcnow()))
            except Exception:
                log.exception("task heartbeat failed")

    def _run(self, task: Task) -> None:
        spec = _SPECS.get(task.kind)
        run = TaskRun(task.id, task.kind, task.resource_type, task.resource_id, task.project_id,
                      dict(task.payload or {}), task.step, task.attempts)
        if spec is None:
            self._finish(run, FAILED, f"no handler registered for task kind {task.kind!r}")
            return
        self._running.add(run.id)
        try:
            while run.step < len(spec.steps):
                if self._stop.is_set():
                    return  # left RUNNING; recovery resumes it
                try:
                    spec.steps[run.step](run)
                except Retry as r:
                    run.attempts += 1
                    if run.attempts >= spec.max_attempts:
                        self._fail(spec, run, f"gave up after {run.attempts} attempts: {r}")
                    else:
                        self._save(run, state=PENDING,
                                   not_before=utcnow() + dt.timedelta(seconds=r.delay * run.attempts))
                    return
                except Exception as e:
                    log.exception("task %s (%s) failed at step %d", run.id, run.kind, run.step)
                    self._fail(spec, run, f"{type(e).__name__}: {e}")
                    return
                run.step = len(spec.steps) if run.complete else run.step + 1
                run.attempts = 0
                if run.step < len(spec.steps):
                    self._save(run)
                # (after the last step _finish records step and payload: one write, not two; a
                # crash in between re-runs the last step, which is idempotent like every step)
            self._finish(run, DONE, None)
        finally:
            self._running.discard(run.id)

    def _save(self, run: TaskRun, **values: Any) -> None:
        with db.write() as s:
            s.connection().execute(update(_T).where(_T.c.id == run.id).values(
                step=run.step, payload=run.payload, attempts=run.attempts,
                heartbeat_at=utcnow(), **values))

    def _fail(self, spec: TaskSpec, run: TaskRun, error: str) -> None:
        if spec.on_failure is not None:
            try:
                spec.on_failure(run, error)
            except Exception:
                log.exception("cleanup of task %s (%s) failed", run.id, run.kind)
        self._finish(run, FAILED, error)

    def _finish(self, run: TaskRun, state: str, error: str | None) -> None:
        with db.write() as s:
            s.connection().execute(update(_T).where(_T.c.id == run.id).values(
                state=state, error=error, step=run.step, payload=run.payload, owner=None))

    # ------------------------------------------------------------ introspection
    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once no task is pending or running (tests and `onestack` shutdown)."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with db.read() as s:
                busy = s.scalar(select(Task.id).where(Task.state.in_([PENDING, RUNNING])).limit(1))
            if busy is None:
                return True
            time.sleep(0.05)
        return False


ENGINE = Engine()


def submit(session: Any, kind: str, **kw: Any) -> str:
    return ENGINE.submit(session, kind, **kw)
