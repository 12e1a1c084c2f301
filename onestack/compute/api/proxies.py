"""Nova's deprecated proxy APIs, as upstream keeps them: they translate to the network, image and
volume services (through their interface.py) and answer 404 from the microversion that removed
them (os-security-groups, os-floating-ips, os-networks, /images, os-volumes, os-snapshots: 2.36;
image metadata: 2.39; the addFloatingIp/removeFloatingIp actions: 2.44). Also the admin-only
os-assisted-volume-snapshots and os-instance_usage_audit_log."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import uuid
from typing import Any, Callable

from onestack import db, errors
from onestack.api.pagination import parse_limit
from onestack.api.routing import Reply, Req
from onestack.compute import deps, hosts
from onestack.compute import models as m
from onestack.compute.api import views
from onestack.compute.api.common import body, int_param, load, parse_time
from onestack.compute.schemas.common import BOOL, obj, truthy

GONE = "The resource could not be found."


def gate(req: Req, removed_in: str) -> None:
    """404 from the microversion that removed a proxy API (upstream behaviour)."""
    if views.mv(req, removed_in):
        raise errors.NotFound(GONE)


def _as_bad_request(fn: Callable[[], Any], keep: tuple[type, ...] = (errors.NotFound,)) -> Any:
    """Run a call to another service; its 4xx answers become 400 unless listed in ``keep``
    (Nova turns Neutron's conflicts and validation errors into 400)."""
    try:
        return fn()
    except errors.OpenStackError as e:
        if isinstance(e, keep) or isinstance(e, errors.Forbidden) or e.code >= 500:
            raise
        raise errors.BadRequest(e.message) from None


def _cinder(fn: Callable[[], Any]) -> Any:
    """Run a call to the volume service the way Nova's os-volumes proxy answers: over quota 403,
    not found 404, any other refusal 400."""
    try:
        return fn()
    except errors.OverQuota as e:
        raise errors.Forbidden(e.message) from None
    except errors.NotFound:
        raise
    except errors.OpenStackError as e:
        if e.code >= 500:
            raise
        raise errors.BadRequest(e.message) from None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _page(req: Req, items: list[Any]) -> list[Any]:
    """limit/offset (the proxies' paging)."""
    off = int_param(req.query.get("offset", 0), "offset") if req.query.get("offset") else 0
    limit = parse_limit(req.query.get("limit")) if req.query.get("limit") else None
    return items[off:off + limit] if limit is not None else items[off:]


# ================================================================== security groups
def _rule_view(rule: dict[str, Any], groups: dict[str, dict[str, Any]], net: Any, ctx: Any,
               cidr: str | None = None) -> dict[str, Any]:
    proto = rule["protocol"]
    lo, hi = rule["port_range_min"], rule["port_range_max"]
    if proto and lo is None and hi is None:
        lo, hi = (1, 65535) if proto.upper() in ("TCP", "UDP") else (-1, -1)
    out: dict[str, Any] = {"id": rule["id"], "parent_group_id": rule["security_group_id"], "ip_protocol": proto,
                           "from_port": lo, "to_port": hi, "group": {}, "ip_range": {}}
    if rule["remote_group_id"]:
        g = groups.get(rule["remote_group_id"])
        if g is None:
            try:
                g = net.get_security_group(ctx, rule["remote_group_id"])
            except errors.NotFound:
                g = {"name": None, "project_id": None}
        out["group"] = {"name": g["name"], "tenant_id": g["project_id"]}
    else:
        out["ip_range"] = {"cidr": cidr or rule["remote_ip_prefix"] or "0.0.0.0/0"}
    return out


def _sg_view(sg: dict[str, Any], groups: dict[str, dict[str, Any]], net: Any, ctx: Any) -> dict[str, Any]:
    return {"id": sg["id"], "name": sg["name"], "description": sg["description"], "tenant_id": sg["project_id"],
            "rules": [_rule_view(r, groups, net, ctx) for r in sg["rules"] if r["direction"] == "ingress"]}


def _sg_views(req: Req, net: Any, sgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = {g["id"]: g for g in sgs}
    return [_sg_view(g, groups, net, req.ctx) for g in sgs]


def _net(req: Req, removed_in: str = "2.36") -> Any:
    gate(req, removed_in)
    return deps.network("the os-security-groups, os-floating-ips and os-networks APIs")


SG_BODY = obj({"security_group": obj({"name": {"type": "string", "maxLength": 255},
                                      "description": {"type": "string", "maxLength": 255}},
                                     ["name", "description"])}, ["security_group"])


def sg_index(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-security-groups:get", {"project_id": req.ctx.project_id})
    all_projects = truthy(req.query.get("all_tenants", "0")) and req.ctx.is_admin
    return {"security_groups": _page(req, _sg_views(req, net, net.list_security_groups(req.ctx, all_projects)))}


def sg_show(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-security-groups:show", {"project_id": req.ctx.project_id})
    sg = net.get_security_group(req.ctx, req.params["group_id"])
    return {"security_group": _sg_views(req, net, [sg])[0]}


def sg_create(req: Req) -> dict:
    net = _net(req)
    data = body(req, SG_BODY)["security_group"]
    req.ctx.can("os_compute_api:os-security-groups:create", {"project_id": req.ctx.project_id})
    sg = _as_bad_request(lambda: net.create_security_group(req.ctx, data["name"], data["description"]))
    return {"security_group": _sg_views(req, net, [sg])[0]}


def sg_update(req: Req) -> dict:
    net = _net(req)
    data = body(req, SG_BODY)["security_group"]
    req.ctx.can("os_compute_api:os-security-groups:update", {"project_id": req.ctx.project_id})
    if not _is_uuid(req.params["group_id"]):
        raise errors.BadRequest("Security group id should be uuid")
    sg = _as_bad_request(lambda: net.update_security_group(req.ctx, req.params["group_id"], data))
    return {"security_group": _sg_views(req, net, [sg])[0]}


def sg_delete(req: Req) -> Reply:
    net = _net(req)
    req.ctx.can("os_compute_api:os-security-groups:delete", {"project_id": req.ctx.project_id})
    sg = net.get_security_group(req.ctx, req.params["group_id"])
    if sg["name"] == "default":
        raise errors.BadRequest("Removing default security group not allowed.")
    _as_bad_request(lambda: net.delete_security_group(req.ctx, sg["id"]))
    return Reply(202)


RULE_BODY = obj({"security_group_rule": obj({
    "parent_group_id": {"type": ["string", "integer"]}, "group_id": {"type": ["string", "integer", "null"]},
    "ip_protocol": {"type": ["string", "null"]}, "cidr": {"type": ["string", "null"]},
    "from_port": {"type": ["integer", "string", "null"]}, "to_port": {"type": ["integer", "string", "null"]}},
    ["parent_group_id"])}, ["security_group_rule"])


def _rule_values(data: dict[str, Any]) -> dict[str, Any]:
    """Nova's rule checks (upstream _new_ingress_rule), then Neutron's ingress rule values."""
    proto, lo, hi = data.get("ip_protocol"), data.get("from_port"), data.get("to_port")
    cidr, group = data.get("cidr"), data.get("group_id")
    up = str(proto).upper() if proto else ""
    if group and lo is None and hi is None:
        lo, hi = (-1, -1) if up == "ICMP" else (1, 65535) if up in ("TCP", "UDP") else (None, None)
    if not (proto and lo is not None and hi is not None):
        raise errors.BadRequest("Not enough parameters to build a valid rule.")
    try:
        lo, hi = int(lo), int(hi)
    except (TypeError, ValueError):
        raise errors.BadRequest("Type and Code must be integers for ICMP protocol type" if up == "ICMP"
                                else "To and From ports must be integers") from None
    if up not in ("TCP", "UDP", "ICMP"):
        raise errors.BadRequest(f"Invalid IP protocol {proto}.")
    if up in ("TCP", "UDP"):
        if lo > hi:
            raise errors.BadRequest(f"Invalid port range {lo}:{hi}. Former value cannot be greater than the later")
        if lo < 1 or hi > 65535:
            raise errors.BadRequest(f"Invalid port range {lo}:{hi}. Valid {up} ports should be between 1-65535")
    elif not (-1 <= lo <= 255 and -1 <= hi <= 255):
        raise errors.BadRequest(f"Invalid port range {lo}:{hi}. For ICMP, the type:code must be valid")
    values: dict[str, Any] = {"direction": "ingress", "protocol": str(proto).lower(),
                              "port_range_min": None if lo == -1 else lo, "port_range_max": None if hi == -1 else hi}
    if group:
        values["remote_group_id"] = str(group)
        values["ethertype"] = "IPv4"
    else:
        try:
            network = ipaddress.ip_network(cidr or "0.0.0.0/0", strict=False)
        except ValueError:
            raise errors.BadRequest(f"Invalid cidr {cidr}.") from None
        values["remote_ip_prefix"] = str(network)
        values["ethertype"] = "IPv6" if network.version == 6 else "IPv4"
    return values


def rule_create(req: Req) -> dict:
    net = _net(req)
    data = body(req, RULE_BODY)["security_group_rule"]
    req.ctx.can("os_compute_api:os-security-groups:rule:create", {"project_id": req.ctx.project_id})
    parent = str(data["parent_group_id"])
    if not _is_uuid(parent):
        raise errors.BadRequest("Security group id should be uuid")
    if data.get("group_id") is not None and not _is_uuid(str(data["group_id"])):
        raise errors.BadRequest("Security group id should be uuid")
    sg = net.get_security_group(req.ctx, parent)
    groups = {sg["id"]: sg}
    if data.get("group_id"):
        other = net.get_security_group(req.ctx, str(data["group_id"]))
        groups[other["id"]] = other
    values = _rule_values(data)
    rule = _as_bad_request(lambda: net.create_security_group_rule(req.ctx, sg["id"], values))
    return {"security_group_rule": _rule_view(rule, groups, net, req.ctx, cidr=data.get("cidr"))}


def rule_delete(req: Req) -> Reply:
    net = _net(req)
    req.ctx.can("os_compute_api:os-security-groups:rule:delete", {"project_id": req.ctx.project_id})
    if not _is_uuid(req.params["rule_id"]):
        raise errors.BadRequest("Security group id should be uuid")
    net.delete_security_group_rule(req.ctx, req.params["rule_id"])
    return Reply(202)


def server_sg_index(req: Req) -> dict:
    """GET /servers/{id}/os-security-groups: the groups on the server's ports (not removed)."""
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-security-groups:list")
        sid = srv.uuid
    net = deps.network("security groups")
    ids: list[str] = []
    for port in net.list_ports(req.ctx, device_id=sid):
        ids += [g for g in port["security_groups"] if g not in ids]
    sgs = []
    for gid in ids:
        try:
            sgs.append(net.get_security_group(req.ctx, gid))
        except errors.NotFound:
            continue
    return {"security_groups": _sg_views(req, net, sgs)}


def server_security_group(req: Req, server_id: str, data: Any, add: bool) -> Reply:
    """addSecurityGroup / removeSecurityGroup: on every port of the server (Neutron), then the
    server's own list of names."""
    from onestack.api import schema
    schema.validate(data, obj({"name": {"type": "string", "minLength": 1, "maxLength": 255}}, ["name"]))
    rule = "os_compute_api:os-security-groups:add" if add else "os_compute_api:os-security-groups:remove"
    with db.read() as s:
        srv = load(s, req, rule, server_id)
        sid = srv.uuid
    name = data["name"]
    net = deps.network("security groups")
    matches = [g for g in net.list_security_groups(req.ctx) if name in (g["id"], g["name"])]
    if not matches:
        raise errors.NotFound(f"Security group {name} is not found for project {req.ctx.project_id}")
    if len(matches) > 1:
        raise errors.Conflict(f"Multiple security groups found matching '{name}'. Use an ID to be more specific.")
    sg = matches[0]
    ports = net.list_ports(req.ctx, device_id=sid)
    if not ports:
        raise errors.NotFound(f"instance_id {sid} could not be found as device id on any ports")
    changed = []
    for port in ports:
        have = list(port["security_groups"])
        if add and sg["id"] not in have:
            changed.append((port["id"], have + [sg["id"]]))
        elif not add and sg["id"] in have:
            changed.append((port["id"], [g for g in have if g != sg["id"]]))
    if not add and not changed:
        raise errors.BadRequest(f"Security group {name} not associated with the instance {sid}")
    for port_id, groups in changed:
        _as_bad_request(lambda: net.set_port_security_groups(req.ctx, port_id, groups))
    with db.write() as s:
        srv = load(s, req, None, sid)
        names = [n for n in (srv.security_groups or []) if n not in (sg["name"], sg["id"])]
        srv.security_groups = names + [sg["name"]] if add else names
    return Reply(202)


# ================================================================== floating IPs
def _fip_view(f: dict[str, Any]) -> dict[str, Any]:
    return {"id": f["id"], "ip": f["floating_ip_address"], "pool": f["pool"], "fixed_ip": f["fixed_ip_address"],
            "instance_id": f["device_id"] or None}


def fip_index(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-floating-ips:list", {"project_id": req.ctx.project_id})
    return {"floating_ips": [_fip_view(f) for f in net.list_floating_ips(req.ctx)]}


def fip_show(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-floating-ips:show", {"project_id": req.ctx.project_id})
    fid = req.params["fip_id"]
    if not _is_uuid(fid):
        raise errors.NotFound(f"Floating IP {fid} could not be found.")
    return {"floating_ip": _fip_view(net.get_floating_ip(req.ctx, fid))}


def fip_create(req: Req) -> dict:
    net = _net(req)
    data = req.json() if req.body else None
    if data is not None and not isinstance(data, dict):
        raise errors.BadRequest("Malformed request body")
    pool = (data or {}).get("pool")
    req.ctx.can("os_compute_api:os-floating-ips:create", {"project_id": req.ctx.project_id})
    pools = net.external_networks(req.ctx)
    if pool is None:
        if not pools:
            raise errors.NotFound("No more floating IPs available.")
        chosen = pools[0]
    else:
        found = [p for p in pools if pool in (p["id"], p["name"])]
        if not found:
            raise errors.NotFound(f"Floating IP pool not found: {pool}")
        chosen = found[0]
    try:
        fip = net.create_floating_ip(req.ctx, chosen["id"])
    except errors.OverQuota as e:
        raise errors.Forbidden(f"Quota exceeded for floating ips: {e.message}") from None
    except errors.OpenStackError as e:
        if e.code in (400, 409):
            raise errors.NotFound(f"No more floating IPs in pool {chosen['name']}.") from None
        raise
    return {"floating_ip": _fip_view(fip)}


def fip_delete(req: Req) -> Reply:
    net = _net(req)
    req.ctx.can("os_compute_api:os-floating-ips:delete", {"project_id": req.ctx.project_id})
    fid = req.params["fip_id"]
    if not _is_uuid(fid):
        raise errors.NotFound(f"Floating IP {fid} could not be found.")
    net.delete_floating_ip(req.ctx, net.get_floating_ip(req.ctx, fid)["id"])
    return Reply(202)


def pools_index(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-floating-ip-pools", {})
    return {"floating_ip_pools": [{"name": p["name"]} for p in net.external_networks(req.ctx)]}


def server_floating_ip(req: Req, server_id: str, data: Any, add: bool) -> Reply:
    """addFloatingIp / removeFloatingIp (removed in 2.44)."""
    if views.mv(req, "2.44"):
        raise errors.NotFound(GONE)
    from onestack.api import schema
    props: dict[str, Any] = {"address": {"type": "string"}}
    if add:
        props["fixed_address"] = {"type": "string"}
    schema.validate(data, obj(props, ["address"]))
    rule = "os_compute_api:os-floating-ips:add" if add else "os_compute_api:os-floating-ips:remove"
    with db.read() as s:
        sid = load(s, req, rule, server_id).uuid
    net = deps.network("floating IPs")
    address = data["address"]
    try:
        ipaddress.ip_address(address)
        fip = net.get_floating_ip(req.ctx, address=address)
    except (ValueError, errors.NotFound):
        raise errors.NotFound(f"Floating IP not found for address {address}.") from None
    if not add:
        if fip["device_id"] != sid:
            raise errors.Conflict(f"Floating IP {address} is not associated with instance {sid}.")
        net.update_floating_ip(req.ctx, fip["id"], None)
        _refresh_addresses(net, sid)
        return Reply(202)
    fixed = data.get("fixed_address")
    candidates = [(p, ip["ip_address"]) for p in net.list_ports(req.ctx, device_id=sid) for ip in p["fixed_ips"]
                  if ipaddress.ip_address(ip["ip_address"]).version == 4]
    if not candidates:
        raise errors.BadRequest("No nw_info cache associated with instance")
    if fixed:
        candidates = [c for c in candidates if c[1] == fixed]
        if not candidates:
            raise errors.BadRequest(f"Specified fixed address {fixed} not assigned to instance")
    port, ip = candidates[0]
    if fip["port_id"] == port["id"] and fip["fixed_ip_address"] == ip:
        return Reply(202)
    try:
        net.update_floating_ip(req.ctx, fip["id"], port["id"], ip)
    except errors.OpenStackError as e:
        if e.code >= 500:
            raise
        raise errors.BadRequest(f"Unable to associate floating IP {address} to fixed IP {ip} for instance "
                                f"{sid}. Error: {e.message}") from None
    _refresh_addresses(net, sid)
    return Reply(202)


def _refresh_addresses(net: Any, server_id: str) -> None:
    """The server's cached addresses after a floating IP change (upstream: network-changed)."""
    addrs = net.server_addresses(server_id)
    with db.write() as s:
        srv = s.get(m.Server, server_id)
        if srv is not None:
            srv.addresses_cache = addrs


# ================================================================== networks
def _network_view(req: Req, n: dict[str, Any], admin: bool) -> dict[str, Any]:
    cidr = n["cidrs"][0] if n["cidrs"] else None
    out: dict[str, Any] = {"id": n["id"], "label": n["name"], "cidr": cidr, "netmask": None, "gateway": None,
                           "broadcast": None, "dns1": None, "dns2": None, "cidr_v6": None, "gateway_v6": None,
                           "netmask_v6": None}
    for c in n["cidrs"]:
        net = ipaddress.ip_network(c)
        if net.version == 4 and out["netmask"] is None:
            out.update({"cidr": c, "netmask": str(net.netmask), "broadcast": str(net.broadcast_address)})
        elif net.version == 6 and out["cidr_v6"] is None:
            out.update({"cidr_v6": c, "netmask_v6": str(net.prefixlen)})
    if admin:
        out.update({"created_at": None, "updated_at": None, "deleted_at": None, "deleted": False,
                    "injected": False, "bridge": None, "vlan": n.get("provider:segmentation_id"),
                    "vpn_public_address": None, "vpn_public_port": None, "vpn_private_address": None,
                    "dhcp_start": None, "project_id": n["project_id"], "host": None, "bridge_interface": None,
                    "multi_host": False, "priority": None, "rxtx_base": None, "mtu": n["mtu"],
                    "dhcp_server": None, "enable_dhcp": True, "share_address": False})
    return out


def _find_net(req: Req, net: Any, network_id: str) -> dict[str, Any]:
    for n in net.list_networks(req.ctx):
        if n["id"] == network_id:
            return n
    raise errors.NotFound("Network not found")


def networks_index(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-networks:list", {"project_id": req.ctx.project_id})
    return {"networks": [_network_view(req, n, req.ctx.is_admin) for n in net.list_networks(req.ctx)]}


def networks_show(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-networks:view", {"project_id": req.ctx.project_id})
    return {"network": _network_view(req, _find_net(req, net, req.params["network_id"]), req.ctx.is_admin)}


def _tenant_network_view(n: dict[str, Any]) -> dict[str, Any]:
    return {"id": n["id"], "label": n["name"], "cidr": n["cidrs"][0] if n["cidrs"] else None}


def tenant_networks_index(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-tenant-networks:list", {"project_id": req.ctx.project_id})
    nets = [n for n in net.list_networks(req.ctx) if n["project_id"] == req.ctx.project_id or n["shared"]]
    return {"networks": [_tenant_network_view(n) for n in nets]}


def tenant_networks_show(req: Req) -> dict:
    net = _net(req)
    req.ctx.can("os_compute_api:os-tenant-networks:show", {"project_id": req.ctx.project_id})
    return {"network": _tenant_network_view(_find_net(req, net, req.params["network_id"]))}


# ================================================================== images (/images, image metadata)
STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "importing": "SAVING",
          "uploading": "SAVING", "deleted": "DELETED", "pending_delete": "DELETED", "killed": "ERROR"}
PROGRESS = {"queued": 25, "saving": 50, "importing": 50, "uploading": 50, "active": 100}


def _image_links(req: Req, image_id: str) -> list[dict[str, str]]:
    out = views.links(req, "images", image_id)
    out.append({"rel": "alternate", "type": "application/vnd.openstack.image",
                "href": f"{req.base_url}/image/images/{image_id}"})
    return out


def _image_view(req: Req, img: dict[str, Any], detail: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": img["id"], "name": img["name"], "links": _image_links(req, img["id"])}
    if not detail:
        return out
    props = img.get("properties") or {}
    out.update({"minRam": img.get("min_ram") or 0, "minDisk": img.get("min_disk") or 0, "metadata": props,
                "created": img["created_at"], "updated": img["updated_at"],
                "status": STATUS.get(img["status"], "UNKNOWN"), "progress": PROGRESS.get(img["status"], 0),
                "OS-EXT-IMG-SIZE:size": img.get("size")})
    if props.get("instance_uuid"):
        out["server"] = {"id": props["instance_uuid"], "links": views.links(req, "servers", props["instance_uuid"])}
    if props.get("auto_disk_config") is not None:
        out["OS-DCF:diskConfig"] = "AUTO" if truthy(props["auto_disk_config"]) else "MANUAL"
    return out


def _image_iface(req: Req, removed_in: str = "2.36") -> Any:
    gate(req, removed_in)
    return deps.image("the /images proxy API")


def _image_list(req: Req, detail: bool) -> dict:
    img = _image_iface(req)
    q = req.query
    filters: dict[str, str] = {}
    if q.get("name"):
        filters["name"] = q["name"]
    if q.get("status"):
        wanted = q["status"].upper()
        glance = [k for k, v in STATUS.items() if v == wanted]
        if not glance:
            return {"images": []}
        filters["status"] = "in:" + ",".join(glance)
    if q.get("server"):
        filters["instance_uuid"] = q["server"].rstrip("/").rsplit("/", 1)[-1]
    if q.get("type"):
        filters["image_type"] = q["type"]
    since = parse_time(q["changes-since"], "changes-since") if q.get("changes-since") else None
    mins = {k: int_param(q[k], k) for k in ("minRam", "minDisk") if q.get(k)}
    limit = parse_limit(q.get("limit")) if q.get("limit") else None
    try:
        images = img.list_images(req.ctx, filters, None, None)
    except errors.BadRequest:
        raise
    if since is not None:
        images = [i for i in images if dt.datetime.fromisoformat(i["updated_at"].rstrip("Z")) >= since]
    if "minRam" in mins:
        images = [i for i in images if (i.get("min_ram") or 0) >= mins["minRam"]]
    if "minDisk" in mins:
        images = [i for i in images if (i.get("min_disk") or 0) >= mins["minDisk"]]
    if q.get("marker"):
        ids = [i["id"] for i in images]
        if q["marker"] not in ids:
            raise errors.BadRequest(f"Marker {q['marker']} could not be found.")
        images = images[ids.index(q["marker"]) + 1:]
    if limit is not None:
        images = images[:limit]
    out: dict[str, Any] = {"images": [_image_view(req, i, detail) for i in images]}
    lk = views.collection_links(req, "images/detail" if detail else "images", images, limit, lambda i: i["id"])
    if lk:
        out["images_links"] = lk
    return out


def images_index(req: Req) -> dict:
    return _image_list(req, False)


def images_detail(req: Req) -> dict:
    return _image_list(req, True)


def _get_image(req: Req, img: Any) -> dict[str, Any]:
    try:
        return img.get_image(req.ctx, req.params["image_id"])
    except errors.NotFound:
        raise errors.NotFound("Image not found.") from None


def images_show(req: Req) -> dict:
    img = _image_iface(req)
    return {"image": _image_view(req, _get_image(req, img), True)}


def images_delete(req: Req) -> None:
    img = _image_iface(req)
    _get_image(req, img)
    img.delete_image_checked(req.ctx, req.params["image_id"])


META = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 255},
        "propertyNames": {"minLength": 1, "maxLength": 255}}


def _check_meta_quota(count: int) -> None:
    if count > 128:
        raise errors.Forbidden("Quota exceeded for metadata_items: maximum 128 image properties.")


def _meta_set(req: Req, values: dict[str, Any], purge: bool) -> dict[str, Any]:
    img = _image_iface(req, "2.39")
    cur = _get_image(req, img)
    have = cur.get("properties") or {}
    _check_meta_quota(len(values) if purge else len({**have, **values}))
    try:
        new = img.set_properties(req.ctx, cur["id"], {k: str(v) for k, v in values.items()}, purge=purge)
    except errors.Conflict as e:
        raise errors.BadRequest(e.message) from None
    return new.get("properties") or {}


def image_meta_index(req: Req) -> dict:
    img = _image_iface(req, "2.39")
    return {"metadata": _get_image(req, img).get("properties") or {}}


def image_meta_show(req: Req) -> dict:
    img = _image_iface(req, "2.39")
    props = _get_image(req, img).get("properties") or {}
    key = req.params["key"]
    if key not in props:
        raise errors.NotFound("Invalid metadata key")
    return {"meta": {key: props[key]}}


def image_meta_create(req: Req) -> dict:
    _image_iface(req, "2.39")
    data = body(req, obj({"metadata": META}, ["metadata"]))
    return {"metadata": _meta_set(req, data["metadata"], purge=False)}


def image_meta_replace(req: Req) -> dict:
    _image_iface(req, "2.39")
    data = body(req, obj({"metadata": META}, ["metadata"]))
    return {"metadata": _meta_set(req, data["metadata"], purge=True)}


def image_meta_update(req: Req) -> dict:
    _image_iface(req, "2.39")
    data = body(req, obj({"meta": {**META, "minProperties": 1}}, ["meta"]))["meta"]
    key = req.params["key"]
    if len(data) > 1:
        raise errors.BadRequest("Request body contains too many items")
    if key not in data:
        raise errors.BadRequest("Request body and URI mismatch")
    props = _meta_set(req, data, purge=False)
    return {"meta": {key: props[key]}}


def image_meta_delete(req: Req) -> None:
    img = _image_iface(req, "2.39")
    cur = _get_image(req, img)
    key = req.params["key"]
    if key not in (cur.get("properties") or {}):
        raise errors.NotFound("Invalid metadata key")
    img.set_properties(req.ctx, cur["id"], {}, remove=(key,))


# ================================================================== volumes and snapshots
def _vol(req: Req) -> Any:
    gate(req, "2.36")
    return deps.volume("the os-volumes and os-snapshots APIs")


def _volume_view(v: dict[str, Any], admin: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": v["id"], "status": v["status"], "size": v["size"],
                           "availabilityZone": v["availability_zone"], "createdAt": views.ts_usec(v["created_at"]),
                           "displayName": v["name"], "displayDescription": v["description"],
                           "volumeType": v["volume_type"], "snapshotId": v["snapshot_id"],
                           "metadata": v["metadata"],
                           "attachments": [{"id": v["id"], "volumeId": v["id"], "serverId": a["server_id"],
                                            **({"device": a["mountpoint"]} if a["mountpoint"] else {})}
                                           for a in v["attachments"] if a["server_id"]] or [{}]}
    return out


def _volume_one(req: Req, vol: Any, volume_id: str) -> dict[str, Any]:
    try:
        return vol.list_volumes(req.ctx, volume_id)[0]
    except errors.NotFound:
        raise errors.NotFound(f"Volume {volume_id} could not be found.") from None


def _listing(name: str, key: str, rule: str, fetch: Callable[[Any, Any], list[dict[str, Any]]],
             view: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Req], dict]:
    """A list handler of the volume proxies (index and detail share their shape upstream)."""
    def handler(req: Req) -> dict:
        vol = _vol(req)
        req.ctx.can(rule, {"project_id": req.ctx.project_id})
        return {key: [view(x) for x in _page(req, fetch(vol, req.ctx))]}
    handler.__name__ = name
    return handler


volumes_index = _listing("volumes_index", "volumes", "os_compute_api:os-volumes:list",
                         lambda vol, ctx: vol.list_volumes(ctx), _volume_view)
volumes_detail = _listing("volumes_detail", "volumes", "os_compute_api:os-volumes:detail",
                          lambda vol, ctx: vol.list_volumes(ctx), _volume_view)


def volumes_show(req: Req) -> dict:
    vol = _vol(req)
    req.ctx.can("os_compute_api:os-volumes:show", {"project_id": req.ctx.project_id})
    return {"volume": _volume_view(_volume_one(req, vol, req.params["volume_id"]))}


VOLUME_BODY = obj({"volume": obj({
    "volume_type": {"type": ["string", "null"]}, "metadata": {"type": ["object", "null"]},
    "snapshot_id": {"type": ["string", "null"]}, "size": {"type": ["integer", "string"], "pattern": "^[0-9]+$",
                                                         "minimum": 1},
    "availability_zone": {"type": ["string", "null"]}, "display_name": {"type": ["string", "null"], "maxLength": 255},
    "display_description": {"type": ["string", "null"], "maxLength": 255}}, ["size"])}, ["volume"])


def volumes_create(req: Req) -> dict:
    vol = _vol(req)
    data = body(req, VOLUME_BODY)["volume"]
    req.ctx.can("os_compute_api:os-volumes:create", {"project_id": req.ctx.project_id})
    size = int(data["size"])
    if size < 1:
        raise errors.BadRequest("Invalid input for field/attribute size. Value: 0. 0 is less than the minimum of 1")
    if data.get("snapshot_id"):
        vol.list_snapshots(req.ctx, data["snapshot_id"])
    v = _cinder(lambda: vol.create_volume(
        req.ctx, size=size, snapshot_id=data.get("snapshot_id"), name=data.get("display_name"),
        volume_type=data.get("volume_type"), availability_zone=data.get("availability_zone"),
        description=data.get("display_description"),
        metadata={str(k): str(x) for k, x in (data.get("metadata") or {}).items()}))
    return {"volume": _volume_view(_volume_one(req, vol, v["id"]))}


def volumes_delete(req: Req) -> Reply:
    vol = _vol(req)
    req.ctx.can("os_compute_api:os-volumes:delete", {"project_id": req.ctx.project_id})
    v = _volume_one(req, vol, req.params["volume_id"])
    _cinder(lambda: vol.delete_volume(req.ctx, v["id"]))
    return Reply(202)


def _snapshot_view(sn: dict[str, Any]) -> dict[str, Any]:
    return {"id": sn["id"], "volumeId": sn["volume_id"], "status": sn["status"], "size": sn["size"],
            "createdAt": views.ts_usec(sn["created_at"]), "displayName": sn["name"],
            "displayDescription": sn["description"]}


snapshots_index = _listing("snapshots_index", "snapshots", "os_compute_api:os-volumes:snapshots:list",
                           lambda vol, ctx: vol.list_snapshots(ctx), _snapshot_view)
snapshots_detail = _listing("snapshots_detail", "snapshots", "os_compute_api:os-volumes:snapshots:detail",
                            lambda vol, ctx: vol.list_snapshots(ctx), _snapshot_view)


def _snapshot_one(req: Req, vol: Any) -> dict[str, Any]:
    sid = req.params["snapshot_id"]
    try:
        return vol.list_snapshots(req.ctx, sid)[0]
    except errors.NotFound:
        raise errors.NotFound(f"Snapshot {sid} could not be found.") from None


def snapshots_show(req: Req) -> dict:
    vol = _vol(req)
    req.ctx.can("os_compute_api:os-volumes:snapshots:show", {"project_id": req.ctx.project_id})
    return {"snapshot": _snapshot_view(_snapshot_one(req, vol))}


SNAPSHOT_BODY = obj({"snapshot": obj({
    "volume_id": {"type": "string", "minLength": 1}, "force": BOOL,
    "display_name": {"type": ["string", "null"], "maxLength": 255},
    "display_description": {"type": ["string", "null"], "maxLength": 255}}, ["volume_id"])}, ["snapshot"])


def snapshots_create(req: Req) -> dict:
    vol = _vol(req)
    data = body(req, SNAPSHOT_BODY)["snapshot"]
    req.ctx.can("os_compute_api:os-volumes:snapshots:create", {"project_id": req.ctx.project_id})
    _volume_one(req, vol, data["volume_id"])
    sn = _cinder(lambda: vol.create_snapshot(req.ctx, data["volume_id"], data.get("display_name"),
                                             data.get("display_description"), truthy(data.get("force", False))))
    return {"snapshot": _snapshot_view(sn)}


def snapshots_delete(req: Req) -> Reply:
    vol = _vol(req)
    req.ctx.can("os_compute_api:os-volumes:snapshots:delete", {"project_id": req.ctx.project_id})
    sn = _snapshot_one(req, vol)
    _cinder(lambda: vol.delete_snapshot(req.ctx, sn["id"]))
    return Reply(202)


def volumes_boot(req: Req) -> Any:
    """POST /os-volumes_boot: the old alias of POST /servers (removed in 2.103)."""
    gate(req, "2.103")
    from onestack.compute.api import servers
    return servers.create(req)


# ================================================================== assisted volume snapshots (admin/service)
ASSISTED_BODY = obj({"snapshot": obj({
    "volume_id": {"type": "string", "minLength": 1},
    "create_info": obj({"snapshot_id": {"type": "string", "minLength": 1},
                        "type": {"type": "string", "enum": ["qcow2"]},
                        "new_file": {"type": "string", "minLength": 1},
                        "id": {"type": "string"}}, ["snapshot_id", "type", "new_file"])},
    ["volume_id", "create_info"])}, ["snapshot"])


def _attached_server(s: Any, volume_id: str) -> m.Server:
    from sqlalchemy import select
    row = s.scalar(select(m.VolumeAttachment).where(m.VolumeAttachment.volume_id == volume_id))
    srv = s.get(m.Server, row.instance_uuid) if row is not None else None
    if srv is None or srv.deleted:
        raise errors.BadRequest(f"No instance has volume {volume_id} attached.")
    return srv


def assisted_create(req: Req) -> dict:
    data = body(req, ASSISTED_BODY)["snapshot"]
    req.ctx.can("os_compute_api:os-assisted-volume-snapshots:create", {})
    with db.read() as s:
        _attached_server(s, data["volume_id"])
    # The hypervisor-side qcow2 overlay is the driver's business; the fake and container drivers
    # keep no overlay chain, so the snapshot is acknowledged as upstream's API does.
    return {"snapshot": {"id": data["create_info"]["snapshot_id"], "volumeId": data["volume_id"]}}


def assisted_delete(req: Req) -> None:
    req.ctx.can("os_compute_api:os-assisted-volume-snapshots:delete", {})
    raw = req.query.get("delete_info")
    try:
        info = json.loads(raw) if raw else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("volume_id"), str):
        raise errors.BadRequest("Invalid delete_info: a JSON object with volume_id is required.")
    with db.read() as s:
        _attached_server(s, info["volume_id"])


# ================================================================== os-instance_usage_audit_log (admin)
def _audit_period(before: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The last completed monthly audit period before ``before`` (upstream default unit)."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    begin = (end - dt.timedelta(days=1)).replace(day=1)
    return begin, end


def _audit_log(before: dt.datetime) -> dict[str, Any]:
    begin, end = _audit_period(before)
    with db.read() as s:
        names = sorted({svc.host for svc in hosts.services(s, binary="nova-compute")})
    return {"period_beginning": str(begin), "period_ending": str(end), "num_hosts": len(names),
            "num_hosts_done": 0, "num_hosts_running": 0, "num_hosts_not_run": len(names),
            "hosts_not_run": names, "total_instances": 0, "total_errors": 0,
            "overall_status": f"{'ALL' if not names else f'0 of {len(names)}'} hosts done. 0 errors.", "log": {}}


def audit_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-instance-usage-audit-log:list", {})
    from onestack.db.base import utcnow
    return {"instance_usage_audit_logs": _audit_log(utcnow())}


def audit_show(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-instance-usage-audit-log:show", {})
    raw = req.params["before_timestamp"]
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            before = dt.datetime.strptime(raw, fmt)
            break
        except ValueError:
            continue
    else:
        raise errors.BadRequest(f"Invalid timestamp for date {raw}")
    return {"instance_usage_audit_log": _audit_log(before)}
