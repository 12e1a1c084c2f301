"""Routers (gateway, interfaces, extra routes) and floating IPs (with port forwardings)."""
from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onestack import errors
from onestack.network import errors as ne
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import service as svc
from onestack.network.service import FIP_OWNER, ROUTER_GW, ROUTER_INTERFACE_OWNERS, bad, new_id, touch


def _external_net(s: Session, ctx: Any, net_id: Any) -> m.Network:
    net = s.get(m.Network, net_id) if isinstance(net_id, str) else None
    if net is None:
        raise ne.NetworkNotFound(id=net_id)
    if not net.external:
        if not q.is_admin(ctx) and net.project_id != ctx.project_id and not net.shared:
            raise ne.NetworkNotFound(id=net_id)
        raise bad(f"Network {net_id} is not a valid external network") if False else \
            errors.BadRequest(f"Bad router request: Network {net_id} is not a valid external network.",
                              type_name="BadRequest")
    return net


def _service_port(s: Session, net: m.Network, owner: str, device_id: str, project_id: str,
                  fixed_ips: list[dict] | None) -> m.Port:
    port = svc.create_port(s, svc_ctx(), {"project_id": project_id, "device_owner": owner,
                                          "device_id": device_id, "fixed_ips": fixed_ips,
                                          "security_groups": [], "port_security_enabled": False}, net)
    port.status = "ACTIVE"
    return port


def svc_ctx() -> Any:
    from onestack.context import RequestContext
    return RequestContext.internal()


# ------------------------------------------------------------------ gateway
def _set_gateway(s: Session, ctx: Any, router: m.Router, info: Any) -> None:
    if info is None or info == {}:
        if router.gw_port_id:
            if s.scalar(select(m.FloatingIP.id).where(m.FloatingIP.router_id == router.id)):
                raise errors.Conflict(f"Gateway cannot be updated for router {router.id}, since a gateway to "
                                      "external network is required by one or more floating IPs.",
                                      type_name="RouterExternalGatewayInUseByFloatingIp")
            port = s.get(m.Port, router.gw_port_id)
            if port is not None:
                svc.delete_port(s, ctx, port, internal=True)
        router.gw_port_id = router.gw_network_id = None
        router.enable_snat = True
        return
    if not isinstance(info, dict) or "network_id" not in info or \
            set(info) - {"network_id", "enable_snat", "external_fixed_ips", "qos_policy_id"}:
        raise bad("Invalid external_gateway_info: network_id is required")
    net = _external_net(s, ctx, info["network_id"])
    fixed = info.get("external_fixed_ips")
    if fixed is not None and not isinstance(fixed, list):
        raise bad("external_fixed_ips must be a list")
    if "enable_snat" in info and not isinstance(info["enable_snat"], bool):
        raise bad(f"'{info['enable_snat']}' is not a valid boolean value")
    if router.gw_port_id and router.gw_network_id == net.id:
        port = s.get(m.Port, router.gw_port_id)
        if fixed is not None and port is not None:
            svc.update_port(s, svc_ctx(), port, {"fixed_ips": fixed})
    else:
        if router.gw_port_id:
            _set_gateway(s, ctx, router, None)
        port = _service_port(s, net, ROUTER_GW, router.id, "", fixed)
        router.gw_port_id, router.gw_network_id = port.id, net.id
    router.enable_snat = info.get("enable_snat", True if "enable_snat" not in info else info["enable_snat"])


def gateway_info(s: Session, router: m.Router, gw_port: m.Port | None = None) -> dict | None:
    if not router.gw_network_id:
        return None
    port = gw_port or (s.get(m.Port, router.gw_port_id) if router.gw_port_id else None)
    return {"network_id": router.gw_network_id, "enable_snat": router.enable_snat,
            "external_fixed_ips": [dict(f) for f in (port.fixed_ips if port else [])]}


def _check_routes(s: Session, router: m.Router, routes: Any, extra_subnets: list[str] = ()) -> list[dict]:
    if not isinstance(routes, list):
        raise bad("routes must be a list")
    cidrs = [ipaddress.ip_network(sub.cidr) for sub in _interface_subnets(s, router)]
    gw = s.get(m.Port, router.gw_port_id) if router.gw_port_id else None
    if gw:
        for f in gw.fixed_ips:
            sub = s.get(m.Subnet, f["subnet_id"])
            if sub:
                cidrs.append(ipaddress.ip_network(sub.cidr))
    own_ips = {f["ip_address"] for p in _interface_ports(s, router) for f in p.fixed_ips}
    out = []
    for r in routes:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise bad(f"Invalid route: {r}")
        dest = svc.ipam.parse_cidr(str(r["destination"]))
        hop = svc.ipam.parse_ip(r["nexthop"])
        if not any(hop in c for c in cidrs) or str(hop) in own_ips:
            raise errors.BadRequest(f"Invalid format for routes: {routes}, the nexthop is not connected "
                                    "with router", type_name="InvalidRoutes")
        item = {"destination": str(dest), "nexthop": str(hop)}
        if item not in out:
            out.append(item)
    return out


# ------------------------------------------------------------------ routers
def create_router(s: Session, ctx: Any, v: dict[str, Any]) -> m.Router:
    project_id = svc.owner_project(ctx, v)
    svc.check_quota(s, project_id, "router")
    info = v.pop("external_gateway_info", None)
    router = m.Router(id=new_id(), project_id=project_id, **{k: x for k, x in v.items() if x is not None})
    s.add(router)
    s.flush()
    if info:
        _set_gateway(s, ctx, router, info)
    return router


def update_router(s: Session, ctx: Any, router: m.Router, v: dict[str, Any]) -> m.Router:
    if "external_gateway_info" in v:
        _set_gateway(s, ctx, router, v.pop("external_gateway_info"))
    if "routes" in v:
        router.routes = _check_routes(s, router, v.pop("routes") or [])
    for key in ("ha", "distributed"):
        if key in v and v[key] != getattr(router, key) and router.admin_state_up and \
                not v.get("admin_state_up", True) is False:
            if router.admin_state_up:
                raise errors.BadRequest(f"Cannot update read-only attribute {key} of a router while it is "
                                        "administratively up; set admin_state_up=False first.",
                                        type_name="RouterAdminStateUp")
    for key, value in v.items():
        setattr(router, key, value)
    touch(router)
    return router


def delete_router(s: Session, ctx: Any, router: m.Router) -> None:
    if _interface_ports(s, router):
        raise ne.RouterInUse(router_id=router.id, reason="still has ports")
    if s.scalar(select(m.FloatingIP.id).where(m.FloatingIP.router_id == router.id)):
        raise ne.RouterInUse(router_id=router.id, reason="still has floating IPs")
    if router.gw_port_id:
        port = s.get(m.Port, router.gw_port_id)
        if port is not None:
            svc.delete_port(s, ctx, port, internal=True)
    svc.drop_tags(s, router.id)
    s.delete(router)


def _interface_ports(s: Session, router: m.Router) -> list[m.Port]:
    return list(s.scalars(select(m.Port).where(m.Port.device_id == router.id,
                                               m.Port.device_owner.in_(ROUTER_INTERFACE_OWNERS))))


def _interface_subnets(s: Session, router: m.Router) -> list[m.Subnet]:
    ids = [f["subnet_id"] for p in _interface_ports(s, router) for f in p.fixed_ips]
    return list(s.scalars(select(m.Subnet).where(m.Subnet.id.in_(ids)))) if ids else []


def _info(router: m.Router, port: m.Port, subnet_ids: list[str]) -> dict[str, Any]:
    return {"id": router.id, "tenant_id": router.project_id, "project_id": router.project_id,
            "port_id": port.id, "network_id": port.network_id, "subnet_id": subnet_ids[0] if subnet_ids else None,
            "subnet_ids": subnet_ids}


def _check_overlap(s: Session, router: m.Router, new: list[m.Subnet]) -> None:
    existing = _interface_subnets(s, router)
    for sub in new:
        for e in existing:
            if e.id == sub.id:
                raise bad(f"Router already has a port on subnet {sub.id}")
            if ipaddress.ip_network(e.cidr).overlaps(ipaddress.ip_network(sub.cidr)):
                raise bad(f"Cidr {sub.cidr} of subnet {sub.id} overlaps with cidr {e.cidr} of subnet {e.id}")


def add_interface(s: Session, ctx: Any, router: m.Router, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad("Body must be a JSON object")
    if "port_id" in body and "subnet_id" in body:
        raise bad("Cannot specify both subnet-id and port-id")
    if "port_id" in body:
        port = s.get(m.Port, body["port_id"]) if isinstance(body["port_id"], str) else None
        if port is None or (not q.is_admin(ctx) and port.project_id != ctx.project_id):
            raise ne.PortNotFound(id=body["port_id"])
        if port.device_id or port.device_owner:
            raise ne.PortInUse(port_id=port.id, net_id=port.network_id, device_id=port.device_id or port.device_owner)
        if not port.fixed_ips:
            raise bad(f"Router port must have at least one fixed IP")
        subs = [s.get(m.Subnet, f["subnet_id"]) for f in port.fixed_ips]
        _check_overlap(s, router, subs)
        port.device_id, port.device_owner = router.id, "network:router_interface"
        port.status = "ACTIVE"
        touch(port)
        return _info(router, port, [x.id for x in subs])
    if "subnet_id" not in body:
        raise bad("Either subnet_id or port_id must be specified")
    sub = s.get(m.Subnet, body["subnet_id"]) if isinstance(body["subnet_id"], str) else None
    if sub is None:
        raise ne.SubnetNotFound(id=body["subnet_id"])
    net = s.get(m.Network, sub.network_id)
    if not q.is_admin(ctx) and sub.project_id != ctx.project_id and not (net and net.shared):
        raise ne.SubnetNotFound(id=sub.id)
    if not sub.gateway_ip:
        raise bad(f"Bad router request: Subnet {sub.id} does not have a gateway IP")
    if net and net.external:
        raise bad(f"Bad router request: Router interface for subnet {sub.id} on an external network is not "
                  "allowed")
    _check_overlap(s, router, [sub])
    port = svc.create_port(s, svc_ctx(), {"project_id": router.project_id,
                                          "device_owner": "network:router_interface", "device_id": router.id,
                                          "fixed_ips": [{"subnet_id": sub.id, "ip_address": sub.gateway_ip}],
                                          "security_groups": [], "port_security_enabled": False}, net)
    port.status = "ACTIVE"
    touch(router)
    return _info(router, port, [sub.id])


def remove_interface(s: Session, ctx: Any, router: m.Router, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not ({"port_id", "subnet_id"} & set(body)):
        raise bad("Either subnet_id or port_id must be specified")
    ports = _interface_ports(s, router)
    if body.get("port_id"):
        port = next((p for p in ports if p.id == body["port_id"]), None)
        if port is None:
            raise ne.RouterInterfaceNotFound(router_id=router.id, port_id=body["port_id"])
        if body.get("subnet_id") and body["subnet_id"] not in [f["subnet_id"] for f in port.fixed_ips]:
            raise errors.Conflict(f"Subnet {body['subnet_id']} is not on port {port.id}",
                                  type_name="SubnetMismatchForPort")
    else:
        port = next((p for p in ports if body["subnet_id"] in [f["subnet_id"] for f in p.fixed_ips]), None)
        if port is None:
            if s.get(m.Subnet, body["subnet_id"]) is None:
                raise ne.SubnetNotFound(id=body["subnet_id"])
            raise ne.RouterInterfaceNotFoundForSubnet(router_id=router.id, subnet_id=body["subnet_id"])
    subnet_ids = [f["subnet_id"] for f in port.fixed_ips]
    _check_fip_dependency(s, router, subnet_ids)
    remaining = [r for r in router.routes]
    cidrs = [ipaddress.ip_network(x.cidr) for x in s.scalars(select(m.Subnet).where(m.Subnet.id.in_(subnet_ids)))]
    for r in remaining:
        if any(ipaddress.ip_address(r["nexthop"]) in c for c in cidrs):
            raise errors.Conflict(f"Router interface for subnet {subnet_ids[0]} on router {router.id} cannot be "
                                  f"deleted, as it is required by one or more routes.",
                                  type_name="RouterInterfaceInUseByRoute")
    info = _info(router, port, subnet_ids)
    svc.delete_port(s, ctx, port, internal=True)
    touch(router)
    return info


def _check_fip_dependency(s: Session, router: m.Router, subnet_ids: list[str]) -> None:
    for fip in s.scalars(select(m.FloatingIP).where(m.FloatingIP.router_id == router.id)):
        port = s.get(m.Port, fip.port_id) if fip.port_id else None
        if port and any(f["subnet_id"] in subnet_ids for f in port.fixed_ips):
            raise errors.Conflict(f"Router interface for subnet {subnet_ids[0]} on router {router.id} cannot be "
                                  f"deleted, as it is required by one or more floating IPs.",
                                  type_name="RouterInterfaceInUseByFloatingIP")


def extraroutes(s: Session, ctx: Any, router: m.Router, body: Any, add: bool) -> m.Router:
    if not isinstance(body, dict) or not isinstance(body.get("router"), dict) or \
            "routes" not in body["router"]:
        raise bad("Body must be {\"router\": {\"routes\": [...]}}")
    routes = _check_routes(s, router, body["router"]["routes"]) if add else body["router"]["routes"]
    if not isinstance(routes, list):
        raise bad("routes must be a list")
    current = list(router.routes)
    if add:
        for r in routes:
            if r not in current:
                current.append(r)
    else:
        norm = []
        for r in routes:
            if isinstance(r, dict) and "destination" in r and "nexthop" in r:
                norm.append({"destination": str(ipaddress.ip_network(r["destination"], strict=False)),
                             "nexthop": str(r["nexthop"])})
        current = [r for r in current if r not in norm]
    router.routes = current
    touch(router)
    return router


# ------------------------------------------------------------------ floating IPs
def _router_for(s: Session, ext_net_id: str, port: m.Port, fixed_ip: str) -> m.Router:
    addr = ipaddress.ip_address(fixed_ip)
    subnet_id = next((f["subnet_id"] for f in port.fixed_ips if f["ip_address"] == fixed_ip), None)
    for router in s.scalars(select(m.Router).where(m.Router.gw_network_id == ext_net_id)):
        for sub in _interface_subnets(s, router):
            if sub.network_id == port.network_id and addr in ipaddress.ip_network(sub.cidr):
                return router
    raise ne.ExternalGatewayForFloatingIPNotFound(external_network_id=ext_net_id, subnet_id=subnet_id,
                                                 port_id=port.id)


def _associate(s: Session, ctx: Any, fip: m.FloatingIP, port_id: Any, fixed_ip: Any) -> None:
    if port_id is None:
        fip.port_id = fip.fixed_ip_address = fip.router_id = None
        fip.status = "DOWN"
        return
    port = s.get(m.Port, port_id) if isinstance(port_id, str) else None
    if port is None or (not q.is_admin(ctx) and port.project_id != ctx.project_id):
        raise ne.PortNotFound(id=port_id)
    if port.device_owner in ROUTER_INTERFACE_OWNERS + (ROUTER_GW, FIP_OWNER):
        raise bad(f"Port {port.id} has owner {port.device_owner} and therefore cannot be assigned a "
                  "floating IP")
    v4 = [f for f in port.fixed_ips if ipaddress.ip_address(f["ip_address"]).version == 4]
    if fixed_ip is not None:
        if not any(f["ip_address"] == fixed_ip for f in port.fixed_ips):
            raise bad(f"Port {port.id} does not have fixed ip {fixed_ip}")
    else:
        if not v4:
            raise bad(f"Bad floatingip request: Port {port.id} does not have any IPv4 address")
        if len(v4) > 1:
            raise bad(f"Port {port.id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 "
                      "address when assigning a floating IP")
        fixed_ip = v4[0]["ip_address"]
    router = _router_for(s, fip.floating_network_id, port, fixed_ip)
    other = s.scalars(select(m.FloatingIP).where(
        m.FloatingIP.port_id == port.id, m.FloatingIP.fixed_ip_address == fixed_ip,
        m.FloatingIP.floating_network_id == fip.floating_network_id, m.FloatingIP.id != fip.id)).first()
    if other is not None:
        raise ne.FloatingIPPortAlreadyAssociated(floating_ip_address=fip.floating_ip_address, fip_id=fip.id,
                                                 port_id=port.id, fixed_ip=fixed_ip, net_id=fip.floating_network_id)
    fip.port_id, fip.fixed_ip_address, fip.router_id = port.id, fixed_ip, router.id
    fip.status = "ACTIVE"


def create_floatingip(s: Session, ctx: Any, v: dict[str, Any]) -> m.FloatingIP:
    project_id = svc.owner_project(ctx, v)
    net = s.get(m.Network, v["floating_network_id"]) if isinstance(v.get("floating_network_id"), str) else None
    if net is None:
        raise ne.NetworkNotFound(id=v.get("floating_network_id"))
    if not net.external:
        raise bad(f"Bad floatingip request: Network {net.id} is not a valid external network") if False else \
            errors.BadRequest(f"Bad floatingip request: Network {net.id} is not a valid external network.",
                              type_name="BadRequest")
    svc.check_quota(s, project_id, "floatingip")
    fid = new_id()
    fixed = None
    if v.get("subnet_id"):
        sub = s.get(m.Subnet, v["subnet_id"])
        if sub is None or sub.network_id != net.id:
            raise ne.SubnetNotFound(id=v["subnet_id"])
        fixed = [{"subnet_id": sub.id}]
    if v.get("floating_ip_address"):
        fixed = [{"ip_address": v["floating_ip_address"], **({"subnet_id": v["subnet_id"]} if v.get("subnet_id") else {})}]
    if fixed is None:
        v4 = [x.id for x in s.scalars(select(m.Subnet).where(m.Subnet.network_id == net.id,
                                                                m.Subnet.ip_version == 4))]
        if not v4:
            raise bad(f"Bad floatingip request: Network {net.id} has no IPv4 subnet") if False else \
                errors.BadRequest(f"Bad floatingip request: external network {net.id} has no IPv4 subnet.",
                                  type_name="BadRequest")
    port = _service_port(s, net, FIP_OWNER, fid, "", fixed)
    v4ips = [f for f in port.fixed_ips if ipaddress.ip_address(f["ip_address"]).version == 4]
    if not v4ips:
        raise ne.IpAddressGenerationFailure(net_id=net.id)
    fip = m.FloatingIP(id=fid, project_id=project_id, floating_network_id=net.id,
                       floating_ip_address=v4ips[0]["ip_address"], floating_port_id=port.id,
                       description=v.get("description") or "", dns_name=v.get("dns_name") or "",
                       dns_domain=v.get("dns_domain") or "", qos_policy_id=v.get("qos_policy_id"))
    s.add(fip)
    s.flush()
    if v.get("port_id"):
        _associate(s, ctx, fip, v["port_id"], v.get("fixed_ip_address"))
    return fip


def update_floatingip(s: Session, ctx: Any, fip: m.FloatingIP, v: dict[str, Any]) -> m.FloatingIP:
    if "port_id" in v:
        if v["port_id"] is not None and s.scalar(select(m.PortForwarding.id).where(
                m.PortForwarding.floatingip_id == fip.id)):
            raise errors.Conflict(f"Floating IP {fip.id} has port forwardings; it cannot be associated with a "
                                  "port.", type_name="FipInUseByPortForwarding")
        _associate(s, ctx, fip, v.pop("port_id"), v.pop("fixed_ip_address", None))
    elif "fixed_ip_address" in v:
        _associate(s, ctx, fip, fip.port_id, v.pop("fixed_ip_address"))
    for key, value in v.items():
        setattr(fip, key, value if value is not None else "")
    touch(fip)
    return fip


def delete_floatingip(s: Session, ctx: Any, fip: m.FloatingIP) -> None:
    port = s.get(m.Port, fip.floating_port_id)
    for pf in s.scalars(select(m.PortForwarding).where(m.PortForwarding.floatingip_id == fip.id)):
        s.delete(pf)          # row by row: the network agent sees them go
    svc.drop_tags(s, fip.id)
    s.delete(fip)
    s.flush()
    if port is not None:
        svc.delete_port(s, ctx, port, internal=True)


# ------------------------------------------------------------------ port forwardings
def _check_pf(s: Session, ctx: Any, fip: m.FloatingIP, v: dict[str, Any], current: m.PortForwarding | None) -> None:
    if fip.port_id:
        raise errors.Conflict(f"Floating IP {fip.id} is associated with port {fip.port_id}; it cannot have port "
                              "forwardings.", type_name="FipInUseByPortForwarding" if False else "FipInUse")
    proto = v.get("protocol", current.protocol if current else None)
    if proto not in ("tcp", "udp", "sctp", "udplite"):
        raise bad(f"Invalid protocol {proto}")
    for key in ("internal_port", "external_port"):
        val = v.get(key, getattr(current, key) if current else None)
        if not isinstance(val, int) or isinstance(val, bool) or not 1 <= val <= 65535:
            raise bad(f"Invalid value for {key}: {val}")
    port_id = v.get("internal_port_id", current.internal_port_id if current else None)
    port = s.get(m.Port, port_id) if isinstance(port_id, str) else None
    if port is None or (not q.is_admin(ctx) and port.project_id != ctx.project_id):
        raise ne.PortNotFound(id=port_id)
    ip = v.get("internal_ip_address", current.internal_ip_address if current else None)
    if ip is None or not any(f["ip_address"] == ip for f in port.fixed_ips):
        raise bad(f"The requested internal IP address {ip} does not belong to port {port_id}")
    _router_for(s, fip.floating_network_id, port, ip)
    ext = v.get("external_port", current.external_port if current else None)
    clash = s.scalars(select(m.PortForwarding).where(
        m.PortForwarding.floatingip_id == fip.id, m.PortForwarding.external_port == ext,
        m.PortForwarding.protocol == proto)).first()
    if clash is not None and (current is None or clash.id != current.id):
        raise errors.BadRequest(f"A duplicate port forwarding entry with same attributes already exists, "
                                f"conflicting values are {{'external_port': {ext}, 'protocol': '{proto}'}}",
                                type_name="BadRequest")


def create_pf(s: Session, ctx: Any, fip: m.FloatingIP, v: dict[str, Any]) -> m.PortForwarding:
    _check_pf(s, ctx, fip, v, None)
    pf = m.PortForwarding(id=new_id(), floatingip_id=fip.id, project_id=fip.project_id,
                          internal_port_id=v["internal_port_id"], internal_ip_address=v["internal_ip_address"],
                          internal_port=v["internal_port"], external_port=v["external_port"],
                          protocol=v["protocol"], description=v.get("description") or "")
    s.add(pf)
    s.flush()
    return pf


def update_pf(s: Session, ctx: Any, fip: m.FloatingIP, pf: m.PortForwarding, v: dict[str, Any]) -> m.PortForwarding:
    _check_pf(s, ctx, fip, v, pf)
    for key, value in v.items():
        setattr(pf, key, value)
    return pf
