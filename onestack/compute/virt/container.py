"""The container driver: every instance is a runc container.

- root filesystem: an overlay (the instance's writable layer) over the Glance image
  unpacked once per image (an ext4 disk image, raw or qcow2, or a rootfs tarball); a boot
  volume is mounted as the root itself (the guest writes into the volume);
- cgroup limits from the flavor (vcpus -> CPU quota, ram -> memory, a pids limit) where
  the host's cgroups have the controllers;
- its own network namespace ``os-inst-<uuid>``, one veth per port (eth0, eth1...) on the
  network's bridge in the host namespace; no addresses: the guest takes DHCP; interfaces
  hot-plug (a veth end moved into the running instance's namespace) and unplug;
- console: the container's stdout/stderr in ``console.log``;
- power: stop (SIGTERM, then SIGKILL after the shutdown timeout) / start from the same
  bundle, reboot = stop + start, pause and suspend = the freezer cgroup (suspend keeps
  memory resident: there is no save-to-disk for a container);
- volumes: raw volume files as loop devices, node ``/dev/vdX`` in the container (hot:
  mknod + devices cgroup; cold: in config.json); qcow2 volumes are refused (no nbd here);
- root disk: the writable layer lives on an ext4 filesystem of the flavor's disk size (a
  sparse file, loop-mounted below the bundle), so ``df /`` in the guest shows the flavor's
  disk and a guest cannot fill the host; a flavor with disk 0 keeps it on the host's disk;
- rescue: the rescue image in a second container on the instance's namespace, the
  instance's root tree at /mnt; unrescue removes it and starts the instance again;
- snapshot: the merged root tree as a raw ext4 image; resize (same host): new limits, the
  root disk grown online (shrunk back, offline, on a resize revert).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from onestack.compute import conf as cconf
from onestack.compute.virt import common
from onestack.compute.virt import driver as d
from onestack.dataplane import host, loop, names, net, runc
from onestack.dataplane._util import run

log = logging.getLogger(__name__)
CD_DEVICE = "/dev/vdz"


class ContainerDriver(common.HostDriverBase, d.Snapshot, d.Console, d.VolumeAttach, d.InterfaceAttach, d.Migrate,
                      d.Rescue):
    hypervisor_type = "lxc"
    capabilities = d.Capabilities(pause=True, suspend=True, rescue=True, snapshot=True, console_output=True,
                                  volume_attach=True, interface_attach=True, resize=True, hypervisor_type="lxc")

    # ------------------------------------------------------------ helpers
    def _pid(self, uuid: str) -> int | None:
        st = runc.state(self.dp, uuid)
        return st["pid"] if st and st.get("status") in ("running", "paused") else None

    def _devices(self, meta: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for dev_path, v in sorted(meta.get("volumes", {}).items()):
            if v.get("root"):
                continue
            out.append(loop.device_spec(loop.attach(v["path"], read_only=v.get("read_only", False)), dev_path))
        return out

    def _bundle(self, instance: dict[str, Any], meta: dict[str, Any]) -> None:
        """Ensure netns, ports, loops and the bundle exist as ``meta`` says (idempotent)."""
        uuid = instance["uuid"]
        netns = names.instance_netns(uuid)
        net.ensure_netns(netns)
        for i, w in enumerate(meta.get("ports", [])):
            self._plug(w, netns, w.get("ifname") or f"eth{i}")
        root = next((v for v in meta.get("volumes", {}).values() if v.get("root")), None)
        flavor = meta.get("flavor") or {}
        runc.prepare_bundle(self.dp, uuid, None if root else self.image_rootfs(meta["image_id"]), netns=netns,
                            hostname=(instance.get("hostname") or meta.get("hostname") or "instance")[:63],
                            memory_mb=flavor.get("ram") or None, vcpus=flavor.get("vcpus") or None,
                            pids=cconf.get().container_pids_limit, devices=self._devices(meta),
                            root_device=loop.attach(root["path"]) if root else None,
                            disk_gb=flavor.get("disk") or None)

    def _plug(self, w: dict[str, Any], netns: str, ifname: str) -> None:
        self.ensure_port_bridge(w)
        net.plug_port_into_netns(w, w["bridge"], netns, ns=w["host_netns"], ifname=ifname, mtu=w["mtu"])

    def owned_objects(self, uuid: str) -> set[str]:
        out = super().owned_objects(uuid)
        if (self.meta(uuid) or {}).get("rescue"):
            rb = runc.bundle_dir(self.dp, rescue_id(uuid))
            out |= names.instance_objects(rescue_id(uuid)) | {str(rb / "rootfs")}
        b = runc.bundle_dir(self.dp, uuid)
        out |= {str(b / "rootfs"), str(b / "disk"), str(b / runc.DISK)}   # root mount, root disk + its loop
        out |= {os.path.realpath(v["path"]) for v in ((self.meta(uuid) or {}).get("volumes") or {}).values()}
        return out

    # ------------------------------------------------------------ lifecycle
    def spawn(self, instance, image, network_info, block_devices, admin_password=None) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            host.claim(*sorted(names.instance_objects(uuid)))
            meta = self.meta(uuid) or {}
            meta.update(image_id=image.get("id") or None, flavor=instance.get("flavor") or {},
                        hostname=instance.get("hostname"), power="running",
                        ports=[self.port_wiring(p) for p in network_info])
            vols = meta.setdefault("volumes", {})
            for bd in block_devices or []:
                path, fmt = common.volume_file(bd.get("connection") or {})
                dev = bd.get("device") or f"/dev/vd{chr(ord('b') + len(vols))}"
                self._check_raw(fmt, bd.get("volume_id"))
                vols[dev] = {"path": path, "volume_id": bd.get("volume_id"),
                             "root": dev in ("/dev/vda", "/dev/sda") or not meta["image_id"]}
            if not meta["image_id"] and not any(v["root"] for v in vols.values()):
                raise d.DriverError("Instance has neither an image nor a boot volume.")
            if common.wants_config_drive(instance):
                cd = str(Path(self.dp) / "meta" / f"{uuid}.config.iso")
                vols[CD_DEVICE] = {"path": cd, "read_only": True, "config_drive": True}
                self.save_meta(uuid, meta)
                common.config_drive(cd, common.config_drive_files(instance))
            self.save_meta(uuid, meta)       # before any object it names exists
            self._bundle(instance, meta)
            runc.start(self.dp, uuid)

    @staticmethod
    def _check_raw(fmt: str, volume_id: str | None) -> None:
        if fmt != "raw":
            raise d.DriverError(f"Volume {volume_id} is {fmt}: the container driver attaches raw volumes "
                                "only (loop devices; qcow2 would need nbd, which this host lacks).")

    def destroy(self, instance) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.meta(uuid) or {}
            if meta.get("rescue") or runc.bundle_dir(self.dp, rescue_id(uuid)).exists():
                runc.destroy(self.dp, rescue_id(uuid))   # the rescue container first (it binds the root)
            runc.destroy(self.dp, uuid)          # also unmounts the root (overlay or boot volume)
            for dev, v in meta.get("volumes", {}).items():
                self._release_loop(uuid, v["path"])
                if v.get("config_drive"):
                    Path(v["path"]).unlink(missing_ok=True)
            self.unplug_ports(meta)
            net.remove_netns(names.instance_netns(uuid))
            self.drop_meta(uuid)

    def _release_loop(self, uuid: str, path: str) -> None:
        """Detach the loop device of ``path`` unless another instance here still uses it
        (multiattach); flush it first so the file holds every write."""
        for other in self.list_instances():
            if other != uuid and any(v["path"] == path for v in (self.meta(other) or {}).get("volumes", {}).values()):
                return
        for dev in loop.find(path):
            run(["blockdev", "--flushbufs", dev], check=False)
        loop.detach(path)

    def rebuild(self, instance, image) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            runc.destroy(self.dp, uuid)          # the writable layer goes; volumes and ports stay
            meta.update(image_id=image.get("id") or meta.get("image_id"), power="running")
            self.save_meta(uuid, meta)
            self._bundle(instance, meta)
            runc.start(self.dp, uuid)

    def get_info(self, instance) -> dict[str, Any]:
        meta = self.known(instance)
        st = runc.state(self.dp, rescue_id(instance["uuid"]) if meta.get("rescue") else instance["uuid"])
        status = (st or {}).get("status")
        if status == "running":
            ps = d.RUNNING
        elif status == "paused":
            ps = d.SUSPENDED if meta.get("power") == "suspended" else d.PAUSED
        else:
            ps = d.SHUTDOWN
        return {"power_state": ps, "pid": (st or {}).get("pid")}

    def power_states(self) -> dict[str, int]:
        """Every instance's power state from one `runc list` (the periodic sync)."""
        import json
        raw = run(["runc", "--root", runc.runc_root(self.dp), "list", "-f", "json"], check=False).strip()
        status = {c["id"]: c["status"] for c in (json.loads(raw) if raw and raw != "null" else []) or []}
        out = {}
        for uuid in self.list_instances():
            meta = self.meta(uuid) or {}
            st = status.get(names.runc_id(rescue_id(uuid) if meta.get("rescue") else uuid))
            paused = d.SUSPENDED if meta.get("power") == "suspended" else d.PAUSED
            out[uuid] = d.RUNNING if st == "running" else paused if st == "paused" else d.SHUTDOWN
        return out

    # ------------------------------------------------------------ power
    def power_off(self, instance, timeout=0) -> None:
        with common.lock(instance["uuid"]):
            self._set_power(instance["uuid"], "shutdown")
            runc.stop(self.dp, instance["uuid"], timeout=timeout or cconf.get().shutdown_timeout)

    def power_on(self, instance) -> None:
        with common.lock(instance["uuid"]):
            meta = self._set_power(instance["uuid"], "running")
            self._bundle(instance, meta)        # volumes attached while off are in config.json
            runc.start(self.dp, instance["uuid"])

    def reboot(self, instance, hard) -> None:
        self.power_off(instance, timeout=0 if hard else cconf.get().shutdown_timeout)
        self.power_on(instance)

    def _freeze(self, uuid: str) -> None:
        runc.pause(self.dp, uuid)

    def _thaw(self, uuid: str) -> None:
        runc.resume(self.dp, uuid)

    # ------------------------------------------------------------ console, snapshot
    def console_output(self, instance) -> str:
        self.known(instance)
        return runc.console_output(self.dp, instance["uuid"])

    def snapshot(self, instance, path) -> dict[str, Any]:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            rootfs = runc.bundle_dir(self.dp, uuid) / "rootfs"
            if not runc._mounted(rootfs):
                self._bundle(instance, meta)
            common.rootfs_to_ext4(str(rootfs), path)
        return {"disk_format": "raw", "container_format": "bare"}

    # ------------------------------------------------------------ volumes
    def attach_volume(self, instance, connection, device) -> None:
        uuid = instance["uuid"]
        path, fmt = common.volume_file(connection)
        self._check_raw(fmt, (connection.get("data") or {}).get("name"))
        with common.lock(uuid):
            meta = self.known(instance)
            meta.setdefault("volumes", {})[device] = {"path": path, "root": False}
            self.save_meta(uuid, meta)
            dev = loop.attach(path)
            pid = self._pid(uuid)
            if pid:
                loop.expose_in_container(pid, uuid, dev, device)
            self._bundle(instance, meta)         # config.json lists it for the next start

    def detach_volume(self, instance, connection, device) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            v = meta.get("volumes", {}).get(device)
            if v is None:
                return
            pid = self._pid(uuid)
            devs = loop.find(v["path"])
            if pid:
                if (runc.state(self.dp, uuid) or {}).get("status") == "running":
                    guest_sync(self.dp, uuid)
                loop.hide_from_container(pid, uuid, devs[0] if devs else None, device)
            del meta["volumes"][device]
            self.save_meta(uuid, meta)
            self._bundle(instance, meta)
            self._release_loop(uuid, v["path"])

    # ------------------------------------------------------------ rescue
    def rescue(self, instance, image, admin_password) -> None:
        """Stop the instance and run the rescue image in a second container
        (``<uuid>-rescue``) on the same network namespace and limits, with the instance's
        root tree bind-mounted at /mnt (a container's root is a tree, not a disk to attach)."""
        uuid, rid = instance["uuid"], rescue_id(instance["uuid"])
        with common.lock(uuid):
            meta = self.known(instance)
            runc.stop(self.dp, uuid, timeout=cconf.get().shutdown_timeout)
            if not meta.get("rescue"):
                meta["rescue"] = {"image_id": image.get("id") or meta.get("image_id")}
                host.claim(*sorted(names.instance_objects(rid) - {names.instance_netns(rid)}))
                self.save_meta(uuid, meta)       # before the rescue container exists
            self._bundle(instance, meta)         # the original root mounted, ports plugged
            flavor = meta.get("flavor") or {}
            runc.prepare_bundle(self.dp, rid, self.image_rootfs(meta["rescue"]["image_id"]),
                                netns=names.instance_netns(uuid),
                                hostname=(instance.get("hostname") or meta.get("hostname") or "instance")[:63],
                                memory_mb=flavor.get("ram") or None, vcpus=flavor.get("vcpus") or None,
                                pids=cconf.get().container_pids_limit,
                                extra_mounts=[{"destination": "/mnt", "type": "bind", "options": ["rbind", "rw"],
                                               "source": str(runc.bundle_dir(self.dp, uuid) / "rootfs")}])
            runc.start(self.dp, rid)

    def unrescue(self, instance) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            runc.destroy(self.dp, rescue_id(uuid))
            meta.pop("rescue", None)
            meta["power"] = "running"
            self.save_meta(uuid, meta)
            self._bundle(instance, meta)
            runc.start(self.dp, uuid)

    def forget_images(self, keep: set[str]) -> None:
        rescue = {(self.meta(u) or {}).get("rescue", {}).get("image_id") for u in self.list_instances()}
        super().forget_images(keep | {i for i in rescue if i})

    # ------------------------------------------------------------ interfaces (hot-plug)
    def attach_interface(self, instance, vif) -> None:
        """A new veth: its host end on the port's bridge, the other end moved into the
        instance's namespace as the first free ethN (the guest takes DHCP on it)."""
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            ports = meta.setdefault("ports", [])
            w = next((p for p in ports if p["id"] == vif["id"]), None)
            if w is None:
                used = {p.get("ifname") or f"eth{i}" for i, p in enumerate(ports)}
                for i, p in enumerate(ports):
                    p.setdefault("ifname", f"eth{i}")     # pin the names of the ports already there
                w = dict(self.port_wiring(vif), ifname=next(f"eth{n}" for n in range(len(ports) + 1)
                                                            if f"eth{n}" not in used))
                ports.append(w)
                host.claim(*sorted(names.port_objects(vif["id"])))
                self.save_meta(uuid, meta)       # before the veth it names exists
            self._plug(w, names.instance_netns(uuid), w["ifname"])

    def detach_interface(self, instance, vif) -> None:
        uuid = instance["uuid"]
        with common.lock(uuid):
            meta = self.known(instance)
            ports = meta.get("ports", [])
            w = next((p for p in ports if p["id"] == vif["id"]), None)
            if w is None:
                return
            for i, p in enumerate(ports):
                p.setdefault("ifname", f"eth{i}")
            ports.remove(w)
            self.save_meta(uuid, meta)
            net.unplug_port(w["id"], ns=w["host_netns"])

    # ------------------------------------------------------------ resize / cold migration (same host)
    def migrate_out(self, instance) -> dict[str, Any]:
        meta = self.meta(instance["uuid"])
        if meta is None:
            return {"host": self.host, "missing": True}
        runc.stop(self.dp, instance["uuid"], timeout=cconf.get().shutdown_timeout)
        return {"host": self.host}

    def migrate_in(self, instance, token, power_on) -> None:
        uuid = instance["uuid"]
        if token.get("host") != self.host or self.meta(uuid) is None:
            raise d.DriverError("The container driver resizes on the same host only; moving an instance "
                                "between hosts is not supported.")
        with common.lock(uuid):
            meta = self.known(instance)
            meta["flavor"] = instance.get("flavor") or meta.get("flavor")
            disk = (meta["flavor"] or {}).get("disk") or 0
            if disk and disk < runc.disk_size_gb(runc.bundle_dir(self.dp, uuid)):
                runc.stop(self.dp, uuid, timeout=cconf.get().shutdown_timeout)
                runc.shrink_disk(self.dp, uuid, disk)     # a resize revert: back to the old size
            meta["power"] = "running" if power_on else "shutdown"
            self.save_meta(uuid, meta)
            self._bundle(instance, meta)          # config.json with the new limits
            if power_on:
                runc.start(self.dp, uuid)

    def diagnostics(self, instance) -> dict[str, Any]:
        meta = self.known(instance)
        info = self.get_info(instance)
        f = meta.get("flavor") or {}
        return {"state": "running" if info["power_state"] == d.RUNNING else "shutdown", "driver": "runc",
                "hypervisor": "runc", "hypervisor_os": "linux", "uptime": 0,
                "config_drive": any(v.get("config_drive") for v in meta.get("volumes", {}).values()),
                "num_cpus": f.get("vcpus", 1), "num_nics": len(meta.get("ports", [])),
                "num_disks": 1 + len(meta.get("volumes", {})),
                "memory_details": {"maximum": f.get("ram", 0), "used": 0}, "cpu_details": [],
                "nic_details": [], "disk_details": []}


def rescue_id(uuid: str) -> str:
    """The rescue container of an instance (runc id, bundle and cgroup ``os-inst-<uuid>-rescue``)."""
    return f"{uuid}-rescue"


def guest_sync(dp: str, uuid: str) -> None:
    """Flush the guest's dirty block-device pages before a volume leaves it."""
    try:
        runc.exec_(dp, uuid, ["sync"], timeout=10)
    except Exception as e:   # no sync in the guest (or it hangs): the host-side flush still runs
        log.debug("sync in %s: %s", uuid, e)


def available() -> str | None:
    if os.geteuid() != 0:
        return "the container driver needs root"
    from onestack.dataplane._util import which
    return None if which("runc") else "runc is not installed"
