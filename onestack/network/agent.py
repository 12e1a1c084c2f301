"""The network agent: turns committed state into idempotent driver calls on its host.

The control plane tells it what changed. With the fake driver only port bindings matter
(``plug_port`` over the bus, as before). A converging driver (``linux``) gets everything:
a flush listener on network tables records which networks, ports, routers and security
groups a transaction touched; after the commit those keys go to the agent's worker, which
reads the desired state and calls the driver's ``ensure_*`` (coalescing concurrent
changes: 200 port creates on one network restart its dnsmasq a few times, not 200). The
committing thread waits for its keys (``[network] agent_sync_timeout``), so the data plane
matches the API's answer. At start-up the agent re-runs every ``ensure_*`` (a full
reconcile: they are idempotent) and registers what live resources own for the sweep.
"""
from __future__ import annotations

import hashlib
import json
import logging
import socket
import threading
import uuid
from typing import Any, Iterable

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from onestack import bus, db
from onestack.db.base import utcnow
from onestack.network import models as m

log = logging.getLogger(__name__)
TOPIC = "network-agent"
_driver: Any = None
_local = threading.local()
ROUTER_PORT_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                      "network:ha_router_replicated_interface", "network:router_gateway")
DHCP_OWNER = "network:dhcp"
Key = tuple[str, str]


def _make_driver() -> Any:
    from onestack.network import service
    choice = service.settings().driver
    if choice in ("linux", "auto"):
        from onestack.network.drivers import linux
        why = linux.available()
        if why is None:
            return linux.LinuxDriver()
        if choice == "linux":
            raise RuntimeError(f"[network] driver = linux, but this host cannot run it: {why}")
        log.info("network driver auto: using the fake data plane (%s)", why)
    elif choice != "fake":
        raise RuntimeError(f"[network] driver must be fake, linux or auto, not {choice!r}")
    from onestack.network.drivers.fake import FakeDriver
    return FakeDriver()


def driver() -> Any:
    global _driver
    if _driver is None:
        _driver = _make_driver()
    return _driver


def set_driver(d: Any) -> None:
    global _driver
    _driver = d


def converging() -> bool:
    return bool(getattr(driver(), "converges", False))


# ------------------------------------------------------------------ desired state
def _port_doc(p: m.Port) -> dict[str, Any]:
    return {"id": p.id, "network_id": p.network_id, "mac_address": p.mac_address,
            "fixed_ips": [dict(f) for f in p.fixed_ips], "binding:host_id": p.binding_host_id,
            "admin_state_up": p.admin_state_up, "device_owner": p.device_owner, "device_id": p.device_id,
            "security_groups": list(p.security_groups or []), "port_security_enabled": p.port_security_enabled,
            "allowed_address_pairs": list(p.allowed_address_pairs or []), "dns_name": p.dns_name or ""}


def _subnet_doc(sub: m.Subnet, routed: set[str] = frozenset()) -> dict[str, Any]:
    return {"id": sub.id, "cidr": sub.cidr, "gateway_ip": sub.gateway_ip, "enable_dhcp": sub.enable_dhcp,
            "ip_version": sub.ip_version, "dns_nameservers": list(sub.dns_nameservers or []),
            "host_routes": list(sub.host_routes or []), "routed": sub.id in routed}


def _net_doc(s: Session, n: m.Network) -> dict[str, Any]:
    subs = list(s.scalars(select(m.Subnet).where(m.Subnet.network_id == n.id).order_by(m.Subnet.created_at)))
    return {"id": n.id, "mtu": n.mtu, "network_type": n.network_type, "physical_network": n.physical_network,
            "segmentation_id": n.segmentation_id, "admin_state_up": n.admin_state_up, "external": n.external,
            "subnets": [_subnet_doc(x) for x in subs]}


def _rules_for(s: Session, port: m.Port) -> list[dict[str, Any]]:
    sgs = list(port.security_groups or [])
    if not sgs:
        return []
    rows = list(s.scalars(select(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id.in_(sgs))
                          .order_by(m.SecurityGroupRule.created_at)))
    members: dict[str, list[str]] = {}
    remote_groups = {r.remote_group_id for r in rows if r.remote_group_id}
    if remote_groups:
        for p in s.scalars(select(m.Port).where(m.Port.binding_host_id != "")):
            for g in set(p.security_groups or []) & remote_groups:
                ips = [f["ip_address"] for f in p.fixed_ips]
                ips += [a["ip_address"] for a in p.allowed_address_pairs or []]
                members.setdefault(g, []).extend(ips)
    out = []
    for r in rows:
        rule = {"direction": r.direction, "ethertype": r.ethertype, "protocol": r.protocol,
                "port_range_min": r.port_range_min, "port_range_max": r.port_range_max,
                "remote_ip_prefix": r.remote_ip_prefix, "remote_group_id": r.remote_group_id}
        if r.remote_group_id:
            rule["remote_ips"] = sorted(set(members.get(r.remote_group_id, [])))
        elif r.remote_address_group_id:
            ag = s.get(m.AddressGroup, r.remote_address_group_id)
            rule["remote_ips"] = sorted(ag.addresses) if ag else []
        out.append(rule)
    return out


def _subnets_map(s: Session, port: m.Port) -> dict[str, dict[str, Any]]:
    ids = [f["subnet_id"] for f in port.fixed_ips]
    return {x.id: _subnet_doc(x) for x in s.scalars(select(m.Subnet).where(m.Subnet.id.in_(ids)))} if ids else {}


def _bound(p: m.Port) -> bool:
    return bool(p.binding_host_id) and not (p.device_owner or "").startswith("network:")


# ------------------------------------------------------------------ the converging worker
class Converger:
    """One worker thread applying batches of changed keys; callers may wait for theirs."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.pending: set[Key] = set()
        self.submitted = 0     # generation of the newest submission
        self.done = 0          # generation fully applied
        self.thread: threading.Thread | None = None
        self.applied: dict[str, str] = {}     # port id -> fingerprint of what was applied

    def submit(self, keys: Iterable[Key], wait: float | None = None) -> bool:
        keys = set(keys)
        if not keys:
            return True
        with self.cond:
            self.pending |= keys
            self.submitted += 1
            gen = self.submitted
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="network-agent", daemon=True)
                self.thread.start()
            self.cond.notify_all()
            if not wait:
                return True
            return self.cond.wait_for(lambda: self.done >= gen, timeout=wait)

    def _loop(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: bool(self.pending))
                batch, self.pending = self.pending, set()
                gen = self.submitted
            try:
                self.apply(batch)
            except Exception:
                log.exception("network agent batch failed")
            with self.cond:
                self.done = max(self.done, gen)
                self.cond.notify_all()

    # -------------------------------------------------------------- one batch
    def apply(self, keys: set[Key]) -> None:
        if ("all", "") in keys:
            keys |= self._everything()
        with db.read() as s:
            for kind, ident in list(keys):
                if kind == "netrouters":
                    keys |= {("router", p.device_id) for p in s.scalars(select(m.Port).where(
                        m.Port.network_id == ident, m.Port.device_owner.in_(ROUTER_PORT_OWNERS)))}
                elif kind == "pfport":
                    port = s.get(m.Port, ident)
                    if port is not None:
                        keys |= {("router", p.device_id) for p in s.scalars(select(m.Port).where(
                            m.Port.network_id == port.network_id,
                            m.Port.device_owner.in_(ROUTER_PORT_OWNERS[:3])))}
                elif kind == "agroup":
                    keys |= {("sg", r.security_group_id) for r in s.scalars(select(m.SecurityGroupRule).where(
                        m.SecurityGroupRule.remote_address_group_id == ident))}
                elif kind == "remote":
                    keys |= {("sg", r.security_group_id) for r in s.scalars(select(m.SecurityGroupRule).where(
                        m.SecurityGroupRule.remote_group_id == ident))}
            sgs = {i for k, i in keys if k == "sg"}
            if sgs:
                for p in s.scalars(select(m.Port).where(m.Port.binding_host_id != "")):
                    if sgs & set(p.security_groups or []):
                        keys.add(("port", p.id))
        order = {"network": 0, "router": 1, "port": 2}
        for kind, ident in sorted(keys, key=lambda k: (order.get(k[0], 9), k[1])):
            if kind not in order:
                continue
            try:
                getattr(self, f"_{kind}")(ident)
            except Exception:
                log.exception("network agent: converging %s %s failed", kind, ident)

    def _everything(self) -> set[Key]:
        with db.read() as s:
            keys = {("network", i) for i in s.scalars(select(m.Network.id))}
            keys |= {("router", i) for i in s.scalars(select(m.Router.id))}
            keys |= {("port", p.id) for p in s.scalars(select(m.Port).where(m.Port.binding_host_id != ""))}
        return keys

    def _network(self, net_id: str) -> None:
        d = driver()
        with db.read() as s:
            n = s.get(m.Network, net_id)
            if n is None:
                ndoc = None
            else:
                ndoc = _net_doc(s, n)
                dport = s.scalars(select(m.Port).where(m.Port.network_id == net_id,
                                                       m.Port.device_owner == DHCP_OWNER)).first()
                dport_id = dport.id if dport else None
                missing = [x["id"] for x in ndoc["subnets"] if x["enable_dhcp"] and x["ip_version"] == 4
                           and not (dport and any(f["subnet_id"] == x["id"] for f in dport.fixed_ips))]
                serving = any(x["enable_dhcp"] and x["ip_version"] == 4 for x in ndoc["subnets"])
        if ndoc is None:
            d.ensure_network_gone(net_id)
            return
        d.ensure_network(ndoc)
        if serving and (dport_id is None or missing):
            _ensure_dhcp_port(net_id, dport_id, missing)
        elif not serving and dport_id:
            _delete_port(dport_id)
        with db.read() as s:
            n = s.get(m.Network, net_id)
            if n is None:
                return
            ports = list(s.scalars(select(m.Port).where(m.Port.network_id == net_id)))
            routed = {f["subnet_id"] for p in ports if p.device_owner in ROUTER_PORT_OWNERS[:3]
                      for f in p.fixed_ips}
            subs = [_subnet_doc(x, routed) for x in
                    s.scalars(select(m.Subnet).where(m.Subnet.network_id == net_id).order_by(m.Subnet.created_at))]
            pdocs = [_port_doc(p) for p in ports]
        d.ensure_dhcp(ndoc, subs, pdocs)

    def _router(self, router_id: str) -> None:
        d = driver()
        with db.read() as s:
            r = s.get(m.Router, router_id)
            if r is None or not r.admin_state_up:
                r = None
            else:
                itfs = []
                nets: dict[str, dict[str, Any]] = {}
                for p in s.scalars(select(m.Port).where(m.Port.device_id == router_id,
                                                        m.Port.device_owner.in_(ROUTER_PORT_OWNERS[:3]))
                                   .order_by(m.Port.created_at)):
                    n = s.get(m.Network, p.network_id)
                    nets[n.id] = _net_doc(s, n)
                    itfs.append({**_port_doc(p), "subnets": _subnets_map(s, p), "mtu": n.mtu})
                gw = None
                gp = s.get(m.Port, r.gw_port_id) if r.gw_port_id else None
                if gp is not None:
                    n = s.get(m.Network, gp.network_id)
                    nets[n.id] = _net_doc(s, n)
                    subs = _subnets_map(s, gp)
                    gw_ip = next((x["gateway_ip"] for x in subs.values() if x["ip_version"] == 4 and x["gateway_ip"]),
                                 None)
                    gw = {**_port_doc(gp), "subnets": subs, "gateway_ip": gw_ip, "mtu": n.mtu}
                fips = [{"id": f.id, "floating_ip_address": f.floating_ip_address,
                         "fixed_ip_address": f.fixed_ip_address}
                        for f in s.scalars(select(m.FloatingIP).where(m.FloatingIP.router_id == router_id))]
                pfs = []
                if r.gw_network_id and itfs:
                    inside = {p["network_id"] for p in itfs}
                    for pf, fip, port in s.execute(
                            select(m.PortForwarding, m.FloatingIP, m.Port)
                            .join(m.FloatingIP, m.FloatingIP.id == m.PortForwarding.floatingip_id)
                            .join(m.Port, m.Port.id == m.PortForwarding.internal_port_id)
                            .where(m.FloatingIP.floating_network_id == r.gw_network_id)):
                        if port.network_id in inside:
                            pfs.append({"floating_ip": fip.floating_ip_address, "protocol": pf.protocol,
                                        "external_port": pf.external_port, "internal_ip": pf.internal_ip_address,
                                        "internal_port": pf.internal_port})
                rdoc = {"id": r.id, "enable_snat": r.enable_snat, "routes": list(r.routes or []),
                        "floating_ips": fips, "port_forwardings": pfs}
        if r is None:
            d.ensure_router_gone(router_id)
            return
        for ndoc in nets.values():
            d.ensure_network(ndoc)
        d.ensure_router(rdoc, itfs, gw)

    def _port(self, port_id: str) -> None:
        d = driver()
        with db.read() as s:
            p = s.get(m.Port, port_id)
            if p is None or not _bound(p):
                p = None
            else:
                pdoc = _port_doc(p)
                ndoc = _net_doc(s, s.get(m.Network, p.network_id))
                rules = _rules_for(s, p)
                state = (p.binding_vif_type, p.binding_vif_details, p.status)
        if p is None:
            if self.applied.pop(port_id, None) is not None or getattr(d, "converges", False):
                d.ensure_port_unplugged(port_id)
            return
        fp = hashlib.sha1(json.dumps([pdoc, ndoc, rules], sort_keys=True, default=str).encode()).hexdigest()
        if self.applied.get(port_id) == fp and state[0] not in ("unbound", "binding_failed"):
            return
        result = d.ensure_port_plugged(pdoc, ndoc)
        d.apply_security_groups(pdoc, rules, pdoc["port_security_enabled"])
        self.applied[port_id] = fp
        _record_binding(port_id, pdoc["binding:host_id"], result)


def _record_binding(port_id: str, host: str, result: dict[str, Any]) -> str:
    with _quiet(), db.write() as s:
        port = s.get(m.Port, port_id)
        if port is None or port.binding_host_id != host:
            return "changed"
        status = "ACTIVE" if port.admin_state_up else "DOWN"
        vif_type, details = result.get("vif_type", "ovs"), result.get("vif_details", {})
        if (port.binding_vif_type, port.binding_vif_details, port.status) != (vif_type, details, status):
            port.binding_vif_type, port.binding_vif_details, port.status = vif_type, details, status
    return "ACTIVE"


def _ensure_dhcp_port(net_id: str, port_id: str | None, subnets: list[str]) -> None:
    """The network's DHCP port (device_owner network:dhcp), as Neutron's DHCP agent makes it."""
    from onestack.context import RequestContext
    from onestack.network import service as svc
    ctx = RequestContext.internal()
    try:
        with _quiet(), db.write() as s:
            net = s.get(m.Network, net_id)
            if net is None:
                return
            port = s.get(m.Port, port_id) if port_id else None
            if port is None:
                host = socket.gethostname()
                device = f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{net_id}"
                port = svc.create_port(s, ctx, {"project_id": net.project_id, "device_owner": DHCP_OWNER,
                                                "device_id": device, "binding_host_id": host,
                                                "fixed_ips": [{"subnet_id": x} for x in subnets] or None,
                                                "security_groups": [], "port_security_enabled": False}, net)
                port.status, port.binding_vif_type = "ACTIVE", "bridge"
            else:
                svc.update_port(s, ctx, port, {"fixed_ips": [*port.fixed_ips, *({"subnet_id": x} for x in subnets)]})
    except Exception as e:
        log.warning("network %s: cannot make its DHCP port: %s", net_id, e)


def _delete_port(port_id: str) -> None:
    from onestack.context import RequestContext
    from onestack.network import service as svc
    with _quiet(), db.write() as s:
        port = s.get(m.Port, port_id)
        if port is not None:
            svc.delete_port(s, RequestContext.internal(), port, internal=True)


CONVERGER = Converger()


# ------------------------------------------------------------------ change capture
class _quiet:
    """Writes made by the agent itself do not notify the agent again."""

    def __enter__(self) -> None:
        _local.quiet = getattr(_local, "quiet", 0) + 1

    def __exit__(self, *exc: Any) -> None:
        _local.quiet -= 1


# Attributes whose change never needs the data plane.
_COSMETIC = {"status", "binding_vif_type", "binding_vif_details", "revision_number", "updated_at", "created_at",
             "name", "description", "binding_profile", "binding_vnic_type", "qos_policy_id", "created_by"}


def _changed(obj: Any) -> set[str]:
    st = inspect(obj)
    return {a.key for a in st.attrs if a.key not in _COSMETIC and a.history.has_changes()}


def _old(obj: Any, attr: str) -> list[Any]:
    h = inspect(obj).attrs[attr].history
    return list(h.deleted or []) + list(h.unchanged or []) + list(h.added or [])


def _keys_for(obj: Any, how: str) -> set[Key]:
    keys: set[Key] = set()
    if how == "dirty":
        changed = _changed(obj)
        if not changed:
            return keys
    else:
        changed = None
    if isinstance(obj, m.Network):
        keys.add(("network", obj.id))
    elif isinstance(obj, m.Subnet):
        keys |= {("network", obj.network_id), ("netrouters", obj.network_id)}
    elif isinstance(obj, m.Port):
        keys.add(("port", obj.id))
        if changed is None or changed & {"fixed_ips", "mac_address", "dns_name", "device_owner", "network_id",
                                         "extra_dhcp_opts"}:
            keys.add(("network", obj.network_id))
        for dev in _old(obj, "device_id"):
            owners = _old(obj, "device_owner")
            if dev and any(o in ROUTER_PORT_OWNERS for o in owners):
                keys.add(("router", dev))
        if changed is None or changed & {"fixed_ips", "security_groups", "allowed_address_pairs",
                                         "binding_host_id"}:
            for groups in _old(obj, "security_groups"):
                keys |= {("remote", g) for g in groups or []}
    elif isinstance(obj, m.Router):
        keys.add(("router", obj.id))
    elif isinstance(obj, m.FloatingIP):
        keys |= {("router", r) for r in _old(obj, "router_id") if r}
    elif isinstance(obj, m.SecurityGroupRule):
        keys.add(("sg", obj.security_group_id))
    elif isinstance(obj, m.PortForwarding):
        keys |= {("pfport", p) for p in _old(obj, "internal_port_id") if p}
    elif isinstance(obj, m.AddressGroup):
        keys.add(("agroup", obj.id))
    return keys


def _after_flush(session: Session, _ctx: Any) -> None:
    if getattr(_local, "quiet", 0):
        return
    keys: set[Key] = set()
    for how, objs in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in objs:
            if type(obj).__module__ == m.__name__:
                keys |= _keys_for(obj, how)
    if not keys:
        return
    pending = session.info.get("network_changes")
    if pending is None:
        pending = session.info["network_changes"] = set()
        db.session.after_commit(session, lambda: notify(pending))
    pending |= keys


_hooked = False


def _install_hook() -> None:
    global _hooked
    if not _hooked:
        event.listen(Session, "after_flush", _after_flush)
        _hooked = True


def notify(keys: Iterable[Key], wait: bool = True) -> None:
    """Hand changed keys to the agent (waits up to [network] agent_sync_timeout)."""
    from onestack.network import service
    keys = set(keys)
    if TOPIC in bus.get().topics() and converging():
        ok = CONVERGER.submit(keys, wait=service.settings().agent_sync_timeout if wait else None)
        if not ok:
            log.warning("network agent still converging %d change(s) after the sync timeout", len(keys))
    else:
        bus.get().cast(TOPIC, "sync", keys=[list(k) for k in keys])


# ------------------------------------------------------------------ the bus endpoint
class NetworkAgent:
    """Bus endpoint (JSON in, JSON out)."""

    def __init__(self, host: str):
        self.host = host

    def sync(self, keys: list[list[str]]) -> str:
        CONVERGER.submit({(k, i) for k, i in keys}, wait=None)
        return "ok"

    def plug_port(self, port_id: str) -> str:
        if converging():
            CONVERGER.submit({("port", port_id)}, wait=60)
            with db.read() as s:
                port = s.get(m.Port, port_id)
                return port.status if port is not None else "gone"
        with db.read() as s:
            port = s.get(m.Port, port_id)
            if port is None:
                return "gone"
            pdoc, ndoc = _port_doc(port), _net_doc(s, s.get(m.Network, port.network_id))
            rules = _rules_for(s, port)
        d = driver()
        d.ensure_network(ndoc)
        result = d.ensure_port_plugged(pdoc, ndoc)
        d.apply_security_groups(pdoc, rules, pdoc["port_security_enabled"])
        return _record_binding(port_id, pdoc["binding:host_id"], result)

    def unplug_port(self, port_id: str) -> str:
        if converging():
            CONVERGER.submit({("port", port_id)}, wait=60)
        else:
            driver().ensure_port_unplugged(port_id)
        return "ok"

    def network_gone(self, network_id: str) -> str:
        if converging():
            CONVERGER.submit({("network", network_id)}, wait=60)
        else:
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
    with _quiet(), db.write() as s:
        for agent_type, binary in driver().agent_types:
            row = s.scalars(select(m.Agent).where(m.Agent.agent_type == agent_type, m.Agent.host == host)).first()
            if row is None:
                s.add(m.Agent(id=str(uuid.uuid4()), agent_type=agent_type, binary=binary, host=host,
                              topic="N/A", availability_zone=az if agent_type in ("DHCP agent", "L3 agent") else None,
                              configurations={"driver": driver().name}, started_at=now,
                              heartbeat_timestamp=now))
            else:
                row.heartbeat_timestamp = now


def owned_names() -> set[str]:
    """Kernel object names the live networks, routers and ports own (for the sweep)."""
    with db.read() as s:
        nets = [{"id": i} for i in s.scalars(select(m.Network.id))]
        routers = list(s.scalars(select(m.Router.id)))
        ports = list(s.scalars(select(m.Port.id)))
    return driver().owned_names(nets, routers, ports)


def start(host: str | None = None) -> None:
    host = host or socket.gethostname()
    agent = NetworkAgent(host)
    b = bus.get()
    b.serve(f"{TOPIC}.{host}", agent)
    b.serve(TOPIC, agent)
    report_state(host)
    if converging():
        from onestack.dataplane import host as dp_host
        _install_hook()
        dp_host.register_owner("network", owned_names)
        CONVERGER.submit({("all", "")}, wait=300)
    from onestack.tasks import ENGINE
    ENGINE.every("network-agent-heartbeat", 30.0, lambda: report_state(host))
