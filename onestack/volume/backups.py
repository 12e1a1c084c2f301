"""Backups to a directory: a content-addressed chunk store.

A volume is read in 4 MiB chunks; all-zero chunks are recorded as holes, every other
chunk is stored once under ``chunks/<sha256>`` (temp file + fsync + rename). A backup is
a manifest listing its chunks. Because chunks are shared, an incremental backup stores
only the chunks that changed since its parent; deleting a backup removes the chunks no
other manifest references.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CHUNK = 4 << 20
_ZERO = bytes(CHUNK)


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


class ChunkStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.chunks = self.root / "chunks"
        self.manifests = self.root / "manifests"

    def setup(self) -> None:
        self.chunks.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.manifests.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _chunk_path(self, digest: str) -> Path:
        return self.chunks / digest[:2] / digest

    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def backup(self, backup_id: str, source: Path, parent_id: str | None = None) -> dict[str, Any]:
        """Store ``source``; returns the manifest (with how many chunks were new)."""
        self.setup()
        chunks: list[str | None] = []
        new = 0
        size = source.stat().st_size
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
                path = self._chunk_path(digest)
                if not path.exists():
                    self._write_atomic(path, data)
                    new += 1
                chunks.append(digest)
        manifest = {"backup_id": backup_id, "parent_id": parent_id, "size": size, "chunk_size": CHUNK,
                    "chunks": chunks, "new_chunks": new}
        self._write_atomic(self.manifests / f"{backup_id}.json", json.dumps(manifest).encode())
        return manifest

    def manifest(self, backup_id: str) -> dict[str, Any]:
        return json.loads((self.manifests / f"{backup_id}.json").read_text())

    def restore(self, backup_id: str, dest: Path) -> None:
        """Write the backup's content over ``dest`` (a raw file at least as large)."""
        man = self.manifest(backup_id)
        with open(dest, "r+b") as f:
            for i, digest in enumerate(man["chunks"]):
                f.seek(i * man["chunk_size"])
                if digest is None:
                    f.write(_ZERO[:min(man["chunk_size"], man["size"] - i * man["chunk_size"])])
                else:
                    data = self._chunk_path(digest).read_bytes()
                    if hashlib.sha256(data).hexdigest() != digest:
                        raise IOError(f"backup chunk {digest} is corrupt")
                    f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def delete(self, backup_id: str) -> None:
        path = self.manifests / f"{backup_id}.json"
        try:
            path.unlink()
        except FileNotFoundError:
            return
        live: set[str] = set()
        for man in self.manifests.glob("*.json"):
            live.update(d for d in json.loads(man.read_text())["chunks"] if d)
        for sub in self.chunks.iterdir() if self.chunks.exists() else []:
            for chunk in sub.iterdir():
                if chunk.name not in live:
                    chunk.unlink(missing_ok=True)
