"""The network agent: turns committed state into idempotent driver calls on its host.

The control plane tells it what changed over the bus (``network-agent.<host>``; the
all-in-one process also serves ``network-agent``). The agent reads the desired state,
calls the driver's ensure_* methods and reports back (port status, binding, heartbeat).
"""
from __future__ import annotations

import logging
import socket
from typing import Any

from sqlalchemy import select

from onestack import bus, db
from onestack.db.base import utcnow
from onestack.network import models as m

log = logging.getLogger(__name__)
TOPIC = "network-agent"
_driver: Any = None


def driver() -> Any:
    global _driver
    if _driver is None:
        from onestack.network.drivers.fake import FakeDriver
        _driver = FakeDriver()
    return _driver


def set_driver(d: Any) -> None:
    global _driver
    _driver = d


def _port_doc(p: m.Port) -> dict[str, Any]:
    return {"id": p.id, "network_id": p.network_id, "mac_address": p.mac_address,
            "fixed_ips": p.fixed_ips, "binding:host_id": p.binding_host_id,
            "admin_state_up": p.admin_state_up, "device_owner": p.device_owner,
            "security_groups": p.security_groups, "port_security_enabled": p.port_security_enabled,
            "allowed_address_pairs": p.allowed_address_pairs}


def _net_doc(n: m.Network) -> dict[str, Any]:
    return {"id": n.id, "mtu": n.mtu, "network_type": n.network_type, "physical_network": n.physical_network,
            "segmentation_id": n.segmentation_id, "admin_state_up": n.admin_state_up}


class NetworkAgent:
    """Bus endpoint (JSON in, JSON out)."""

    def __init__(self, host: str):
        self.host = host

    def plug_port(self, port_id: str) -> str:
        with db.read() as s:
            port = s.get(m.Port, port_id)
            if port is None:
                return "gone"
            net = s.get(m.Network, port.network_id)
            pdoc, ndoc = _port_doc(port), _net_doc(net)
            rules = [{"direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
                      "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
                      "remote_ip_prefix": r.remote_ip_prefix, "remote_group_id": r.remote_group_id}
                     for r in s.scalars(select(m.SecurityGroupRule).where(
                         m.SecurityGroupRule.security_group_id.in_(port.security_groups or [""])))]
        d = driver()
        d.ensure_network(ndoc)
        result = d.ensure_port_plugged(pdoc, ndoc)
        d.apply_security_groups(pdoc, rules, pdoc["port_security_enabled"])
        with db.write() as s:
            port = s.get(m.Port, port_id)
            if port is None or port.binding_host_id != pdoc["binding:host_id"]:
                return "changed"
            port.binding_vif_type = result.get("vif_type", "ovs")
            port.binding_vif_details = result.get("vif_details", {})
            port.status = "ACTIVE" if port.admin_state_up else "DOWN"
        return "ACTIVE"

    def unplug_port(self, port_id: str) -> str:
        driver().ensure_port_unplugged(port_id)
        return "ok"

    def network_gone(self, network_id: str) -> str:
        driver().ensure_network_gone(network_id)
        return "ok"


def _topic(host: str | None) -> str:
    b = bus.get()
    t = f"{TOPIC}.{host}"
    if host and t in b.topics():
        return t
    return TOPIC


def port_changed(verb: str, port_id: str) -> None:
    """After commit: bind/unbind on the port's host."""
    with db.read() as s:
        port = s.get(m.Port, port_id)
        if port is None:
            return
        host, vif = port.binding_host_id, port.binding_vif_type
    try:
        if host and (vif in ("unbound", "binding_failed") or verb == "update"):
            bus.get().call(_topic(host), "plug_port", port_id=port_id, timeout=30)
        elif not host and verb == "update":
            bus.get().call(_topic(None), "unplug_port", port_id=port_id, timeout=30)
    except Exception:
        log.exception("binding port %s failed", port_id)
        with db.write() as s:
            port = s.get(m.Port, port_id)
            if port is not None and port.binding_host_id:
                port.binding_vif_type = "binding_failed"


def port_deleted_after_commit(session: Any, port_id: str) -> None:
    def run() -> None:
        try:
            bus.get().call(_topic(None), "unplug_port", port_id=port_id, timeout=30)
        except Exception:
            log.exception("unplugging port %s failed", port_id)
    db.session.after_commit(session, run)


def network_changed(verb: str, network_id: str) -> None:
    if verb == "delete":
        try:
            bus.get().call(_topic(None), "network_gone", network_id=network_id, timeout=30)
        except Exception:
            log.exception("removing network %s failed", network_id)


def report_state(host: str | None = None, az: str = "nova") -> None:
    """Upsert this host's agents (one per driver agent type) with a fresh heartbeat."""
    host = host or socket.gethostname()
    now = utcnow()
    with db.write() as s:
        for agent_type, binary in driver().agent_types:
            row = s.scalars(select(m.Agent).where(m.Agent.agent_type == agent_type, m.Agent.host == host)).first()
            if row is None:
                import uuid
                s.add(m.Agent(id=str(uuid.uuid4()), agent_type=agent_type, binary=binary, host=host,
                              topic="N/A", availability_zone=az if agent_type in ("DHCP agent", "L3 agent") else None,
                              configurations={"driver": driver().name}, started_at=now,
                              heartbeat_timestamp=now))
            else:
                row.heartbeat_timestamp = now


def start(host: str | None = None) -> None:
    host = host or socket.gethostname()
    agent = NetworkAgent(host)
    b = bus.get()
    b.serve(f"{TOPIC}.{host}", agent)
    b.serve(TOPIC, agent)
    report_state(host)
    from onestack.tasks import ENGINE
    ENGINE.every("network-agent-heartbeat", 30.0, lambda: report_state(host))
