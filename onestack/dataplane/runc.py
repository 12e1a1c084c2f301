"""Container instances with runc: an OCI bundle per instance, overlay rootfs over the
image rootfs, a pre-made network namespace, cgroup limits when the host allows them,
console output to a file.

Layout: ``<state_dir>/runc`` is runc's ``--root`` (so ``runc list`` there is exactly
onestack's containers); ``<state_dir>/instances/<runc id>/`` holds ``config.json``,
``upper/`` + ``work/`` (the instance's writable layer: survives stop/start, deleted with
the instance; below ``disk/``, an ext4 filesystem in ``disk.img`` of the flavor's root disk
size, when the flavor has one), ``rootfs/`` (the overlay mount point) and ``console.log``.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

from onestack.dataplane import names
from onestack.dataplane._util import LOG, CommandError, run

CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_ADMIN"]


def runc_root(state_dir: str) -> str:
    return str(Path(state_dir).resolve() / "runc")


def bundle_dir(state_dir: str, instance_id: str) -> Path:
    return Path(state_dir).resolve() / "instances" / names.runc_id(instance_id)


def _runc(state_dir: str, *args: str, check: bool = True, timeout: float = 60) -> str:
    return run(["runc", "--root", runc_root(state_dir), *args], check=check, timeout=timeout)


def cgroup_support() -> dict[str, bool]:
    """Which limits this host can enforce: cgroup v1 controllers (this machine kind) or a
    cgroup v2 hierarchy with the controllers enabled."""
    base = Path("/sys/fs/cgroup")
    v2 = (base / "cgroup.controllers").exists()
    ctrls = set((base / "cgroup.controllers").read_text().split()) if v2 else set()
    has = {}
    for c, probe in (("memory", "memory.limit_in_bytes"), ("cpu", "cpu.cfs_quota_us"), ("pids", "cgroup.procs")):
        has[c] = (base / c / probe).exists() or (v2 and c in ctrls)
    return has


def _mounted(path: Path) -> bool:
    p = str(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == p for line in f)


def prepare_bundle(state_dir: str, instance_id: str, image_rootfs: str | None, *, netns: str | None,
                   hostname: str = "instance", args: Iterable[str] = ("/init",), env: Iterable[str] = (),
                   memory_mb: int | None = None, vcpus: int | None = None, pids: int | None = 1024,
                   devices: Iterable[dict[str, Any]] = (), root_device: str | None = None,
                   disk_gb: int | None = None, extra_mounts: Iterable[dict[str, Any]] = ()) -> Path:
    """Write the bundle (idempotent; the writable layer is kept) and mount its rootfs: an
    overlay over ``image_rootfs``, or the ext4 filesystem of ``root_device`` itself (a
    boot volume: the guest writes into the volume).
    ``devices``: [{"path": "/dev/vdb", "type": "b", "major": 7, "minor": 0}] exposed at start.
    ``disk_gb``: the root disk's size (the flavor's): the writable layer lives on an ext4
    filesystem of that size (a sparse file, loop-mounted), so the guest's ``df /`` shows it
    and it cannot fill the host; grown when the bundle is prepared with a bigger size."""
    b = bundle_dir(state_dir, instance_id)
    (b / "rootfs").mkdir(parents=True, exist_ok=True)
    layer = b
    if not root_device and (disk_gb or (b / DISK).exists()) and not (b / "upper").exists():
        layer = ensure_disk(b, disk_gb)
    for d in ("upper", "work"):
        (layer / d).mkdir(parents=True, exist_ok=True)
    if not _mounted(b / "rootfs"):
        if root_device:
            run(["mount", "-t", "ext4", root_device, str(b / "rootfs")])
        else:
            run(["mount", "-t", "overlay", names.runc_id(instance_id), "-o",
                 f"lowerdir={image_rootfs},upperdir={layer / 'upper'},workdir={layer / 'work'}", str(b / "rootfs")])
    support = cgroup_support()
    resources: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}]}
    missing = []
    if memory_mb:
        if support["memory"]:
            resources["memory"] = {"limit": memory_mb << 20}
        else:
            missing.append("memory")
    if vcpus:
        if support["cpu"]:
            resources["cpu"] = {"quota": 100000 * vcpus, "period": 100000}
        else:
            missing.append("cpu")
    if pids:
        if support["pids"]:
            resources["pids"] = {"limit": pids}
        else:
            missing.append("pids")
    if missing:
        LOG.warning("instance %s: host cgroups lack %s controller(s): running without those limits",
                    instance_id, ",".join(missing))
    devs = []
    for d in devices:
        devs.append({"path": d["path"], "type": d.get("type", "b"), "major": d["major"], "minor": d["minor"],
                     "fileMode": 0o660, "uid": 0, "gid": 0})
        resources["devices"].append({"allow": True, "type": d.get("type", "b"), "major": d["major"],
                                     "minor": d["minor"], "access": "rwm"})
    nss = [{"type": t} for t in ("pid", "ipc", "uts", "mount")]
    nss.append({"type": "network", "path": f"/run/netns/{netns}"} if netns else {"type": "network"})
    config = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": list(args),
                    "env": ["PATH=/sbin:/bin:/usr/sbin:/usr/bin", "TERM=xterm", *env], "cwd": "/",
                    "capabilities": {k: CAPS for k in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 4096}],
                    "noNewPrivileges": False},
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]},
            *extra_mounts,
        ],
        "linux": {
            "cgroupsPath": names.cgroup(instance_id),
            "namespaces": nss,
            "resources": resources,
            "devices": devs,
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                            "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    (b / "config.json").write_text(json.dumps(config, indent=1))
    return b


DISK = "disk.img"      # the root disk's writable layer (ext4 in a sparse file), mounted at disk/


def _loop_of(mountpoint: Path) -> str | None:
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[1] == str(mountpoint):
                return parts[0]
    return None


def disk_size_gb(b: Path) -> float:
    try:
        return (b / DISK).stat().st_size / (1 << 30)
    except FileNotFoundError:
        return 0


def ensure_disk(b: Path, size_gb: int | None) -> Path:
    """Ensure the root disk file exists, is at least ``size_gb`` (grown online: file, loop
    device, then resize2fs on the mounted filesystem) and is mounted at ``b/disk``."""
    img, mnt = b / DISK, b / "disk"
    mnt.mkdir(exist_ok=True)
    want = int((size_gb or 0) * (1 << 30))
    if not img.exists():
        tmp = b / (DISK + ".tmp")
        with open(tmp, "wb") as f:
            f.truncate(max(want, 64 << 20))
        run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1", str(tmp)])
        os.replace(tmp, img)
    if want > img.stat().st_size:
        _grow(b, want)
    if not _mounted(mnt):
        from onestack.dataplane import loop
        dev = loop.attach(str(img))
        run(["losetup", "-c", dev])          # a reused device sees the file's current size
        run(["mount", "-t", "ext4", dev, str(mnt)])
    return mnt


def _unmount(b: Path, lazy: bool = False) -> None:
    """Unmount the overlay, then the root disk, and free the disk's loop device."""
    from onestack.dataplane import loop
    for m in (b / "rootfs", b / "disk"):
        if _mounted(m):
            run(["umount", str(m)], check=not lazy)
            if lazy and _mounted(m):
                run(["umount", "-l", str(m)])
    if (b / DISK).exists():
        loop.detach(str(b / DISK))


def _grow(b: Path, want: int) -> None:
    """Online (loop capacity + resize2fs on the mounted filesystem) where the kernel lets
    us; else offline, which needs the container stopped (resize stops it): a host without
    CAP_SYS_RESOURCE -- a sandboxed root like this machine's -- gets EPERM from the online
    resize ioctl."""
    img, mnt = b / DISK, b / "disk"
    if _mounted(mnt):
        with open(img, "r+b") as f:
            f.truncate(want)
        run(["losetup", "-c", _loop_of(mnt)])
        try:
            run(["resize2fs", _loop_of(mnt)], timeout=300)
            LOG.info("root disk %s grown online to %d GiB", img, want >> 30)
            return
        except CommandError as e:
            LOG.info("root disk %s: online resize refused (%s); resizing offline", img, e)
        _unmount(b)                        # raises (busy) if the container still runs
    run(["e2fsck", "-f", "-y", str(img)], check=False, timeout=300)
    run(["resize2fs", str(img), f"{want >> 20}M"], timeout=300)
    LOG.info("root disk %s grown offline to %d GiB", img, want >> 30)


def shrink_disk(state_dir: str, instance_id: str, size_gb: int) -> None:
    """Shrink a stopped instance's root disk back to ``size_gb`` (resize revert): unmount,
    fsck, resize2fs, truncate. Raises when its content does not fit."""
    b = bundle_dir(state_dir, instance_id)
    img, want = b / DISK, int(size_gb) << 30
    if not img.exists() or not size_gb or img.stat().st_size <= want:
        return
    _unmount(b)
    run(["e2fsck", "-f", "-y", str(img)], check=False, timeout=300)
    run(["resize2fs", str(img), f"{want >> 20}M"], timeout=300)
    with open(img, "r+b") as f:
        f.truncate(want)
    LOG.info("root disk %s shrunk to %d GiB", img, size_gb)


def state(state_dir: str, instance_id: str) -> dict[str, Any] | None:
    """runc's state ({status: created|running|paused|stopped, pid, ...}) or None."""
    if not os.path.isdir(runc_root(state_dir)):
        return None
    out = _runc(state_dir, "state", names.runc_id(instance_id), check=False)
    return json.loads(out) if out.strip() else None


def start(state_dir: str, instance_id: str) -> int:
    """Ensure the container runs (create+start from its bundle); returns its init pid."""
    cid = names.runc_id(instance_id)
    b = bundle_dir(state_dir, instance_id)
    st = state(state_dir, instance_id)
    if st and st["status"] == "running":
        return st["pid"]
    if st and st["status"] == "paused":
        resume(state_dir, instance_id)
        return st["pid"]
    if st and st["status"] == "stopped":
        _runc(state_dir, "delete", cid)
        st = None
    if st is None:
        os.makedirs(runc_root(state_dir), exist_ok=True)
        # the container inherits runc's stdio: both go to the console log (a pipe would
        # keep this call waiting for the container to exit); its own session, so that a
        # signal to the agent's process group (kill -9 of onestack) leaves it running
        with open(b / "console.log", "ab") as log:
            size = log.tell()
            p = subprocess.run(["runc", "--root", runc_root(state_dir), "create", "--bundle", str(b), cid],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60,
                               start_new_session=True)
        if p.returncode != 0:
            with open(b / "console.log", "rb") as f:
                f.seek(size)
                raise CommandError(["runc", "create", cid], p.returncode, f.read().decode(errors="replace"))
    _runc(state_dir, "start", cid)
    st = state(state_dir, instance_id)
    LOG.info("container %s running pid %s", cid, st and st.get("pid"))
    return st["pid"] if st else 0


def stop(state_dir: str, instance_id: str, timeout: float = 10) -> None:
    """Ensure the container is stopped: SIGTERM, then SIGKILL after ``timeout``; the bundle
    and writable layer stay (power off)."""
    cid = names.runc_id(instance_id)
    st = state(state_dir, instance_id)
    if st is None or st["status"] == "stopped":
        return
    if st["status"] == "paused":
        resume(state_dir, instance_id)
    if st["status"] != "created":
        _runc(state_dir, "kill", cid, "TERM", check=False)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = state(state_dir, instance_id)
            if s is None or s["status"] == "stopped":
                break
            time.sleep(0.05)
    _runc(state_dir, "kill", cid, "KILL", check=False)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        s = state(state_dir, instance_id)
        if s is None or s["status"] == "stopped":
            break
        time.sleep(0.05)
    _runc(state_dir, "delete", "--force", cid, check=False)


def pause(state_dir: str, instance_id: str) -> None:
    st = state(state_dir, instance_id)
    if st and st["status"] == "running":
        _runc(state_dir, "pause", names.runc_id(instance_id))


def resume(state_dir: str, instance_id: str) -> None:
    st = state(state_dir, instance_id)
    if st and st["status"] == "paused":
        _runc(state_dir, "resume", names.runc_id(instance_id))


def destroy(state_dir: str, instance_id: str) -> None:
    """Ensure the container and its bundle (writable layer included) are gone."""
    stop(state_dir, instance_id, timeout=0)
    b = bundle_dir(state_dir, instance_id)
    _unmount(b, lazy=True)                     # the overlay, then the disk holding its upper layer
    if b.exists():
        run(["rm", "-rf", "--one-file-system", str(b)])


def console_output(state_dir: str, instance_id: str, tail_bytes: int = 65536) -> str:
    p = bundle_dir(state_dir, instance_id) / "console.log"
    try:
        with open(p, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - tail_bytes))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def list_instances(state_dir: str) -> list[str]:
    root = runc_root(state_dir)
    if not os.path.isdir(root):
        return []
    out = _runc(state_dir, "list", "-f", "json", check=False).strip()
    return [c["id"] for c in (json.loads(out) if out and out != "null" else [])]


def run_once(state_dir: str, instance_id: str, image_rootfs: str, args: list[str], *,
             netns: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """``runc run`` a one-shot process in a throwaway bundle (image smoke tests)."""
    b = prepare_bundle(state_dir, instance_id, image_rootfs, netns=netns, args=args)
    try:
        return subprocess.run(["runc", "--root", runc_root(state_dir), "run", "--bundle", str(b),
                               names.runc_id(instance_id)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    finally:
        destroy(state_dir, instance_id)


def exec_(state_dir: str, instance_id: str, args: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a process inside the running container (tests, guest agents)."""
    return subprocess.run(["runc", "--root", runc_root(state_dir), "exec", names.runc_id(instance_id), *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
