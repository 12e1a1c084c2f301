"""`qcow2`: each volume is a qcow2 image. A snapshot freezes the volume's current file as
``snapshot-<id>`` and puts a fresh overlay on top of it; volumes made from a snapshot are
overlays whose backing file is the snapshot. Deleting a snapshot first rebases every
image that depends on it (so no data is lost), then removes it."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from onestack.volume.drivers.base import DriverError, GiB, VolumeDriver, run


def _info(path: Path) -> dict:
    return json.loads(run("qemu-img", "info", "--output=json", "-U", str(path)))


class Qcow2Driver(VolumeDriver):
    name = "qcow2"
    volume_format = "qcow2"

    def available(self) -> bool:
        return shutil.which("qemu-img") is not None

    def _create_overlay(self, final: Path, backing: Path | None, size_gb: int) -> None:
        tmp = self._tmp(final)
        self._remove(tmp)
        args = ["qemu-img", "create", "-q", "-f", "qcow2"]
        if backing is not None:
            args += ["-b", str(backing), "-F", "qcow2"]
        run(*args, str(tmp), f"{size_gb}G")
        os.replace(tmp, final)

    def create(self, volume_id: str, size_gb: int) -> None:
        self.setup()
        if not self.path(volume_id).exists():
            self._create_overlay(self.path(volume_id), None, size_gb)

    def create_from_file(self, volume_id: str, size_gb: int, src: Path, src_format: str) -> None:
        self.setup()
        final = self.path(volume_id)
        if final.exists():
            return
        tmp = self._tmp(final)
        run("qemu-img", "convert", "-f", src_format, "-O", "qcow2", str(src), str(tmp))
        if _info(tmp)["virtual-size"] < size_gb * GiB:
            run("qemu-img", "resize", "-q", "-f", "qcow2", str(tmp), f"{size_gb}G")
        os.replace(tmp, final)

    def clone(self, volume_id: str, size_gb: int, source_volume_id: str) -> None:
        self.create_from_file(volume_id, size_gb, self.path(source_volume_id), "qcow2")

    def create_from_snapshot(self, volume_id: str, size_gb: int, snapshot_id: str) -> None:
        self.setup()
        if not self.path(volume_id).exists():
            self._create_overlay(self.path(volume_id), self.snapshot_path(snapshot_id), size_gb)

    def extend(self, volume_id: str, new_size_gb: int) -> None:
        if _info(self.path(volume_id))["virtual-size"] < new_size_gb * GiB:
            run("qemu-img", "resize", "-q", "-f", "qcow2", str(self.path(volume_id)), f"{new_size_gb}G")

    def delete(self, volume_id: str) -> None:
        self._remove(self._tmp(self.path(volume_id)))
        self._remove(self.path(volume_id))

    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        self.setup()
        snap, vol = self.snapshot_path(snapshot_id), self.path(volume_id)
        if snap.exists() and vol.exists():
            return  # done (idempotent re-run)
        if not snap.exists():
            size = _info(vol)["virtual-size"] // GiB
            os.replace(vol, snap)
        else:  # crashed between the rename and the overlay: finish the job
            size = _info(snap)["virtual-size"] // GiB
        self._create_overlay(vol, snap, max(size, 1))

    def _dependents(self, target: Path) -> list[Path]:
        out = []
        for p in self.root.iterdir():
            if p.name.startswith(".tmp-") or p == target:
                continue
            try:
                backing = _info(p).get("full-backing-filename") or _info(p).get("backing-filename")
            except DriverError:
                continue
            if backing and Path(backing) == target:
                out.append(p)
        return out

    def delete_snapshot(self, snapshot_id: str) -> None:
        snap = self.snapshot_path(snapshot_id)
        self._remove(self._tmp(snap))
        if not snap.exists():
            return
        parent = _info(snap).get("full-backing-filename")
        for child in self._dependents(snap):
            # Safe rebase: copies what the child still reads from the snapshot.
            args = ["qemu-img", "rebase", "-q", "-f", "qcow2", "-b", parent or ""]
            if parent:
                args += ["-F", "qcow2"]
            run(*args, str(child))
        self._remove(snap)
