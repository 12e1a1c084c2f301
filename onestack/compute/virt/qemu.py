"""The qemu driver: every instance is a qemu VM (KVM when it can run a stock guest here,
else TCG), run inside the host namespace so it opens its taps there.

- root disk: a qcow2 overlay (sized to the flavor's disk) on the cached Glance image; a
  boot volume is the root disk itself;
- boot: direct kernel boot when the image names ``kernel_id`` (and ``ramdisk_id``) --
  ``root=/dev/vda``: onestack's tiny initramfs switches to that disk -- else the firmware
  boots the disk's own boot loader;
- NICs: virtio-net on a tap ``os-tap-<port>`` on the network's bridge;
- console: the serial port in ``serial.log``; power via QMP (stop = ACPI power button,
  then quit after the shutdown timeout; reboot = reset; pause/suspend = QMP stop);
- volumes: raw or qcow2 files as virtio disks, hot-plugged over QMP (blockdev-add +
  device_add); a config drive is a read-only ISO disk;
- snapshot: ``qemu-img convert`` of the root disk to a standalone qcow2.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from onestack.compute import conf as cconf
from onestack.compute.virt import common
from onestack.compute.virt import driver as d
from onestack.dataplane import host, names, net
from onestack.dataplane import qemu as vm
from onestack.dataplane._util import run

log = logging.getLogger(__name__)


def _disk_id(device: str) -> str:
    return "disk-" + re.sub(r"[^a-z0-9]", "", device.rsplit("/", 1)[-1])


class QemuDriver(common.HostDriverBase, d.Snapshot, d.Console, d.VolumeAttach):
    hypervisor_type = "qemu"
    capabilities = d.Capabilities(pause=True, suspend=True, snapshot=True, console_output=True,
                                  volume_attach=True, hypervisor_type="qemu")

    def _dir(self, uuid: str) -> Path:
        p = vm.vm_dir(self.dp, uuid)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def _kernel(self, image_id: str) -> str:
        """A kernel image as qemu boots it fastest (an xz bzImage unpacked to vmlinux: TCG
        decompresses slowly)."""
        from onestack.dataplane import image_build
        path, _ = self.image_file(image_id)
        out = Path(self.dp) / "images" / f"{image_id}.vmlinux"
        with common.lock(f"vmlinux-{image_id}"):
            if not out.exists():
                tmp = out.with_name(f".tmp-{out.name}")
                image_build.extract_vmlinux(Path(path), tmp)
                os.replace(tmp, out)
        return str(out)

    def _root_disk(self, uuid: str, meta: dict[str, Any]) -> dict[str, Any]:
        root = next((v for v in meta.get("volumes", {}).values() if v.get("root")), None)
        if root:
            return {"path": root["path"], "format": root.get("format", "raw"), "id": "disk-vda"}
        disk = self._dir(uuid) / "disk.qcow2"
        if not disk.exists():
            base, img = self.image_file(meta["image_id"])
            fmt = "qcow2" if common.detect(base) == "qcow2" else "raw"
            size_gb = int((meta.get("flavor") or {}).get("disk") or 0)
            tmp = disk.with_name("disk.tmp")
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", fmt, str(tmp),
                 *([f"{size_gb}G"] if size_gb and size_gb << 30 > os.path.getsize(base) else [])])
            os.replace(tmp, disk)
        return {"path": str(disk), "format": "qcow2", "id": "disk-vda"}

    def _start(self, instance: dict[str, Any], meta: dict[str, Any]) -> None:
        uuid = instance["uuid"]
        hns = host.host_ns()
        nics = []
        for w in meta.get("ports", []):
            self.ensure_port_bridge(w)
            hns = w["host_netns"]
            nics.append({"tap": net.plug_port_tap(w, w["bridge"], ns=w["host_netns"], mtu=w["mtu"]),
                         "mac": w["mac_address"]})
        if hns:
            net.ensure_netns(hns)
        disks = [self._root_disk(uuid, meta)]
        for dev, v in sorted(meta.get("volumes", {}).items()):
            if not v.get("root"):
                disks.append({"path": v["path"], "format": v.get("format", "raw"), "id": _disk_id(dev),
                              "read_only": v.get("read_only", False)})
        props = meta.get("image_properties") or {}
        kernel = self._kernel(props["kernel_id"]) if props.get("kernel_id") else None
        initrd = self.image_file(props["ramdisk_id"])[0] if kernel and props.get("ramdisk_id") else None
        flavor = meta.get("flavor") or {}
        c = cconf.get()
        vm.start(self.dp, uuid, kernel=kernel, initrd=initrd,
                 append=f"console=ttyS0 root=/dev/vda quiet panic=-1 {props.get('os_command_line', '')}".strip(),
                 memory_mb=flavor.get("ram") or 256, vcpus=flavor.get("vcpus") or 1, disks=disks, nics=nics,
                 netns=hns, accel=c.qemu_accel, paused=meta.get("power") == "paused")

    # ------------------------------------------------------------ lifecycle
    def spawn(self, instance, image, network_info, block_devices, admin_password=None) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            host.claim(*sorted(names.instance_objects(uuid)))
            meta = self.meta(uuid) or {}
            props = dict(image.get("properties") or {})
            if image.get("id") and not props:
                props = dict(self.image_file(image["id"])[1].get("properties") or {})
            meta.update(image_id=image.get("id") or None, image_properties=props,
                        flavor=instance.get("flavor") or {}, hostname=instance.get("hostname"),
                        power="running", ports=[self.port_wiring(p) for p in network_info])
            vols = meta.setdefault("volumes", {})
            for bd in block_devices or []:
                path, fmt = common.volume_file(bd.get("connection") or {})
                dev = bd.get("device") or f"/dev/vd{chr(ord('b') + len(vols))}"
                vols[dev] = {"path": path, "format": fmt, "volume_id": bd.get("volume_id"),
                             "root": dev in ("/dev/vda", "/dev/sda") or not meta["image_id"]}
            if not meta["image_id"] and not any(v["root"] for v in vols.values()):
                raise d.DriverError("Instance has neither an image nor a boot volume.")
            if common.wants_config_drive(instance):
                cd = str(Path(self.dp) / "meta" / f"{uuid}.config.iso")
                vols["/dev/vdz"] = {"path": cd, "format": "raw", "read_only": True, "config_drive": True}
                self.save_meta(uuid, meta)
                common.config_drive(cd, common.config_drive_files(instance))
            self.save_meta(uuid, meta)
            self._start(instance, meta)

    def destroy(self, instance) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.meta(uuid) or {}
            vm.destroy(self.dp, uuid)            # the VM directory holds the root overlay
            for v in meta.get("volumes", {}).values():
                if v.get("config_drive"):
                    Path(v["path"]).unlink(missing_ok=True)
            self.unplug_ports(meta)
            self.drop_meta(uuid)

    def rebuild(self, instance, image) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            vm.stop(self.dp, uuid)
            (vm.vm_dir(self.dp, uuid) / "disk.qcow2").unlink(missing_ok=True)
            if image.get("id"):
                meta.update(image_id=image["id"],
                            image_properties=dict(self.image_file(image["id"])[1].get("properties") or {}))
            meta["power"] = "running"
            self.save_meta(uuid, meta)
            self._start(instance, meta)

    def get_info(self, instance) -> dict[str, Any]:
        meta = self.known(instance)
        status = vm.status(self.dp, instance["uuid"])
        if status in ("running", "prelaunch", "inmigrate", "finish-migrate"):
            ps = d.RUNNING
        elif status in ("paused", "suspended"):
            ps = d.SUSPENDED if meta.get("power") == "suspended" else d.PAUSED
        elif status in ("internal-error", "guest-panicked", "io-error"):
            ps = d.CRASHED
        else:
            ps = d.SHUTDOWN
        return {"power_state": ps}

    # ------------------------------------------------------------ power
    def power_off(self, instance, timeout=0) -> None:
        with common.lock(instance["uuid"]):
            self._set_power(instance["uuid"], "shutdown")
            vm.stop(self.dp, instance["uuid"], timeout=timeout or cconf.get().shutdown_timeout)

    def power_on(self, instance) -> None:
        with common.lock(instance["uuid"]):
            meta = self._set_power(instance["uuid"], "running")
            self._start(instance, meta)

    def reboot(self, instance, hard) -> None:
        with common.lock(instance["uuid"]):
            meta = self._set_power(instance["uuid"], "running")
            if vm.pid(self.dp, instance["uuid"]):
                if vm.status(self.dp, instance["uuid"]) == "paused":
                    vm.resume(self.dp, instance["uuid"])
                vm.reboot(self.dp, instance["uuid"])
            else:
                self._start(instance, meta)

    def _freeze(self, uuid: str) -> None:
        vm.pause(self.dp, uuid)

    def _thaw(self, uuid: str) -> None:
        vm.resume(self.dp, uuid)

    # ------------------------------------------------------------ console, snapshot
    def console_output(self, instance) -> str:
        self.known(instance)
        return vm.console_output(self.dp, instance["uuid"])

    def snapshot(self, instance, path) -> dict[str, Any]:
        meta = self.known(instance)
        root = self._root_disk(instance["uuid"], meta)
        run(["qemu-img", "convert", "-U", "-f", root["format"], "-O", "qcow2", root["path"], path], timeout=1800)
        return {"disk_format": "qcow2", "container_format": "bare"}

    # ------------------------------------------------------------ volumes
    def attach_volume(self, instance, connection, device) -> None:
        uuid = instance["uuid"]
        path, fmt = common.volume_file(connection)
        with common.lock(uuid):
            meta = self.known(instance)
            meta.setdefault("volumes", {})[device] = {"path": path, "format": fmt, "root": False}
            self.save_meta(uuid, meta)
            if vm.pid(self.dp, uuid):
                vm.attach_disk(self.dp, uuid, path, _disk_id(device), fmt=fmt)

    def detach_volume(self, instance, connection, device) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            if device not in meta.get("volumes", {}):
                return
            if vm.pid(self.dp, uuid) and not vm.detach_disk(self.dp, uuid, _disk_id(device), timeout=30):
                raise d.DriverError(f"The guest did not release {device} (PCI unplug needs its cooperation).")
            del meta["volumes"][device]
            self.save_meta(uuid, meta)


def available() -> str | None:
    if os.geteuid() != 0:
        return "the qemu driver needs root (taps in the host namespace)"
    return vm.available() or (None if shutil.which("qemu-img") else "qemu-img is not installed")
