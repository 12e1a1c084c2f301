"""Quotas, RBAC, address scopes, subnet pools, address groups, QoS, trunks, agents,
IP availability and auto-allocated topology."""
from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from sqlalchemy import select

from onestack import db, errors
from onestack.api.resource import Field as F
from onestack.api.resource import Resource
from onestack.api.routing import Reply, Req, route
from onestack.db.base import utcnow
from onestack.network import extra as x
from onestack.network import ipam
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import service as svc
from onestack.network.api import common
from onestack.network.api.common import API, standard, ts


def _nf(what: str) -> Any:
    cls = type(f"{what}NotFound", (errors.NotFound,), {"message": f"{what} {{id}} could not be found."})
    return cls


# ------------------------------------------------------------------ quotas
def _quota_target(req: Req) -> dict:
    pid = req.params.get("project_id", req.ctx.project_id)
    return {"project_id": pid, "tenant_id": pid}


def quota_list(req: Req) -> dict:
    req.ctx.can("network:get_quota", {"project_id": None})
    with db.read() as s:
        pids = sorted(set(s.scalars(select(m.Quota.project_id))))
        return {"quotas": [{**svc.quota_limits(s, p), "project_id": p, "tenant_id": p} for p in pids]}


def quota_show(req: Req) -> dict:
    req.ctx.can("network:get_quota", _quota_target(req))
    with db.read() as s:
        return {"quota": svc.quota_limits(s, req.params["project_id"])}


def quota_default(req: Req) -> dict:
    req.ctx.can("network:get_quota", _quota_target(req))
    return {"quota": {r: svc.default_quota(r) for r in svc.QUOTA_MODELS}}


def quota_details(req: Req) -> dict:
    req.ctx.can("network:get_quota", _quota_target(req))
    with db.read() as s:
        return {"quota": x.quota_details(s, req.params["project_id"])}


def quota_update(req: Req) -> dict:
    body = common.body_of(req, "quota")
    if not isinstance(body, dict):
        raise common.HTTPBadRequest("quota must be an object")
    body = {k: v for k, v in body.items() if k not in ("force", "check_limit")}
    req.ctx.can("network:update_quota", _quota_target(req))
    with db.write() as s:
        return {"quota": x.quota_update(s, req.params["project_id"], body)}


def quota_delete(req: Req) -> None:
    req.ctx.can("network:delete_quota", _quota_target(req))
    with db.write() as s:
        x.quota_reset(s, req.params["project_id"])


# ------------------------------------------------------------------ RBAC
RBAC = Resource("rbac_policy", "rbac_policies", [
    F("id", filter=True, sort=True),
    F("object_type", create=True, required=True, filter=True, sort=True),
    F("object_id", create=True, required=True, filter=True, sort=True),
    F("action", create=True, required=True, filter=True, sort=True),
    F("target_tenant", create=True, update=True, filter=True, sort=True),
    F("target_project", attr="target_tenant", create=True, update=True, filter=True, sort=True),
    F("project_id", create=True, filter=True, sort=True),
    F("tenant_id", attr="project_id", create=True, filter=True, sort=True),
])
RBAC_KIND = q.Kind("rbac_policy", "rbac_policies", m.RBACPolicy, _nf("RBAC policy"))


def _rbac_parse(values: dict) -> dict:
    return values


RBACS = API(RBAC_KIND, RBAC, create=lambda s, ctx, v, req: x.create_rbac(s, ctx, v),
            update=lambda s, ctx, row, v, req: x.update_rbac(s, ctx, row, v),
            delete=lambda s, ctx, row: x.delete_rbac(s, ctx, row),
            target=lambda s, row, t: {"target_tenant": row.target_tenant, "target_project": row.target_tenant},
            collection_path="/v2.0/rbac-policies")

# ------------------------------------------------------------------ address scopes / subnet pools
SCOPE = Resource("address_scope", "address_scopes", standard(tags=False) + [
    F("ip_version", type=int, create=True, required=True, filter=True, sort=True, choices=(4, 6)),
    F("shared", type=bool, create=True, update=True, filter=True, sort=True),
])
SCOPE_KIND = q.Kind("address_scope", "address_scopes", m.AddressScope, _nf("Address scope"), visibility="shared")
SCOPES = API(SCOPE_KIND, SCOPE, create=lambda s, ctx, v, req: x.create_address_scope(s, ctx, v),
             update=lambda s, ctx, row, v, req: x.update_address_scope(s, ctx, row, v),
             delete=lambda s, ctx, row: x.delete_address_scope(s, ctx, row),
             target=lambda s, row, t: {"shared": row.shared}, defaults={"shared": False},
             collection_path="/v2.0/address-scopes")

POOL = Resource("subnetpool", "subnetpools", standard() + [
    F("prefixes", type=list, create=True, update=True, required=True),
    F("ip_version", type=int, filter=True, sort=True),
    F("default_prefixlen", type=int, create=True, update=True, filter=True),
    F("min_prefixlen", type=int, create=True, update=True, filter=True),
    F("max_prefixlen", type=int, create=True, update=True, filter=True),
    F("shared", type=bool, create=True, filter=True, sort=True),
    F("is_default", type=bool, create=True, update=True, filter=True),
    F("default_quota", type=int, create=True, update=True, nullable=True),
    F("address_scope_id", create=True, update=True, nullable=True, filter=True),
])
POOL_KIND = q.Kind("subnetpool", "subnetpools", m.SubnetPool, _nf("Subnet pool"), tag_type="subnetpool",
                   visibility="shared")
POOLS = API(POOL_KIND, POOL, create=lambda s, ctx, v, req: x.create_subnetpool(s, ctx, v),
            update=lambda s, ctx, row, v, req: x.update_subnetpool(s, ctx, row, v),
            delete=lambda s, ctx, row: x.delete_subnetpool(s, ctx, row),
            target=lambda s, row, t: {"shared": row.shared}, defaults={"shared": False, "is_default": False})


def _action(api: API, rule: str, fn: Any, key: str | None = None) -> Any:
    def handler(req: Req) -> dict:
        body = req.json()
        with db.write() as s:
            row = q.get(s, api.kind, req.ctx, req.params["id"])
            req.ctx.can(f"network:{rule}", common.row_target(api, s, row))
            row = fn(s, req.ctx, row, body)
            s.flush()
            common.preload(s, api, req.ctx, [row])
            out = common.render(req, api, row)
        return {key: out} if key else out
    return handler


# ------------------------------------------------------------------ address groups
AG = Resource("address_group", "address_groups", standard(tags=False) + [
    F("addresses", type=list, create=True),
])
AG_KIND = q.Kind("address_group", "address_groups", m.AddressGroup, _nf("Address group"))
AGS = API(AG_KIND, AG, create=lambda s, ctx, v, req: x.create_address_group(s, ctx, v),
          update=lambda s, ctx, row, v, req: (svc.touch(row), [setattr(row, k, val) for k, val in v.items()], row)[2],
          delete=lambda s, ctx, row: x.delete_address_group(s, ctx, row),
          target=lambda s, row, t: {"shared": False}, collection_path="/v2.0/address-groups")

# ------------------------------------------------------------------ QoS
QOS = Resource("policy", "policies", standard() + [
    F("shared", type=bool, create=True, update=True, filter=True, sort=True),
    F("is_default", type=bool, create=True, update=True, filter=True),
    F("rules", render=common.cached("_rules", list)),
])


def _qos_rule_view(r: m.QosRule) -> dict:
    return {"id": r.id, "type": r.type, "qos_policy_id": r.policy_id, **r.values}


def _qos_preload(s: Any, ctx: Any, rows: list) -> None:
    ids = [r.id for r in rows]
    rules: dict[str, list] = {i: [] for i in ids}
    for r in s.scalars(select(m.QosRule).where(m.QosRule.policy_id.in_(ids))):
        rules[r.policy_id].append(_qos_rule_view(r))
    for row in rows:
        row._rules = rules[row.id]


QOS_KIND = q.Kind("policy", "policies", m.QosPolicy, _nf("QoS policy"), tag_type="policy", visibility="shared")


def _qos_update(s: Any, ctx: Any, row: m.QosPolicy, v: dict, req: Req) -> m.QosPolicy:
    for k, val in v.items():
        setattr(row, k, val)
    svc.touch(row)
    return row


QOSES = API(QOS_KIND, QOS, create=lambda s, ctx, v, req: x.create_qos_policy(s, ctx, v), update=_qos_update,
            delete=lambda s, ctx, row: x.delete_qos_policy(s, ctx, row), preload=_qos_preload,
            target=lambda s, row, t: {"shared": row.shared}, collection_path="/v2.0/qos/policies")


def _qos_parent(s: Any, req: Req, verb: str) -> m.QosPolicy:
    pol = q.get(s, QOS_KIND, req.ctx, req.params["policy_id"])
    target = {"project_id": pol.project_id, "tenant_id": pol.project_id, "ext_parent:tenant_id": pol.project_id,
              "ext_parent:project_id": pol.project_id}
    req.ctx.can(f"network:{verb}_policy_rule", target)
    return pol


def _qos_rule_routes(rtype: str) -> list:
    base = f"/v2.0/qos/policies/{{policy_id}}/{rtype}_rules"
    key = f"{rtype}_rule"

    def load(s: Any, pol: m.QosPolicy, rid: str) -> m.QosRule:
        r = s.get(m.QosRule, rid)
        if r is None or r.policy_id != pol.id or r.type != rtype:
            raise errors.NotFound(f"QoS rule {rid} for policy {pol.id} could not be found.",
                                  type_name="QoSRuleNotFound")
        return r

    def view(r: m.QosRule) -> dict:
        return {"id": r.id, **r.values}

    def lst(req: Req) -> dict:
        with db.read() as s:
            pol = _qos_parent(s, req, "get")
            rows = s.scalars(select(m.QosRule).where(m.QosRule.policy_id == pol.id, m.QosRule.type == rtype))
            return {f"{rtype}_rules": [view(r) for r in rows]}

    def show(req: Req) -> dict:
        with db.read() as s:
            pol = _qos_parent(s, req, "get")
            return {key: view(load(s, pol, req.params["rule_id"]))}

    def create(req: Req) -> Reply:
        body = common.body_of(req, key)
        with db.write() as s:
            pol = _qos_parent(s, req, "create")
            r = x.create_qos_rule(s, pol, rtype, body)
            s.flush()
            return Reply(201, {key: view(r)})

    def update(req: Req) -> dict:
        body = common.body_of(req, key)
        with db.write() as s:
            pol = _qos_parent(s, req, "update")
            r = load(s, pol, req.params["rule_id"])
            r.values = x.qos_rule_values(rtype, body, r.values)
            svc.touch(pol)
            return {key: view(r)}

    def delete(req: Req) -> None:
        with db.write() as s:
            pol = _qos_parent(s, req, "delete")
            s.delete(load(s, pol, req.params["rule_id"]))
            svc.touch(pol)

    return [route("GET", base, lst), route("POST", base, create), route("GET", base + "/{rule_id}", show),
            route("PUT", base + "/{rule_id}", update), route("DELETE", base + "/{rule_id}", delete)]


def rule_types(req: Req) -> dict:
    return {"rule_types": [{"type": t} for t in sorted(x.RULE_TYPES) if t in
                           ("bandwidth_limit", "dscp_marking", "minimum_bandwidth")]}


def rule_type(req: Req) -> dict:
    t = req.params["type"]
    if t not in ("bandwidth_limit", "dscp_marking", "minimum_bandwidth"):
        raise errors.NotFound(f"QoS rule type {t} could not be found.", type_name="QoSRuleTypeNotFound")
    params = [{"parameter_name": k, "parameter_type": "range" if v is int else "choices",
               "parameter_values": {"start": 0, "end": 2147483647} if v is int else ["ingress", "egress"]}
              for k, v in x.RULE_TYPES[t].items()]
    return {"rule_type": {"type": t, "drivers": [{"name": "onestack", "supported_parameters": params}]}}


# ------------------------------------------------------------------ trunks
TRUNK = Resource("trunk", "trunks", standard() + [
    F("port_id", create=True, required=True, filter=True, sort=True),
    F("admin_state_up", type=bool, create=True, update=True, filter=True, sort=True),
    F("status", filter=True, sort=True),
    F("sub_ports", type=list, create=True),
])
TRUNK_KIND = q.Kind("trunk", "trunks", m.Trunk, _nf("Trunk"), tag_type="trunk")


def _trunk_update(s: Any, ctx: Any, row: m.Trunk, v: dict, req: Req) -> m.Trunk:
    for k, val in v.items():
        setattr(row, k, val)
    svc.touch(row)
    return row


TRUNKS = API(TRUNK_KIND, TRUNK, create=lambda s, ctx, v, req: x.create_trunk(s, ctx, v), update=_trunk_update,
             delete=lambda s, ctx, row: x.delete_trunk(s, ctx, row))


def get_subports(req: Req) -> dict:
    with db.read() as s:
        row = q.get(s, TRUNK_KIND, req.ctx, req.params["id"])
        req.ctx.can("network:get_subports", common.row_target(TRUNKS, s, row))
        return {"sub_ports": row.sub_ports}


# ------------------------------------------------------------------ agents
def _alive(a: m.Agent, _v: Any) -> bool:
    return (utcnow() - a.heartbeat_timestamp) < dt.timedelta(seconds=75)


AGENT = Resource("agent", "agents", [
    F("id", filter=True, sort=True),
    F("agent_type", filter=True, sort=True),
    F("binary", filter=True, sort=True),
    F("topic", filter=True),
    F("host", filter=True, sort=True),
    F("availability_zone", filter=True),
    F("admin_state_up", type=bool, update=True, filter=True),
    F("alive", render=_alive),
    F("description", update=True, nullable=True, max_length=255),
    F("configurations", type=dict),
    F("created_at", render=ts("created_at")),
    F("started_at", render=ts("started_at")),
    F("heartbeat_timestamp", render=ts("heartbeat_timestamp")),
    F("resources_synced", render=lambda o, v: None),
])
AGENT_KIND = q.Kind("agent", "agents", m.Agent, _nf("Agent"), visibility="all")


def _agent_update(s: Any, ctx: Any, row: m.Agent, v: dict, req: Req) -> m.Agent:
    for k, val in v.items():
        setattr(row, k, val)
    return row


AGENTS = API(AGENT_KIND, AGENT, update=_agent_update, delete=lambda s, ctx, row: s.delete(row))


# ------------------------------------------------------------------ IP availability
def _availability(s: Any, net: m.Network) -> dict:
    subs = list(s.scalars(select(m.Subnet).where(m.Subnet.network_id == net.id)))
    used_by: dict[str, int] = {}
    for sid in s.scalars(select(m.IPAllocation.subnet_id).where(m.IPAllocation.network_id == net.id)):
        used_by[sid] = used_by.get(sid, 0) + 1
    out = []
    for sb in subs:
        out.append({"subnet_id": sb.id, "subnet_name": sb.name, "cidr": sb.cidr, "ip_version": sb.ip_version,
                    "total_ips": ipam.pool_size(sb.allocation_pools), "used_ips": used_by.get(sb.id, 0)})
    return {"network_id": net.id, "network_name": net.name, "project_id": net.project_id,
            "tenant_id": net.project_id, "subnet_ip_availability": out,
            "total_ips": sum(o["total_ips"] for o in out), "used_ips": sum(o["used_ips"] for o in out)}


def ip_avail_list(req: Req) -> dict:
    req.ctx.can("network:get_network_ip_availability", {"project_id": req.ctx.project_id})
    with db.read() as s:
        stmt = select(m.Network)
        for key, col in (("network_id", m.Network.id), ("network_name", m.Network.name),
                         ("project_id", m.Network.project_id), ("tenant_id", m.Network.project_id)):
            if key in req.query:
                stmt = stmt.where(col == req.query[key])
        items = [_availability(s, n) for n in s.scalars(stmt)]
        if "ip_version" in req.query:
            v = int(req.query["ip_version"]) if req.query["ip_version"].isdigit() else 0
            items = [i for i in items if any(sb["ip_version"] == v for sb in i["subnet_ip_availability"])]
        return {"network_ip_availabilities": items}


def ip_avail_show(req: Req) -> dict:
    req.ctx.can("network:get_network_ip_availability", {"project_id": req.ctx.project_id})
    with db.read() as s:
        net = s.get(m.Network, req.params["id"])
        if net is None:
            raise svc.ne.NetworkNotFound(id=req.params["id"])
        return {"network_ip_availability": _availability(s, net)}


# ------------------------------------------------------------------ auto-allocated topology
def auto_topology(req: Req) -> dict:
    pid = req.params["project_id"]
    req.ctx.can("network:get_auto_allocated_topology", {"project_id": pid, "tenant_id": pid})
    from onestack.network import interface
    ctx = type(req.ctx).internal(project_id=pid) if q.is_admin(req.ctx) else req.ctx
    if req.query.get("fields") == "dry-run":
        with db.read() as s:
            if not s.scalar(select(m.Network.id).where(m.Network.external.is_(True))):
                raise errors.Conflict("Deployment error: No default router:external network.",
                                      type_name="AutoAllocationFailure")
        return {"auto_allocated_topology": {"id": "dry-run=pass", "tenant_id": pid, "project_id": pid}}
    with db.write() as s:
        net = interface._auto_topology(s, ctx)
        return {"auto_allocated_topology": {"id": net.id, "tenant_id": pid, "project_id": pid}}


def auto_topology_delete(req: Req) -> None:
    pid = req.params["project_id"]
    req.ctx.can("network:delete_auto_allocated_topology", {"project_id": pid, "tenant_id": pid})
    from onestack.network import routers
    with db.write() as s:
        net = s.scalars(select(m.Network).where(m.Network.project_id == pid,
                                                m.Network.name == "auto_allocated_network")).first()
        if net is None:
            raise errors.NotFound(f"Auto allocated topology for project {pid} could not be found.",
                                  type_name="NotFound")
        ictx = type(req.ctx).internal(project_id=pid)
        for r in s.scalars(select(m.Router).where(m.Router.project_id == pid,
                                                  m.Router.name == "auto_allocated_router")):
            for sb in s.scalars(select(m.Subnet).where(m.Subnet.network_id == net.id)):
                try:
                    routers.remove_interface(s, ictx, r, {"subnet_id": sb.id})
                except errors.NotFound:
                    pass
            routers.delete_router(s, ictx, r)
        svc.delete_network(s, ictx, net)


ROUTES = [
    route("GET", "/v2.0/quotas", quota_list),
    route("GET", "/v2.0/quotas/{project_id}", quota_show),
    route("PUT", "/v2.0/quotas/{project_id}", quota_update),
    route("DELETE", "/v2.0/quotas/{project_id}", quota_delete),
    route("GET", "/v2.0/quotas/{project_id}/default", quota_default),
    route("GET", "/v2.0/quotas/{project_id}/details", quota_details),
    route("GET", "/v2.0/qos/rule-types", rule_types),
    route("GET", "/v2.0/qos/rule-types/{type}", rule_type),
    route("GET", "/v2.0/network-ip-availabilities", ip_avail_list),
    route("GET", "/v2.0/network-ip-availabilities/{id}", ip_avail_show),
    route("GET", "/v2.0/auto-allocated-topology/{project_id}", auto_topology),
    route("DELETE", "/v2.0/auto-allocated-topology/{project_id}", auto_topology_delete),
    route("PUT", "/v2.0/subnetpools/{id}/add_prefixes",
          _action(POOLS, "update_subnetpool", lambda s, ctx, r, b: x.add_prefixes(s, ctx, r, b, True))),
    route("PUT", "/v2.0/subnetpools/{id}/remove_prefixes",
          _action(POOLS, "update_subnetpool", lambda s, ctx, r, b: x.add_prefixes(s, ctx, r, b, False))),
    route("PUT", "/v2.0/address-groups/{id}/add_addresses",
          _action(AGS, "update_address_group", lambda s, ctx, r, b: x.address_group_addresses(s, ctx, r, b, True),
                  "address_group")),
    route("PUT", "/v2.0/address-groups/{id}/remove_addresses",
          _action(AGS, "update_address_group", lambda s, ctx, r, b: x.address_group_addresses(s, ctx, r, b, False),
                  "address_group")),
    route("PUT", "/v2.0/trunks/{id}/add_subports",
          _action(TRUNKS, "add_subports", lambda s, ctx, r, b: x.trunk_subports(s, ctx, r, b, True))),
    route("PUT", "/v2.0/trunks/{id}/remove_subports",
          _action(TRUNKS, "remove_subports", lambda s, ctx, r, b: x.trunk_subports(s, ctx, r, b, False))),
    route("GET", "/v2.0/trunks/{id}/get_subports", get_subports),
]
for _api in (RBACS, SCOPES, POOLS, AGS, QOSES, TRUNKS, AGENTS):
    ROUTES += common.crud_routes(_api)
for _t in ("bandwidth_limit", "dscp_marking", "minimum_bandwidth"):
    ROUTES += _qos_rule_routes(_t)
