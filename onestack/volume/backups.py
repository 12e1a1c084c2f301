"""Backups: a content-addressed chunk store over one of two places ("backup drivers").

A volume is read in 4 MiB chunks; all-zero chunks are recorded as holes, every other
chunk is stored once under ``chunks/<sha256>``. A backup is a manifest
(``manifests/<backup_id>.json``) listing its chunks. Because chunks are shared, an
incremental backup stores only the chunks that changed since its parent; deleting a
backup removes the chunks no other manifest references; restore verifies every chunk.

Crash safety: a backup in progress keeps a partial manifest (``"partial": true``) that names
every chunk it is about to store *before* storing it (write-ahead), so the chunks of a backup
that dies (``kill -9``) are always named by its manifest; failing or deleting the backup
removes that manifest and sweeps every chunk no manifest names (and, in a directory store,
temp files of dead processes). Backups hold a shared lock on the store while they run and a
sweep an exclusive one, so a sweep never takes a chunk a running backup counts on.

Where the blobs live:
- ``posix`` (default): a directory (temp file + fsync + rename per blob);
- ``object``: a container of onestack's object service in the volume owner's account
  (through onestack/object/interface.py), so the backup's container shows in
  ``openstack container list`` and its chunks are ordinary objects.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Iterator

CHUNK = 4 << 20
_ZERO = bytes(CHUNK)
# New chunks held in memory before the partial manifest naming them is written (then stored).
WRITE_AHEAD = 4
# What export_record calls each driver (upstream's class paths: Tempest checks the prefix).
SERVICE_NAMES = {"posix": "cinder.backup.drivers.posix", "object": "cinder.backup.drivers.swift"}


def _allocated_chunks(fd: int, size: int) -> set[int]:
    """Indexes of the chunks that hold data (SEEK_DATA/SEEK_HOLE), so holes in sparse
    volumes are never read. Falls back to "every chunk" where seeking is unsupported."""
    out: set[int] = set()
    pos = 0
    try:
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break  # ENXIO: no data after pos
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.update(range(start // CHUNK, -(-end // CHUNK)))
            pos = end
    except (AttributeError, OSError):
        return set(range(-(-size // CHUNK)))
    return out


class DirBlobs:
    """Blobs as files under a directory."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if name.startswith("chunks/"):  # fan out: chunks/<first two hex digits>/<digest>
            digest = name[len("chunks/"):]
            return self.root / "chunks" / digest[:2] / digest
        return self.root / name

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def remove_stale_temp(self) -> int:
        """Remove ``.tmp-<name>-<pid>`` files left by processes that are gone."""
        removed = 0
        for tmp in self.root.glob("**/.tmp-*"):
            try:
                pid = int(tmp.name.rsplit("-", 1)[1])
                os.kill(pid, 0)
                continue  # its writer is alive
            except (ValueError, IndexError, ProcessLookupError):
                pass
            except PermissionError:
                continue
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    def names(self, prefix: str) -> Iterable[str]:
        if prefix == "manifests/":
            d = self.root / "manifests"
            return [f"manifests/{p.name}" for p in d.glob("*.json")] if d.is_dir() else []
        d = self.root / "chunks"
        return [f"chunks/{p.name}" for sub in d.iterdir() if sub.is_dir()
                for p in sub.iterdir() if not p.name.startswith(".tmp-")] if d.is_dir() else []


class ObjectBlobs:
    """Blobs as objects in one container of onestack's object service."""

    def __init__(self, project_id: str, container: str):
        from onestack.object import interface as obj
        self.obj = obj
        self.project_id = project_id
        self.container = container
        self._ready = False

    def put(self, name: str, data: bytes) -> None:
        if not self._ready:
            self.obj.ensure_container(self.project_id, self.container)
            self._ready = True

        async def body() -> AsyncIterator[bytes]:
            yield data
        asyncio.run(self.obj.put_object(self.project_id, self.container, name, body(),
                                        length=len(data)))

    def get(self, name: str) -> bytes:
        from onestack import errors
        try:
            _, chunks = self.obj.get_object(self.project_id, self.container, name)
        except errors.NotFound:
            raise FileNotFoundError(f"object {self.container}/{name} is missing") from None
        return b"".join(chunks)

    def exists(self, name: str) -> bool:
        return name in set(self.obj.list_object_names(self.project_id, self.container, name))

    def delete(self, name: str) -> None:
        self.obj.delete_object(self.project_id, self.container, name)

    def names(self, prefix: str) -> Iterable[str]:
        return self.obj.list_object_names(self.project_id, self.container, prefix)


class ChunkStore:
    def __init__(self, blobs: Any, lock_path: Path | None = None):
        self.blobs = blobs
        self.lock_path = lock_path

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        """Shared while a backup writes, exclusive while chunks are swept (one open file
        per holder: flock locks belong to the open file, so threads exclude each other)."""
        if self.lock_path is None:
            yield
            return
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def backup(self, backup_id: str, source: Path, parent_id: str | None = None,
               volume_metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """Store ``source``; returns the manifest (with how many chunks were new). The
        volume's metadata travels in the manifest and comes back on restore."""
        with self._lock(exclusive=False):
            return self._backup(backup_id, source, parent_id, volume_metadata)

    def _backup(self, backup_id: str, source: Path, parent_id: str | None,
                volume_metadata: dict[str, str] | None) -> dict[str, Any]:
        chunks: list[str | None] = []
        new = 0
        size = source.stat().st_size
        known = set(self.blobs.names("chunks/"))
        pending: list[tuple[str, bytes]] = []

        def flush() -> None:
            # write-ahead: the partial manifest names the chunks before they are stored
            self.put_manifest(backup_id, {"backup_id": backup_id, "partial": True,
                                          "chunks": [d for d in chunks if d]})
            for digest, data in pending:
                self.blobs.put(f"chunks/{digest}", data)
            pending.clear()

        with open(source, "rb") as f:
            allocated = _allocated_chunks(f.fileno(), size)
            for index in range(-(-size // CHUNK)):
                if index not in allocated:
                    chunks.append(None)  # a hole: nothing to read
                    continue
                f.seek(index * CHUNK)
                data = f.read(CHUNK)
                if data == _ZERO[:len(data)]:
                    chunks.append(None)
                    continue
                digest = hashlib.sha256(data).hexdigest()
                if f"chunks/{digest}" not in known:
                    pending.append((digest, data))
                    known.add(f"chunks/{digest}")
                    new += 1
                chunks.append(digest)
                if len(pending) >= WRITE_AHEAD:
                    flush()
        if pending:
            flush()
        manifest = {"backup_id": backup_id, "parent_id": parent_id, "size": size, "chunk_size": CHUNK,
                    "chunks": chunks, "new_chunks": new, "volume_metadata": dict(volume_metadata or {})}
        self.put_manifest(backup_id, manifest)
        return manifest

    def put_manifest(self, backup_id: str, manifest: dict[str, Any]) -> None:
        self.blobs.put(f"manifests/{backup_id}.json", json.dumps(manifest).encode())

    def manifest(self, backup_id: str) -> dict[str, Any]:
        man = json.loads(self.blobs.get(f"manifests/{backup_id}.json"))
        if man.get("partial"):
            raise FileNotFoundError(f"backup {backup_id} was never completed")
        return man

    def missing_chunks(self, manifest: dict[str, Any]) -> list[str]:
        known = set(self.blobs.names("chunks/"))
        return [d for d in manifest["chunks"] if d and f"chunks/{d}" not in known]

    def restore(self, backup_id: str, dest: Path) -> dict[str, Any]:
        """Write the backup's content over ``dest`` (a raw file at least as large); returns
        the manifest."""
        man = self.manifest(backup_id)
        with open(dest, "r+b") as f:
            for i, digest in enumerate(man["chunks"]):
                f.seek(i * man["chunk_size"])
                if digest is None:
                    f.write(_ZERO[:min(man["chunk_size"], man["size"] - i * man["chunk_size"])])
                else:
                    data = self.blobs.get(f"chunks/{digest}")
                    if hashlib.sha256(data).hexdigest() != digest:
                        raise IOError(f"backup chunk {digest} is corrupt")
                    f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return man

    def delete(self, backup_id: str) -> None:
        """Remove the backup's manifest (complete or partial) and every chunk no remaining
        manifest names — also when the manifest is gone already (a backup that died before
        writing it, a delete interrupted half-way)."""
        with self._lock(exclusive=True):
            self.blobs.delete(f"manifests/{backup_id}.json")
            self._sweep()

    def _sweep(self) -> None:
        live: set[str] = set()
        for man in self.blobs.names("manifests/"):
            try:
                live.update(d for d in json.loads(self.blobs.get(man))["chunks"] if d)
            except FileNotFoundError:
                continue
        for chunk in self.blobs.names("chunks/"):
            if chunk[len("chunks/"):] not in live:
                self.blobs.delete(chunk)
        if hasattr(self.blobs, "remove_stale_temp"):
            self.blobs.remove_stale_temp()
