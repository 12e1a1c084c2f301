"""Networks, subnets, ports, security groups and rules."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from onestack import db
from onestack.api.resource import Field as F
from onestack.api.resource import Resource
from onestack.api.routing import Req
from onestack.network import agent
from onestack.network import errors as ne
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import segments
from onestack.network import service as svc
from onestack.network.api.common import API, cached, standard


def _ro(wire: str, attr: str | None = None, **kw: Any) -> F:
    return F(wire, attr=attr, filter=True, sort=True, **kw)


# ------------------------------------------------------------------ networks
NETWORK = Resource("network", "networks", standard() + [
    F("admin_state_up", type=bool, create=True, update=True, filter=True, sort=True),
    _ro("status"),
    F("shared", type=bool, create=True, update=True, filter=True, sort=True, render=cached("_shared", False)),
    F("router:external", attr="external", type=bool, create=True, update=True, filter=True, sort=True,
      render=cached("_external", False)),
    F("mtu", type=int, create=True, update=True, filter=True, sort=True),
    F("port_security_enabled", type=bool, create=True, update=True, filter=True),
    F("provider:network_type", attr="network_type", create=True, update=True, filter=True, max_length=32),
    F("provider:physical_network", attr="physical_network", create=True, update=True, filter=True,
      nullable=True, max_length=64),
    F("provider:segmentation_id", attr="segmentation_id", type=int, create=True, update=True, filter=True,
      nullable=True),
    F("availability_zone_hints", type=list, create=True),
    F("availability_zones", render=lambda o, v: [svc.settings().default_availability_zone]),
    F("dns_domain", create=True, update=True, filter=True, max_length=255),
    F("subnets", render=cached("_subnets", list)),
    F("ipv4_address_scope", render=lambda o, v: None),
    F("ipv6_address_scope", render=lambda o, v: None),
    F("is_default", type=bool, create=True, update=True, filter=True),
    F("qos_policy_id", create=True, update=True, nullable=True, filter=True),
    F("l2_adjacency", render=lambda o, v: True),
    F("segments", type=list, create=True, shown=False),   # multi-provider: rendered by _network_extend
])


def _network_preload(s: Any, ctx: Any, rows: list[m.Network]) -> None:
    ids = [r.id for r in rows]
    subs: dict[str, list[str]] = {i: [] for i in ids}
    for nid, sid in s.execute(select(m.Subnet.network_id, m.Subnet.id).where(m.Subnet.network_id.in_(ids))
                              .order_by(m.Subnet.created_at)):
        subs[nid].append(sid)
    shared: set[str] = set()
    external: set[str] = set()
    if ctx is not None and ctx.project_id:
        for oid, action in s.execute(select(m.RBACPolicy.object_id, m.RBACPolicy.action).where(
                m.RBACPolicy.object_type == "network", m.RBACPolicy.object_id.in_(ids),
                m.RBACPolicy.target_tenant == ctx.project_id)):
            (shared if action == "access_as_shared" else external).add(oid)
    segs = segments.of_networks(s, ids)
    for r in rows:
        r._subnets = subs[r.id]
        r._shared = r.shared or r.id in shared
        r._external = r.external or r.id in external
        r._segments = segs[r.id]


def _network_extend(row: m.Network, out: dict) -> None:
    """multi-provider: a network with several segments lists them all under `segments`."""
    segs = getattr(row, "_segments", [])
    if len(segs) > 1:
        out["segments"] = [segments.provider_view(x) for x in segs]


def _network_target(s: Any, row: m.Network, t: dict) -> dict:
    return {"shared": row.shared, "router:external": row.external}


def granted(s: Any, ctx: Any, net_id: str) -> set[str]:
    """RBAC actions that reach the caller's project on ``net_id``."""
    return set(s.scalars(select(m.RBACPolicy.action).where(
        m.RBACPolicy.object_type == "network", m.RBACPolicy.object_id == net_id,
        m.RBACPolicy.target_tenant.in_([ctx.project_id or "", "*"]))))


def _network_target_ctx(s: Any, ctx: Any, row: m.Network) -> dict:
    g = granted(s, ctx, row.id)
    return {"shared": row.shared or "access_as_shared" in g,
            "router:external": row.external or "access_as_external" in g}


def _net_create(s: Any, ctx: Any, v: dict, req: Req) -> m.Network:
    return svc.create_network(s, ctx, v)


def _net_update(s: Any, ctx: Any, row: m.Network, v: dict, req: Req) -> m.Network:
    return svc.update_network(s, ctx, row, v)


NETWORK_KIND = q.Kind("network", "networks", m.Network, ne.NetworkNotFound, tag_type="network",
                      visibility="rbac_network")
NETWORKS = API(NETWORK_KIND, NETWORK, create=_net_create, update=_net_update,
               delete=lambda s, ctx, row: svc.delete_network(s, ctx, row),
               target=_network_target, target_ctx=_network_target_ctx, preload=_network_preload,
               extend=_network_extend,
               defaults={"shared": False, "router:external": False, "port_security_enabled": True,
                         "is_default": False},
               after=agent.network_changed)


# ------------------------------------------------------------------ subnets
SUBNET = Resource("subnet", "subnets", standard() + [
    F("network_id", create=True, required=True, filter=True, sort=True),
    F("ip_version", type=int, create=True, required=True, filter=True, sort=True, choices=(4, 6)),
    F("cidr", create=True, filter=True, sort=True, nullable=True),
    F("prefixlen", type=int, create=True, shown=False),
    F("use_default_subnetpool", type=bool, create=True, shown=False),
    F("gateway_ip", create=True, update=True, nullable=True, filter=True, sort=True),
    F("allocation_pools", type=list, create=True, update=True, nullable=True),
    F("dns_nameservers", type=list, create=True, update=True, nullable=True),
    F("host_routes", type=list, create=True, update=True, nullable=True),
    F("enable_dhcp", type=bool, create=True, update=True, filter=True, sort=True),
    F("ipv6_ra_mode", create=True, nullable=True, filter=True, choices=svc.IPV6_MODES),
    F("ipv6_address_mode", create=True, nullable=True, filter=True, choices=svc.IPV6_MODES),
    F("subnetpool_id", create=True, nullable=True, filter=True, sort=True),
    F("segment_id", create=True, update=True, nullable=True, filter=True),
    F("service_types", type=list, create=True, update=True),
    F("dns_publish_fixed_ip", type=bool, create=True, update=True),
])


def _network_for(s: Any, ctx: Any, network_id: Any) -> m.Network:
    if not isinstance(network_id, str):
        raise ne.NetworkNotFound(id=network_id)
    stmt = select(m.Network).where(m.Network.id == network_id)
    clause = q.visible_networks(ctx)
    if clause is not None:
        stmt = stmt.where(clause)
    net = s.scalars(stmt).first()
    if net is None:
        raise ne.NetworkNotFound(id=network_id)
    return net


def _net_keys(net: m.Network) -> dict:
    return {"network:tenant_id": net.project_id, "network:project_id": net.project_id,
            "shared": net.shared, "network": {"tenant_id": net.project_id, "project_id": net.project_id}}


def _subnet_target(s: Any, row: Any, t: dict) -> dict:
    net = s.get(m.Network, row.network_id)
    return _net_keys(net) if net else {}


def _subnet_create_target(s: Any, ctx: Any, v: dict) -> dict:
    return _net_keys(_network_for(s, ctx, v.get("network_id")))


def _subnet_create(s: Any, ctx: Any, v: dict, req: Req) -> m.Subnet:
    net = _network_for(s, ctx, v.pop("network_id"))
    return svc.create_subnet(s, ctx, v, net)


SUBNET_KIND = q.Kind("subnet", "subnets", m.Subnet, ne.SubnetNotFound, tag_type="subnet", visibility="network")
SUBNETS = API(SUBNET_KIND, SUBNET, create=_subnet_create,
              update=lambda s, ctx, row, v, req: svc.update_subnet(s, ctx, row, v),
              delete=lambda s, ctx, row: svc.delete_subnet(s, ctx, row),
              target=_subnet_target, create_target=_subnet_create_target,
              defaults={"enable_dhcp": True})


# ------------------------------------------------------------------ ports
def _dns_assignment(port: m.Port, _v: Any) -> list[dict[str, str]]:
    host = port.dns_name or "host-" + (port.fixed_ips[0]["ip_address"].replace(".", "-").replace(":", "-")
                                       if port.fixed_ips else "")
    domain = svc.settings().dns_domain
    return [{"ip_address": f["ip_address"], "hostname": host, "fqdn": f"{host}.{domain}"}
            for f in port.fixed_ips]


PORT = Resource("port", "ports", standard() + [
    F("network_id", create=True, required=True, filter=True, sort=True),
    F("mac_address", create=True, update=True, filter=True, sort=True),
    F("admin_state_up", type=bool, create=True, update=True, filter=True, sort=True),
    _ro("status"),
    F("device_id", create=True, update=True, filter=True, sort=True, max_length=255, nullable=True),
    F("device_owner", create=True, update=True, filter=True, sort=True, max_length=255, nullable=True),
    F("fixed_ips", type=list, create=True, update=True, nullable=True),
    F("allowed_address_pairs", type=list, create=True, update=True, nullable=True),
    F("extra_dhcp_opts", type=list, create=True, update=True, nullable=True),
    F("security_groups", type=list, create=True, update=True, nullable=True),
    F("port_security_enabled", type=bool, create=True, update=True, filter=True),
    F("binding:host_id", attr="binding_host_id", create=True, update=True, filter=True, nullable=True),
    F("binding:vnic_type", attr="binding_vnic_type", create=True, update=True, filter=True,
      choices=("normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder",
               "smart-nic", "vdpa", "remote-managed")),
    F("binding:vif_type", attr="binding_vif_type", filter=True),
    F("binding:vif_details", attr="binding_vif_details"),
    F("binding:profile", attr="binding_profile", type=dict, create=True, update=True, nullable=True),
    F("dns_name", create=True, update=True, filter=True, max_length=255, nullable=True),
    F("dns_assignment", render=_dns_assignment),
    F("qos_policy_id", create=True, update=True, nullable=True, filter=True),
    F("qos_network_policy_id", render=lambda o, v: None),
    F("propagate_uplink_status", type=bool, create=True, update=True),
    F("ip_allocation", render=lambda o, v: "immediate"),
    F("resource_request", render=lambda o, v: None),
])


def _port_where(req: Req) -> list:
    out = []
    for raw in req.query_all("fixed_ips"):
        key, _, value = raw.partition("=")
        if key in ("ip_address", "subnet_id"):
            col = getattr(m.IPAllocation, key)
            out.append(m.Port.id.in_(select(m.IPAllocation.port_id).where(col == value)))
        elif key == "ip_address_substr":
            out.append(m.Port.id.in_(select(m.IPAllocation.port_id).where(
                m.IPAllocation.ip_address.contains(value))))
    sgs = req.query_all("security_groups")
    if sgs:
        out.append(or_(*[m.Port.security_groups.contains(g) for g in sgs]))
    return out


def _port_target(s: Any, row: m.Port, t: dict) -> dict:
    net = s.get(m.Network, row.network_id)
    return _net_keys(net) if net else {}


def _port_create_target(s: Any, ctx: Any, v: dict) -> dict:
    out = _net_keys(_network_for(s, ctx, v.get("network_id")))
    out["device_owner"] = v.get("device_owner") or ""
    return out


def _port_create(s: Any, ctx: Any, v: dict, req: Req) -> m.Port:
    net = _network_for(s, ctx, v.pop("network_id"))
    return svc.create_port(s, ctx, v, net)


def _port_delete(s: Any, ctx: Any, row: m.Port) -> None:
    svc.delete_port(s, ctx, row)
    agent.port_deleted_after_commit(s, row.id)


PORT_KIND = q.Kind("port", "ports", m.Port, ne.PortNotFound, tag_type="port", visibility="port")
PORTS = API(PORT_KIND, PORT, create=_port_create,
            update=lambda s, ctx, row, v, req: svc.update_port(s, ctx, row, v),
            delete=_port_delete, target=_port_target, create_target=_port_create_target,
            where=_port_where, defaults={"port_security_enabled": True, "binding:vnic_type": "normal",
                                         "device_owner": ""},
            after=agent.port_changed)


# ------------------------------------------------------------------ security groups
def _rule_view(r: m.SecurityGroupRule, default_ids: set[str] | None = None) -> dict[str, Any]:
    return {"id": r.id, "security_group_id": r.security_group_id, "direction": r.direction,
            "ethertype": r.ethertype, "protocol": r.protocol, "port_range_min": r.port_range_min,
            "port_range_max": r.port_range_max, "remote_ip_prefix": r.remote_ip_prefix,
            "normalized_cidr": r.remote_ip_prefix, "remote_group_id": r.remote_group_id,
            "remote_address_group_id": r.remote_address_group_id, "description": r.description,
            "project_id": r.project_id, "tenant_id": r.project_id,
            "created_at": r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": r.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "revision_number": r.revision_number,
            "belongs_to_default_sg": (r.security_group_id in default_ids) if default_ids is not None else False}


SECURITY_GROUP = Resource("security_group", "security_groups", standard() + [
    F("stateful", type=bool, create=True, update=True, filter=True),
    F("shared", render=lambda o, v: False),
    F("security_group_rules", render=cached("_rules", list)),
])


def _default_ids(s: Any, ids: list[str]) -> set[str]:
    return set(s.scalars(select(m.DefaultSecurityGroup.security_group_id)
                         .where(m.DefaultSecurityGroup.security_group_id.in_(ids))))


def _sg_preload(s: Any, ctx: Any, rows: list[m.SecurityGroup]) -> None:
    ids = [r.id for r in rows]
    defaults = _default_ids(s, ids)
    rules: dict[str, list] = {i: [] for i in ids}
    for r in s.scalars(select(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id.in_(ids))
                       .order_by(m.SecurityGroupRule.created_at)):
        rules[r.security_group_id].append(_rule_view(r, defaults))
    for row in rows:
        row._rules = rules[row.id]


def ensure_default_for(ctx: Any) -> None:
    if not ctx.project_id:
        return
    with db.read() as s:
        if s.get(m.DefaultSecurityGroup, ctx.project_id) is not None:
            return
    with db.write() as s:
        svc.ensure_default_sg(s, ctx.project_id)


SG_KIND = q.Kind("security_group", "security_groups", m.SecurityGroup, ne.SecurityGroupNotFound,
                 tag_type="security_group")
SECURITY_GROUPS = API(SG_KIND, SECURITY_GROUP,
                      create=lambda s, ctx, v, req: svc.create_security_group(s, ctx, v),
                      update=lambda s, ctx, row, v, req: svc.update_security_group(s, ctx, row, v),
                      delete=lambda s, ctx, row: svc.delete_security_group(s, ctx, row),
                      preload=_sg_preload, before_list=ensure_default_for,
                      collection_path="/v2.0/security-groups")

RULE = Resource("security_group_rule", "security_group_rules", [
    F("id", filter=True, sort=True),
    F("security_group_id", create=True, required=True, filter=True, sort=True),
    F("direction", create=True, required=True, filter=True, sort=True),
    F("ethertype", create=True, filter=True, sort=True),
    F("protocol", type=(str, int), create=True, nullable=True, filter=True, sort=True),
    F("port_range_min", type=int, create=True, nullable=True, filter=True, sort=True),
    F("port_range_max", type=int, create=True, nullable=True, filter=True, sort=True),
    F("remote_ip_prefix", create=True, nullable=True, filter=True, sort=True),
    F("normalized_cidr", attr="remote_ip_prefix"),
    F("remote_group_id", create=True, nullable=True, filter=True, sort=True),
    F("remote_address_group_id", create=True, nullable=True, filter=True),
    F("description", create=True, filter=True, max_length=255),
    F("project_id", create=True, filter=True, sort=True),
    F("tenant_id", attr="project_id", create=True, filter=True, sort=True),
    F("created_at", render=lambda o, v: o.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), sort=True),
    F("updated_at", render=lambda o, v: o.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"), sort=True),
    F("revision_number", type=int, filter=True),
    F("belongs_to_default_sg", render=cached("_default", False)),
])


def _rule_preload(s: Any, ctx: Any, rows: list) -> None:
    defaults = _default_ids(s, list({r.security_group_id for r in rows}))
    for r in rows:
        r._default = r.security_group_id in defaults


def _sg_for(s: Any, ctx: Any, sg_id: Any) -> m.SecurityGroup:
    if not isinstance(sg_id, str):
        raise ne.SecurityGroupNotFound(id=sg_id)
    return q.get(s, SG_KIND, ctx, sg_id)


def _rule_create_target(s: Any, ctx: Any, v: dict) -> dict:
    sg = _sg_for(s, ctx, v.get("security_group_id"))
    return {"security_group:tenant_id": sg.project_id, "security_group:project_id": sg.project_id}


def _rule_target(s: Any, row: Any, t: dict) -> dict:
    sg = s.get(m.SecurityGroup, row.security_group_id)
    return {"security_group:tenant_id": sg.project_id if sg else "",
            "security_group:project_id": sg.project_id if sg else ""}


RULE_KIND = q.Kind("security_group_rule", "security_group_rules", m.SecurityGroupRule,
                   ne.SecurityGroupRuleNotFound, visibility="rule")
RULES = API(RULE_KIND, RULE,
            create=lambda s, ctx, v, req: svc.create_sg_rule(s, ctx, v, _sg_for(s, ctx, v["security_group_id"])),
            delete=lambda s, ctx, row: svc.delete_sg_rule(s, ctx, row),
            target=_rule_target, create_target=_rule_create_target, preload=_rule_preload,
            collection_path="/v2.0/security-group-rules")
