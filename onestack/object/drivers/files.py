"""Objects as files on local devices: the ring, atomic writes, metadata, verified reads.

Layout (Swift's): ``<root>/devices/<dev>/objects/<partition>/<suffix>/<hash>/<ts>.data``
where ``hash`` is the MD5 of the secret-salted ``/account/container/object`` path, the
partition its top ``part_power`` bits and ``suffix`` its last three hex digits. Object
names never become file names, so no name (``../``, NUL, anything) can reach outside
the store.

One file holds both the bytes and their metadata: ``data || meta-json || footer`` with
a fixed 28-byte footer (data length, metadata length, magic). We chose a trailer over
xattrs because xattr size limits vary by filesystem (tmpfs, overlayfs) and over a
separate sidecar because a single rename then publishes data and metadata atomically.
A later metadata-only change (POST) is a ``<ts>.meta`` JSON file next to the data.

Writes: temp file in ``<dev>/tmp`` -> write while hashing -> footer -> rename into the
object directory -> fsync of the file, the directory and any directory created for it. The
caller commits the listing row only after that, so a crash leaves either an unlisted file
(never served, removed by the next write of the name or the sweep) or a durable, listed one.
Reads of whole objects check the MD5 against the stored ETag (corrupt files are moved
to ``<dev>/quarantined`` and never served).
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import struct
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

MAGIC = b"ONESTACKOBJ1"
FOOTER = struct.Struct(">QQ12s")


# Start writeback of a large object while it is still arriving, so that the final fsync only
# waits for the tail (Linux sync_file_range; a no-op where it is unavailable).
WRITEBACK_EVERY = 8 << 20
_SYNC_FILE_RANGE_WRITE = 2
try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _sync_file_range = _libc.sync_file_range
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
except (OSError, AttributeError):
    _sync_file_range = None


def start_writeback(fd: int, offset: int, length: int) -> None:
    if _sync_file_range is not None:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


class CorruptObject(Exception):
    """The file on disk does not match its recorded length or checksum."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs(path: Path) -> list[Path]:
    """mkdir -p; the directories this call created, outermost first."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    created = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        created.append(d)
    return created


def makedirs_durable(path: Path, fsync: bool) -> None:
    """mkdir -p, fsyncing each parent whose entry we created."""
    for d in makedirs(path):
        if fsync:
            fsync_dir(d.parent)


class Ring:
    """Partition -> devices with replicas (a static, deterministic assignment)."""

    def __init__(self, root: Path, devices: list[str], part_power: int, replicas: int,
                 secret: bytes):
        if not devices:
            raise ValueError("the object ring needs at least one device")
        self.root = root
        self.devices = devices
        self.part_power = part_power
        self.replicas = max(1, min(replicas, len(devices)))
        self.secret = secret

    def hash_path(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        path = "/" + "/".join(p for p in (account, container, obj) if p is not None)
        return hashlib.md5(self.secret + path.encode("utf-8") + self.secret).hexdigest()

    def partition(self, name_hash: str) -> int:
        return int(name_hash[:8], 16) >> (32 - self.part_power)

    def devices_for(self, part: int) -> list[Path]:
        n = len(self.devices)
        return [self.root / "devices" / self.devices[(part + i) % n] for i in range(self.replicas)]

    def locate(self, kind: str, account: str, container: str | None = None,
               obj: str | None = None) -> list[Path]:
        """The directories (one per replica) holding this account/container/object."""
        h = self.hash_path(account, container, obj)
        part = self.partition(h)
        return [dev / kind / str(part) / h[-3:] / h for dev in self.devices_for(part)]


class Writer:
    """Streams one object into a temp file per replica; commit() publishes it atomically."""

    def __init__(self, dirs: list[Path], fsync: bool):
        self.dirs = dirs
        self.fsync = fsync
        self.md5 = hashlib.md5()
        self.length = 0
        self.flushed = 0          # bytes whose writeback has been started
        self.tmp_paths: list[Path] = []
        self.files: list[Any] = []
        for d in dirs:
            tmpdir = d.parents[3] / "tmp"        # <dev>/tmp
            tmpdir.mkdir(parents=True, exist_ok=True)
            p = tmpdir / f"{uuid.uuid4().hex}.tmp"
            self.files.append(open(p, "xb", buffering=0))
            self.tmp_paths.append(p)

    def write(self, data: bytes) -> None:
        self.md5.update(data)
        self.length += len(data)
        for f in self.files:
            view = memoryview(data)
            while view:
                n = f.write(view)
                view = view[n:]
        if self.fsync and self.length - self.flushed >= WRITEBACK_EVERY:
            for f in self.files:
                start_writeback(f.fileno(), self.flushed, self.length - self.flushed)
            self.flushed = self.length

    @property
    def etag(self) -> str:
        return self.md5.hexdigest()

    def commit(self, ts: str, meta: dict[str, Any]) -> None:
        meta = {**meta, "etag": meta.get("etag") or self.etag, "length": self.length,
                "ts": ts, "data_etag": self.etag}
        blob = json.dumps(meta, separators=(",", ":")).encode()
        footer = FOOTER.pack(self.length, len(blob), MAGIC)
        # Every name change first, then the syncs: on a journalling filesystem the file's
        # fsync then commits the mkdirs and the rename with the data, and the directory
        # fsyncs that POSIX asks for find nothing left to do. Publishing the name before the
        # data is durable is safe here: the listing row (written only after this returns)
        # is what makes an object exist, and an unlisted file is never served.
        for f, tmp, d in zip(self.files, self.tmp_paths, self.dirs):
            f.write(blob + footer)
            created = makedirs(d)
            os.rename(tmp, d / f"{ts}.data")
            if self.fsync:
                os.fsync(f.fileno())
                fsync_dir(d)
                for c in reversed(created):
                    fsync_dir(c.parent)
            f.close()
        self.files = []

    def abort(self) -> None:
        for f in self.files:
            try:
                f.close()
            except OSError:
                pass
        for p in self.tmp_paths:
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        self.files = []


class Handle:
    """An open object file: its metadata and ranged, optionally verified, reads."""

    def __init__(self, path: Path):
        self.path = path
        self.f = open(path, "rb")
        try:
            size = os.fstat(self.f.fileno()).st_size
            if size < FOOTER.size:
                raise CorruptObject(f"{path}: truncated")
            self.f.seek(size - FOOTER.size)
            data_len, meta_len, magic = FOOTER.unpack(self.f.read(FOOTER.size))
            if magic != MAGIC or data_len + meta_len + FOOTER.size != size:
                raise CorruptObject(f"{path}: bad footer")
            self.f.seek(data_len)
            self.meta: dict[str, Any] = json.loads(self.f.read(meta_len))
            self.length = data_len
        except (ValueError, OSError, CorruptObject):
            self.f.close()
            raise CorruptObject(f"{path}: unreadable") from None

    def read_range(self, start: int, end: int, chunk: int = 262144) -> Iterator[bytes]:
        """Bytes [start, end) (unverified: a range cannot be checked against the whole ETag)."""
        self.f.seek(start)
        left = end - start
        while left > 0:
            data = self.f.read(min(chunk, left))
            if not data:
                raise CorruptObject(f"{self.path}: short read")
            left -= len(data)
            yield data

    def read_verified(self, chunk: int = 262144) -> Iterator[bytes]:
        """The whole object; raises CorruptObject (after quarantining) on a checksum mismatch."""
        md5 = hashlib.md5()
        for data in self.read_range(0, self.length, chunk):
            md5.update(data)
            yield data
        if md5.hexdigest() != self.meta.get("data_etag"):
            quarantine(self.path)
            raise CorruptObject(f"{self.path}: checksum mismatch")

    def read_all_verified(self) -> bytes:
        return b"".join(self.read_verified(max(self.length, 1)))

    def close(self) -> None:
        self.f.close()


def quarantine(path: Path) -> None:
    """Move a corrupt object file aside (``<dev>/quarantined``) so it is never served again."""
    try:
        dev = path.parents[4]
        qdir = dev / "quarantined"
        qdir.mkdir(parents=True, exist_ok=True)
        os.rename(path, qdir / f"{path.parent.name}-{path.name}")
    except (OSError, IndexError):
        pass


class FileStore:
    """The object store on this host's devices."""

    def __init__(self, ring: Ring, fsync: bool = True):
        self.ring = ring
        self.fsync = fsync

    def dirs(self, account: str, container: str, obj: str) -> list[Path]:
        return self.ring.locate("objects", account, container, obj)

    def writer(self, account: str, container: str, obj: str) -> Writer:
        return Writer(self.dirs(account, container, obj), self.fsync)

    def open(self, account: str, container: str, obj: str, ts: str) -> Handle | None:
        """The data file written at ``ts`` from the first replica that has a sound copy."""
        for d in self.dirs(account, container, obj):
            p = d / f"{ts}.data"
            try:
                return Handle(p)
            except FileNotFoundError:
                continue
            except CorruptObject:
                quarantine(p)
                continue
        return None

    def write_meta(self, account: str, container: str, obj: str, ts: str,
                   meta: dict[str, Any]) -> None:
        blob = json.dumps(meta, separators=(",", ":")).encode()
        for d in self.dirs(account, container, obj):
            makedirs_durable(d, self.fsync)
            tmp = d / f".{ts}.meta.{uuid.uuid4().hex[:8]}"
            with open(tmp, "xb") as f:
                f.write(blob)
                if self.fsync:
                    os.fsync(f.fileno())
            os.rename(tmp, d / f"{ts}.meta")
            if self.fsync:
                fsync_dir(d)

    def read_meta(self, account: str, container: str, obj: str, ts: str) -> dict[str, Any] | None:
        for d in self.dirs(account, container, obj):
            try:
                return json.loads((d / f"{ts}.meta").read_bytes())
            except (FileNotFoundError, ValueError):
                continue
        return None

    def remove_meta(self, account: str, container: str, obj: str, ts: str) -> None:
        for d in self.dirs(account, container, obj):
            try:
                os.unlink(d / f"{ts}.meta")
            except OSError:
                pass

    def cleanup(self, account: str, container: str, obj: str, before: str,
                inclusive: bool = False, keep: str | set[str] | None = None) -> None:
        """Remove this object's files older than ``before`` (best effort; newer ones are
        in-flight writes and stay; so do the ``keep`` stems: kept versions)."""
        keep = {keep} if isinstance(keep, str) else (keep or set())
        for d in self.dirs(account, container, obj):
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            left = 0
            for n in names:
                stem = n.rsplit(".", 1)[0]
                if n.startswith(".") or stem in keep or stem > before or (stem == before and not inclusive):
                    left += 1
                    continue
                try:
                    os.unlink(d / n)
                except OSError:
                    left += 1
            if not left:
                try:
                    os.rmdir(d)
                except OSError:
                    pass

    def remove(self, account: str, container: str, obj: str, stems: set[str]) -> None:
        """Remove this object's files with these timestamps (a deleted version)."""
        stems = {t for t in stems if t}
        if not stems:
            return
        for d in self.dirs(account, container, obj):
            for n in os.listdir(d) if d.exists() else []:
                if n.rsplit(".", 1)[0] in stems:
                    try:
                        os.unlink(d / n)
                    except OSError:
                        pass

    def link(self, s_account: str, s_container: str, s_obj: str, s_ts: str,
             account: str, container: str, obj: str, ts: str) -> None:
        """Copy an object's data file under a new name and timestamp: a hard link when the
        filesystem allows (instant, same bytes), else a byte copy; atomic either way."""
        sources = [d / f"{s_ts}.data" for d in self.dirs(s_account, s_container, s_obj)]
        sources = [p for p in sources if p.exists()]
        if not sources:
            raise FileNotFoundError(f"{s_account}/{s_container}/{s_obj}@{s_ts}")
        for d in self.dirs(account, container, obj):
            makedirs_durable(d, self.fsync)
            target = d / f"{ts}.data"
            tmp = d / f".{ts}.link.{uuid.uuid4().hex[:8]}"
            try:
                os.link(sources[0], tmp)
            except OSError:
                shutil.copyfile(sources[0], tmp)
                if self.fsync:
                    with open(tmp, "rb") as f:
                        os.fsync(f.fileno())
            os.rename(tmp, target)
            if self.fsync:
                fsync_dir(d)

    def sweep_tmp(self, older_than: float = 3600.0) -> None:
        """Delete temp files left by writes that never committed (a crash mid-PUT)."""
        now = time.time()
        for dev in self.ring.devices:
            tmpdir = self.ring.root / "devices" / dev / "tmp"
            if not tmpdir.exists():
                continue
            for p in tmpdir.iterdir():
                try:
                    if now - p.stat().st_mtime > older_than:
                        p.unlink()
                except OSError:
                    pass
