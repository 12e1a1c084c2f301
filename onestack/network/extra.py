"""Business rules of the smaller resources: quotas, RBAC, address scopes, subnet pools,
address groups, QoS policies/rules, trunks, agents."""
from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from onestack import errors
from onestack.network import errors as ne
from onestack.network import ipam
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import service as svc
from onestack.network.service import bad, new_id, touch

RBAC_TYPES = {"network": m.Network, "qos_policy": m.QosPolicy, "address_scope": m.AddressScope,
              "subnetpool": m.SubnetPool, "security_group": m.SecurityGroup, "address_group": m.AddressGroup}
RBAC_ACTIONS = {"network": ("access_as_shared", "access_as_external")}


# ------------------------------------------------------------------ quotas
def quota_update(s: Session, project_id: str, values: dict[str, Any]) -> dict[str, int]:
    for res, limit in values.items():
        if res not in svc.QUOTA_MODELS:
            raise bad(f"Unrecognized attribute(s) '{res}'")
        if isinstance(limit, str):
            try:
                limit = int(limit)
            except ValueError:
                raise bad(f"'{limit}' is not an integer") from None
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < -1:
            raise bad(f"'{limit}' should be an integer greater than or equal to -1")
        row = s.get(m.Quota, (project_id, res))
        if row is None:
            s.add(m.Quota(project_id=project_id, resource=res, limit=limit))
        else:
            row.limit = limit
    s.flush()
    return svc.quota_limits(s, project_id)


def quota_reset(s: Session, project_id: str) -> None:
    s.execute(delete(m.Quota).where(m.Quota.project_id == project_id))


def quota_details(s: Session, project_id: str) -> dict[str, dict[str, int]]:
    limits = svc.quota_limits(s, project_id)
    return {r: {"limit": lim, "used": svc.quota_usage(s, project_id, r), "reserved": 0}
            for r, lim in limits.items()}


# ------------------------------------------------------------------ RBAC
def _rbac_object(s: Session, ctx: Any, object_type: str, object_id: Any) -> Any:
    model = RBAC_TYPES.get(object_type)
    if model is None:
        raise bad(f"{object_type} is not a valid RBAC object type; valid: {sorted(RBAC_TYPES)}")
    obj = s.get(model, object_id) if isinstance(object_id, str) else None
    if obj is None or (not q.is_admin(ctx) and obj.project_id != ctx.project_id):
        raise errors.NotFound(f"{object_type} {object_id} could not be found.", type_name="NotFound")
    return obj


def _sync_flags(s: Session, object_type: str, obj: Any) -> None:
    def has(action: str) -> bool:
        return s.scalar(select(m.RBACPolicy.id).where(
            m.RBACPolicy.object_type == object_type, m.RBACPolicy.object_id == obj.id,
            m.RBACPolicy.action == action, m.RBACPolicy.target_tenant == "*")) is not None
    s.flush()
    if hasattr(obj, "shared"):
        obj.shared = has("access_as_shared")
    if object_type == "network":
        obj.external = has("access_as_external")


def create_rbac(s: Session, ctx: Any, v: dict[str, Any]) -> m.RBACPolicy:
    project_id = svc.owner_project(ctx, v)
    obj = _rbac_object(s, ctx, v["object_type"], v["object_id"])
    allowed = RBAC_ACTIONS.get(v["object_type"], ("access_as_shared",))
    if v["action"] not in allowed:
        raise bad(f"Action '{v['action']}' is not supported for object type {v['object_type']}")
    svc.check_quota(s, project_id, "rbac_policy")
    target = v.get("target_tenant") or v.get("target_project")
    if not target:
        raise bad("target_tenant is required")
    if s.scalar(select(m.RBACPolicy.id).where(
            m.RBACPolicy.object_type == v["object_type"], m.RBACPolicy.object_id == obj.id,
            m.RBACPolicy.action == v["action"], m.RBACPolicy.target_tenant == target)):
        raise errors.Conflict("An RBAC policy already exists with those values.", type_name="DuplicateRbacPolicy")
    row = m.RBACPolicy(id=new_id(), project_id=project_id, object_type=v["object_type"], object_id=obj.id,
                       action=v["action"], target_tenant=target)
    s.add(row)
    _sync_flags(s, v["object_type"], obj)
    return row


def _rbac_in_use(s: Session, row: m.RBACPolicy, new_target: str | None = None) -> None:
    if row.object_type != "network" or row.action != "access_as_shared":
        return
    net = s.get(m.Network, row.object_id)
    if net is None:
        return
    stmt = select(m.Port.project_id).where(m.Port.network_id == net.id, m.Port.project_id != net.project_id,
                                           m.Port.project_id != "")
    users = set(s.scalars(stmt))
    if row.target_tenant != "*":
        users &= {row.target_tenant}
    # are those users still covered by another policy?
    others = {r.target_tenant for r in s.scalars(select(m.RBACPolicy).where(
        m.RBACPolicy.object_type == "network", m.RBACPolicy.object_id == net.id,
        m.RBACPolicy.action == "access_as_shared", m.RBACPolicy.id != row.id))}
    if new_target:
        others.add(new_target)
    if "*" in others:
        return
    if users - others:
        raise errors.Conflict(f"RBAC policy on object {net.id} cannot be removed because other objects depend "
                              "on it.", type_name="RbacPolicyInUse")


def update_rbac(s: Session, ctx: Any, row: m.RBACPolicy, v: dict[str, Any]) -> m.RBACPolicy:
    target = v.get("target_tenant") or v.get("target_project")
    if target and target != row.target_tenant:
        _rbac_in_use(s, row, target)
        row.target_tenant = target
        model = RBAC_TYPES.get(row.object_type)
        obj = s.get(model, row.object_id) if model else None
        if obj is not None:
            _sync_flags(s, row.object_type, obj)
    return row


def delete_rbac(s: Session, ctx: Any, row: m.RBACPolicy) -> None:
    _rbac_in_use(s, row)
    s.delete(row)
    model = RBAC_TYPES.get(row.object_type)
    obj = s.get(model, row.object_id) if model else None
    if obj is not None:
        _sync_flags(s, row.object_type, obj)


# ------------------------------------------------------------------ address scopes, subnet pools
def create_address_scope(s: Session, ctx: Any, v: dict[str, Any]) -> m.AddressScope:
    project_id = svc.owner_project(ctx, v)
    row = m.AddressScope(id=new_id(), project_id=project_id, **v)
    s.add(row)
    return row


def update_address_scope(s: Session, ctx: Any, row: m.AddressScope, v: dict[str, Any]) -> m.AddressScope:
    if row.shared and v.get("shared") is False:
        raise bad("Unable to convert shared address scope to non-shared")
    for k, val in v.items():
        setattr(row, k, val)
    touch(row)
    return row


def delete_address_scope(s: Session, ctx: Any, row: m.AddressScope) -> None:
    if s.scalar(select(m.SubnetPool.id).where(m.SubnetPool.address_scope_id == row.id)):
        raise errors.Conflict(f"Unable to complete operation on address scope {row.id}. There are one or more "
                              "subnet pools in use on the address scope", type_name="AddressScopeInUse")
    svc.drop_tags(s, row.id)
    s.delete(row)


def _prefixes(raw: Any) -> list[ipaddress._BaseNetwork]:
    if not isinstance(raw, list) or not raw:
        raise bad("prefixes must be a non-empty list")
    nets = [ipam.parse_cidr(p) for p in raw]
    if len({n.version for n in nets}) > 1:
        raise bad("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
    return list(ipaddress.collapse_addresses(nets))


def _pool_lengths(row: Any, v: dict[str, Any], version: int) -> None:
    maxlen = 32 if version == 4 else 128
    lo = v.get("min_prefixlen", getattr(row, "min_prefixlen", None) or (8 if version == 4 else 64))
    hi = v.get("max_prefixlen", getattr(row, "max_prefixlen", None) or maxlen)
    dflt = v.get("default_prefixlen", getattr(row, "default_prefixlen", None) or lo)
    for val in (lo, hi, dflt):
        if isinstance(val, bool) or not isinstance(val, int) or not 0 <= val <= maxlen:
            raise bad(f"Illegal prefix bounds: {val}")
    if not lo <= dflt <= hi:
        raise bad(f"Illegal prefix bounds: default_prefixlen={dflt}, min_prefixlen={lo}, max_prefixlen={hi}")
    v["min_prefixlen"], v["max_prefixlen"], v["default_prefixlen"] = lo, hi, dflt


def _check_scope(s: Session, ctx: Any, scope_id: Any, version: int) -> None:
    if scope_id is None:
        return
    scope = s.get(m.AddressScope, scope_id) if isinstance(scope_id, str) else None
    if scope is None or (not q.is_admin(ctx) and scope.project_id != ctx.project_id and not scope.shared):
        raise errors.NotFound(f"Address scope {scope_id} could not be found.", type_name="AddressScopeNotFound")
    if scope.ip_version != version:
        raise bad(f"Illegal subnetpool association: subnetpool of IPv{version} cannot be associated with "
                  f"address scope {scope_id} (IPv{scope.ip_version})")


def create_subnetpool(s: Session, ctx: Any, v: dict[str, Any]) -> m.SubnetPool:
    project_id = svc.owner_project(ctx, v)
    nets = _prefixes(v.get("prefixes"))
    version = nets[0].version
    v["prefixes"] = [str(n) for n in nets]
    v["ip_version"] = version
    _pool_lengths(None, v, version)
    _check_scope(s, ctx, v.get("address_scope_id"), version)
    if v.get("is_default") and s.scalar(select(m.SubnetPool.id).where(
            m.SubnetPool.is_default.is_(True), m.SubnetPool.ip_version == version)):
        raise bad(f"A default subnetpool for this IP family has already been set. Only one default may exist "
                  "per IP family")
    svc.check_quota(s, project_id, "subnetpool")
    row = m.SubnetPool(id=new_id(), project_id=project_id, **v)
    s.add(row)
    return row


def update_subnetpool(s: Session, ctx: Any, row: m.SubnetPool, v: dict[str, Any]) -> m.SubnetPool:
    if "prefixes" in v:
        nets = _prefixes(v["prefixes"])
        if nets[0].version != row.ip_version:
            raise bad("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")
        old = [ipaddress.ip_network(p) for p in row.prefixes]
        for o in old:
            if not any(o.subnet_of(n) for n in nets):
                raise bad(f"Illegal update to prefixes: Existing prefix {o} must be preserved")
        v["prefixes"] = [str(n) for n in nets]
    if {"min_prefixlen", "max_prefixlen", "default_prefixlen"} & set(v):
        _pool_lengths(row, v, row.ip_version)
    if "address_scope_id" in v:
        _check_scope(s, ctx, v["address_scope_id"], row.ip_version)
    for k, val in v.items():
        setattr(row, k, val)
    touch(row)
    return row


def add_prefixes(s: Session, ctx: Any, row: m.SubnetPool, body: Any, add: bool) -> m.SubnetPool:
    if not isinstance(body, dict) or not isinstance(body.get("prefixes"), list):
        raise bad("Body must be {\"prefixes\": [...]}")
    current = [ipaddress.ip_network(p) for p in row.prefixes]
    given = [ipam.parse_cidr(p) for p in body["prefixes"]]
    if add:
        merged = list(ipaddress.collapse_addresses(current + given))
    else:
        used = [ipaddress.ip_network(c) for c in s.scalars(select(m.Subnet.cidr).where(
            m.Subnet.subnetpool_id == row.id))]
        for g in given:
            if any(u.overlaps(g) for u in used):
                raise bad(f"Illegal update to prefixes: prefix {g} is in use by a subnet")
        merged = []
        for c in current:
            parts = [c]
            for g in given:
                nxt = []
                for p in parts:
                    if p.subnet_of(g):
                        continue
                    if g.subnet_of(p):
                        nxt += list(p.address_exclude(g))
                    else:
                        nxt.append(p)
                parts = nxt
            merged += parts
        merged = list(ipaddress.collapse_addresses(merged))
    row.prefixes = [str(n) for n in merged]
    touch(row)
    return row


def delete_subnetpool(s: Session, ctx: Any, row: m.SubnetPool) -> None:
    if s.scalar(select(m.Subnet.id).where(m.Subnet.subnetpool_id == row.id)):
        raise errors.Conflict(f"Unable to complete operation on subnet pool {row.id}. Subnet pool is in use.",
                              type_name="SubnetPoolInUse")
    svc.drop_tags(s, row.id)
    s.delete(row)


# ------------------------------------------------------------------ address groups
def _addresses(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        raise bad("addresses must be a list")
    return sorted({str(ipaddress.ip_network(a, strict=False)) if _valid_net(a) else _raise(a) for a in raw})


def _valid_net(a: Any) -> bool:
    try:
        ipaddress.ip_network(a, strict=False)
        return True
    except (ValueError, TypeError):
        return False


def _raise(a: Any) -> str:
    raise bad(f"'{a}' is not a valid IP subnet")


def create_address_group(s: Session, ctx: Any, v: dict[str, Any]) -> m.AddressGroup:
    project_id = svc.owner_project(ctx, v)
    v["addresses"] = _addresses(v.get("addresses") or [])
    row = m.AddressGroup(id=new_id(), project_id=project_id, **v)
    s.add(row)
    return row


def address_group_addresses(s: Session, ctx: Any, row: m.AddressGroup, body: Any, add: bool) -> m.AddressGroup:
    if not isinstance(body, dict) or "addresses" not in body:
        raise bad("Body must be {\"addresses\": [...]}")
    given = _addresses(body["addresses"])
    cur = set(row.addresses)
    if add:
        cur |= set(given)
    else:
        missing = set(given) - cur
        if missing:
            raise errors.NotFound(f"Addresses {sorted(missing)} not found in the address group {row.id}.",
                                  type_name="AddressesNotFound")
        cur -= set(given)
    row.addresses = sorted(cur)
    touch(row)
    return row


def delete_address_group(s: Session, ctx: Any, row: m.AddressGroup) -> None:
    if s.scalar(select(m.SecurityGroupRule.id).where(m.SecurityGroupRule.remote_address_group_id == row.id)):
        raise errors.Conflict(f"Address group {row.id} is in use on one or more security group rules.",
                              type_name="AddressGroupInUse")
    s.delete(row)


# ------------------------------------------------------------------ QoS
RULE_TYPES = {
    "bandwidth_limit": {"max_kbps": int, "max_burst_kbps": int, "direction": str},
    "dscp_marking": {"dscp_mark": int},
    "minimum_bandwidth": {"min_kbps": int, "direction": str},
    "minimum_packet_rate": {"min_kpps": int, "direction": str},
    "packet_rate_limit": {"max_kpps": int, "max_burst_kpps": int, "direction": str},
}
VALID_DSCP = {0, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 44, 46, 48, 56}


def create_qos_policy(s: Session, ctx: Any, v: dict[str, Any]) -> m.QosPolicy:
    project_id = svc.owner_project(ctx, v)
    if v.get("is_default") and s.scalar(select(m.QosPolicy.id).where(
            m.QosPolicy.project_id == project_id, m.QosPolicy.is_default.is_(True))):
        raise errors.Conflict(f"A default QoS policy exists for project {project_id}.",
                              type_name="QoSPolicyDefaultAlreadyExists")
    row = m.QosPolicy(id=new_id(), project_id=project_id, **v)
    s.add(row)
    return row


def delete_qos_policy(s: Session, ctx: Any, row: m.QosPolicy) -> None:
    if s.scalar(select(m.Port.id).where(m.Port.qos_policy_id == row.id)) or \
            s.scalar(select(m.Network.id).where(m.Network.qos_policy_id == row.id)):
        raise errors.Conflict(f"QoS Policy {row.id} is used by a port or network.", type_name="QosPolicyInUse")
    svc.drop_tags(s, row.id)
    s.delete(row)


def qos_rule_values(rtype: str, body: Any, current: dict[str, Any] | None) -> dict[str, Any]:
    spec = RULE_TYPES[rtype]
    if not isinstance(body, dict):
        raise bad("rule must be an object")
    out = dict(current or {})
    for key, value in body.items():
        if key not in spec:
            raise bad(f"Unrecognized attribute(s) '{key}'")
        if spec[key] is int:
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise bad(f"'{value}' is not a valid value for {key}")
        elif key == "direction" and value not in ("ingress", "egress"):
            raise bad(f"'{value}' is not in ['egress', 'ingress']")
        out[key] = value
    if rtype == "dscp_marking":
        if "dscp_mark" not in out:
            raise bad("dscp_mark is required")
        if out["dscp_mark"] not in VALID_DSCP:
            raise bad(f"'{out['dscp_mark']}' is not in {sorted(VALID_DSCP)}")
    if rtype == "bandwidth_limit":
        out.setdefault("max_kbps", 0)
        out.setdefault("max_burst_kbps", 0)
        out.setdefault("direction", "egress")
    if rtype == "minimum_bandwidth":
        if "min_kbps" not in out:
            raise bad("min_kbps is required")
        out.setdefault("direction", "egress")
    return out


def create_qos_rule(s: Session, policy: m.QosPolicy, rtype: str, body: Any) -> m.QosRule:
    values = qos_rule_values(rtype, body, None)
    for r in s.scalars(select(m.QosRule).where(m.QosRule.policy_id == policy.id, m.QosRule.type == rtype)):
        if r.values.get("direction") == values.get("direction") or rtype == "dscp_marking":
            raise errors.Conflict(f"Rule {rtype} already exists in policy {policy.id}.",
                                  type_name="QoSRulesConflict")
    row = m.QosRule(id=new_id(), policy_id=policy.id, type=rtype, values=values)
    s.add(row)
    touch(policy)
    return row


# ------------------------------------------------------------------ trunks
def _subports(s: Session, ctx: Any, trunk_port: str, raw: Any, existing: list[dict]) -> list[dict]:
    if not isinstance(raw, list):
        raise bad("sub_ports must be a list")
    out = []
    for sp in raw:
        if not isinstance(sp, dict) or "port_id" not in sp:
            raise bad(f"Invalid subport {sp}")
        port = s.get(m.Port, sp["port_id"]) if isinstance(sp["port_id"], str) else None
        if port is None or (not q.is_admin(ctx) and port.project_id != ctx.project_id):
            raise ne.PortNotFound(id=sp["port_id"])
        if port.id == trunk_port or any(e["port_id"] == port.id for e in existing + out):
            raise errors.Conflict(f"Port {port.id} is currently in use and is not eligible for use as a subport.",
                                  type_name="PortInUseAsSubPort")
        if s.scalar(select(m.Trunk.id).where(m.Trunk.port_id == port.id)):
            raise errors.Conflict(f"Port {port.id} is a trunk parent port.", type_name="PortInUseAsTrunkParent")
        stype = sp.get("segmentation_type", "vlan")
        sid = sp.get("segmentation_id")
        if stype != "inherit":
            if stype != "vlan":
                raise bad(f"Unknown segmentation_type '{stype}'")
            if isinstance(sid, bool) or not isinstance(sid, int) or not 1 <= sid <= 4094:
                raise bad(f"Invalid segmentation_id '{sid}'")
            if any(e.get("segmentation_id") == sid and e.get("segmentation_type") == stype for e in existing + out):
                raise errors.Conflict(f"Segmentation ID {sid} is already in use.", type_name="DuplicateSubPort")
        out.append({"port_id": port.id, "segmentation_type": stype, "segmentation_id": sid})
    return out


def create_trunk(s: Session, ctx: Any, v: dict[str, Any]) -> m.Trunk:
    project_id = svc.owner_project(ctx, v)
    port = s.get(m.Port, v.get("port_id")) if isinstance(v.get("port_id"), str) else None
    if port is None or (not q.is_admin(ctx) and port.project_id != ctx.project_id):
        raise ne.PortNotFound(id=v.get("port_id"))
    if s.scalar(select(m.Trunk.id).where(m.Trunk.port_id == port.id)):
        raise errors.Conflict(f"Port {port.id} is currently in use and is not eligible for use as a parent port.",
                              type_name="ParentPortInUse")
    subs = _subports(s, ctx, port.id, v.pop("sub_ports", None) or [], [])
    row = m.Trunk(id=new_id(), project_id=project_id, sub_ports=subs,
                  status="ACTIVE" if port.binding_host_id else "DOWN", **v)
    s.add(row)
    return row


def trunk_subports(s: Session, ctx: Any, trunk: m.Trunk, body: Any, add: bool) -> m.Trunk:
    if not isinstance(body, dict) or "sub_ports" not in body:
        raise bad("Body must be {\"sub_ports\": [...]}")
    if add:
        trunk.sub_ports = list(trunk.sub_ports) + _subports(s, ctx, trunk.port_id, body["sub_ports"], trunk.sub_ports)
    else:
        ids = [sp.get("port_id") for sp in body["sub_ports"] if isinstance(sp, dict)]
        for pid in ids:
            if not any(sp["port_id"] == pid for sp in trunk.sub_ports):
                raise errors.NotFound(f"SubPort {pid} could not be found on trunk {trunk.id}.",
                                      type_name="SubPortNotFound")
        trunk.sub_ports = [sp for sp in trunk.sub_ports if sp["port_id"] not in ids]
    touch(trunk)
    return trunk


def delete_trunk(s: Session, ctx: Any, trunk: m.Trunk) -> None:
    port = s.get(m.Port, trunk.port_id)
    if port is not None and port.device_id and trunk.status == "ACTIVE":
        raise errors.Conflict(f"Trunk {trunk.id} is currently in use.", type_name="TrunkInUse")
    svc.drop_tags(s, trunk.id)
    s.delete(trunk)
