"""Engine and unit of work.

``with db.write() as s:`` opens a transaction that commits on success and rolls back on
any exception; ``with db.read() as s:`` is the read-only twin. On SQLite a write
transaction starts with BEGIN IMMEDIATE (so concurrent writers queue on the busy timeout
instead of failing on a lock upgrade) and reads use plain deferred BEGIN under WAL.
Callbacks registered with :func:`after_commit` run once the transaction is durable
(e.g. to hand a task to the engine).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

_engine: Engine | None = None
_local = threading.local()
_factory: sessionmaker | None = None
_write_engine: Engine | None = None
_lock = threading.Lock()
# SQLite has one writer at a time. Writers of this process queue on this lock (woken as
# soon as it is free) instead of on SQLite's busy handler, which sleeps in growing steps
# and let p99 reach seconds under 16 concurrent writers. Other processes still meet on
# BEGIN IMMEDIATE + busy_timeout.
_sqlite_writer: threading.Lock | None = None
WRITE_LOCK_TIMEOUT = 30.0


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("onestack_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def init(url: str, echo: bool = False) -> Engine:
    """Create (or replace) the process-wide engine for ``url``."""
    global _engine, _factory, _write_engine
    with _lock:
        if _engine is not None:
            _engine.dispose()
        kw: dict[str, Any] = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
            kw["pool_size"] = 8
            kw["max_overflow"] = 16
        else:
            kw["pool_pre_ping"] = True
            kw["pool_size"] = 8
            kw["max_overflow"] = 16
        eng = create_engine(url, **kw)
        global _sqlite_writer
        _sqlite_writer = threading.Lock() if url.startswith("sqlite") else None
        if url.startswith("sqlite"):
            _sqlite_setup(eng)
        _engine = eng
        _write_engine = eng.execution_options(onestack_write=True)
        _factory = sessionmaker(expire_on_commit=False)
        return eng


def engine() -> Engine:
    if _engine is None:
        raise RuntimeError("db.init() has not been called")
    return _engine


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` after ``session``'s transaction commits (dropped on rollback)."""
    session.info.setdefault("after_commit", []).append(fn)


@contextlib.contextmanager
def _unit(bind: Engine, done: Callable[[], None] | None = None) -> Iterator[Session]:
    assert _factory is not None, "db.init() has not been called"
    session = _factory(bind=bind)
    try:
        yield session
        session.commit()
        callbacks = session.info.pop("after_commit", [])
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if done is not None:
            done()  # the unit is over: callbacks below may open their own units of work
    for fn in callbacks:
        fn()


class NestedWriteError(RuntimeError):
    """A write unit of work was opened inside another on the same thread."""


@contextlib.contextmanager
def _write_unit() -> Iterator[Session]:
    # On SQLite a second write transaction on the same thread waits for the first one,
    # which waits for it: a self-deadlock that ends in "database is locked" after the busy
    # timeout. Calls into another service (whose interface opens its own unit of work) must
    # happen outside our own transaction; fail at once and say so.
    if getattr(_local, "writing", False):
        raise NestedWriteError("db.write() opened inside another db.write() on the same thread: call "
                               "other services (and other write units) outside your transaction")
    writer = _sqlite_writer
    if writer is not None and not writer.acquire(timeout=WRITE_LOCK_TIMEOUT):
        raise TimeoutError(f"no write slot on the database after {WRITE_LOCK_TIMEOUT:.0f} s")
    _local.writing = True
    held = [writer]

    def _done() -> None:
        _local.writing = False
        if held[0] is not None:
            held[0].release()
            held[0] = None
    try:
        with _unit(_write_engine, _done) as session:  # type: ignore[arg-type]
            yield session
    finally:
        _done()


def write() -> contextlib.AbstractContextManager[Session]:
    """A read-write unit of work (commits at the end, rolls back on error)."""
    if _write_engine is None:
        raise RuntimeError("db.init() has not been called")
    return _write_unit()


def read() -> contextlib.AbstractContextManager[Session]:
    """A read-only unit of work."""
    return _unit(engine())
