"""What the real virt drivers (container, qemu) share: this host's resources, a small
JSON record per instance, the image cache, port wiring and volume connections.

State lives below ``dataplane.host.state_dir()`` (``dp/``):
- ``meta/<uuid>.json``: what the driver did for an instance (image, flavor, ports,
  volumes, power intent) -- written *before* the kernel objects it names are created, so
  a crash leaves nothing the agent cannot find and undo;
- ``images/<image id>.<fmt>``: Glance image files (hard links into the image store when
  possible: an image deleted from Glance stays readable for the instances built from it);
  ``images/<image id>.rootfs/``: an image unpacked as a container root filesystem.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from onestack.compute.virt import driver as d
from onestack.dataplane import host, names, net
from onestack.dataplane._util import CommandError, run

log = logging.getLogger(__name__)
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def lock(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _meminfo_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 1024


class HostDriverBase(d.Driver):
    """Host resources, instance records and the image cache of a real driver."""
    hypervisor_type = "base"
    traits: tuple[str, ...] = ("COMPUTE_VOLUME_ATTACH", "HW_CPU_X86_SSE2")

    def __init__(self, host_name: str | None = None):
        self.host = host_name or socket.gethostname()
        self.dp = str(host.state_dir())
        self.started = time.time()
        for sub in ("meta", "images"):
            (Path(self.dp) / sub).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------ host
    def nodes(self) -> list[d.NodeResources]:
        st = os.statvfs(self.dp)
        vcpus = os.cpu_count() or 1
        return [d.NodeResources(nodename=self.host, vcpus=vcpus, memory_mb=_meminfo_mb(),
                                local_gb=max(1, st.f_bavail * st.f_frsize >> 30),
                                hypervisor_type=self.hypervisor_type, hypervisor_version=1000,
                                cpu_info={"arch": os.uname().machine, "model": self.hypervisor_type,
                                          "vendor": "onestack", "features": [],
                                          "topology": {"sockets": 1, "cores": vcpus, "threads": 1}},
                                traits=self.traits)]

    def uptime(self) -> str:
        with open("/proc/uptime") as f:
            up = int(float(f.read().split()[0]))
        load = " ".join(f"{x:.2f}," for x in os.getloadavg()).rstrip(",")
        return (f" {time.strftime('%H:%M:%S')} up {up // 86400} days, {up % 86400 // 3600:2d}:"
                f"{up % 3600 // 60:02d},  1 user,  load average: {load}")

    # ------------------------------------------------------------ instance records
    def _meta_path(self, uuid: str) -> Path:
        return Path(self.dp) / "meta" / f"{uuid}.json"

    def meta(self, uuid: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._meta_path(uuid).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def save_meta(self, uuid: str, meta: dict[str, Any]) -> None:
        p = self._meta_path(uuid)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, p)

    def drop_meta(self, uuid: str) -> None:
        self._meta_path(uuid).unlink(missing_ok=True)

    def known(self, instance: dict[str, Any]) -> dict[str, Any]:
        m = self.meta(instance["uuid"])
        if m is None:
            raise d.InstanceNotFound(f"Instance {instance['uuid']} could not be found on {self.host}.")
        return m

    def list_instances(self) -> list[str]:
        return sorted(p.stem for p in (Path(self.dp) / "meta").glob("*.json"))

    # ------------------------------------------------------------ pause/suspend (freeze in memory)
    def _set_power(self, uuid: str, power: str) -> dict[str, Any]:
        """Record the power intent (running, shutdown, paused, suspended) of an instance."""
        meta = self.known({"uuid": uuid})
        meta["power"] = power
        self.save_meta(uuid, meta)
        return meta

    def _freeze(self, uuid: str) -> None:
        raise d.Unsupported("pause")

    def _thaw(self, uuid: str) -> None:
        raise d.Unsupported("unpause")

    def pause(self, instance: dict[str, Any]) -> None:
        with lock(instance["uuid"]):
            self._set_power(instance["uuid"], "paused")
            self._freeze(instance["uuid"])

    def unpause(self, instance: dict[str, Any]) -> None:
        with lock(instance["uuid"]):
            self._set_power(instance["uuid"], "running")
            self._thaw(instance["uuid"])

    def suspend(self, instance: dict[str, Any]) -> None:
        """Suspend = frozen in memory (neither runc nor these VMs save to disk here)."""
        with lock(instance["uuid"]):
            self._set_power(instance["uuid"], "suspended")
            self._freeze(instance["uuid"])

    def resume(self, instance: dict[str, Any]) -> None:
        self.unpause(instance)

    def owned_objects(self, uuid: str) -> set[str]:
        """Kernel-object names this instance keeps alive (for the start-up sweep)."""
        out = set(names.instance_objects(uuid))
        m = self.meta(uuid) or {}
        for p in m.get("ports", []):
            out |= names.port_objects(p["id"])
            if p.get("own_bridge"):
                out.add(p["bridge"])
        return out

    # ------------------------------------------------------------ images
    def image_file(self, image_id: str) -> tuple[str, dict[str, Any]]:
        """A local file with the image's bytes, and the image record (disk/container format)."""
        from onestack.compute import deps
        from onestack.context import RequestContext
        img_api = deps.image()
        try:
            img = img_api.get_image(RequestContext.internal(), image_id)
        except Exception as e:
            raise d.DriverError(f"Image {image_id} could not be found: {e}") from None
        dst = Path(self.dp) / "images" / f"{image_id}.img"
        with lock(f"img-{image_id}"):
            if not dst.exists():
                src = img_api.image_path(image_id)
                if src is None:
                    raise d.DriverError(f"Image {image_id} has no data (status {img.get('status')}).")
                tmp = dst.with_name(f".tmp-{dst.name}")
                tmp.unlink(missing_ok=True)
                try:
                    os.link(src, tmp)
                except OSError:
                    shutil.copyfile(src, tmp)
                os.replace(tmp, dst)
        return str(dst), img

    def image_rootfs(self, image_id: str) -> str:
        """The image as a directory (an overlay's lower layer): an ext4 disk (raw or qcow2)
        or a rootfs tarball, unpacked once per image."""
        out = Path(self.dp) / "images" / f"{image_id}.rootfs"
        if out.is_dir():
            return str(out)
        path, img = self.image_file(image_id)
        with lock(f"rootfs-{image_id}"):
            if out.is_dir():
                return str(out)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-rootfs-", dir=out.parent))
            try:
                unpack_rootfs(path, img, str(tmp))
                os.rename(tmp, out)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return str(out)

    def forget_images(self, keep: set[str]) -> None:
        """Drop cached images no instance on this host uses any more."""
        for p in (Path(self.dp) / "images").iterdir():
            image_id = p.name.split(".")[0]
            if p.name.startswith(".tmp-") or image_id not in keep:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)

    # ------------------------------------------------------------ ports
    def port_wiring(self, port: dict[str, Any]) -> dict[str, Any]:
        """Where a port plugs: the network driver's binding when it gave one, else this
        host's namespace and the network's bridge (created here: fake network driver)."""
        det = port.get("binding:vif_details") or {}
        hns = det.get("host_netns", host.host_ns()) if "host_netns" in det else host.host_ns()
        wiring = {"id": port["id"], "mac_address": port.get("mac_address"), "mtu": port.get("mtu") or 1500,
                  "bridge": det.get("bridge") or names.bridge(port["network_id"]),
                  "devname": det.get("devname") or names.port_device(port["id"]), "host_netns": hns,
                  "own_bridge": not det.get("bridge")}
        return wiring

    def ensure_port_bridge(self, w: dict[str, Any]) -> None:
        ns = w["host_netns"]
        if ns:
            net.ensure_netns(ns)
        if w["own_bridge"]:
            net.ensure_bridge(w["bridge"], mtu=w["mtu"], ns=ns)

    def unplug_ports(self, meta: dict[str, Any]) -> None:
        for w in meta.get("ports", []):
            try:
                net.unplug_port(w["id"], ns=w["host_netns"])
            except Exception as e:   # its network went away meanwhile
                log.debug("unplug %s: %s", w["id"], e)


def volume_file(connection: dict[str, Any]) -> tuple[str, str]:
    """(path, format) of a volume connection ({"driver_volume_type": "file", "data": ...})."""
    data = (connection or {}).get("data") or {}
    if (connection or {}).get("driver_volume_type", "file") != "file" or not data.get("path"):
        raise d.DriverError(f"Unsupported volume connection {connection.get('driver_volume_type')!r}: "
                            "this driver attaches file volumes.")
    return data["path"], data.get("format") or "raw"


def _magic(path: str) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2048)
    return head


def detect(path: str) -> str:
    """ext4 | qcow2 | tar | tar.gz | mbr | unknown."""
    h = _magic(path)
    if h[:4] == b"QFI\xfb":
        return "qcow2"
    if h[:2] == b"\x1f\x8b":
        return "tar.gz"
    if len(h) > 262 and h[257:262] == b"ustar":
        return "tar"
    if len(h) >= 1082 and h[1080:1082] == b"\x53\xef":
        return "ext4"
    if len(h) >= 512 and h[510:512] == b"\x55\xaa":
        return "mbr"
    return "unknown"


def unpack_rootfs(path: str, img: dict[str, Any], dest: str) -> None:
    kind = detect(path)
    if kind == "qcow2":
        raw = dest + ".raw"
        try:
            run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw], timeout=600)
            if detect(raw) != "ext4":
                raise d.DriverError(f"Image {img.get('id')} is a qcow2 disk without an ext4 filesystem "
                                    "at its start: the container driver cannot use it as a root filesystem.")
            _copy_ext4(raw, dest)
        finally:
            Path(raw).unlink(missing_ok=True)
    elif kind == "ext4":
        _copy_ext4(path, dest)
    elif kind in ("tar", "tar.gz"):
        run(["tar", "-x", "-C", dest, "--numeric-owner", "-f", path], timeout=600)
    else:
        raise d.DriverError(
            f"Image {img.get('id')} ({img.get('name')}) is not a root filesystem the container driver can "
            f"boot ({kind}: expected an ext4 disk image, raw or qcow2, or a rootfs tarball).")
    if not (os.path.exists(os.path.join(dest, "init")) or os.path.exists(os.path.join(dest, "sbin/init"))):
        raise d.DriverError(f"Image {img.get('id')} has no /init or /sbin/init to start.")


def _copy_ext4(path: str, dest: str) -> None:
    mnt = tempfile.mkdtemp(prefix=".tmp-mnt-", dir=os.path.dirname(dest))
    try:
        run(["mount", "-o", "loop,ro,noload", path, mnt])
        try:
            run(["cp", "-a", mnt + "/.", dest], timeout=600)
        finally:
            run(["umount", mnt], check=False)
    finally:
        os.rmdir(mnt)
    shutil.rmtree(os.path.join(dest, "lost+found"), ignore_errors=True)


def rootfs_to_ext4(src: str, dst: str) -> None:
    """Snapshot a (mounted) root tree as a raw ext4 disk image sized to its content."""
    from onestack.dataplane import image_build
    used = int(subprocess.run(["du", "-sxb", src], capture_output=True, text=True, check=True).stdout.split()[0])
    size_mb = max(64, (used * 13 // 10 >> 20) + 32)
    try:
        image_build.make_ext4(src, dst, size_mb)
    except subprocess.CalledProcessError as e:
        raise CommandError(["mkfs.ext4", "-d", src], e.returncode, (e.stderr or b"").decode()) from None


def config_drive(dest: str, files: dict[str, bytes]) -> str:
    """An ISO 9660 config drive (label config-2, Rock Ridge + Joliet) with ``files``
    ({"openstack/latest/meta_data.json": b"..."}); returns its path."""
    tree = tempfile.mkdtemp(prefix=".tmp-cd-", dir=os.path.dirname(dest))
    try:
        for rel, data in files.items():
            p = Path(tree) / rel.lstrip("/")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        tmp = dest + ".tmp"
        run(["genisoimage", "-quiet", "-o", tmp, "-V", "config-2", "-J", "-r", "-l", tree], timeout=120)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return dest


def config_drive_files(instance: dict[str, Any]) -> dict[str, bytes]:
    """The metadata documents of an instance (compute.metadata when present, else a minimal
    OpenStack-format meta_data.json + user_data built from the instance record)."""
    try:
        from onestack.compute import metadata   # the metadata service's documents
        docs = metadata.documents(instance["uuid"])
        return {k.lstrip("/"): (v if isinstance(v, bytes) else str(v).encode()) for k, v in docs.items()}
    except ImportError:
        pass
    import base64
    md = {"uuid": instance["uuid"], "name": instance.get("display_name") or instance.get("name"),
          "hostname": instance.get("hostname"), "meta": instance.get("metadata") or {},
          "project_id": instance.get("project_id"), "launch_index": 0,
          "public_keys": {"default": instance["key_data"]} if instance.get("key_data") else {},
          "availability_zone": "nova", "devices": []}
    files = {"openstack/latest/meta_data.json": json.dumps(md).encode(),
             "openstack/latest/network_data.json": b'{"links": [], "networks": [], "services": []}',
             "openstack/latest/vendor_data.json": b"{}"}
    if instance.get("user_data"):
        try:
            files["openstack/latest/user_data"] = base64.b64decode(instance["user_data"])
        except ValueError:
            files["openstack/latest/user_data"] = str(instance["user_data"]).encode()
    return files


def wants_config_drive(instance: dict[str, Any]) -> bool:
    from onestack.compute import conf as cconf
    return bool(cconf.get().force_config_drive or str(instance.get("config_drive") or "").lower()
                in ("true", "1", "yes", "on", "true"))
