"""The compute agent: one per hypervisor host. Serves bus topic ``compute.<host>``, calls the
virt driver, and reports the host's service, node and inventory (to placement) at start.

Endpoints take and return JSON only. They touch no compute tables: the tasks that call them
own the server's state; the agent only makes the hypervisor match what it is asked for.
"""
from __future__ import annotations

import logging
from typing import Any

from onestack import bus, db
from onestack.compute import conf as cconf
from onestack.compute.virt import driver as vd

log = logging.getLogger(__name__)
AGENTS: dict[str, "ComputeAgent"] = {}


class ComputeAgent:
    def __init__(self, host: str, driver: vd.Driver):
        self.host = host
        self.driver = driver

    # ------------------------------------------------------------ start-up
    def start(self) -> None:
        from onestack.compute import hosts
        from onestack.placement import interface as placement
        c = cconf.get()
        with db.write() as s:
            hosts.ensure_service(s, self.host, "nova-compute")
            nodes = [(hosts.ensure_node(s, self.host, res).uuid, res) for res in self.driver.nodes()]
            sync = hosts.placement_sync(s, [self.host])
        for node_uuid, res in nodes:
            placement.ensure_provider(node_uuid, res.nodename, {
                "VCPU": {"total": res.vcpus, "allocation_ratio": c.cpu_allocation_ratio, "max_unit": res.vcpus},
                "MEMORY_MB": {"total": res.memory_mb, "reserved": min(c.reserved_host_memory_mb, res.memory_mb - 1),
                              "allocation_ratio": c.ram_allocation_ratio, "max_unit": res.memory_mb},
                "DISK_GB": {"total": res.local_gb, "reserved": c.reserved_host_disk_gb,
                            "allocation_ratio": c.disk_allocation_ratio, "max_unit": res.local_gb},
            }, traits=list(res.traits) + ["COMPUTE_NODE"])
        for node_uuid, aggs in sync:
            placement.set_aggregates(node_uuid, aggs)
        bus.get().serve(f"compute.{self.host}", self)

    # ------------------------------------------------------------ reconcile (real drivers)
    def _live_here(self) -> dict[str, tuple[str, str | None, int]]:
        """uuid -> (vm_state, task_state, power_state) of this host's undeleted servers."""
        from sqlalchemy import select
        from onestack.compute import models as m
        with db.read() as s:
            rows = s.execute(select(m.Server.uuid, m.Server.vm_state, m.Server.task_state, m.Server.power_state)
                             .where(m.Server.host == self.host, m.Server.deleted.is_(False))).all()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def reconcile(self) -> None:
        """Agent start: instances the driver holds that no live server owns are destroyed
        (deleted while onestack was down, or a build that crashed and was given up); the
        rest are adopted as they are, and the first power sync marks lost ones SHUTOFF."""
        live = self._live_here()
        for uuid in self.driver.list_instances():
            if uuid not in live:
                log.warning("reconcile: instance %s has no live server on %s: destroying it", uuid, self.host)
                try:
                    self.driver.destroy({"uuid": uuid})
                except Exception:
                    log.exception("reconcile: destroying %s failed", uuid)
        if hasattr(self.driver, "forget_images"):
            keep = {(self.driver.meta(u) or {}).get("image_id") for u in self.driver.list_instances()}
            self.driver.forget_images({k for k in keep if k})
        self.sync_power_states()

    def owned_objects(self) -> set[str]:
        """Kernel objects the live servers of this host keep (the start-up sweep's owner)."""
        out: set[str] = set()
        for uuid in self._live_here():
            out |= self.driver.owned_objects(uuid)
        return out

    def sync_power_states(self) -> None:
        """What the hypervisor says wins: a server whose instance stopped or vanished (crash,
        killed process) goes SHUTOFF; a running one shows RUNNING. Servers with a task in
        flight are left to that task."""
        from onestack.compute import models as m
        from onestack.compute import states as st
        from onestack.db.base import utcnow
        changes = {}
        live = self._live_here()          # the DB first: an action that finished before it shows in the driver
        known = self.driver.power_states() if hasattr(self.driver, "power_states") else None
        for uuid, (vm_state, task_state, power) in live.items():
            if task_state is not None or vm_state in (st.BUILDING, st.ERROR, st.SHELVED_OFFLOADED,
                                                      st.SOFT_DELETED, st.DELETED):
                continue
            if known is not None:
                actual = known.get(uuid, vd.NOSTATE)
            else:
                try:
                    actual = self.driver.get_info({"uuid": uuid})["power_state"]
                except vd.InstanceNotFound:
                    actual = vd.NOSTATE
            if actual == power and not (actual in (vd.SHUTDOWN, vd.NOSTATE) and vm_state != st.STOPPED):
                continue
            changes[uuid] = actual
        if not changes:
            return
        with db.write() as s:
            for uuid, actual in changes.items():
                srv = s.get(m.Server, uuid)
                if srv is None or srv.deleted or srv.task_state is not None or srv.host != self.host:
                    continue
                srv.power_state = actual
                if actual in (vd.SHUTDOWN, vd.NOSTATE, vd.CRASHED) and srv.vm_state in (
                        st.ACTIVE, st.PAUSED, st.SUSPENDED, st.RESCUED):
                    log.warning("power sync: server %s is %s but its instance is not running: SHUTOFF",
                                uuid, srv.vm_state)
                    srv.vm_state = st.STOPPED
                srv.updated_at = utcnow()

    # ------------------------------------------------------------ endpoints
    def capabilities(self) -> dict[str, Any]:
        import dataclasses
        return dataclasses.asdict(self.driver.capabilities)

    def uptime(self) -> str:
        return self.driver.uptime()

    def build(self, instance: dict[str, Any], image: dict[str, Any], network_info: list[dict[str, Any]],
              block_devices: list[dict[str, Any]], admin_password: str | None = None) -> dict[str, Any]:
        self.driver.spawn(instance, image, network_info, block_devices, admin_password)
        return self.driver.get_info(instance)

    def destroy(self, instance: dict[str, Any]) -> None:
        self.driver.destroy(instance)

    def get_info(self, instance: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.driver.get_info(instance)
        except vd.InstanceNotFound:
            return None

    def list_instances(self) -> list[str]:
        return self.driver.list_instances()

    def power(self, instance: dict[str, Any], op: str, **kw: Any) -> dict[str, Any]:
        """op: power_off, power_on, reboot, pause, unpause, suspend, resume, trigger_crash_dump."""
        if op not in ("power_off", "power_on", "reboot", "pause", "unpause", "suspend", "resume",
                      "trigger_crash_dump"):
            raise vd.Unsupported(op)
        getattr(self.driver, op)(instance, **kw)
        return self.driver.get_info(instance)

    def rebuild(self, instance: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
        self.driver.rebuild(instance, image)
        return self.driver.get_info(instance)

    def _need(self, concern: type) -> Any:
        if not isinstance(self.driver, concern):
            raise vd.Unsupported(f"the {type(self.driver).__name__} driver does not support "
                                 f"{concern.__name__.lower()}")
        return self.driver

    def snapshot(self, instance: dict[str, Any], path: str) -> dict[str, Any]:
        return self._need(vd.Snapshot).snapshot(instance, path)

    def console_output(self, instance: dict[str, Any]) -> str:
        return self._need(vd.Console).console_output(instance)

    def remote_console(self, instance: dict[str, Any], kind: str) -> dict[str, Any]:
        return self._need(vd.Console).remote_console(instance, kind)

    def rescue(self, instance: dict[str, Any], image: dict[str, Any], admin_password: str | None) -> dict[str, Any]:
        self._need(vd.Rescue).rescue(instance, image, admin_password)
        return self.driver.get_info(instance)

    def unrescue(self, instance: dict[str, Any]) -> dict[str, Any]:
        self._need(vd.Rescue).unrescue(instance)
        return self.driver.get_info(instance)

    def attach_volume(self, instance: dict[str, Any], connection: dict[str, Any], device: str) -> None:
        self._need(vd.VolumeAttach).attach_volume(instance, connection, device)

    def detach_volume(self, instance: dict[str, Any], connection: dict[str, Any], device: str) -> None:
        self._need(vd.VolumeAttach).detach_volume(instance, connection, device)

    def attach_interface(self, instance: dict[str, Any], vif: dict[str, Any]) -> None:
        self._need(vd.InterfaceAttach).attach_interface(instance, vif)

    def detach_interface(self, instance: dict[str, Any], vif: dict[str, Any]) -> None:
        self._need(vd.InterfaceAttach).detach_interface(instance, vif)

    def migrate_out(self, instance: dict[str, Any]) -> dict[str, Any]:
        return self._need(vd.Migrate).migrate_out(instance)

    def migrate_in(self, instance: dict[str, Any], token: dict[str, Any], power_on: bool) -> dict[str, Any]:
        self._need(vd.Migrate).migrate_in(instance, token, power_on)
        return self.driver.get_info(instance)

    def diagnostics(self, instance: dict[str, Any]) -> dict[str, Any]:
        return self.driver.diagnostics(instance)

    def set_admin_password(self, instance: dict[str, Any], password: str) -> None:
        self.driver.set_admin_password(instance, password)


def make_driver(host: str, index: int, state_dir: str) -> vd.Driver:
    c = cconf.get()
    name = cconf.resolved_driver()
    if name == "container":
        from onestack.compute.virt import container
        reason = container.available()
        if reason:
            raise ValueError(f"compute driver container: {reason}")
        return container.ContainerDriver(host)
    if name == "qemu":
        from onestack.compute.virt import qemu
        reason = qemu.available()
        if reason:
            raise ValueError(f"compute driver qemu: {reason}")
        return qemu.QemuDriver(host)
    if name != "fake":
        raise ValueError(f"unknown compute driver {c.driver!r} (available: auto, fake, container, qemu)")
    from onestack.compute.virt.fake import FakeDriver
    failing = {h.strip() for h in c.fake_fail_hosts.split(",") if h.strip()}
    return FakeDriver(host, vcpus=c.fake_vcpus, memory_mb=c.fake_memory_mb, local_gb=c.fake_disk_gb,
                      delay=c.fake_delay, fail=host in failing, state_dir=state_dir)


def start_all(settings: Any) -> None:
    c = cconf.get()
    state = settings.state_dir / "compute"
    state.mkdir(parents=True, exist_ok=True)
    if cconf.resolved_driver() != "fake":       # a real hypervisor: this machine, once
        import socket
        hostname = socket.gethostname()
        agent = ComputeAgent(hostname, make_driver(hostname, 1, str(state)))
        agent.reconcile()
        agent.start()
        AGENTS[hostname] = agent
        from onestack.dataplane import host as dphost
        dphost.register_owner("compute", agent.owned_objects)
        from onestack.tasks import ENGINE
        ENGINE.every("compute-power-sync", c.power_sync_interval, sync_power_states)
        return
    for i in range(1, c.fake_hosts + 1):
        host = f"{c.fake_host_prefix}-{i}"
        agent = ComputeAgent(host, make_driver(host, i, str(state)))
        agent.start()
        AGENTS[host] = agent


def sync_power_states() -> None:
    for agent in list(AGENTS.values()):
        try:
            agent.sync_power_states()
        except Exception:
            log.exception("power-state sync of %s failed", agent.host)


def heartbeat() -> None:
    from onestack.compute import hosts
    if AGENTS:
        with db.write() as s:
            hosts.heartbeat(s, list(AGENTS))
