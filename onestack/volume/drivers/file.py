"""`file`: each volume is a sparse raw file; snapshots and clones are reflinks where the
filesystem supports them, sparse copies otherwise."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from onestack.volume.drivers.base import GiB, VolumeDriver, run


class FileDriver(VolumeDriver):
    name = "file"
    volume_format = "raw"

    def _finish(self, tmp: Path, final: Path, size_gb: int) -> None:
        with open(tmp, "r+b") as f:
            if os.fstat(f.fileno()).st_size < size_gb * GiB:
                f.truncate(size_gb * GiB)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)

    def _copy(self, src: Path, tmp: Path) -> None:
        run("cp", "--reflink=auto", "--sparse=always", str(src), str(tmp))

    def create(self, volume_id: str, size_gb: int) -> None:
        self.setup()
        final = self.path(volume_id)
        if final.exists():
            return
        tmp = self._tmp(final)
        with open(tmp, "wb") as f:
            f.truncate(size_gb * GiB)
        self._finish(tmp, final, size_gb)

    def create_from_file(self, volume_id: str, size_gb: int, src: Path, src_format: str) -> None:
        self.setup()
        final = self.path(volume_id)
        if final.exists():
            return
        tmp = self._tmp(final)
        if src_format == "raw":
            self._copy(src, tmp)
        else:
            run("qemu-img", "convert", "-f", src_format, "-O", "raw", str(src), str(tmp))
        self._finish(tmp, final, size_gb)

    def clone(self, volume_id: str, size_gb: int, source_volume_id: str) -> None:
        self.create_from_file(volume_id, size_gb, self.path(source_volume_id), "raw")

    def create_from_snapshot(self, volume_id: str, size_gb: int, snapshot_id: str) -> None:
        self.create_from_file(volume_id, size_gb, self.snapshot_path(snapshot_id), "raw")

    def extend(self, volume_id: str, new_size_gb: int) -> None:
        with open(self.path(volume_id), "r+b") as f:
            if os.fstat(f.fileno()).st_size < new_size_gb * GiB:
                f.truncate(new_size_gb * GiB)
            os.fsync(f.fileno())

    def delete(self, volume_id: str) -> None:
        self._remove(self._tmp(self.path(volume_id)))
        self._remove(self.path(volume_id))

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self.setup()
        final = self.snapshot_path(snapshot_id)
        if final.exists():
            return
        tmp = self._tmp(final)
        self._copy(self.path(volume_id), tmp)
        os.replace(tmp, final)

    def delete_snapshot(self, snapshot_id: str) -> None:
        self._remove(self._tmp(self.snapshot_path(snapshot_id)))
        self._remove(self.snapshot_path(snapshot_id))

    def export(self, volume_id: str, dest: Path, fmt: str = "raw") -> None:
        if fmt == "raw":
            run("cp", "--sparse=always", str(self.path(volume_id)), str(dest))
        else:
            super().export(volume_id, dest, fmt)

    def available(self) -> bool:
        return shutil.which("cp") is not None
