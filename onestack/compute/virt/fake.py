"""The fake driver: a simulated hypervisor host with configurable resources, delays and
failure injection. State lives in memory and in a small JSON file per host (so a restart of
onestack finds "running" instances as a real hypervisor would)."""
from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from onestack.compute.virt import driver as d


class FakeDriver(d.Driver, d.Snapshot, d.Console, d.Rescue, d.VolumeAttach, d.InterfaceAttach, d.Migrate):
    capabilities = d.Capabilities(pause=True, suspend=True, rescue=True, snapshot=True, console_output=True,
                                  remote_consoles=(), volume_attach=True, interface_attach=True,
                                  resize=True, live_migration=True, crash_dump=True,
                                  set_admin_password=True, diagnostics=True, hypervisor_type="fake")

    def __init__(self, host: str, vcpus: int = 64, memory_mb: int = 131072, local_gb: int = 2048,
                 delay: float = 0.0, fail: bool = False, state_dir: str | None = None):
        self.host = host
        self.resources = d.NodeResources(nodename=host, vcpus=vcpus, memory_mb=memory_mb, local_gb=local_gb,
                                         hypervisor_type="fake", hypervisor_version=1000,
                                         cpu_info={"arch": "x86_64", "model": "fake", "vendor": "onestack",
                                                   "topology": {"sockets": 1, "cores": vcpus, "threads": 1},
                                                   "features": []},
                                         traits=("COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_VOLUME_ATTACH",
                                                 "HW_CPU_X86_SSE2"))
        self.delay = delay
        self.fail = fail
        self.started = time.time()
        self._lock = threading.RLock()
        self._path = Path(state_dir) / f"fake-{host}.json" if state_dir else None
        self.instances: dict[str, dict[str, Any]] = {}
        if self._path and self._path.exists():
            try:
                self.instances = json.loads(self._path.read_text())
            except ValueError:
                self.instances = {}

    # ------------------------------------------------------------ helpers
    def _sleep(self) -> None:
        if self.delay:
            time.sleep(self.delay)

    def _save(self) -> None:
        if self._path is None:
            return
        tmp = self._path.with_suffix(".tmp")
        try:   # the whole host's state on every change: orjson (~10x the json module)
            data = orjson.dumps(self.instances)
        except TypeError:
            data = json.dumps(self.instances).encode()
        tmp.write_bytes(data)
        os.replace(tmp, self._path)

    def _get(self, instance: dict[str, Any]) -> dict[str, Any]:
        vm = self.instances.get(instance["uuid"])
        if vm is None:
            raise d.InstanceNotFound(f"Instance {instance['uuid']} could not be found on {self.host}.")
        return vm

    def _set(self, instance: dict[str, Any], **values: Any) -> None:
        self._sleep()
        with self._lock:
            self._get(instance).update(values)
            self._save()

    def _log(self, instance: dict[str, Any], *lines: str, save: bool = True) -> None:
        with self._lock:
            vm = self.instances.get(instance["uuid"])
            if vm is not None:
                stamp = dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S")
                vm.setdefault("console", []).extend(f"[{stamp}] {line}" for line in lines)
                if save:
                    self._save()

    # ------------------------------------------------------------ host
    def nodes(self) -> list[d.NodeResources]:
        return [self.resources]

    def uptime(self) -> str:
        up = int(time.time() - self.started)
        now = time.strftime("%H:%M:%S")
        return f" {now} up {up // 86400} days, {up % 86400 // 3600:2d}:{up % 3600 // 60:02d},  1 user,  " \
               f"load average: 0.00, 0.00, 0.00"

    # ------------------------------------------------------------ lifecycle
    def spawn(self, instance, image, network_info, block_devices, admin_password=None) -> None:
        self._sleep()
        if self.fail:
            raise d.DriverError(f"Injected spawn failure on host {self.host}.")
        with self._lock:
            vm = self.instances.setdefault(instance["uuid"], {})
            vm.update({"name": instance.get("name"), "power_state": d.RUNNING, "image": image.get("id"),
                       "vifs": [p.get("id") for p in network_info], "volumes": {},
                       "flavor": instance.get("flavor", {})})
            # one write of the host's state file per spawn (it holds every instance of the host)
            self._log(instance, f"Booting {instance.get('hostname') or instance.get('name')} from image "
                                f"{image.get('name') or image.get('id') or 'volume'}",
                      "cloud-init: network up; ssh host keys generated",
                      f"{instance.get('hostname') or 'server'} login:", save=False)
            self._save()

    def destroy(self, instance) -> None:
        self._sleep()
        with self._lock:
            self.instances.pop(instance["uuid"], None)
            self._save()

    def rebuild(self, instance, image) -> None:
        self._set(instance, image=image.get("id"), power_state=d.RUNNING, console=[])
        self._log(instance, f"Rebuilt from image {image.get('name') or image.get('id')}")

    def get_info(self, instance) -> dict[str, Any]:
        vm = self._get(instance)
        return {"power_state": vm.get("power_state", d.NOSTATE)}

    def list_instances(self) -> list[str]:
        return list(self.instances)

    # ------------------------------------------------------------ power
    def power_off(self, instance, timeout=0) -> None:
        self._set(instance, power_state=d.SHUTDOWN)
        self._log(instance, "Powered off")

    def power_on(self, instance) -> None:
        self._set(instance, power_state=d.RUNNING)
        self._log(instance, "Powered on")

    def reboot(self, instance, hard) -> None:
        self._set(instance, power_state=d.RUNNING)
        self._log(instance, f"{'Hard' if hard else 'Soft'} reboot")

    def pause(self, instance) -> None:
        self._set(instance, power_state=d.PAUSED)

    def unpause(self, instance) -> None:
        self._set(instance, power_state=d.RUNNING)

    def suspend(self, instance) -> None:
        self._set(instance, power_state=d.SUSPENDED)

    def resume(self, instance) -> None:
        self._set(instance, power_state=d.RUNNING)

    def trigger_crash_dump(self, instance) -> None:
        self._get(instance)
        self._log(instance, "NMI received: crash dump triggered")

    # ------------------------------------------------------------ other concerns
    def snapshot(self, instance, path) -> dict[str, Any]:
        vm = self._get(instance)
        self._sleep()
        Path(path).write_bytes(b"FAKEDISK" + json.dumps({"uuid": instance["uuid"],
                                                          "image": vm.get("image")}).encode())
        return {"disk_format": "raw", "container_format": "bare"}

    def console_output(self, instance) -> str:
        vm = self._get(instance)
        return "\n".join(vm.get("console", [])) + "\n"

    def rescue(self, instance, image, admin_password) -> None:
        self._set(instance, rescued=True, power_state=d.RUNNING)

    def unrescue(self, instance) -> None:
        self._set(instance, rescued=False, power_state=d.RUNNING)

    def attach_volume(self, instance, connection, device) -> None:
        vm = self._get(instance)
        with self._lock:
            vm.setdefault("volumes", {})[device] = connection.get("volume_id") or connection.get("id")
            self._save()

    def detach_volume(self, instance, connection, device) -> None:
        vm = self._get(instance)
        with self._lock:
            vm.setdefault("volumes", {}).pop(device, None)
            self._save()

    def attach_interface(self, instance, vif) -> None:
        vm = self._get(instance)
        with self._lock:
            if vif.get("id") not in vm.setdefault("vifs", []):
                vm["vifs"].append(vif.get("id"))
            self._save()

    def detach_interface(self, instance, vif) -> None:
        vm = self._get(instance)
        with self._lock:
            vm["vifs"] = [v for v in vm.get("vifs", []) if v != vif.get("id")]
            self._save()

    def migrate_out(self, instance) -> dict[str, Any]:
        vm = self.instances.get(instance["uuid"])
        if vm is None:
            return {"vm": {"power_state": d.SHUTDOWN, "name": instance.get("name")}}
        self._sleep()
        with self._lock:
            vm = dict(self.instances.pop(instance["uuid"]))
            self._save()
        return {"vm": vm}

    def migrate_in(self, instance, token, power_on) -> None:
        self._sleep()
        with self._lock:
            vm = dict(token.get("vm") or {})
            vm["power_state"] = d.RUNNING if power_on else d.SHUTDOWN
            vm["flavor"] = instance.get("flavor", vm.get("flavor"))
            self.instances[instance["uuid"]] = vm
            self._save()

    def diagnostics(self, instance) -> dict[str, Any]:
        vm = self._get(instance)
        f = vm.get("flavor") or {}
        return {"state": "running" if vm.get("power_state") == d.RUNNING else "shutdown",
                "driver": "libvirt", "hypervisor": "fake", "hypervisor_os": "linux", "uptime": 46664,
                "config_drive": False, "num_cpus": f.get("vcpus", 1), "num_nics": len(vm.get("vifs", [])),
                "num_disks": 1, "memory_details": {"maximum": f.get("ram", 0), "used": 0},
                "cpu_details": [{"id": 0, "time": 17300000000, "utilisation": 15}],
                "nic_details": [], "disk_details": [{"read_bytes": 262144, "read_requests": 112,
                                                     "write_bytes": 5778432, "write_requests": 488,
                                                     "errors_count": 1}]}

    def set_admin_password(self, instance, password) -> None:
        self._get(instance)
        self._log(instance, "admin password changed")
