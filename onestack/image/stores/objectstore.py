"""The object store: image data as objects of onestack's own object service.

Bytes arrive exactly as for the filesystem store (a local temporary file, inspected,
md5 + sha512 computed, fsynced); ``commit`` then streams that file into one container
of a service account through onestack/object/interface.py and removes it. Reads stream
the object back. Callers that need a file (volume create-from-image, compute) get a
verified local copy kept in a cache directory until the image is deleted.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from onestack import errors
from onestack.image.stores.filesystem import Writer

CHUNK = 1 << 20


class ObjectWriter(Writer):
    def __init__(self, tmp_path: Path, store: "ObjectStore", image_id: str, declared_format: str | None,
                 max_size: int, inspect: bool = True):
        super().__init__(tmp_path, tmp_path, declared_format, max_size, inspect)
        self.store = store
        self.image_id = image_id

    def commit(self) -> None:
        try:
            self.store.put_file(self.image_id, self.tmp_path)
        finally:
            self.tmp_path.unlink(missing_ok=True)


class ObjectStore:
    def __init__(self, store_id: str, project: str, container: str, tmp: Path, cache: Path):
        from onestack.object import interface as obj
        self.obj = obj
        self.store_id = store_id
        self.project = project
        self.container = container
        self.tmp = Path(tmp)
        self.cache = Path(cache)
        self._ready = False

    def setup(self) -> None:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)

    def location(self, image_id: str) -> str:
        return f"object://{self.container}/{image_id}"

    def writer(self, image_id: str, declared_format: str | None, max_size: int,
               inspect: bool = True) -> ObjectWriter:
        self.setup()
        tmp = self.tmp / f"{image_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        return ObjectWriter(tmp, self, image_id, declared_format, max_size, inspect)

    def put_file(self, image_id: str, path: Path) -> None:
        """Stream a local file in as the image's object (runs outside any event loop)."""
        if not self._ready:
            self.obj.ensure_container(self.project, self.container)
            self._ready = True
        size = path.stat().st_size

        async def body() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while True:
                    data = f.read(CHUNK)
                    if not data:
                        return
                    yield data
        asyncio.run(self.obj.put_object(self.project, self.container, image_id, body(), length=size))

    def _open(self, image_id: str) -> tuple[dict[str, Any], Iterator[bytes]]:
        return self.obj.get_object(self.project, self.container, image_id)

    def exists(self, image_id: str) -> bool:
        return image_id in self.obj.list_object_names(self.project, self.container, image_id)

    def size(self, image_id: str) -> int:
        meta, chunks = self._open(image_id)
        getattr(chunks, "close", lambda: None)()
        return int(meta["bytes"])

    def delete(self, image_id: str) -> None:
        self.obj.delete_object(self.project, self.container, image_id)
        (self.cache / image_id).unlink(missing_ok=True)

    def read(self, image_id: str, start: int = 0, end: int | None = None,
             chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The bytes [start, end) of the image's object, streamed."""
        _, chunks = self._open(image_id)

        def gen() -> Iterator[bytes]:
            pos = 0
            try:
                for data in chunks:
                    lo, hi = pos, pos + len(data)
                    pos = hi
                    if hi <= start:
                        continue
                    if end is not None and lo >= end:
                        break
                    yield data[max(start - lo, 0):(len(data) if end is None else min(len(data), end - lo))]
            finally:
                getattr(chunks, "close", lambda: None)()
        return gen()

    def local_path(self, image_id: str, md5: str | None) -> Path:
        """A verified local copy of the image (downloaded once, then reused)."""
        final = self.cache / image_id
        if final.is_file():
            return final
        self.setup()
        tmp = self.tmp / f"{image_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with open(tmp, "wb") as f:
                for data in self.read(image_id):
                    digest.update(data)
                    f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if md5 and digest.hexdigest() != md5:
                raise errors.Conflict(f"Image {image_id}: the object store copy does not match its "
                                      "checksum.")
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final
