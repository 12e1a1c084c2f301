"""Volumes as loop devices: a (sparse) file under the state dir attached with losetup,
identified by its backing file (loop devices have no names: inventory finds ours by path),
and exposed inside a running container's /dev (hot-attach) or at creation
(``runc.prepare_bundle(devices=[device_spec(dev, "/dev/vdb")])``, cold-attach)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from onestack.dataplane import names
from onestack.dataplane._util import LOG, run


def create_file(path: str, size_gb: float) -> None:
    """A sparse volume file of ``size_gb`` (grown, never shrunk, when it exists)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    size = int(size_gb * (1 << 30))
    with open(p, "ab") as f:
        if f.tell() < size:
            f.truncate(size)


def find(path: str) -> list[str]:
    """Loop devices backed by ``path``."""
    real = os.path.realpath(path)
    out = []
    for d in sorted(Path("/sys/block").glob("loop*")):
        try:
            bf = (d / "loop" / "backing_file").read_text().strip().removesuffix(" (deleted)")
        except OSError:
            continue
        if bf == real:
            out.append(f"/dev/{d.name}")
    return out


def attach(path: str, *, read_only: bool = False) -> str:
    """Ensure ``path`` is attached to a loop device; returns it (``/dev/loopN``)."""
    existing = find(path)
    if existing:
        return existing[0]
    dev = run(["losetup", "-f", "--show", *(["-r"] if read_only else []), os.path.realpath(path)]).strip()
    LOG.info("volume %s attached as %s", path, dev)
    return dev


def detach(path: str) -> None:
    """Ensure no loop device is backed by ``path``."""
    for dev in find(path):
        run(["losetup", "-d", dev], check=False)
        LOG.info("volume %s detached from %s", path, dev)


def _majmin(dev: str) -> tuple[int, int]:
    st = os.stat(dev)
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def device_spec(dev: str, path_in_container: str) -> dict[str, Any]:
    major, minor = _majmin(dev)
    return {"path": path_in_container, "type": "b", "major": major, "minor": minor}


def _devices_cgroup(instance_id: str) -> Path | None:
    p = Path("/sys/fs/cgroup/devices") / names.cgroup(instance_id).lstrip("/")
    return p if p.exists() else None


def expose_in_container(pid: int, instance_id: str, dev: str, path_in_container: str = "/dev/vdb") -> None:
    """Hot-attach: create the block node in the running container's /dev and allow it in
    its device cgroup (v1; with cgroup v2 runc's eBPF device filter would need a restart)."""
    major, minor = _majmin(dev)
    node = Path(f"/proc/{pid}/root") / path_in_container.lstrip("/")
    cg = _devices_cgroup(instance_id)
    if cg:
        (cg / "devices.allow").write_text(f"b {major}:{minor} rwm")
    if node.exists():
        st = os.stat(node)
        if os.major(st.st_rdev) == major and os.minor(st.st_rdev) == minor:
            return
        node.unlink()
    os.mknod(node, 0o660 | 0o060000, os.makedev(major, minor))


def hide_from_container(pid: int, instance_id: str, dev: str | None, path_in_container: str = "/dev/vdb") -> None:
    node = Path(f"/proc/{pid}/root") / path_in_container.lstrip("/")
    if node.exists():
        node.unlink()
    cg = _devices_cgroup(instance_id)
    if cg and dev and os.path.exists(dev):
        major, minor = _majmin(dev)
        (cg / "devices.deny").write_text(f"b {major}:{minor} rwm")
