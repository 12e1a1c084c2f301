"""The backend contract. Every call is idempotent ("ensure X exists / is gone")."""
from __future__ import annotations

import abc
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

GiB = 1 << 30


class DriverError(Exception):
    pass


def run(*cmd: str) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise DriverError(f"{cmd[0]} failed: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


class VolumeDriver(abc.ABC):
    name = "base"
    thin = True
    volume_format = "raw"

    def __init__(self, root: Path):
        self.root = Path(root)

    def available(self) -> bool:
        return True

    def setup(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, volume_id: str) -> Path:
        return self.root / f"volume-{volume_id}"

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.root / f"snapshot-{snapshot_id}"

    def exists(self, volume_id: str) -> bool:
        return self.path(volume_id).exists()

    # ------------------------------------------------------------ volumes
    @abc.abstractmethod
    def create(self, volume_id: str, size_gb: int) -> None: ...

    @abc.abstractmethod
    def create_from_file(self, volume_id: str, size_gb: int, src: Path, src_format: str) -> None:
        """Fill a new volume with the content of an image/volume file."""

    @abc.abstractmethod
    def clone(self, volume_id: str, size_gb: int, source_volume_id: str) -> None: ...

    @abc.abstractmethod
    def create_from_snapshot(self, volume_id: str, size_gb: int, snapshot_id: str) -> None: ...

    @abc.abstractmethod
    def extend(self, volume_id: str, new_size_gb: int) -> None: ...

    @abc.abstractmethod
    def delete(self, volume_id: str) -> None: ...

    # ------------------------------------------------------------ snapshots
    @abc.abstractmethod
    def create_snapshot(self, snapshot_id: str, volume_id: str) -> None: ...

    @abc.abstractmethod
    def delete_snapshot(self, snapshot_id: str) -> None: ...

    # ------------------------------------------------------------ data out
    def export(self, volume_id: str, dest: Path, fmt: str = "raw") -> None:
        """Write the volume's content to ``dest`` as ``fmt`` (upload-to-image, backups)."""
        run("qemu-img", "convert", "-f", self.volume_format, "-O", fmt, str(self.path(volume_id)),
            str(dest))

    def connection_info(self, volume_id: str) -> dict[str, Any]:
        return {"driver_volume_type": "file",
                "data": {"path": str(self.path(volume_id)), "format": self.volume_format,
                         "name": f"volume-{volume_id}"}}

    def capacity(self) -> tuple[float, float]:
        """(total GiB, free GiB) of the filesystem holding this backend."""
        self.setup()
        st = os.statvfs(self.root)
        return st.f_blocks * st.f_frsize / GiB, st.f_bavail * st.f_frsize / GiB

    def orphans(self, known_volumes: set[str], known_snapshots: set[str]) -> list[Path]:
        """Files of this backend that belong to no volume or snapshot (and temp files)."""
        out = []
        if not self.root.exists():
            return out
        for p in self.root.iterdir():
            if p.name.startswith(".tmp-"):
                out.append(p)
            elif p.name.startswith("volume-") and p.name[7:] not in known_volumes:
                out.append(p)
            elif p.name.startswith("snapshot-") and p.name[9:] not in known_snapshots:
                out.append(p)
        return out

    def _tmp(self, final: Path) -> Path:
        return final.with_name(f".tmp-{final.name}")

    @staticmethod
    def _remove(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            shutil.rmtree(path, ignore_errors=True)
