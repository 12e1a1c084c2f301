"""The filesystem store: one file per image under a directory.

Writes go to ``<dir>/.tmp/<id>.<nonce>`` (streamed, md5 + sha512 computed on the way,
fsynced) and are renamed into place only when complete, so a crash never leaves a
partial file where a reader could find it; the start-up sweep empties ``.tmp``.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Iterator

from onestack.image import inspector

STORE_ID = "local"


class Writer:
    """A streaming write into a temporary file: ``write`` chunks, then ``commit`` or ``abort``."""

    def __init__(self, tmp_path: Path, final_path: Path, declared_format: str | None,
                 max_size: int, inspect: bool = True):
        self.tmp_path = tmp_path
        self.final_path = final_path
        self.max_size = max_size
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()
        self.inspector = inspector.StreamInspector(declared_format) if inspect else None
        self._f = open(tmp_path, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_size:
            raise OverflowError(self.size)
        if self.inspector is not None:
            self.inspector.feed(data)
        self.md5.update(data)
        self.sha512.update(data)
        self._f.write(data)

    def finish_stream(self) -> None:
        """End of data: flush + fsync (still under the temporary name)."""
        if self.inspector is not None:
            self.inspector.finish()
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def commit(self) -> None:
        os.replace(self.tmp_path, self.final_path)
        _fsync_dir(self.final_path.parent)

    def abort(self) -> None:
        try:
            self._f.close()
        except Exception:
            pass
        self.tmp_path.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FilesystemStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.tmp = self.root / ".tmp"

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(exist_ok=True)

    def path(self, image_id: str) -> Path:
        return self.root / image_id

    def location(self, image_id: str) -> str:
        return str(self.path(image_id))

    def local_path(self, image_id: str, md5: str | None = None) -> Path:
        return self.path(image_id)

    def writer(self, image_id: str, declared_format: str | None, max_size: int,
               inspect: bool = True) -> Writer:
        self.setup()
        tmp = self.tmp / f"{image_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        return Writer(tmp, self.path(image_id), declared_format, max_size, inspect)

    def exists(self, image_id: str) -> bool:
        return self.path(image_id).is_file()

    def size(self, image_id: str) -> int:
        return self.path(image_id).stat().st_size

    def delete(self, image_id: str) -> None:
        self.path(image_id).unlink(missing_ok=True)

    def read(self, image_id: str, start: int = 0, end: int | None = None,
             chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The bytes [start, end) of an image, in chunks (the file is opened now)."""
        f = open(self.path(image_id), "rb")

        def gen() -> Iterator[bytes]:
            with f:
                f.seek(start)
                left = None if end is None else end - start
                while left is None or left > 0:
                    n = chunk_size if left is None else min(chunk_size, left)
                    data = f.read(n)
                    if not data:
                        break
                    if left is not None:
                        left -= len(data)
                    yield data
        return gen()

    def sweep_tmp(self) -> int:
        """Remove the temporary files of processes that are gone (or of this one, at start-up)."""
        if not self.tmp.is_dir():
            return 0
        n = 0
        for p in self.tmp.iterdir():
            parts = p.name.split(".")
            pid = int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else None
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue
            p.unlink(missing_ok=True)
            n += 1
        return n

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [p.name for p in self.root.iterdir() if p.is_file()]
