"""Object-storage business rules: accounts, containers, objects, versions, quotas, expiry.

No HTTP here: handlers (api/) translate headers into the plain values these functions
take, and their results into headers. Storage is drivers/files.py (object bytes and
metadata) and listing.py (per-account and per-container SQLite listing databases).

Write order for an object: data file durable (temp, fsync, rename, fsync dir) -> listing
row committed (the commit point) -> older files of that name removed. Account rows are
updated with the container's absolute totals after each change (idempotent; reconciled
at start-up), so account and container stats are exact.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import email.utils
import hashlib
import logging
import math
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool

from onestack import errors
from onestack.object import listing
from onestack.object import errors as oerr
from onestack.object.drivers.files import CorruptObject, FileStore, Handle, Ring

log = logging.getLogger(__name__)

DEFAULT_POLICY = "Policy-0"
WRITE_BUFFER = 1 << 20


class Backend:
    def __init__(self, settings: Any):
        c = settings.object
        self.conf = c
        self.root = Path(c.root).expanduser() if c.root else settings.state_dir / "object"
        self.root.mkdir(parents=True, exist_ok=True)
        secret_path = self.root / ".hash-secret"
        if not secret_path.exists():
            tmp = self.root / ".hash-secret.tmp"
            tmp.write_text(secrets.token_hex(16))
            os.replace(tmp, secret_path)
        secret = secret_path.read_text().strip().encode()
        devices = [d.strip() for d in c.devices.split(",") if d.strip()]
        for d in devices:
            (self.root / "devices" / d).mkdir(parents=True, exist_ok=True)
        self.ring = Ring(self.root, devices, c.part_power, c.replicas, secret)
        self.files = FileStore(self.ring, c.fsync)
        listing.SYNCHRONOUS = c.db_synchronous.upper()
        self.expirer_db = self.root / "expirer.db"
        self._exp_lock = threading.Lock()
        conn = sqlite3.connect(self.expirer_db, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS queue (delete_at INTEGER NOT NULL, account TEXT, "
                     "container TEXT, name TEXT, ts TEXT, PRIMARY KEY (account, container, name, ts))")
        conn.execute("CREATE INDEX IF NOT EXISTS queue_due ON queue (delete_at)")
        conn.execute("CREATE TABLE IF NOT EXISTS sync (account TEXT, container TEXT, to_account TEXT, "
                     "to_container TEXT, key TEXT, last_ts TEXT, PRIMARY KEY (account, container))")
        conn.commit()
        self._exp = conn
        self._exp_conn_lock = threading.Lock()

    def account_db(self, account: str) -> listing.AccountDB:
        d = self.ring.locate("accounts", account)[0]
        return listing.AccountDB(d / "account.db")

    def container_db(self, account: str, container: str) -> listing.ContainerDB:
        d = self.ring.locate("containers", account, container)[0]
        return listing.ContainerDB(d / "container.db")


_B: Backend | None = None


def setup(settings: Any) -> Backend:
    global _B
    listing.close_all()
    _B = Backend(settings)
    _B.files.sweep_tmp(older_than=0)
    reconcile()
    return _B


def backend() -> Backend:
    if _B is None:
        from onestack import conf
        return setup(conf.get())
    return _B


def limits() -> Any:
    return backend().conf


# ---------------------------------------------------------------- time

_ts_lock = threading.Lock()
_last_ts = 0.0


def new_ts() -> str:
    global _last_ts
    with _ts_lock:
        t = round(time.time(), 5)
        if t <= _last_ts:
            t = round(_last_ts + 0.00001, 5)
        _last_ts = t
    return f"{t:016.5f}"


def normalize_ts(ts: str) -> str:
    return f"{float(ts):.5f}"


def http_date(ts: str | float) -> str:
    return email.utils.formatdate(math.ceil(float(ts)), usegmt=True)


def iso_date(ts: str | float) -> str:
    return dt.datetime.fromtimestamp(float(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_tz(value)
    except (TypeError, ValueError):
        return None
    if parsed is None:
        return None
    try:
        return float(email.utils.mktime_tz(parsed))
    except (OverflowError, ValueError):
        return None


# ---------------------------------------------------------------- start-up

def reconcile() -> None:
    """Make every account's container rows agree with the container databases (after a crash)."""
    b = _B
    assert b is not None
    for dev in b.ring.devices:
        base = b.root / "devices" / dev / "accounts"
        if not base.exists():
            continue
        for db_path in base.glob("*/*/*/account.db"):
            adb = listing.AccountDB(db_path)
            account = _account_name_of(adb)
            if account is None:
                continue
            for name in adb.containers():
                cdb = b.container_db(account, name)
                if cdb.info() is None:
                    adb.delete_container(name)
                    continue
                count, used = cdb.recount()
                adb.update_stats(name, count, used)


def _account_name_of(adb: listing.AccountDB) -> str | None:
    info = adb.info()
    if info is None:
        return None
    return info["meta"].get("x-account-sysmeta-name")


# ---------------------------------------------------------------- accounts

def account_info(account: str) -> dict[str, Any]:
    info = backend().account_db(account).info()
    if info is None:
        ts = new_ts()
        return {"created_at": ts, "put_timestamp": ts, "container_count": 0, "object_count": 0,
                "bytes_used": 0, "policies": {}, "meta": {}, "exists": False}
    return {**info, "exists": True}


def _ensure_account(account: str) -> listing.AccountDB:
    adb = backend().account_db(account)
    if not adb.path.exists():
        adb.ensure(new_ts())
        adb.set_meta({"x-account-sysmeta-name": account})
    return adb


def set_account_meta(account: str, meta: dict[str, str]) -> None:
    _ensure_account(account).set_meta(meta)


def list_containers(account: str, **kw: Any) -> list[dict[str, Any]]:
    return backend().account_db(account).list(**kw)


# ---------------------------------------------------------------- containers

def container_info(account: str, container: str) -> dict[str, Any]:
    info = backend().container_db(account, container).info()
    if info is None:
        raise errors.NotFound()
    return info


def container_exists(account: str, container: str) -> bool:
    return backend().container_db(account, container).info() is not None


def create_container(account: str, container: str, meta: dict[str, str],
                     policy: str | None) -> bool:
    b = backend()
    adb = _ensure_account(account)
    cdb = b.container_db(account, container)
    existing = cdb.info()
    if existing is not None and policy and existing["storage_policy"] != policy:
        raise errors.Conflict("Cannot change a container's storage policy.")
    ts = new_ts()
    created = cdb.create(ts, policy or DEFAULT_POLICY, meta)
    info = cdb.info()
    adb.put_container(container, ts, iso_date(ts), info["storage_policy"] if info else DEFAULT_POLICY)
    return created


def set_container_meta(account: str, container: str, meta: dict[str, str]) -> None:
    cdb = backend().container_db(account, container)
    try:
        cdb.set_meta(meta)
    except FileNotFoundError:
        raise errors.NotFound() from None


def delete_container(account: str, container: str) -> None:
    b = backend()
    cdb = b.container_db(account, container)
    if cdb.info() is None:
        raise errors.NotFound()
    if not cdb.is_empty() or cdb.has_versions():
        raise oerr.ContainerNotEmpty()
    b.account_db(account).delete_container(container)
    cdb.drop()


def list_objects(account: str, container: str, **kw: Any) -> list[dict[str, Any]]:
    cdb = backend().container_db(account, container)
    if cdb.info() is None:
        raise errors.NotFound()
    return cdb.list(**kw)


def _sync_account(account: str, container: str, cdb: listing.ContainerDB) -> None:
    info = cdb.info()
    if info is not None:
        backend().account_db(account).update_stats(container, info["object_count"], info["bytes_used"])


# ---------------------------------------------------------------- objects

@dataclasses.dataclass
class ObjectInfo:
    account: str
    container: str
    name: str
    row: dict[str, Any]
    headers: dict[str, str]          # stored headers: content-type, x-object-meta-*, ...
    handle: Handle | None = None

    @property
    def ts(self) -> str:
        return self.row["meta_ts"] or self.row["ts"]

    @property
    def data_ts(self) -> str:
        return self.row["ts"]

    @property
    def length(self) -> int:
        return self.handle.length if self.handle else int(self.headers.get("x-object-sysmeta-length", 0))

    @property
    def data_etag(self) -> str:
        return self.handle.meta["data_etag"] if self.handle else self.row["etag"]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/octet-stream")

    @property
    def is_slo(self) -> bool:
        return self.headers.get("x-static-large-object", "").lower() == "true"

    @property
    def dlo_manifest(self) -> str | None:
        return self.headers.get("x-object-manifest")

    @property
    def symlink_target(self) -> str | None:
        return self.headers.get("x-symlink-target")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def open_object(account: str, container: str, name: str) -> ObjectInfo:
    """The current version of an object (data file open) or NotFound."""
    b = backend()
    cdb = b.container_db(account, container)
    row = cdb.get_object(name)
    if row is None:
        raise errors.NotFound()
    if row["delete_at"] is not None and row["delete_at"] <= time.time():
        raise errors.NotFound()
    handle = b.files.open(account, container, name, row["ts"])
    if handle is None:
        # listed but no sound copy: never serve it; drop the row so listings agree
        if cdb.delete_object(name, ts=row["ts"]) is not None:
            _sync_account(account, container, cdb)
        raise errors.NotFound()
    headers = dict(handle.meta.get("headers", {}))
    if row["meta_ts"]:
        posted = b.files.read_meta(account, container, name, row["meta_ts"])
        if posted is not None:
            headers = posted
    return ObjectInfo(account, container, name, row, headers, handle)


def object_exists(account: str, container: str, name: str) -> bool:
    row = backend().container_db(account, container).get_object(name)
    return row is not None and not (row["delete_at"] is not None and row["delete_at"] <= time.time())


def _listing_values(headers: dict[str, str], size: int, etag: str) -> tuple[int, str]:
    """What the container listing shows for an object (SLOs show their total size/etag)."""
    if headers.get("x-static-large-object", "").lower() == "true":
        return (int(headers.get("x-object-sysmeta-slo-size", size)),
                headers.get("x-object-sysmeta-s3-etag") or headers.get("x-object-sysmeta-slo-etag", etag))
    return size, etag


def listing_content_type(account: str, headers: dict[str, str]) -> str:
    """The content type a listing row records; a symlink's target rides along as parameters
    (as Swift does) so listings can show ``symlink_path`` without opening the object."""
    ct = headers.get("content-type", "application/octet-stream")
    target = headers.get("x-symlink-target")
    if target:
        ct += f";symlink_target={target};symlink_target_account=" \
              f"{headers.get('x-symlink-target-account', account)}"
    return ct


def _check_container(account: str, container: str) -> dict[str, Any]:
    info = backend().container_db(account, container).info()
    if info is None:
        raise errors.NotFound()
    return info


def check_quotas(account: str, container: str, cinfo: dict[str, Any], adding: int,
                 new_object: bool = True) -> None:
    """Container quotas (X-Container-Meta-Quota-*) and the account quota (413 when over)."""
    meta = cinfo["meta"]
    qb = meta.get("x-container-meta-quota-bytes")
    if qb and qb.isdigit() and cinfo["bytes_used"] + adding > int(qb):
        raise errors.RequestEntityTooLarge("Upload exceeds quota.")
    qc = meta.get("x-container-meta-quota-count")
    if new_object and qc and qc.isdigit() and cinfo["object_count"] + 1 > int(qc):
        raise errors.RequestEntityTooLarge("Upload exceeds quota.")
    adb = backend().account_db(account)
    am = adb.meta()
    if any(k.startswith(("x-account-meta-quota-", "x-account-sysmeta-quota-")) for k in am):
        ainfo = adb.info()
        assert ainfo is not None
        for key in ("x-account-meta-quota-bytes", "x-account-sysmeta-quota-bytes"):
            aq = am.get(key)
            if aq and aq.isdigit() and ainfo["bytes_used"] + adding > int(aq):
                raise errors.RequestEntityTooLarge("Upload exceeds quota.")
        ac = am.get("x-account-sysmeta-quota-count")
        if new_object and ac and ac.isdigit() and ainfo["object_count"] + 1 > int(ac):
            raise errors.RequestEntityTooLarge("Upload exceeds quota.")
        pol = ainfo["policies"].get(cinfo["storage_policy"], {})
        pq = am.get("x-account-sysmeta-quota-bytes-policy-" + cinfo["storage_policy"].lower())
        if pq and pq.isdigit() and pol.get("bytes_used", 0) + adding > int(pq):
            raise errors.RequestEntityTooLarge("Upload exceeds policy quota.")


async def put_object(account: str, container: str, name: str, body: AsyncIterator[bytes],
                     headers: dict[str, str], *, length: int | None = None,
                     expected_etag: str | None = None, delete_at: int | None = None,
                     check_quota: bool = True) -> ObjectInfo:
    """Stream ``body`` into a new version of the object; publish it; return its info.

    A body that ends within the first WRITE_BUFFER bytes is stored with one hop to a worker
    thread (check, write, fsync, publish). A larger one is streamed: while the event loop
    receives block N+1, a worker thread hashes and writes block N (hashlib and write()
    release the GIL, so receiving and hashing use both cores)."""
    b = backend()
    limit = b.conf.max_file_size
    if check_quota and length is not None and length > WRITE_BUFFER:
        cinfo = await run_in_threadpool(_check_container, account, container)
        await run_in_threadpool(check_quotas, account, container, cinfo, length)
    it = body.__aiter__()
    head: list[bytes] = []
    total = 0
    ended = False
    while total < WRITE_BUFFER:
        try:
            chunk = await it.__anext__()
        except StopAsyncIteration:
            ended = True
            break
        total += len(chunk)
        if total > limit or (length is not None and total > length):
            raise errors.RequestEntityTooLarge("Your request is too large.")
        head.append(chunk)
    if ended:
        return await run_in_threadpool(_put_whole, account, container, name, b"".join(head),
                                       headers, length, expected_etag, delete_at, check_quota)
    cinfo = await run_in_threadpool(_check_container, account, container)
    writer = await run_in_threadpool(b.files.writer, account, container, name)
    pending: asyncio.Future | None = None
    try:
        async def flush(data: bytes) -> None:
            nonlocal pending
            if pending is not None:
                await pending
            pending = asyncio.ensure_future(run_in_threadpool(writer.write, data))

        await flush(b"".join(head))
        buf: list[bytes] = []
        pending_bytes = 0
        async for chunk in it:
            total += len(chunk)
            if total > limit or (length is not None and total > length):
                raise errors.RequestEntityTooLarge("Your request is too large.")
            buf.append(chunk)
            pending_bytes += len(chunk)
            if pending_bytes >= WRITE_BUFFER:
                data = b"".join(buf)
                buf, pending_bytes = [], 0
                await flush(data)
        if buf:
            await flush(b"".join(buf))
        if pending is not None:
            await pending
        pending = None
        return await run_in_threadpool(_finish, account, container, name, writer, cinfo, headers,
                                       length, expected_etag, delete_at, check_quota and length is None)
    except BaseException:
        if pending is not None:
            with contextlib.suppress(BaseException):
                await pending
        writer.abort()
        raise


def _put_whole(account: str, container: str, name: str, data: bytes, headers: dict[str, str],
               length: int | None, expected_etag: str | None, delete_at: int | None,
               check_quota: bool) -> ObjectInfo:
    """A body already in memory: check, write, make durable and publish in this thread."""
    if length is not None and len(data) != length:
        raise oerr.ClientDisconnect()
    cinfo = _check_container(account, container)
    if check_quota:
        check_quotas(account, container, cinfo, len(data))
    writer = backend().files.writer(account, container, name)
    try:
        writer.write(data)
        return _finish(account, container, name, writer, cinfo, headers, length, expected_etag,
                       delete_at, False, fresh=True)
    except BaseException:
        writer.abort()
        raise


def _finish(account: str, container: str, name: str, writer: Any, cinfo: dict[str, Any],
            headers: dict[str, str], length: int | None, expected_etag: str | None,
            delete_at: int | None, check_quota: bool, fresh: bool = False) -> ObjectInfo:
    """Checks after the body is written, then publish (``fresh``: ``cinfo`` was read for
    this request just now and can stand for the container at commit time)."""
    if length is not None and writer.length != length:
        raise oerr.ClientDisconnect()
    if expected_etag and expected_etag.strip('"').lower() != writer.etag:
        raise oerr.ChecksumMismatch()
    if check_quota:
        check_quotas(account, container, cinfo, writer.length)
    return _commit(account, container, name, writer, headers, delete_at, cinfo if fresh else None)


async def put_bytes(account: str, container: str, name: str, data: bytes,
                    headers: dict[str, str], **kw: Any) -> ObjectInfo:
    async def one() -> AsyncIterator[bytes]:
        yield data
    return await put_object(account, container, name, one(), headers, length=len(data), **kw)


def _commit(account: str, container: str, name: str, writer: Any, headers: dict[str, str],
            delete_at: int | None, cinfo: dict[str, Any] | None = None) -> ObjectInfo:
    ts = new_ts()
    headers = {**headers, "x-object-sysmeta-length": str(writer.length)}
    writer.commit(ts, {"headers": headers})
    size, etag = _listing_values(headers, writer.length, writer.etag)
    row = {"name": name, "ts": ts, "meta_ts": None, "size": size,
           "content_type": listing_content_type(account, headers),
           "etag": etag, "last_modified": iso_date(ts), "delete_at": delete_at}
    row = _publish(account, container, name, row, cinfo=cinfo)
    return ObjectInfo(account, container, name, row, headers)


def _publish(account: str, container: str, name: str, row: dict[str, Any],
             archive: bool = True, cinfo: dict[str, Any] | None = None) -> dict[str, Any]:
    """Commit the listing row (``cinfo``: the container's info read moments ago, else fresh);
    the row as committed (with its version id in a versioned container)."""
    b = backend()
    cdb = b.container_db(account, container)
    cinfo = cinfo or cdb.info()
    if cinfo is None:
        b.files.cleanup(account, container, name, before=row["ts"], inclusive=True)
        raise errors.NotFound()
    if archive:
        _archive_current(account, container, name, cinfo, deleting=False)
    mode = versions_mode(cinfo)
    if mode is not None:
        row = {**row, "vid": normalize_ts(row["ts"]) if mode == "enabled" else "null"}
    try:
        prev, (count, used) = cdb.put_object(row, keep_old={"enabled": "all", "disabled": "versioned"}
                                             .get(mode or ""))
    except FileNotFoundError:      # the container went away meanwhile
        b.files.cleanup(account, container, name, before=row["ts"], inclusive=True)
        raise errors.NotFound() from None
    if mode is not None:
        # a versioned container removes exactly the files no row refers to any more
        if prev is not None and prev["dead"]:
            b.files.remove(account, container, name, prev["dead"])
        if prev is not None and prev.get("superseded"):
            return row
    elif prev is not None and prev.get("superseded"):
        b.files.cleanup(account, container, name, before=row["ts"], inclusive=True,
                        keep={prev["ts"], prev["meta_ts"] or ""})
        return row
    else:
        b.files.cleanup(account, container, name, before=row["ts"])
    b.account_db(account).update_stats(container, count, used)
    if row.get("delete_at"):
        _enqueue_expiry(account, container, name, row["ts"], row["delete_at"])
    return row


def post_object(account: str, container: str, name: str, headers: dict[str, str],
                delete_at: int | None | bool = False) -> ObjectInfo:
    """Replace the object's metadata (fast-POST: a .meta file, data untouched)."""
    b = backend()
    info = open_object(account, container, name)
    info.close()
    ts = new_ts()
    b.files.write_meta(account, container, name, ts, headers)
    values: dict[str, Any] = {"meta_ts": ts, "content_type": listing_content_type(account, headers)
                              if "content-type" in headers else info.row["content_type"],
                              "last_modified": iso_date(ts)}
    if delete_at is not False:
        values["delete_at"] = delete_at
    cdb = b.container_db(account, container)
    cdb.update_object(name, **values)
    if info.row["meta_ts"]:
        b.files.remove_meta(account, container, name, info.row["meta_ts"])
    if delete_at:
        _enqueue_expiry(account, container, name, info.row["ts"], int(delete_at))
    row = {**info.row, **values}
    return ObjectInfo(account, container, name, row, headers)


def delete_object(account: str, container: str, name: str, *, versioning: bool = True,
                  if_ts: str | None = None) -> dict[str, Any]:
    """Delete (or, with stack-mode versioning, restore the previous version); the old row."""
    b = backend()
    cdb = b.container_db(account, container)
    cinfo = cdb.info()
    if cinfo is None:
        raise errors.NotFound()
    mode = versions_mode(cinfo)
    if versioning and mode is None:
        restored = _versioned_delete(account, container, name, cinfo)
        if restored is not None:
            return restored
    if versioning and mode is not None and if_ts is None:
        # enabled: the current version is kept and a delete marker written; disabled: a
        # current version with an id is kept (a "null" one is simply deleted)
        marker = None
        if mode == "enabled":
            mts = new_ts()
            marker = {"ts": mts, "vid": normalize_ts(mts), "meta_ts": None, "size": 0,
                      "content_type": DELETE_MARKER_CONTENT_TYPE, "etag": EMPTY_ETAG,
                      "last_modified": iso_date(mts)}
        old, (count, used) = cdb.delete_versioned(name, marker)
        if old is None:
            raise errors.NotFound()
        b.files.remove(account, container, name, old["dead"])
        b.account_db(account).update_stats(container, count, used)
        return {**old, "marker_vid": marker["vid"] if marker else None}
    old = cdb.delete_object(name, ts=if_ts)
    if old is None:
        raise errors.NotFound()
    if mode is not None:       # exactly this row's files: older versions may be in flight
        b.files.remove(account, container, name, {t for t in (old["ts"], old["meta_ts"]) if t})
    else:
        b.files.cleanup(account, container, name, before=new_ts())
    _sync_account(account, container, cdb)
    return old


def copy_object(src: ObjectInfo, account: str, container: str, name: str,
                headers: dict[str, str], delete_at: int | None = None,
                archive: bool = True, keep_ts: bool = False) -> ObjectInfo:
    """Server-side copy of a plain object's bytes (a hard link) with ``headers`` as metadata
    (``keep_ts``: the copy keeps the source's timestamp, as container sync does)."""
    b = backend()
    cinfo = _check_container(account, container)
    check_quotas(account, container, cinfo, src.length)
    ts = src.ts if keep_ts else new_ts()
    b.files.link(src.account, src.container, src.name, src.data_ts, account, container, name, ts)
    headers = {**headers, "x-object-sysmeta-length": str(src.length)}
    trailer = src.handle.meta.get("headers", {}) if src.handle else {}
    meta_ts = None
    if headers != trailer:
        b.files.write_meta(account, container, name, ts, headers)
        meta_ts = ts
    size, etag = _listing_values(headers, src.length, src.data_etag)
    row = {"name": name, "ts": ts, "meta_ts": meta_ts, "size": size,
           "content_type": listing_content_type(account, headers),
           "etag": etag, "last_modified": iso_date(ts), "delete_at": delete_at}
    row = _publish(account, container, name, row, archive=archive)
    return ObjectInfo(account, container, name, row, headers)


# ---------------------------------------------------------------- versioning (X-Versions-Enabled)

DELETE_MARKER_CONTENT_TYPE = "application/x-deleted;swift_versions_deleted=1"
EMPTY_ETAG = hashlib.md5(b"").hexdigest()
VERSIONS_SYSMETA = "x-container-sysmeta-versions-enabled"


def versions_mode(cinfo: dict[str, Any]) -> str | None:
    """"enabled", "disabled" (was enabled once: versions stay reachable) or None."""
    v = cinfo["meta"].get(VERSIONS_SYSMETA)
    if v is None:
        return None
    return "enabled" if v == "True" else "disabled"


def parse_version_id(vid: str) -> str:
    """A version id ("null" or a timestamp) in its stored form, or BadRequest."""
    if vid == "null":
        return vid
    try:
        t = float(vid)
    except ValueError:
        t = -1.0
    if not math.isfinite(t) or t <= 0 or not vid[:1].isdigit():
        raise errors.BadRequest("Invalid version-id")
    return normalize_ts(vid)


def _current_matches(row: dict[str, Any] | None, vid: str) -> bool:
    return row is not None and (row["vid"] or "null") == vid


def open_version(account: str, container: str, name: str, vid: str) -> ObjectInfo:
    """The object as it was at version ``vid`` (NotFound for a delete marker or none)."""
    b = backend()
    vid = parse_version_id(vid)
    cdb = b.container_db(account, container)
    if cdb.info() is None:
        raise errors.NotFound()
    if _current_matches(cdb.get_object(name), vid):
        return open_object(account, container, name)
    row = cdb.get_version(name, vid)
    if row is None or row["marker"]:
        raise errors.NotFound()
    handle = b.files.open(account, container, name, row["ts"])
    if handle is None:
        raise errors.NotFound()
    headers = dict(handle.meta.get("headers", {}))
    if row["meta_ts"]:
        headers = b.files.read_meta(account, container, name, row["meta_ts"]) or headers
    return ObjectInfo(account, container, name, {**row, "delete_at": None}, headers, handle)


def delete_version(account: str, container: str, name: str, vid: str) -> dict[str, Any]:
    """Remove one version for good (no delete marker); the current one takes its data with it
    and the name then answers 404 (as upstream). The removed row."""
    b = backend()
    vid = parse_version_id(vid)
    cdb = b.container_db(account, container)
    if cdb.info() is None:
        raise errors.NotFound()
    cur = cdb.get_object(name)
    if _current_matches(cur, vid):
        return delete_object(account, container, name, versioning=False, if_ts=cur["ts"])
    row = cdb.get_version(name, vid)
    if row is None:
        raise errors.NotFound()
    removed = cdb.delete_version(name, row["ts"])
    if removed is None:
        raise errors.NotFound()
    still = cdb.version_stems(name) | ({cur["ts"], cur["meta_ts"] or ""} if cur else set())
    b.files.remove(account, container, name, {row["ts"], row["meta_ts"] or ""} - still)
    return removed


def list_versions(account: str, container: str, **kw: Any) -> list[dict[str, Any]]:
    cdb = backend().container_db(account, container)
    if cdb.info() is None:
        raise errors.NotFound()
    return cdb.list_versions(**kw)


# ---------------------------------------------------------------- versioning (legacy)

def _versions_config(cinfo: dict[str, Any]) -> tuple[str | None, str | None]:
    meta = cinfo["meta"]
    loc = meta.get("x-versions-location")
    if loc:
        return "stack", loc
    loc = meta.get("x-history-location")
    if loc:
        return "history", loc
    return None, None


def version_prefix(name: str) -> str:
    return f"{len(name.encode('utf-8')):03x}{name}/"


def _archive_current(account: str, container: str, name: str, cinfo: dict[str, Any],
                     deleting: bool) -> None:
    mode, loc = _versions_config(cinfo)
    if mode is None:
        return
    try:
        cur = open_object(account, container, name)
    except errors.NotFound:
        return
    try:
        if not container_exists(account, loc):
            if deleting:
                raise errors.PreconditionFailed("The versions container does not exist.")
            return
        vname = version_prefix(name) + normalize_ts(cur.ts)
        copy_object(cur, account, loc, vname, cur.headers)
    finally:
        cur.close()


def _versioned_delete(account: str, container: str, name: str,
                      cinfo: dict[str, Any]) -> dict[str, Any] | None:
    mode, loc = _versions_config(cinfo)
    if mode is None:
        return None
    b = backend()
    cdb = b.container_db(account, container)
    if mode == "history":
        _archive_current(account, container, name, cinfo, deleting=True)
        return None
    # stack mode: the newest archived version replaces the current object
    if not container_exists(account, loc):
        return None
    versions = list_objects(account, loc, prefix=version_prefix(name), reverse=True, limit=10)
    current = cdb.get_object(name)
    for v in versions:
        try:
            prev = open_object(account, loc, v["name"])
        except errors.NotFound:
            continue
        try:
            copy_object(prev, account, container, name, prev.headers, archive=False)
        finally:
            prev.close()
        try:
            delete_object(account, loc, v["name"], versioning=False)
        except errors.NotFound:
            pass
        return current or {"name": name}
    return None


# ---------------------------------------------------------------- expiry

def _enqueue_expiry(account: str, container: str, name: str, ts: str, delete_at: int) -> None:
    b = backend()
    with b._exp_conn_lock:
        b._exp.execute("INSERT OR REPLACE INTO queue (delete_at, account, container, name, ts) "
                       "VALUES (?, ?, ?, ?, ?)", (int(delete_at), account, container, name, ts))
        b._exp.commit()


def run_expirer() -> int:
    """Delete every object past its X-Delete-At (the periodic job); returns how many."""
    b = backend()
    now = int(time.time())
    with b._exp_conn_lock:
        due = b._exp.execute("SELECT delete_at, account, container, name, ts FROM queue "
                             "WHERE delete_at <= ? ORDER BY delete_at LIMIT 1000", (now,)).fetchall()
    done = 0
    for delete_at, account, container, name, ts in due:
        cdb = b.container_db(account, container)
        row = cdb.get_object(name)
        if row is not None and row["ts"] == ts and row["delete_at"] is not None \
                and row["delete_at"] <= now:
            try:
                delete_object(account, container, name, versioning=False, if_ts=ts)
                done += 1
            except errors.NotFound:
                pass
        with b._exp_conn_lock:
            b._exp.execute("DELETE FROM queue WHERE account = ? AND container = ? AND name = ? "
                           "AND ts = ? AND delete_at = ?", (account, container, name, ts, delete_at))
            b._exp.commit()
    return done


# ---------------------------------------------------------------- reads

def iter_object(info: ObjectInfo, start: int = 0, end: int | None = None,
                close: bool = True) -> Iterator[bytes]:
    """Bytes of a plain object: the whole object is checksum-verified, a range is not."""
    h = info.handle
    assert h is not None
    end = h.length if end is None else end
    try:
        if start == 0 and end == h.length:
            yield from h.read_verified()
        else:
            yield from h.read_range(start, end)
    finally:
        if close:
            h.close()


def read_small(info: ObjectInfo) -> bytes:
    """A whole plain object, verified before anything is sent (NotFound if corrupt)."""
    h = info.handle
    assert h is not None
    try:
        return h.read_all_verified()
    except CorruptObject:
        cdb = backend().container_db(info.account, info.container)
        if cdb.delete_object(info.name, ts=info.data_ts) is not None:
            _sync_account(info.account, info.container, cdb)
        raise errors.NotFound() from None
    finally:
        h.close()


# ---------------------------------------------------------------- container sync

def sync_target(value: str) -> tuple[str, str] | None:
    """(account, container) of an X-Container-Sync-To on this cluster:
    ``//realm/cluster/AUTH_x/container`` or a URL ending in ``/v1/AUTH_x/container``."""
    v = value.strip()
    if v.startswith("//"):
        parts = v[2:].split("/")
        if len(parts) == 4 and all(parts):
            return parts[2], parts[3]
        return None
    if "/v1/" in v:
        tail = v.split("/v1/", 1)[1].strip("/").split("/")
        if len(tail) == 2 and all(tail):
            return tail[0], tail[1]
    return None


def register_sync(account: str, container: str, meta: dict[str, str]) -> None:
    """Record (or drop) a container's sync target; the periodic job does the copying."""
    b = backend()
    info = container_info(account, container)["meta"]
    to = info.get("x-container-sync-to")
    target = sync_target(to) if to else None
    with b._exp_conn_lock:
        if target is None:
            b._exp.execute("DELETE FROM sync WHERE account = ? AND container = ?", (account, container))
        else:
            b._exp.execute("INSERT INTO sync (account, container, to_account, to_container, key, last_ts) "
                           "VALUES (?, ?, ?, ?, ?, '') ON CONFLICT(account, container) DO UPDATE SET "
                           "to_account = excluded.to_account, to_container = excluded.to_container, "
                           "key = excluded.key", (account, container, target[0], target[1],
                                                  info.get("x-container-sync-key", "")))
        b._exp.commit()


def run_container_sync() -> int:
    """Copy objects written since the last pass to each sync target whose
    X-Container-Sync-Key matches (periodic job; deletions are not propagated)."""
    b = backend()
    with b._exp_conn_lock:
        rows = b._exp.execute("SELECT account, container, to_account, to_container, key, last_ts "
                              "FROM sync").fetchall()
    copied = 0
    for account, container, to_account, to_container, key, last_ts in rows:
        src = b.container_db(account, container)
        dst = b.container_db(to_account, to_container)
        if src.info() is None:
            with b._exp_conn_lock:
                b._exp.execute("DELETE FROM sync WHERE account = ? AND container = ?", (account, container))
                b._exp.commit()
            continue
        dinfo = dst.info()
        if dinfo is None or dinfo["meta"].get("x-container-sync-key", "") != key:
            continue
        newest = last_ts
        marker = ""
        while True:
            page = src.list(marker=marker, limit=1000)
            if not page:
                break
            for r in page:
                ts = r["meta_ts"] or r["ts"]
                newest = max(newest, ts)
                if ts <= last_ts:
                    continue
                cur = dst.get_object(r["name"])
                if cur is not None and (cur["meta_ts"] or cur["ts"]) >= ts:
                    continue
                try:
                    info = open_object(account, container, r["name"])
                except errors.NotFound:
                    continue
                try:
                    copy_object(info, to_account, to_container, r["name"], info.headers,
                                r["delete_at"], archive=False, keep_ts=True)
                    copied += 1
                except errors.OpenStackError:
                    pass
                finally:
                    info.close()
            marker = page[-1]["name"]
        if newest != last_ts:
            with b._exp_conn_lock:
                b._exp.execute("UPDATE sync SET last_ts = ? WHERE account = ? AND container = ?",
                               (newest, account, container))
                b._exp.commit()
    return copied
