"""What other services (compute) may call on network. Nobody else touches network tables.

Errors are onestack errors (NotFound / BadRequest / Conflict subclasses) with clear messages;
the caller renders them in its own style.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session

from onestack import db, errors
from onestack.network import agent
from onestack.network import errors as ne
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import service as svc

AUTO_NET = "auto_allocated_network"


def _port_dict(p: m.Port, preexisting: bool | None = None) -> dict[str, Any]:
    out = {"id": p.id, "network_id": p.network_id, "mac_address": p.mac_address,
           "fixed_ips": [{"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]} for f in p.fixed_ips],
           "device_id": p.device_id, "device_owner": p.device_owner, "status": p.status,
           "binding:host_id": p.binding_host_id, "binding:vif_type": p.binding_vif_type,
           "binding:vif_details": p.binding_vif_details, "binding:vnic_type": p.binding_vnic_type,
           "security_groups": list(p.security_groups), "name": p.name, "project_id": p.project_id,
           "admin_state_up": p.admin_state_up}
    out["preexisting"] = (p.created_by != "compute") if preexisting is None else preexisting
    sess = object_session(p)
    net = sess.get(m.Network, p.network_id) if sess is not None else None
    out["mtu"] = net.mtu if net is not None else None
    return out


def _net_dict(n: m.Network) -> dict[str, Any]:
    return {"id": n.id, "name": n.name, "project_id": n.project_id, "mtu": n.mtu, "shared": n.shared,
            "router:external": n.external, "status": n.status, "admin_state_up": n.admin_state_up,
            "provider:network_type": n.network_type, "provider:physical_network": n.physical_network,
            "provider:segmentation_id": n.segmentation_id, "port_security_enabled": n.port_security_enabled}


def _visible_net(s: Any, ctx: Any, network_id: str) -> m.Network:
    stmt = select(m.Network).where(m.Network.id == network_id)
    clause = q.visible_networks(ctx)
    if clause is not None:
        stmt = stmt.where(clause)
    net = s.scalars(stmt).first()
    if net is None:
        raise ne.NetworkNotFound(f"Network {network_id} could not be found.", id=network_id)
    return net


def _resolve_sgs(s: Any, ctx: Any, names: list[str] | None) -> list[str] | None:
    if not names:
        return None
    out = []
    for name in names:
        stmt = select(m.SecurityGroup).where((m.SecurityGroup.id == name) | (m.SecurityGroup.name == name))
        if not q.is_admin(ctx) or ctx.project_id:
            stmt = stmt.where(m.SecurityGroup.project_id == ctx.project_id)
        rows = list(s.scalars(stmt))
        if name == "default" and not rows and ctx.project_id:
            sid = svc.ensure_default_sg(s, ctx.project_id)
            out.append(sid)
            continue
        if not rows:
            raise ne.SecurityGroupNotFound(f"Security group {name} not found.", id=name)
        if len(rows) > 1:
            raise errors.Conflict(f"Multiple security groups found matching '{name}'. Use an ID to be more "
                                  "specific.")
        out.append(rows[0].id)
    return out


def _usable_networks(s: Any, ctx: Any) -> list[m.Network]:
    has_subnet = select(m.Subnet.network_id)
    own = list(s.scalars(select(m.Network).where(m.Network.project_id == ctx.project_id,
                                                  m.Network.external.is_(False),
                                                  m.Network.id.in_(has_subnet))))
    if own:
        return own
    return list(s.scalars(select(m.Network).where(m.Network.shared.is_(True), m.Network.external.is_(False),
                                                  m.Network.id.in_(has_subnet))))


def _auto_topology(s: Any, ctx: Any) -> m.Network:
    """get-me-a-network: the project's network/subnet/router to the default external network."""
    from onestack.network import routers
    pid = ctx.project_id
    net = s.scalars(select(m.Network).where(m.Network.project_id == pid, m.Network.name == AUTO_NET)).first()
    if net is not None:
        return net
    ext = list(s.scalars(select(m.Network).where(m.Network.external.is_(True))
                         .order_by(m.Network.is_default.desc(), m.Network.created_at)))
    ictx = type(ctx).internal(project_id=pid)
    net = svc.create_network(s, ictx, {"name": AUTO_NET, "project_id": pid})
    sub = svc.create_subnet(s, ictx, {"name": "auto_allocated_subnet_v4", "ip_version": 4,
                                      "cidr": svc.settings().auto_allocated_cidr, "project_id": pid}, net)
    if ext:
        router = routers.create_router(s, ictx, {"name": "auto_allocated_router", "project_id": pid,
                                                 "external_gateway_info": {"network_id": ext[0].id}})
        routers.add_interface(s, ictx, router, {"subnet_id": sub.id})
    return net


def allocate_for_server(ctx: Any, server_id: str, requested: Any, security_groups: list[str] | None = None,
                        host: str | None = None, az: str = "nova") -> list[dict[str, Any]]:
    """Create (or bind pre-created) ports for a server; all or nothing."""
    if requested == "none" or requested is None or requested == []:
        return []
    created: list[tuple[str, bool]] = []
    with db.write() as s:
        sgs = _resolve_sgs(s, ctx, security_groups)
        if requested == "auto":
            nets = _usable_networks(s, ctx)
            if len(nets) > 1:
                raise errors.Conflict("Multiple possible networks found, use a Network ID to be more specific.")
            net = nets[0] if nets else _auto_topology(s, ctx)
            requested = [{"uuid": net.id}]
        if not isinstance(requested, list):
            raise errors.BadRequest(f"Invalid networks request {requested!r}: expected 'auto', 'none' or a list.")
        for item in requested:
            if not isinstance(item, dict):
                raise errors.BadRequest(f"Invalid network request {item!r}.")
            if item.get("port"):
                port = s.get(m.Port, item["port"])
                if port is None or (not q.is_admin(ctx) and port.project_id != ctx.project_id):
                    raise ne.PortNotFound(f"Port {item['port']} could not be found.", id=item["port"])
                if port.device_id and port.device_id != server_id:
                    raise ne.PortInUse(f"Port {port.id} is still in use.", port_id=port.id,
                                       net_id=port.network_id, device_id=port.device_id)
                if not port.fixed_ips:
                    raise errors.BadRequest(f"Port {port.id} requires a FixedIP in order to be used.")
                port.device_id, port.device_owner = server_id, f"compute:{az}"
                if host:
                    port.binding_host_id = host
                svc.touch(port)
                created.append((port.id, True))
                continue
            net_id = item.get("uuid") or item.get("network_id")
            if not net_id:
                raise errors.BadRequest(f"Invalid network request {item!r}: a network uuid or a port is required.")
            net = _visible_net(s, ctx, net_id)
            if not s.scalar(select(m.Subnet.id).where(m.Subnet.network_id == net.id)):
                raise errors.BadRequest(f"Network {net.id} requires a subnet in order to boot instances on.")
            values: dict[str, Any] = {"device_id": server_id, "device_owner": f"compute:{az}",
                                      "project_id": ctx.project_id, "created_by": "compute"}
            if item.get("fixed_ip"):
                try:
                    ipaddress.ip_address(item["fixed_ip"])
                except ValueError:
                    raise errors.BadRequest(f"Invalid fixed IP address {item['fixed_ip']!r}.") from None
                values["fixed_ips"] = [{"ip_address": item["fixed_ip"]}]
            if sgs is not None:
                values["security_groups"] = sgs
            if host:
                values["binding_host_id"] = host
            port = svc.create_port(s, ctx, values, net)
            if not port.fixed_ips:
                raise errors.BadRequest(f"Network {net.id} has no subnet with free addresses.")
            created.append((port.id, False))
    if host:
        for pid, _pre in created:
            agent.port_changed("update", pid)
    with db.read() as s:
        return [_port_dict(s.get(m.Port, pid), pre) for pid, pre in created]


def deallocate_for_server(ctx: Any, server_id: str) -> None:
    """Delete the ports allocate_for_server created; unbind pre-created ones."""
    gone = []
    with db.write() as s:
        for port in s.scalars(select(m.Port).where(m.Port.device_id == server_id,
                                                   m.Port.device_owner.like("compute:%"))):
            if port.created_by == "compute":
                svc.delete_port(s, ctx, port, internal=True)
            else:
                port.device_id = port.device_owner = ""
                port.binding_host_id, port.binding_vif_type, port.binding_vif_details = "", "unbound", {}
                port.binding_profile = {}
                port.status = "DOWN"
                svc.touch(port)
            gone.append(port.id)
    for pid in gone:
        try:
            agent.bus.get().call(agent._topic(None), "unplug_port", port_id=pid, timeout=30)
        except Exception:
            pass


def server_addresses(server_id: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    with db.read() as s:
        ports = list(s.scalars(select(m.Port).where(m.Port.device_id == server_id).order_by(m.Port.created_at)))
        if not ports:
            return out
        nets = {n.id: n.name for n in s.scalars(select(m.Network).where(
            m.Network.id.in_({p.network_id for p in ports})))}
        fips = list(s.scalars(select(m.FloatingIP).where(m.FloatingIP.port_id.in_([p.id for p in ports]))))
        for p in ports:
            entries = out.setdefault(nets.get(p.network_id, p.network_id), [])
            for f in p.fixed_ips:
                entries.append({"addr": f["ip_address"], "version": ipaddress.ip_address(f["ip_address"]).version,
                                "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": p.mac_address})
            for fip in fips:
                if fip.port_id == p.id:
                    entries.append({"addr": fip.floating_ip_address, "version": 4,
                                    "OS-EXT-IPS:type": "floating", "OS-EXT-IPS-MAC:mac_addr": p.mac_address})
    return out


def list_ports(ctx: Any, device_id: str | None = None, network_id: str | None = None) -> list[dict[str, Any]]:
    from onestack.network.api.core import PORT_KIND
    with db.read() as s:
        stmt = select(m.Port)
        clause = q.visibility(PORT_KIND, ctx)
        if clause is not None:
            stmt = stmt.where(clause)
        if device_id is not None:
            stmt = stmt.where(m.Port.device_id == device_id)
        if network_id is not None:
            stmt = stmt.where(m.Port.network_id == network_id)
        return [_port_dict(p) for p in s.scalars(stmt.order_by(m.Port.created_at))]


def get_port(ctx: Any, port_id: str) -> dict[str, Any]:
    from onestack.network.api.core import PORT_KIND
    with db.read() as s:
        return _port_dict(q.get(s, PORT_KIND, ctx, port_id))


def create_port(ctx: Any, network_id: str, fixed_ip: str | None = None, device_id: str = "",
                device_owner: str = "", security_groups: list[str] | None = None,
                host: str | None = None, created_by: str = "compute") -> dict[str, Any]:
    with db.write() as s:
        net = _visible_net(s, ctx, network_id)
        values: dict[str, Any] = {"device_id": device_id, "device_owner": device_owner,
                                  "project_id": ctx.project_id, "created_by": created_by}
        if fixed_ip:
            values["fixed_ips"] = [{"ip_address": fixed_ip}]
        sgs = _resolve_sgs(s, ctx, security_groups)
        if sgs is not None:
            values["security_groups"] = sgs
        if host:
            values["binding_host_id"] = host
        port = svc.create_port(s, ctx, values, net)
        pid = port.id
    if host:
        agent.port_changed("update", pid)
    with db.read() as s:
        return _port_dict(s.get(m.Port, pid))


def delete_port(ctx: Any, port_id: str) -> None:
    from onestack.network.api.core import PORT_KIND
    with db.write() as s:
        port = q.get(s, PORT_KIND, ctx, port_id)
        svc.delete_port(s, ctx, port, internal=True)
    try:
        agent.bus.get().call(agent._topic(None), "unplug_port", port_id=port_id, timeout=30)
    except Exception:
        pass


def get_network(ctx: Any, network_id: str) -> dict[str, Any]:
    with db.read() as s:
        return _net_dict(_visible_net(s, ctx, network_id))


def bind_port(port_id: str, host: str) -> dict[str, Any]:
    """Bind ``port_id`` to ``host`` and plug it there; returns the port (ACTIVE once plugged)."""
    with db.write() as s:
        port = s.get(m.Port, port_id)
        if port is None:
            raise ne.PortNotFound(f"Port {port_id} could not be found.", id=port_id)
        port.binding_host_id = host
        svc.touch(port)
    agent.port_changed("update", port_id)
    with db.read() as s:
        return _port_dict(s.get(m.Port, port_id))


def unbind_port(port_id: str) -> None:
    """Detach a port from its server: clears device_id/owner and the binding (port stays)."""
    with db.write() as s:
        port = s.get(m.Port, port_id)
        if port is None:
            return
        port.device_id = port.device_owner = ""
        port.binding_host_id, port.binding_vif_type, port.binding_vif_details = "", "unbound", {}
        port.status = "DOWN"
        svc.touch(port)
    agent.port_changed("update", port_id)


# ------------------------------------------------------------------ for compute's deprecated proxy APIs
# (os-security-groups, os-floating-ips, os-networks: Nova < 2.36 proxies them to Neutron)
def _sg_full(s: Any, sg: m.SecurityGroup) -> dict[str, Any]:
    rules = s.scalars(select(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id == sg.id)
                      .order_by(m.SecurityGroupRule.created_at))
    return {"id": sg.id, "name": sg.name, "description": sg.description or "", "project_id": sg.project_id,
            "rules": [_rule_dict(r) for r in rules]}


def _rule_dict(r: m.SecurityGroupRule) -> dict[str, Any]:
    return {"id": r.id, "security_group_id": r.security_group_id, "direction": r.direction,
            "ethertype": r.ethertype, "protocol": r.protocol, "port_range_min": r.port_range_min,
            "port_range_max": r.port_range_max, "remote_ip_prefix": r.remote_ip_prefix,
            "remote_group_id": r.remote_group_id, "project_id": r.project_id}


def list_security_groups(ctx: Any, all_projects: bool = False) -> list[dict[str, Any]]:
    """The caller's security groups (every project's when ``all_projects`` and admin), each with
    its rules; the project's ``default`` group is created on first use, as Neutron does."""
    if ctx.project_id:
        with db.read() as s:
            missing = s.get(m.DefaultSecurityGroup, ctx.project_id) is None
        if missing:
            with db.write() as s:
                svc.ensure_default_sg(s, ctx.project_id)
    with db.read() as s:
        stmt = select(m.SecurityGroup).order_by(m.SecurityGroup.created_at)
        if not (all_projects and q.is_admin(ctx)):
            stmt = stmt.where(m.SecurityGroup.project_id == ctx.project_id)
        return [_sg_full(s, sg) for sg in s.scalars(stmt)]


def get_security_group(ctx: Any, sg_id: str) -> dict[str, Any]:
    from onestack.network.api.core import SG_KIND
    with db.read() as s:
        return _sg_full(s, q.get(s, SG_KIND, ctx, sg_id))


def create_security_group(ctx: Any, name: str, description: str) -> dict[str, Any]:
    with db.write() as s:
        sg = svc.create_security_group(s, ctx, {"name": name, "description": description})
        s.flush()
        return _sg_full(s, sg)


def update_security_group(ctx: Any, sg_id: str, values: dict[str, Any]) -> dict[str, Any]:
    from onestack.network.api.core import SG_KIND
    with db.write() as s:
        sg = svc.update_security_group(s, ctx, q.get(s, SG_KIND, ctx, sg_id), values)
        s.flush()
        return _sg_full(s, sg)


def delete_security_group(ctx: Any, sg_id: str) -> None:
    from onestack.network.api.core import SG_KIND
    with db.write() as s:
        svc.delete_security_group(s, ctx, q.get(s, SG_KIND, ctx, sg_id))


def create_security_group_rule(ctx: Any, sg_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values``: direction, ethertype, protocol, port_range_min/max, remote_ip_prefix or
    remote_group_id (Neutron's names and checks)."""
    from onestack.network.api.core import SG_KIND
    with db.write() as s:
        sg = q.get(s, SG_KIND, ctx, sg_id)
        rule = svc.create_sg_rule(s, ctx, dict(values), sg)
        s.flush()
        return _rule_dict(rule)


def delete_security_group_rule(ctx: Any, rule_id: str) -> None:
    from onestack.network.api.core import RULE_KIND
    with db.write() as s:
        svc.delete_sg_rule(s, ctx, q.get(s, RULE_KIND, ctx, rule_id))


def set_port_security_groups(ctx: Any, port_id: str, groups: list[str]) -> dict[str, Any]:
    """Replace a port's security groups (names or ids, resolved in ctx's project)."""
    with db.write() as s:
        port = s.get(m.Port, port_id)
        if port is None or (not q.is_admin(ctx) and port.project_id != ctx.project_id):
            raise ne.PortNotFound(id=port_id)
        port.security_groups = _resolve_sgs(s, ctx, groups) or []
        svc.touch(port)
    agent.port_changed("update", port_id)
    with db.read() as s:
        return _port_dict(s.get(m.Port, port_id))


def _fip_dict(s: Any, fip: m.FloatingIP) -> dict[str, Any]:
    net = s.get(m.Network, fip.floating_network_id)
    port = s.get(m.Port, fip.port_id) if fip.port_id else None
    return {"id": fip.id, "floating_ip_address": fip.floating_ip_address, "project_id": fip.project_id,
            "floating_network_id": fip.floating_network_id, "pool": net.name if net else None,
            "port_id": fip.port_id, "fixed_ip_address": fip.fixed_ip_address,
            "device_id": port.device_id if port else None, "status": fip.status}


def list_floating_ips(ctx: Any) -> list[dict[str, Any]]:
    from onestack.network.api.l3 import FIP_KIND
    with db.read() as s:
        stmt = select(m.FloatingIP).order_by(m.FloatingIP.created_at)
        clause = q.visibility(FIP_KIND, ctx)
        if clause is not None:
            stmt = stmt.where(clause)
        return [_fip_dict(s, f) for f in s.scalars(stmt)]


def get_floating_ip(ctx: Any, fip_id: str | None = None, address: str | None = None) -> dict[str, Any]:
    """By id, or by address among the caller's floating IPs."""
    from onestack.network.api.l3 import FIP_KIND
    with db.read() as s:
        if fip_id is not None:
            return _fip_dict(s, q.get(s, FIP_KIND, ctx, fip_id))
        stmt = select(m.FloatingIP).where(m.FloatingIP.floating_ip_address == address)
        clause = q.visibility(FIP_KIND, ctx)
        if clause is not None:
            stmt = stmt.where(clause)
        fip = s.scalars(stmt).first()
        if fip is None:
            raise ne.FloatingIPNotFound(id=address)
        return _fip_dict(s, fip)


def external_networks(ctx: Any) -> list[dict[str, Any]]:
    """Networks floating IPs can come from (router:external), visible to ctx."""
    with db.read() as s:
        return [_net_dict(n) for n in s.scalars(select(m.Network).where(m.Network.external.is_(True))
                                                .order_by(m.Network.created_at))]


def create_floating_ip(ctx: Any, network_id: str) -> dict[str, Any]:
    from onestack.network import routers
    with db.write() as s:
        fip = routers.create_floatingip(s, ctx, {"floating_network_id": network_id})
        s.flush()
        return _fip_dict(s, fip)


def update_floating_ip(ctx: Any, fip_id: str, port_id: str | None, fixed_ip: str | None = None) -> dict[str, Any]:
    """Associate with ``port_id`` (and ``fixed_ip`` on it), or disassociate with None."""
    from onestack.network import routers
    from onestack.network.api.l3 import FIP_KIND
    with db.write() as s:
        fip = routers.update_floatingip(s, ctx, q.get(s, FIP_KIND, ctx, fip_id),
                                        {"port_id": port_id, "fixed_ip_address": fixed_ip})
        s.flush()
        return _fip_dict(s, fip)


def delete_floating_ip(ctx: Any, fip_id: str) -> None:
    from onestack.network import routers
    from onestack.network.api.l3 import FIP_KIND
    with db.write() as s:
        routers.delete_floatingip(s, ctx, q.get(s, FIP_KIND, ctx, fip_id))


def list_networks(ctx: Any) -> list[dict[str, Any]]:
    """Networks ctx may see, each with ``cidrs`` (its subnets' CIDRs, oldest first)."""
    with db.read() as s:
        stmt = select(m.Network).order_by(m.Network.created_at)
        clause = q.visible_networks(ctx)
        if clause is not None:
            stmt = stmt.where(clause)
        nets = list(s.scalars(stmt))
        cidrs: dict[str, list[str]] = {}
        for sub in s.scalars(select(m.Subnet).where(m.Subnet.network_id.in_([n.id for n in nets]))
                             .order_by(m.Subnet.created_at)):
            cidrs.setdefault(sub.network_id, []).append(sub.cidr)
        return [{**_net_dict(n), "cidrs": cidrs.get(n.id, [])} for n in nets]


# ------------------------------------------------------------------ for the metadata service
def instance_by_address(where: str, ident: str, address: str) -> str | None:
    """The server (device_id) whose port holds ``address`` behind router ``ident`` (where =
    "router": on any network the router has an interface on) or on network ``ident``
    (where = "network"); None when no instance port has it there."""
    with db.read() as s:
        if where == "router":
            nets = set(s.scalars(select(m.Port.network_id).where(
                m.Port.device_id == ident, m.Port.device_owner.in_(svc.ROUTER_INTERFACE_OWNERS))))
        else:
            nets = {ident}
        for net_id in nets:
            alloc = s.get(m.IPAllocation, (net_id, address))
            port = s.get(m.Port, alloc.port_id) if alloc is not None else None
            if port is not None and port.device_id and port.device_owner.startswith("compute:"):
                return port.device_id
    return None


def instance_network_info(server_id: str) -> list[dict[str, Any]]:
    """The server's ports (oldest first) with their network (id, name, mtu), subnets (cidr,
    gateway_ip, enable_dhcp, dns_nameservers, host_routes, ip_version) and floating IPs."""
    out = []
    with db.read() as s:
        for p in s.scalars(select(m.Port).where(m.Port.device_id == server_id,
                                                m.Port.device_owner.like("compute:%")).order_by(m.Port.created_at)):
            net = s.get(m.Network, p.network_id)
            subs = {x.id: {"id": x.id, "cidr": x.cidr, "gateway_ip": x.gateway_ip, "enable_dhcp": x.enable_dhcp,
                           "ip_version": x.ip_version, "dns_nameservers": list(x.dns_nameservers or []),
                           "host_routes": list(x.host_routes or [])}
                    for x in s.scalars(select(m.Subnet).where(m.Subnet.network_id == p.network_id))}
            fips = [f.floating_ip_address for f in s.scalars(select(m.FloatingIP).where(m.FloatingIP.port_id == p.id))]
            out.append({**_port_dict(p), "network": {"id": net.id, "name": net.name, "mtu": net.mtu},
                        "subnets": subs, "floating_ips": fips})
    return out
