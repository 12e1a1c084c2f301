"""Account and container listing databases: one SQLite file per account and per container.

This is Swift's design, not a second DB layer for the cloud's own state: the cloud's
state (identity, compute, tasks, ...) lives in the main database through onestack.db;
what lives here is the *data plane's* index — which containers an account holds and
which objects a container holds — sharded per container so that a container of a
million objects lists a page with one B-tree range scan (``WHERE name > marker ORDER BY
name LIMIT n`` on a WITHOUT ROWID primary key) and writers to different containers never
contend. Files sit on the ring's devices next to the objects
(``<dev>/accounts|containers/<part>/<suffix>/<hash>/*.db``).

A container row of the account DB carries the container's absolute object count and
bytes (idempotent updates; reconciled from the container DBs at start-up), so account
stats are exact sums.

The container DB is the commit record for an object: an object exists once its row is
committed (after the data file is durable); a data file without a row (a crash between
the two) is never served and is removed by the next write of that name.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator

_CACHE_SIZE = 256
_cache: "OrderedDict[str, _Conn]" = OrderedDict()
_cache_lock = threading.Lock()
# every open connection set per path, cached or not (evicted ones may still be in use): a
# dropped database closes them all
_live: "dict[str, weakref.WeakSet[_Conn]]" = {}
SYNCHRONOUS = "FULL"
_READERS = 4          # idle read connections kept per database


class _Op:
    __slots__ = ("fn", "result", "error", "done")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]):
        self.fn = fn
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


class _Conn:
    def __init__(self, path: Path, synchronous: str):
        self.path = path
        self.lock = threading.RLock()
        self.queue: list[_Op] = []
        self.qlock = threading.Lock()
        self.conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30,
                                    isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute("PRAGMA busy_timeout=30000")
        # Readers use their own connections (a small pool) so that a listing or a HEAD never
        # waits behind a writer's fsync or another reader (WAL: a reader sees every committed
        # transaction and never a partial one).
        self.readers: list[sqlite3.Connection] = []
        self.closed = False

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn(conn)`` in a write transaction, group-committed with concurrent callers.

        Each caller queues its change and then takes the connection lock; whoever gets it
        first applies every queued change (each in its own savepoint, so one failure does
        not undo the others) and commits them together: one WAL fsync for the batch instead
        of one per change. A caller returns only after the commit holding its change, so
        "acknowledged" still means "durable".
        """
        op = _Op(fn)
        with self.qlock:
            self.queue.append(op)
        with self.lock:
            if not op.done:
                with self.qlock:
                    batch, self.queue = self.queue, []
                self._commit_batch(batch)
        if op.error is not None:
            raise op.error
        return op.result

    def _commit_batch(self, batch: list[_Op]) -> None:
        conn = self.conn
        try:
            if self.closed:         # the database was dropped (container deleted) meanwhile
                raise FileNotFoundError(self.path)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for op in batch:
                    conn.execute("SAVEPOINT op")
                    try:
                        op.result = op.fn(conn)
                    except Exception as e:      # this change only; the batch goes on
                        op.error = e
                        conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except BaseException as e:
            for op in batch:
                op.error, op.result = op.error or e, None
        finally:
            for op in batch:
                op.done = True

    @contextlib.contextmanager
    def ro(self) -> Iterator[sqlite3.Connection]:
        with self.qlock:
            rconn = self.readers.pop() if self.readers else None
        if rconn is None:
            rconn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30,
                                    isolation_level=None)
            rconn.row_factory = sqlite3.Row
            rconn.execute("PRAGMA busy_timeout=30000")
        try:
            yield rconn
        finally:
            if rconn.in_transaction:
                rconn.execute("ROLLBACK")
            with self.qlock:
                keep = not self.closed and len(self.readers) < _READERS
                if keep:
                    self.readers.append(rconn)
            if not keep:
                rconn.close()

    def close(self) -> None:
        with self.lock, self.qlock:
            self.closed = True
            self.conn.close()
            for r in self.readers:
                r.close()
            self.readers = []


def _open(path: Path, schema: str | None, synchronous: str | None = None) -> _Conn | None:
    key = str(path)
    with _cache_lock:
        c = _cache.get(key)
        if c is not None:
            _cache.move_to_end(key)
            return c
    if not path.exists():
        if schema is None:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
    c = _Conn(path, synchronous or SYNCHRONOUS)
    if schema is not None:
        with c.lock:
            c.conn.executescript(schema)
    with _cache_lock:
        existing = _cache.get(key)
        if existing is not None:
            c.close()
            return existing
        _cache[key] = c
        _live.setdefault(key, weakref.WeakSet()).add(c)
        while len(_cache) > _CACHE_SIZE:
            # not closed here: a thread may be using it this moment; its connections close
            # when the last reference goes
            _cache.popitem(last=False)
    return c


def _forget(path: Path) -> None:
    with _cache_lock:
        _cache.pop(str(path), None)
        conns = list(_live.pop(str(path), ()))
    for c in conns:
        c.close()


def close_all() -> None:
    with _cache_lock:
        items = [c for conns in _live.values() for c in conns]
        _cache.clear()
        _live.clear()
    for c in items:
        c.close()


def _upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``."""
    if not prefix:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _listing(conn: sqlite3.Connection, table: str, columns: str, *, prefix: str = "",
             delimiter: str = "", marker: str = "", end_marker: str = "", limit: int = 10000,
             reverse: bool = False) -> list[dict[str, Any]]:
    """Swift listing semantics over a name-ordered table: rows and {"subdir"} entries."""
    out: list[dict[str, Any]] = []
    names = [c.strip() for c in columns.split(",")]
    assert names[0] == "name"
    lo, lo_incl = "", True       # names > lo (or >= when lo_incl)
    hi, hi_incl = None, False    # names < hi
    if prefix:
        lo, lo_incl = prefix, True
        hi = _upper_bound(prefix)
    if reverse:
        # marker and end_marker swap roles when reversed
        if marker and (hi is None or marker < hi):
            hi, hi_incl = marker, False
        if end_marker and end_marker >= lo:
            lo, lo_incl = end_marker, False
    else:
        if marker and marker >= lo:
            lo, lo_incl = marker, False
        if end_marker and (hi is None or end_marker < hi):
            hi, hi_incl = end_marker, False
    while len(out) < limit:
        conds, args = [], []
        if lo:
            conds.append("name >= ?" if lo_incl else "name > ?")
            args.append(lo)
        if hi is not None:
            conds.append("name < ?")
            args.append(hi)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        order = "DESC" if reverse else "ASC"
        # stepped lazily: a delimiter jump abandons the cursor after the rows it needed
        cur = conn.cursor()
        cur.row_factory = None          # plain tuples: a 10,000-row page is built twice as fast
        cur.execute(f"SELECT {columns} FROM {table} {where} ORDER BY name {order} LIMIT ?",
                    (*args, limit - len(out)))
        jumped = False
        seen = 0
        for r in cur:
            seen += 1
            name = r[0]
            if delimiter:
                rest = name[len(prefix):]
                i = rest.find(delimiter)
                if i >= 0:
                    sub = prefix + rest[:i + len(delimiter)]
                    out.append({"subdir": sub})
                    # skip everything under this subdir and query again
                    if reverse:
                        hi, hi_incl = sub, False
                    else:
                        lo, lo_incl = _upper_bound(sub) or sub, True
                    jumped = True
                    break
            out.append(dict(zip(names, r)))
            if len(out) >= limit:
                break
        cur.close()
        if not jumped or not seen:
            break   # every row was taken: either the page is full or the range is exhausted
    return out[:limit]


# ---------------------------------------------------------------- containers

CONTAINER_SCHEMA = """
CREATE TABLE IF NOT EXISTS object (
    name TEXT PRIMARY KEY, ts TEXT NOT NULL, meta_ts TEXT, size INTEGER NOT NULL,
    content_type TEXT NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,
    delete_at INTEGER, vid TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stat (
    id INTEGER PRIMARY KEY CHECK (id = 0), object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0, put_timestamp TEXT, created_at TEXT,
    storage_policy TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
""" + """
CREATE TABLE IF NOT EXISTS version (
    name TEXT NOT NULL, ts TEXT NOT NULL, vid TEXT NOT NULL, meta_ts TEXT, size INTEGER NOT NULL,
    content_type TEXT NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,
    marker INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (name, ts)
) WITHOUT ROWID;
"""
# Object versioning (X-Versions-Enabled): ``object`` holds each name's current version and
# ``version`` the older ones and delete markers. ``object.vid`` is the current version's id:
# its timestamp when written with versioning enabled, "null" when written with versioning
# disabled, NULL when the container was never versioned at the time.

OBJECT_COLUMNS = "name, ts, meta_ts, size, content_type, etag, last_modified, delete_at, vid"
VERSION_COLUMNS = "name, ts, vid, meta_ts, size, content_type, etag, last_modified, marker"


class ContainerDB:
    def __init__(self, path: Path):
        self.path = path

    def _conn(self, create: bool = False) -> _Conn | None:
        c = _open(self.path, CONTAINER_SCHEMA if create else None)
        if c is not None and not getattr(c, "upgraded", False):
            with c.lock:
                # databases made before versioning: add its column and table
                cols = {r[1] for r in c.conn.execute("PRAGMA table_info(object)")}
                if "vid" not in cols:
                    c.conn.execute("ALTER TABLE object ADD COLUMN vid TEXT")
                c.conn.executescript(CONTAINER_SCHEMA)
                c.upgraded = True
        return c

    def exists(self) -> bool:
        return self.path.exists()

    def create(self, ts: str, policy: str, meta: dict[str, str]) -> bool:
        """Create (True) or leave an existing container (False, metadata still applied)."""
        c = self._conn(create=True)
        with c.tx() as conn:
            row = conn.execute("SELECT id FROM stat").fetchone()
            created = row is None
            if created:
                conn.execute("INSERT INTO stat (id, put_timestamp, created_at, storage_policy) "
                             "VALUES (0, ?, ?, ?)", (ts, ts, policy))
            else:
                conn.execute("UPDATE stat SET put_timestamp = ?", (ts,))
            _apply_meta(conn, meta)
        return created

    def info(self) -> dict[str, Any] | None:
        c = self._conn()
        if c is None:
            return None
        with c.ro() as conn:
            row = conn.execute("SELECT * FROM stat").fetchone()
            if row is None:
                return None
            meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
        return {**dict(row), "meta": meta}

    def set_meta(self, meta: dict[str, str]) -> None:
        c = self._conn()
        if c is None:
            raise FileNotFoundError(self.path)
        with c.tx() as conn:
            _apply_meta(conn, meta)

    def put_object(self, row: dict[str, Any], keep_old: str | None = None
                   ) -> tuple[dict[str, Any] | None, tuple[int, int]]:
        """Insert/replace ``row`` unless a newer version is recorded: (the previous row, the
        container's (object_count, bytes_used) after the change). ``keep_old``: "all" keeps
        the replaced row as an older version (versioning enabled), "versioned" only when it
        has a version id (versioning disabled); then the previous row carries ``dead``: the
        file timestamps no row refers to any more, the only ones a versioned container may
        remove (a "before this timestamp" sweep could take an in-flight older version)."""
        c = self._conn()
        if c is None:
            raise FileNotFoundError(self.path)

        def apply(conn: sqlite3.Connection) -> tuple[dict[str, Any] | None, tuple[int, int]]:
            old = conn.execute(f"SELECT {OBJECT_COLUMNS} FROM object WHERE name = ?",
                               (row["name"],)).fetchone()
            if old is not None and old["ts"] > row["ts"]:
                dead = {row["ts"]}
                if keep_old == "all":
                    # a newer version committed first: this one is still a version, an older one
                    dead = _keep_version(conn, {"meta_ts": None, **row})
                return {"superseded": True, **dict(old), "dead": dead}, _totals(conn)
            dead: set[str] = set()
            if old is not None and (keep_old == "all" or (keep_old == "versioned" and
                                                          old["vid"] not in (None, "null"))):
                dead = _keep_version(conn, dict(old))
            elif old is not None:
                dead = {t for t in (old["ts"], old["meta_ts"]) if t}
            conn.execute(f"INSERT OR REPLACE INTO object ({OBJECT_COLUMNS}) VALUES "
                         "(:name, :ts, :meta_ts, :size, :content_type, :etag, :last_modified, "
                         ":delete_at, :vid)", {"meta_ts": None, "delete_at": None, "vid": None, **row})
            d_count = 0 if old is not None else 1
            d_bytes = row["size"] - (old["size"] if old is not None else 0)
            conn.execute("UPDATE stat SET object_count = object_count + ?, "
                         "bytes_used = bytes_used + ?", (d_count, d_bytes))
            return ({**dict(old), "dead": dead} if old is not None else None), _totals(conn)
        return c.write(apply)

    def update_object(self, name: str, **values: Any) -> bool:
        c = self._conn()
        if c is None:
            return False
        sets = ", ".join(f"{k} = :{k}" for k in values)
        return c.write(lambda conn: conn.execute(f"UPDATE object SET {sets} WHERE name = :name",
                                                 {**values, "name": name}).rowcount > 0)

    def get_object(self, name: str) -> dict[str, Any] | None:
        c = self._conn()
        if c is None:
            return None
        with c.ro() as conn:
            row = conn.execute(f"SELECT {OBJECT_COLUMNS} FROM object WHERE name = ?", (name,)).fetchone()
        return dict(row) if row is not None else None

    def delete_object(self, name: str, ts: str | None = None) -> dict[str, Any] | None:
        """Remove the row (only the version written at ``ts`` when given); the removed row."""
        c = self._conn()
        if c is None:
            return None

        def apply(conn: sqlite3.Connection) -> dict[str, Any] | None:
            old = conn.execute(f"SELECT {OBJECT_COLUMNS} FROM object WHERE name = ?", (name,)).fetchone()
            if old is None or (ts is not None and old["ts"] != ts):
                return None
            conn.execute("DELETE FROM object WHERE name = ?", (name,))
            conn.execute("UPDATE stat SET object_count = object_count - 1, "
                         "bytes_used = bytes_used - ?", (old["size"],))
            return dict(old)
        return c.write(apply)

    def list(self, **kw: Any) -> list[dict[str, Any]]:
        c = self._conn()
        if c is None:
            return []
        with c.ro() as conn:
            return _listing(conn, "object", OBJECT_COLUMNS, **kw)

    # ------------------------------------------------------------ versions

    def delete_versioned(self, name: str, marker: dict[str, Any] | None
                         ) -> tuple[dict[str, Any] | None, tuple[int, int]]:
        """Retire the current version: keep it as an older version (unless it is a "null"
        one and no ``marker`` is written), add ``marker`` (a delete marker row) when given,
        and remove the name from the listing. (The retired row or None, new totals.)"""
        c = self._conn()
        if c is None:
            raise FileNotFoundError(self.path)

        def apply(conn: sqlite3.Connection) -> tuple[dict[str, Any] | None, tuple[int, int]]:
            old = conn.execute(f"SELECT {OBJECT_COLUMNS} FROM object WHERE name = ?", (name,)).fetchone()
            if old is None:
                return None, _totals(conn)
            old = dict(old)
            if marker is not None or old["vid"] not in (None, "null"):
                old["dead"] = _keep_version(conn, old)
            else:
                old["dead"] = {t for t in (old["ts"], old["meta_ts"]) if t}
            if marker is not None:
                _keep_version(conn, {**marker, "name": name}, is_marker=True)
            conn.execute("DELETE FROM object WHERE name = ?", (name,))
            conn.execute("UPDATE stat SET object_count = object_count - 1, "
                         "bytes_used = bytes_used - ?", (old["size"],))
            return old, _totals(conn)
        return c.write(apply)

    def get_version(self, name: str, vid: str) -> dict[str, Any] | None:
        c = self._conn()
        if c is None:
            return None
        with c.ro() as conn:
            row = conn.execute(f"SELECT {VERSION_COLUMNS} FROM version WHERE name = ? AND vid = ?",
                               (name, vid)).fetchone()
        return dict(row) if row is not None else None

    def delete_version(self, name: str, ts: str) -> dict[str, Any] | None:
        c = self._conn()
        if c is None:
            return None

        def apply(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(f"SELECT {VERSION_COLUMNS} FROM version WHERE name = ? AND ts = ?",
                               (name, ts)).fetchone()
            if row is not None:
                conn.execute("DELETE FROM version WHERE name = ? AND ts = ?", (name, ts))
            return dict(row) if row is not None else None
        return c.write(apply)

    def version_stems(self, name: str) -> set[str]:
        """File timestamps the older versions of ``name`` still use (their .data and .meta)."""
        c = self._conn()
        if c is None:
            return set()
        with c.ro() as conn:
            rows = conn.execute("SELECT ts, meta_ts FROM version WHERE name = ?", (name,)).fetchall()
        return {t for r in rows for t in (r[0], r[1]) if t}

    def has_versions(self) -> bool:
        c = self._conn()
        if c is None:
            return False
        with c.ro() as conn:
            return conn.execute("SELECT 1 FROM version LIMIT 1").fetchone() is not None

    def list_versions(self, *, prefix: str = "", marker: str = "", version_marker: str = "",
                      end_marker: str = "", limit: int = 10000) -> list[dict[str, Any]]:
        """Every version of every name, by name and then newest first: the current row
        (``is_latest``) and the older versions and delete markers. ``version_marker`` (a
        timestamp) continues a page inside ``marker``'s versions."""
        c = self._conn()
        if c is None:
            return []
        conds, args = [], []
        if prefix:
            conds.append("name >= ?")
            args.append(prefix)
            hi = _upper_bound(prefix)
            if hi is not None:
                conds.append("name < ?")
                args.append(hi)
        if marker:
            if version_marker:
                conds.append("(name > ? OR (name = ? AND ts < ?))")
                args += [marker, marker, version_marker]
            else:
                conds.append("name > ?")
                args.append(marker)
        if end_marker:
            conds.append("name < ?")
            args.append(end_marker)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = (f"SELECT * FROM (SELECT name, ts, COALESCE(vid, 'null') AS vid, size, content_type, "
               f"etag, last_modified, 0 AS marker, 1 AS current FROM object UNION ALL "
               f"SELECT name, ts, vid, size, content_type, etag, last_modified, marker, 0 "
               f"FROM version) {where} ORDER BY name, ts DESC LIMIT ?")
        with c.ro() as conn:
            rows = [dict(r) for r in conn.execute(sql, (*args, limit))]
            names = {r["name"] for r in rows if not r["current"]}
            current = {n for n in names if conn.execute(
                "SELECT 1 FROM object WHERE name = ?", (n,)).fetchone()}
            newest = {n: conn.execute("SELECT MAX(ts) FROM version WHERE name = ?", (n,)).fetchone()[0]
                      for n in names - current}
        for r in rows:
            r["is_latest"] = bool(r["current"]) or (r["name"] not in current
                                                     and newest.get(r["name"]) == r["ts"])
        return rows

    def expired(self, now: int, limit: int = 1000) -> list[dict[str, Any]]:
        c = self._conn()
        if c is None:
            return []
        with c.ro() as conn:
            return [dict(r) for r in conn.execute(
                f"SELECT {OBJECT_COLUMNS} FROM object WHERE delete_at IS NOT NULL AND delete_at <= ? "
                "LIMIT ?", (now, limit))]

    def is_empty(self) -> bool:
        c = self._conn()
        if c is None:
            return True
        with c.ro() as conn:
            return conn.execute("SELECT 1 FROM object LIMIT 1").fetchone() is None

    def recount(self) -> tuple[int, int]:
        """Recompute the stats from the rows (start-up reconciliation) and store them."""
        c = self._conn()
        if c is None:
            return 0, 0
        with c.tx() as conn:
            count, used = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM object").fetchone()
            conn.execute("UPDATE stat SET object_count = ?, bytes_used = ?", (count, used))
        return count, used

    def drop(self) -> None:
        _forget(self.path)
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(str(self.path) + suffix)
            except FileNotFoundError:
                pass


def _keep_version(conn: sqlite3.Connection, row: dict[str, Any], is_marker: bool = False) -> set[str]:
    """Record ``row`` as an older version; there is at most one "null" version per name, so
    a new one replaces the old: the replaced one's file timestamps (now unreferenced)."""
    vid = row.get("vid") or "null"
    dead: set[str] = set()
    if vid == "null":
        for r in conn.execute("SELECT ts, meta_ts FROM version WHERE name = ? AND vid = 'null'",
                              (row["name"],)).fetchall():
            dead |= {t for t in r if t}
        conn.execute("DELETE FROM version WHERE name = ? AND vid = 'null'", (row["name"],))
    conn.execute(f"INSERT OR REPLACE INTO version ({VERSION_COLUMNS}) VALUES "
                 "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (row["name"], row["ts"], vid, row.get("meta_ts"), row["size"], row["content_type"],
                  row["etag"], row["last_modified"], 1 if is_marker else 0))
    return dead - {row["ts"], row.get("meta_ts")}


def _totals(conn: sqlite3.Connection) -> tuple[int, int]:
    row = conn.execute("SELECT object_count, bytes_used FROM stat").fetchone()
    return (row[0], row[1]) if row is not None else (0, 0)


def _apply_meta(conn: sqlite3.Connection, meta: dict[str, str]) -> None:
    """Set each key; an empty value removes it (Swift's POST semantics)."""
    for k, v in meta.items():
        if v == "":
            conn.execute("DELETE FROM meta WHERE key = ?", (k,))
        else:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (k, v))


# ---------------------------------------------------------------- accounts

ACCOUNT_SCHEMA = """
CREATE TABLE IF NOT EXISTS container (
    name TEXT PRIMARY KEY, object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0, put_timestamp TEXT NOT NULL,
    last_modified TEXT NOT NULL, storage_policy TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stat (id INTEGER PRIMARY KEY CHECK (id = 0), created_at TEXT,
                                 put_timestamp TEXT);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""
CONTAINER_COLUMNS = "name, object_count, bytes_used, put_timestamp, last_modified, storage_policy"


class AccountDB:
    def __init__(self, path: Path):
        self.path = path

    def _conn(self, create: bool = False) -> _Conn | None:
        # Derivable from the container DBs (reconciled at start-up): NORMAL is enough.
        return _open(self.path, ACCOUNT_SCHEMA if create else None, "NORMAL")

    def ensure(self, ts: str) -> None:
        c = self._conn(create=True)
        with c.tx() as conn:
            if conn.execute("SELECT id FROM stat").fetchone() is None:
                conn.execute("INSERT INTO stat (id, created_at, put_timestamp) VALUES (0, ?, ?)", (ts, ts))

    def info(self) -> dict[str, Any] | None:
        c = self._conn()
        if c is None:
            return None
        with c.ro() as conn:
            stat = conn.execute("SELECT * FROM stat").fetchone()
            totals = conn.execute("SELECT COUNT(*), COALESCE(SUM(object_count), 0), "
                                  "COALESCE(SUM(bytes_used), 0) FROM container").fetchone()
            per_policy = conn.execute(
                "SELECT storage_policy, COUNT(*), COALESCE(SUM(object_count), 0), "
                "COALESCE(SUM(bytes_used), 0) FROM container GROUP BY storage_policy").fetchall()
            meta = {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}
        return {"created_at": stat["created_at"] if stat else None,
                "put_timestamp": stat["put_timestamp"] if stat else None,
                "container_count": totals[0], "object_count": totals[1], "bytes_used": totals[2],
                "policies": {r[0]: {"container_count": r[1], "object_count": r[2], "bytes_used": r[3]}
                             for r in per_policy},
                "meta": meta}

    def meta(self) -> dict[str, str]:
        c = self._conn()
        if c is None:
            return {}
        with c.ro() as conn:
            return {r["key"]: r["value"] for r in conn.execute("SELECT key, value FROM meta")}

    def set_meta(self, meta: dict[str, str]) -> None:
        c = self._conn(create=True)
        with c.tx() as conn:
            _apply_meta(conn, meta)

    def put_container(self, name: str, ts: str, last_modified: str, policy: str) -> None:
        c = self._conn(create=True)
        with c.tx() as conn:
            conn.execute("INSERT INTO container (name, put_timestamp, last_modified, storage_policy) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                         "put_timestamp = excluded.put_timestamp", (name, ts, last_modified, policy))

    def update_stats(self, name: str, object_count: int, bytes_used: int) -> None:
        c = self._conn()
        if c is None:
            return
        c.write(lambda conn: conn.execute(
            "UPDATE container SET object_count = ?, bytes_used = ? WHERE name = ?",
            (object_count, bytes_used, name)))

    def delete_container(self, name: str) -> None:
        c = self._conn()
        if c is None:
            return
        with c.tx() as conn:
            conn.execute("DELETE FROM container WHERE name = ?", (name,))

    def has_container(self, name: str) -> bool:
        c = self._conn()
        if c is None:
            return False
        with c.ro() as conn:
            return conn.execute("SELECT 1 FROM container WHERE name = ?", (name,)).fetchone() is not None

    def containers(self) -> list[str]:
        c = self._conn()
        if c is None:
            return []
        with c.ro() as conn:
            return [r[0] for r in conn.execute("SELECT name FROM container")]

    def list(self, **kw: Any) -> list[dict[str, Any]]:
        c = self._conn()
        if c is None:
            return []
        with c.ro() as conn:
            return _listing(conn, "container", CONTAINER_COLUMNS, **kw)
