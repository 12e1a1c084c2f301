"""Keypairs, limits, quota sets, availability zones, services, hypervisors, aggregates,
server groups, simple tenant usage, migrations and the version documents."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from onestack import bus, db, errors
from onestack.api.pagination import parse_limit
from onestack.api.routing import Reply, Req
from onestack.compute import conf as cconf
from onestack.compute import groups as grp
from onestack.compute import hosts, keypairs, quotas
from onestack.compute import models as m
from onestack.compute.api import views
from onestack.compute.api.common import body, parse_bool, parse_time
from onestack.compute.schemas.common import obj
from onestack.db.base import utcnow

MAX_VERSION = "2.104"


# ------------------------------------------------------------------ versions
def _version(req: Req) -> dict[str, Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": MAX_VERSION, "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{req.service_url}/v2.1/"},
                      {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def versions(req: Req) -> Reply:
    v = _version(req)
    v.pop("media-types")
    v["links"] = [{"rel": "self", "href": f"{req.service_url}/v2.1/"}]
    v2 = _version_v20(req)
    v2.pop("media-types")
    v2["links"] = [{"rel": "self", "href": f"{req.service_url}/v2/"}]
    return Reply(200, {"versions": [v2, v]})


def _version_v20(req: Req) -> dict[str, Any]:
    """The legacy v2.0 endpoint's document (no microversions)."""
    return {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "", "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{req.service_url}/v2/"},
                      {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2"}]}


def version_v21(req: Req) -> dict:
    return {"version": _version(req)}


def version_v20(req: Req) -> dict:
    return {"version": _version_v20(req)}


# ------------------------------------------------------------------ keypairs
def _kp_user(req: Req) -> str:
    uid = req.query.get("user_id")
    if uid and views.mv(req, "2.10"):
        return uid
    return req.ctx.user_id


def keypairs_index(req: Req) -> dict:
    uid = _kp_user(req)
    req.ctx.can("os_compute_api:os-keypairs:index", {"user_id": uid})
    limit = parse_limit(req.query.get("limit")) if views.mv(req, "2.35") else None
    marker = req.query.get("marker") if views.mv(req, "2.35") else None
    with db.read() as s:
        if marker is not None:
            keypairs.get(s, uid, marker)
        rows = keypairs.list_for(s, uid, limit, marker)
        out: dict[str, Any] = {"keypairs": [{"keypair": views.keypair(req, k, with_user=False)} for k in rows]}
        if views.mv(req, "2.35"):
            lk = views.collection_links(req, "os-keypairs", rows, limit, lambda k: k.name)
            if lk:
                out["keypairs_links"] = lk
        return out


def keypairs_create(req: Req) -> Reply:
    name_pat = r"^[a-zA-Z0-9 @._-]+$" if views.mv(req, "2.92") else r"^[a-zA-Z0-9 _-]+$"
    props: dict[str, Any] = {"name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": name_pat},
                             "public_key": {"type": "string"}}
    if views.mv(req, "2.2"):
        props["type"] = {"type": "string", "enum": ["ssh", "x509"]}
    if views.mv(req, "2.10"):
        props["user_id"] = {"type": "string"}
    required = ["name", "public_key"] if views.mv(req, "2.92") else ["name"]
    data = body(req, obj({"keypair": obj(props, required)}, ["keypair"]))["keypair"]
    uid = data.get("user_id") or req.ctx.user_id
    req.ctx.can("os_compute_api:os-keypairs:create", {"user_id": uid})
    with db.write() as s:
        limit = quotas.limits(s, req.ctx.project_id, uid)["key_pairs"]
        kp, private = keypairs.create(s, uid, req.ctx.project_id, data["name"], data.get("type", "ssh"),
                                      data.get("public_key"), limit)
        out = views.keypair(req, kp, private_key=private)
        return Reply(201 if views.mv(req, "2.2") else 200, {"keypair": out})


def keypairs_show(req: Req) -> dict:
    uid = _kp_user(req)
    req.ctx.can("os_compute_api:os-keypairs:show", {"user_id": uid})
    with db.read() as s:
        return {"keypair": views.keypair(req, keypairs.get(s, uid, req.params["name"]), detail=True)}


def keypairs_delete(req: Req) -> Reply:
    uid = _kp_user(req)
    req.ctx.can("os_compute_api:os-keypairs:delete", {"user_id": uid})
    with db.write() as s:
        s.delete(keypairs.get(s, uid, req.params["name"]))
    return Reply(204 if views.mv(req, "2.2") else 202)


# ------------------------------------------------------------------ limits / quotas
def limits(req: Req) -> dict:
    project = req.query.get("tenant_id") or req.ctx.project_id
    if project != req.ctx.project_id:
        req.ctx.can("os_compute_api:limits:other_project", {"project_id": project})
    with db.read() as s:
        lim = quotas.limits(s, project)
        use = quotas.usage(s, project)
    absolute = {"maxServerMeta": lim["metadata_items"], "maxTotalKeypairs": lim["key_pairs"],
                "maxServerGroups": lim["server_groups"], "maxServerGroupMembers": lim["server_group_members"],
                "maxTotalCores": lim["cores"], "maxTotalInstances": lim["instances"],
                "maxTotalRAMSize": lim["ram"], "totalCoresUsed": use["cores"],
                "totalInstancesUsed": use["instances"], "totalRAMUsed": use["ram"],
                "totalServerGroupsUsed": use["server_groups"]}
    if not views.mv(req, "2.57"):
        absolute.update({"maxPersonality": lim["injected_files"],
                         "maxPersonalitySize": lim["injected_file_content_bytes"]})
    if not views.mv(req, "2.39"):
        absolute["maxImageMeta"] = 128
    if not views.mv(req, "2.36"):
        absolute.update({"maxSecurityGroups": -1, "maxSecurityGroupRules": -1, "maxTotalFloatingIps": -1,
                         "totalFloatingIpsUsed": 0, "totalSecurityGroupsUsed": 0})
    return {"limits": {"rate": [], "absolute": absolute}}


WIRE = {"injected_file_path_length": "injected_file_path_bytes"}
UNWIRE = {v: k for k, v in WIRE.items()}


def _quota_keys(req: Req) -> list[str]:
    keys = list(quotas.RESOURCES)
    if views.mv(req, "2.57"):
        keys = [k for k in keys if not k.startswith("injected_file")]
    return keys


def _quota_view(req: Req, project: str, lim: dict[str, int], use: dict[str, int] | None,
                with_id: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": project} if with_id else {}
    for k in _quota_keys(req):
        out[WIRE.get(k, k)] = {"limit": lim[k], "in_use": use.get(k, 0), "reserved": 0} if use is not None else lim[k]
    if not views.mv(req, "2.36"):
        for k in quotas.LEGACY:
            out[k] = {"limit": lim.get(k, -1), "in_use": 0, "reserved": 0} if use is not None else lim.get(k, -1)
    return out


def quota_show(req: Req) -> dict:
    project = req.params["project_id"]
    uid = req.query.get("user_id")
    req.ctx.can("os_compute_api:os-quota-sets:show", {"project_id": project})
    with db.read() as s:
        return {"quota_set": _quota_view(req, project, quotas.limits(s, project, uid), None)}


def quota_detail(req: Req) -> dict:
    project = req.params["project_id"]
    uid = req.query.get("user_id")
    req.ctx.can("os_compute_api:os-quota-sets:detail", {"project_id": project})
    with db.read() as s:
        return {"quota_set": _quota_view(req, project, quotas.limits(s, project, uid), quotas.usage(s, project, uid))}


def quota_defaults(req: Req) -> dict:
    project = req.params["project_id"]
    req.ctx.can("os_compute_api:os-quota-sets:defaults", {"project_id": project})
    with db.read() as s:
        return {"quota_set": _quota_view(req, project, quotas.defaults(s), None)}


def quota_update(req: Req) -> dict:
    project = req.params["project_id"]
    uid = req.query.get("user_id")
    intprop = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$", "minimum": -1, "maximum": 2147483647}
    props = {WIRE.get(k, k): intprop for k in _quota_keys(req)}
    if not views.mv(req, "2.36"):
        props.update({k: intprop for k in quotas.LEGACY})
    props["force"] = {"type": ["boolean", "string"]}
    data = body(req, obj({"quota_set": obj(props)}, ["quota_set"]))["quota_set"]
    data = {UNWIRE.get(k, k): v for k, v in data.items()}
    req.ctx.can("os_compute_api:os-quota-sets:update", {"project_id": project})
    force = str(data.pop("force", False)).lower() in ("true", "1")
    values = {k: int(v) for k, v in data.items() if k in quotas.RESOURCES}
    with db.write() as s:
        if not force:
            use = quotas.usage(s, project, uid)
            for k, v in values.items():
                if v >= 0 and use.get(k, 0) > v and k in ("instances", "cores", "ram"):
                    raise errors.BadRequest(f"Quota limit {v} for {k} must be greater than or equal to already "
                                            f"used and reserved {use[k]}.")
        if uid:
            plim = quotas.limits(s, project)
            for k, v in values.items():
                if plim[k] >= 0 and (v > plim[k] or v < 0):
                    raise errors.BadRequest(f"Quota limit {v} for {k} must be in the range of -1 and {plim[k]}.")
        quotas.set_quota(s, project, uid, values)
        return {"quota_set": _quota_view(req, project, quotas.limits(s, project, uid), None, with_id=False)}


def quota_delete(req: Req) -> Reply:
    project = req.params["project_id"]
    req.ctx.can("os_compute_api:os-quota-sets:delete", {"project_id": project})
    with db.write() as s:
        quotas.delete_quota(s, project, req.query.get("user_id"))
    return Reply(202)


def quota_class_show(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-quota-class-sets:show", {})
    with db.read() as s:
        out = _quota_view(req, req.params["class_name"], quotas.defaults(s), None)
        return {"quota_class_set": out}


def quota_class_update(req: Req) -> dict:
    intprop = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$", "minimum": -1, "maximum": 2147483647}
    props = {WIRE.get(k, k): intprop for k in _quota_keys(req) + (quotas.LEGACY if not views.mv(req, "2.50") else [])}
    data = body(req, obj({"quota_class_set": obj(props)}, ["quota_class_set"]))["quota_class_set"]
    data = {UNWIRE.get(k, k): v for k, v in data.items()}
    req.ctx.can("os_compute_api:os-quota-class-sets:update", {})
    with db.write() as s:
        if req.params["class_name"] == "default":
            for k, v in data.items():
                if k not in quotas.RESOURCES and k not in quotas.LEGACY:
                    continue
                row = s.get(m.QuotaClass, ("default", k))
                if row is None:
                    s.add(m.QuotaClass(class_name="default", resource=k, hard_limit=int(v)))
                else:
                    row.hard_limit = int(v)
            s.flush()
        out = _quota_view(req, "default", quotas.defaults(s), None, with_id=False)
        return {"quota_class_set": out}


# ------------------------------------------------------------------ availability zones
def az_list(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-availability-zone:list", {})
    with db.read() as s:
        zones = hosts.availability_zones(s)
        up = {svc.host: (not svc.disabled and hosts.is_up(svc)) for svc in hosts.services(s, binary="nova-compute")}
    return {"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": any(up.get(h) for h in hs)},
                                      "hosts": None} for z, hs in sorted(zones.items())]}


def az_detail(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-availability-zone:detail", {})
    out = []
    with db.read() as s:
        zones = hosts.availability_zones(s)
        svcs = hosts.services(s)
        for z, hs in sorted(zones.items()):
            hosts_out = {}
            for h in hs:
                hosts_out[h] = {svc.binary: {"available": not svc.disabled and hosts.is_up(svc),
                                             "active": not svc.disabled,
                                             "updated_at": views.ts_usec(svc.last_seen_up)}
                                for svc in svcs if svc.host == h}
            out.append({"zoneName": z, "zoneState": {"available": True}, "hosts": hosts_out})
        internal = [svc for svc in svcs if svc.binary != "nova-compute"]
        if internal:
            ih: dict[str, Any] = {}
            for svc in internal:
                ih.setdefault(svc.host, {})[svc.binary] = {"available": hosts.is_up(svc), "active": not svc.disabled,
                                                           "updated_at": views.ts_usec(svc.last_seen_up)}
            out.append({"zoneName": "internal", "zoneState": {"available": True}, "hosts": ih})
    return {"availabilityZoneInfo": out}


# ------------------------------------------------------------------ services
def _service_view(req: Req, s: Any, svc: Any) -> dict[str, Any]:
    az = hosts.host_az(s, svc.host) if svc.binary == "nova-compute" else "internal"
    out = {"id": svc.uuid if views.mv(req, "2.53") else svc.id, "binary": svc.binary, "host": svc.host,
           "zone": az, "status": "disabled" if svc.disabled else "enabled",
           "state": "up" if hosts.is_up(svc) else "down", "updated_at": views.ts_usec(svc.last_seen_up),
           "disabled_reason": svc.disabled_reason}
    if views.mv(req, "2.11"):
        out["forced_down"] = svc.forced_down
    return out


def services_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-services:list", {})
    with db.read() as s:
        rows = hosts.services(s, req.query.get("host"), req.query.get("binary"))
        return {"services": [_service_view(req, s, x) for x in rows]}


def services_update_legacy(req: Req) -> dict:
    if views.mv(req, "2.53"):
        raise errors.NotFound("The resource could not be found.")
    action = req.params["action"]
    req.ctx.can("os_compute_api:os-services:update", {})
    data = req.json_object()
    with db.write() as s:
        rows = hosts.services(s, data.get("host"), data.get("binary"))
        if not rows:
            raise errors.NotFound(f"Service {data.get('binary')} on host {data.get('host')} not found.")
        svc = rows[0]
        if action in ("enable", "disable", "disable-log-reason"):
            svc.disabled = action != "enable"
            svc.disabled_reason = data.get("disabled_reason") if action == "disable-log-reason" else None
            out = {"host": svc.host, "binary": svc.binary, "status": "disabled" if svc.disabled else "enabled"}
            if svc.disabled_reason:
                out["disabled_reason"] = svc.disabled_reason
            return {"service": out}
        if action == "force-down" and views.mv(req, "2.11"):
            svc.forced_down = parse_bool(str(data.get("forced_down")), "forced_down")
            return {"service": {"host": svc.host, "binary": svc.binary, "forced_down": svc.forced_down}}
    raise errors.NotFound("Unknown action")


def services_update(req: Req) -> dict:
    if not views.mv(req, "2.53"):
        return services_update_legacy(req)
    data = body(req, obj({"status": {"type": "string", "enum": ["enabled", "disabled"]},
                          "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
                          "forced_down": {"type": ["boolean", "string"]}}))
    req.ctx.can("os_compute_api:os-services:update", {})
    with db.write() as s:
        svc = s.scalar(select(m.Service).where(m.Service.uuid == req.params["service_id"], m.Service.deleted.is_(False)))
        if svc is None:
            raise errors.NotFound(f"Service {req.params['service_id']} could not be found.")
        if "disabled_reason" in data and data.get("status") != "disabled":
            raise errors.BadRequest("Specifying 'disabled_reason' with status 'enabled' is invalid.")
        if "status" in data:
            svc.disabled = data["status"] == "disabled"
            svc.disabled_reason = data.get("disabled_reason") if svc.disabled else None
        if "forced_down" in data:
            svc.forced_down = parse_bool(str(data["forced_down"]), "forced_down")
        if svc.binary != "nova-compute" and ("status" in data or "forced_down" in data):
            raise errors.BadRequest("Updating a nova-compute service is the only supported operation.")
        svc.updated_at = utcnow()
        return {"service": _service_view(req, s, svc)}


def services_delete(req: Req) -> None:
    req.ctx.can("os_compute_api:os-services:delete", {})
    sid = req.params["service_id"]
    with db.write() as s:
        svc = s.scalar(select(m.Service).where((m.Service.uuid == sid) if views.mv(req, "2.53") else
                                               (m.Service.id == (int(sid) if sid.isdigit() else -1))))
        if svc is None or svc.deleted:
            raise errors.NotFound(f"Service {sid} could not be found.")
        if svc.binary == "nova-compute" and s.scalar(select(m.Server.uuid).where(m.Server.host == svc.host,
                                                                                  m.Server.deleted.is_(False)).limit(1)):
            raise errors.Conflict(f"Unable to delete compute service that is hosting instances.")
        svc.deleted = True
        for node in s.scalars(select(m.ComputeNode).where(m.ComputeNode.host == svc.host)):
            node.deleted = True


# ------------------------------------------------------------------ hypervisors
def _hyp_view(req: Req, s: Any, node: Any, detail: bool, servers: list[m.Server] | None = None) -> dict[str, Any]:
    svcs = hosts.services(s, host=node.host, binary="nova-compute")
    svc = svcs[0] if svcs else None
    out: dict[str, Any] = {"id": node.uuid if views.mv(req, "2.53") else node.id,
                           "hypervisor_hostname": node.hypervisor_hostname,
                           "state": "up" if svc and hosts.is_up(svc) else "down",
                           "status": "disabled" if svc and svc.disabled else "enabled"}
    if detail:
        out.update({"hypervisor_type": node.hypervisor_type, "hypervisor_version": node.hypervisor_version,
                    "host_ip": node.host_ip,
                    "service": {"host": node.host, "id": (svc.uuid if views.mv(req, "2.53") else svc.id) if svc else None,
                                "disabled_reason": svc.disabled_reason if svc else None}})
        if views.mv(req, "2.88"):
            out["uptime"] = _uptime(node.host)
        else:
            from onestack.placement import interface as placement
            u = placement.provider_usage(node.uuid)
            inv, used = u["inventories"], u["usages"]
            vcpu_used, ram_used, disk_used = used.get("VCPU", 0), used.get("MEMORY_MB", 0), used.get("DISK_GB", 0)
            n = len(s.scalars(select(m.Server.uuid).where(m.Server.node == node.hypervisor_hostname,
                                                          m.Server.deleted.is_(False))).all())
            out.update({"vcpus": node.vcpus, "memory_mb": node.memory_mb, "local_gb": node.local_gb,
                        "vcpus_used": vcpu_used, "memory_mb_used": ram_used + inv.get("MEMORY_MB", {}).get("reserved", 0),
                        "local_gb_used": disk_used, "free_ram_mb": node.memory_mb - ram_used,
                        "free_disk_gb": node.local_gb - disk_used, "current_workload": 0, "running_vms": n,
                        "disk_available_least": node.local_gb - disk_used,
                        "cpu_info": json.loads(node.cpu_info or "{}") if views.mv(req, "2.28") else node.cpu_info})
    if servers is not None:
        out["servers"] = [{"uuid": x.uuid, "name": views._iname(x)} for x in servers]
    return out


def _uptime(host: str) -> str | None:
    try:
        return bus.get().call(f"compute.{host}", "uptime", timeout=5)
    except Exception:
        return None


def _nodes(req: Req, s: Any) -> list[Any]:
    rows = hosts.nodes(s)
    pattern = req.query.get("hypervisor_hostname_pattern")
    if pattern is not None:
        rows = [n for n in rows if pattern in n.hypervisor_hostname]
        if not rows:
            raise errors.NotFound(f"No hypervisor matching '{pattern}' could be found.")
    marker = req.query.get("marker")
    if marker is not None and views.mv(req, "2.33"):
        ids = [(n.uuid if views.mv(req, "2.53") else str(n.id)) for n in rows]
        if marker not in ids:
            raise errors.BadRequest(f"marker [{marker}] not found")
        rows = rows[ids.index(marker) + 1:]
    if views.mv(req, "2.33") and req.query.get("limit") is not None:
        rows = rows[:parse_limit(req.query["limit"])]
    return rows


def hypervisors_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-hypervisors:list", {})
    with_servers = views.mv(req, "2.53") and parse_bool(req.query.get("with_servers", "false"), "with_servers")
    with db.read() as s:
        rows = _nodes(req, s)
        out = {"hypervisors": [_hyp_view(req, s, n, False, _servers_on(s, n) if with_servers else None)
                               for n in rows]}
        if views.mv(req, "2.33") and req.query.get("limit"):
            lk = views.collection_links(req, "os-hypervisors", rows, parse_limit(req.query["limit"]),
                                        lambda n: n.uuid if views.mv(req, "2.53") else str(n.id))
            if lk:
                out["hypervisors_links"] = lk
        return out


def _servers_on(s: Any, node: Any) -> list[m.Server]:
    return list(s.scalars(select(m.Server).where(m.Server.node == node.hypervisor_hostname, m.Server.deleted.is_(False))))


def hypervisors_detail(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-hypervisors:list-detail", {})
    with_servers = views.mv(req, "2.53") and parse_bool(req.query.get("with_servers", "false"), "with_servers")
    with db.read() as s:
        rows = _nodes(req, s)
        out = {"hypervisors": [_hyp_view(req, s, n, True, _servers_on(s, n) if with_servers else None) for n in rows]}
        if views.mv(req, "2.33") and req.query.get("limit"):
            lk = views.collection_links(req, "os-hypervisors/detail", rows, parse_limit(req.query["limit"]),
                                        lambda n: n.uuid if views.mv(req, "2.53") else str(n.id))
            if lk:
                out["hypervisors_links"] = lk
        return out


def _node(req: Req, s: Any) -> Any:
    hid = req.params["hypervisor_id"]
    node = None
    if views.mv(req, "2.53"):
        node = s.scalar(select(m.ComputeNode).where(m.ComputeNode.uuid == hid, m.ComputeNode.deleted.is_(False)))
    elif hid.isdigit():
        node = s.scalar(select(m.ComputeNode).where(m.ComputeNode.id == int(hid), m.ComputeNode.deleted.is_(False)))
    if node is None:
        if not views.mv(req, "2.53") and not hid.isdigit():
            raise errors.BadRequest(f"Hypervisor ID {hid} is not an integer") if False else \
                errors.NotFound(f"Hypervisor with ID {hid} could not be found.")
        raise errors.NotFound(f"Hypervisor with ID {hid} could not be found.")
    return node


def hypervisors_show(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-hypervisors:show", {})
    with_servers = views.mv(req, "2.53") and parse_bool(req.query.get("with_servers", "false"), "with_servers")
    with db.read() as s:
        node = _node(req, s)
        return {"hypervisor": _hyp_view(req, s, node, True, _servers_on(s, node) if with_servers else None)}


def hypervisors_uptime(req: Req) -> dict:
    if views.mv(req, "2.88"):
        raise errors.NotFound("The resource could not be found.")
    req.ctx.can("os_compute_api:os-hypervisors:uptime", {})
    with db.read() as s:
        node = _node(req, s)
        out = _hyp_view(req, s, node, False)
    out["uptime"] = _uptime(node.host)
    return {"hypervisor": out}


def hypervisors_statistics(req: Req) -> dict:
    if views.mv(req, "2.88"):
        raise errors.NotFound("The resource could not be found.")
    req.ctx.can("os_compute_api:os-hypervisors:statistics", {})
    keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "free_ram_mb",
            "free_disk_gb", "current_workload", "running_vms", "disk_available_least")
    tot = {k: 0 for k in keys}
    with db.read() as s:
        nodes = hosts.nodes(s)
        for n in nodes:
            v = _hyp_view(req, s, n, True)
            for k in keys:
                tot[k] += v.get(k, 0) or 0
    tot["count"] = len(nodes)
    return {"hypervisor_statistics": tot}


def hypervisors_search(req: Req) -> dict:
    if views.mv(req, "2.53"):
        raise errors.NotFound("The resource could not be found.")
    req.ctx.can("os_compute_api:os-hypervisors:search", {})
    with db.read() as s:
        rows = [n for n in hosts.nodes(s) if req.params["pattern"] in n.hypervisor_hostname]
        if not rows:
            raise errors.NotFound(f"No hypervisor matching '{req.params['pattern']}' could be found.")
        return {"hypervisors": [_hyp_view(req, s, n, False) for n in rows]}


def hypervisors_servers(req: Req) -> dict:
    if views.mv(req, "2.53"):
        raise errors.NotFound("The resource could not be found.")
    req.ctx.can("os_compute_api:os-hypervisors:servers", {})
    with db.read() as s:
        rows = [n for n in hosts.nodes(s) if req.params["pattern"] in n.hypervisor_hostname]
        if not rows:
            raise errors.NotFound(f"No hypervisor matching '{req.params['pattern']}' could be found.")
        out = []
        for n in rows:
            v = _hyp_view(req, s, n, False)
            srvs = _servers_on(s, n)
            if srvs:
                v["servers"] = [{"uuid": x.uuid, "name": views._iname(x)} for x in srvs]
            out.append(v)
        return {"hypervisors": out}


# ------------------------------------------------------------------ aggregates
def _agg_out(req: Req, s: Any, agg: Any) -> dict:
    return views.aggregate(req, agg, hosts.agg_hosts(s, agg), hosts.agg_metadata(s, agg))


def _sync_after(s: Any, host_list: list[str]) -> None:
    pairs = hosts.placement_sync(s, host_list)

    def push() -> None:
        from onestack.placement import interface as placement
        for node_uuid, aggs in pairs:
            placement.set_aggregates(node_uuid, aggs)
    db.session.after_commit(s, push)


AZ_NAME = {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "pattern": r"^[^:]*$"}


def aggregates_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-aggregates:index", {})
    with db.read() as s:
        return {"aggregates": [_agg_out(req, s, a) for a in hosts.aggregates(s)]}


def aggregates_create(req: Req) -> dict:
    data = body(req, obj({"aggregate": obj({"name": {"type": "string", "minLength": 1, "maxLength": 255,
                                                     "pattern": r"^[^\s](.*[^\s])?$"},
                                            "availability_zone": AZ_NAME}, ["name"])}, ["aggregate"]))["aggregate"]
    req.ctx.can("os_compute_api:os-aggregates:create", {})
    with db.write() as s:
        agg = hosts.create_aggregate(s, data["name"], data.get("availability_zone"))
        out = views.aggregate(req, agg, [], hosts.agg_metadata(s, agg), brief=True)
        return {"aggregate": out}


def aggregates_show(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-aggregates:show", {})
    with db.read() as s:
        return {"aggregate": _agg_out(req, s, hosts.get_aggregate(s, req.params["aggregate_id"]))}


def aggregates_update(req: Req) -> dict:
    data = body(req, obj({"aggregate": {**obj({"name": {"type": "string", "minLength": 1, "maxLength": 255},
                                                "availability_zone": AZ_NAME}), "minProperties": 1}},
                         ["aggregate"]))["aggregate"]
    req.ctx.can("os_compute_api:os-aggregates:update", {})
    with db.write() as s:
        agg = hosts.get_aggregate(s, req.params["aggregate_id"])
        hosts.update_aggregate(s, agg, data.get("name"), data["availability_zone"] if "availability_zone" in data
                               else ...)
        return {"aggregate": _agg_out(req, s, agg)}


def aggregates_delete(req: Req) -> Reply:
    req.ctx.can("os_compute_api:os-aggregates:delete", {})
    with db.write() as s:
        hosts.delete_aggregate(s, hosts.get_aggregate(s, req.params["aggregate_id"]))
    return Reply(200)


def aggregates_action(req: Req) -> dict:
    data = req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise errors.BadRequest("Malformed request body")
    name, args = next(iter(data.items()))
    from onestack.api import schema
    with db.write() as s:
        agg = None
        if name in ("add_host", "remove_host"):
            schema.validate(args, obj({"host": {"type": "string", "minLength": 1, "maxLength": 255}}, ["host"]))
            req.ctx.can(f"os_compute_api:os-aggregates:{name}", {})
            agg = hosts.get_aggregate(s, req.params["aggregate_id"])
            (hosts.add_host if name == "add_host" else hosts.remove_host)(s, agg, args["host"])
            _sync_after(s, [args["host"]])
        elif name == "set_metadata":
            schema.validate(args, obj({"metadata": {"type": "object", "patternProperties": {
                r"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": ["string", "null"], "maxLength": 255}},
                "additionalProperties": False}}, ["metadata"]))
            req.ctx.can("os_compute_api:os-aggregates:set_metadata", {})
            agg = hosts.get_aggregate(s, req.params["aggregate_id"])
            hosts.set_metadata(s, agg, args["metadata"])
        else:
            raise errors.BadRequest(f"There is no such action: {name}")
        return {"aggregate": _agg_out(req, s, agg)}


def aggregates_images(req: Req) -> Reply:
    req.ctx.can("os_compute_api:os-aggregates:images", {})
    with db.read() as s:
        hosts.get_aggregate(s, req.params["aggregate_id"])
    return Reply(202)


# ------------------------------------------------------------------ server groups
def groups_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-server-groups:index", {"project_id": req.ctx.project_id})
    all_projects = str(req.query.get("all_projects", "")).lower() in ("true", "1", "yes", "")  \
        and "all_projects" in req.query
    if all_projects:
        all_projects = req.ctx.can("os_compute_api:os-server-groups:index:all_projects",
                                   {"project_id": req.ctx.project_id}, fatal=False)
    with db.read() as s:
        stmt = select(m.ServerGroup).order_by(m.ServerGroup.created_at)
        if not all_projects:
            stmt = stmt.where(m.ServerGroup.project_id == req.ctx.project_id)
        rows = list(s.scalars(stmt))
        off = int(req.query.get("offset") or 0)
        lim = parse_limit(req.query.get("limit"))
        rows = rows[off:off + lim] if lim is not None else rows[off:]
        return {"server_groups": [views.server_group(req, g, grp.members(s, g)) for g in rows]}


def groups_create(req: Req) -> dict:
    if views.mv(req, "2.64"):
        sch = obj({"server_group": obj({"name": {"type": "string", "minLength": 1, "maxLength": 255},
                                        "policy": {"type": "string", "enum": list(grp.POLICIES)},
                                        "rules": obj({"max_server_per_host": {"type": ["integer", "string"],
                                                                              "pattern": "^[0-9]+$", "minimum": 1}})},
                                       ["name", "policy"])}, ["server_group"])
    else:
        pol = list(grp.POLICIES) if views.mv(req, "2.15") else ["affinity", "anti-affinity"]
        sch = obj({"server_group": obj({"name": {"type": "string", "minLength": 1, "maxLength": 255},
                                        "policies": {"type": "array", "items": {"type": "string", "enum": pol},
                                                     "minItems": 1, "maxItems": 1, "uniqueItems": True}},
                                       ["name", "policies"])}, ["server_group"])
    data = body(req, sch)["server_group"]
    req.ctx.can("os_compute_api:os-server-groups:create", {"project_id": req.ctx.project_id,
                                                            "user_id": req.ctx.user_id})
    policy = data.get("policy") or data["policies"][0]
    rules = data.get("rules") or {}
    if rules and policy != "anti-affinity":
        raise errors.BadRequest(f"Only anti-affinity policy supports rules.")
    if "max_server_per_host" in rules:
        rules["max_server_per_host"] = int(rules["max_server_per_host"])
    with db.write() as s:
        limit = quotas.limits(s, req.ctx.project_id, req.ctx.user_id)["server_groups"]
        g = grp.create(s, req.ctx, data["name"], policy, rules, limit)
        return {"server_group": views.server_group(req, g, [])}


def groups_show(req: Req) -> dict:
    with db.read() as s:
        g = grp.get(s, req.params["group_id"], None if req.ctx.is_admin else req.ctx.project_id)
        req.ctx.can("os_compute_api:os-server-groups:show", {"project_id": g.project_id, "user_id": g.user_id})
        return {"server_group": views.server_group(req, g, grp.members(s, g))}


def groups_delete(req: Req) -> None:
    with db.write() as s:
        g = grp.get(s, req.params["group_id"], None if req.ctx.is_admin else req.ctx.project_id)
        req.ctx.can("os_compute_api:os-server-groups:delete", {"project_id": g.project_id, "user_id": g.user_id})
        s.delete(g)


# ------------------------------------------------------------------ simple tenant usage
def _period(req: Req) -> tuple[dt.datetime, dt.datetime]:
    now = utcnow()
    start = parse_time(req.query["start"], "start") if req.query.get("start") else now - dt.timedelta(days=1)
    end = parse_time(req.query["end"], "end") if req.query.get("end") else now
    if start > end:
        raise errors.BadRequest("Invalid start time. The start time cannot occur after the end time.")
    return start, end


def _usage_for(req: Req, s: Any, project: str | None, start: dt.datetime, end: dt.datetime,
               detailed: bool) -> list[dict[str, Any]]:
    stmt = select(m.Server).where(m.Server.created_at <= end)
    if project:
        stmt = stmt.where(m.Server.project_id == project)
    per: dict[str, dict[str, Any]] = {}
    for srv in s.scalars(stmt):
        if srv.terminated_at and srv.terminated_at < start:
            continue
        launched = srv.launched_at or srv.created_at
        s0, e0 = max(start, launched), min(end, srv.terminated_at or end)
        hours = max((e0 - s0).total_seconds() / 3600.0, 0.0)
        f = srv.flavor or {}
        u = per.setdefault(srv.project_id, {"tenant_id": srv.project_id, "start": views.ts_usec(start),
                                            "stop": views.ts_usec(end), "total_hours": 0.0,
                                            "total_local_gb_usage": 0.0, "total_memory_mb_usage": 0.0,
                                            "total_vcpus_usage": 0.0, "server_usages": []})
        u["total_hours"] += hours
        u["total_local_gb_usage"] += hours * (f.get("disk", 0) + f.get("ephemeral", 0))
        u["total_memory_mb_usage"] += hours * f.get("ram", 0)
        u["total_vcpus_usage"] += hours * f.get("vcpus", 0)
        if detailed:
            from onestack.compute import states as st
            state = "terminated" if srv.deleted else srv.vm_state
            u["server_usages"].append({
                "instance_id": srv.uuid, "name": srv.name, "hours": hours, "memory_mb": f.get("ram", 0),
                "local_gb": f.get("disk", 0), "vcpus": f.get("vcpus", 0), "tenant_id": srv.project_id,
                "flavor": f.get("name"), "started_at": views.ts_usec(launched),
                "ended_at": views.ts_usec(srv.terminated_at), "state": state,
                "uptime": int((min(end, srv.terminated_at or utcnow()) - launched).total_seconds())})
            del st
    out = list(per.values())
    if not detailed:
        for u in out:
            u.pop("server_usages")
    return out


def usage_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-simple-tenant-usage:list", {})
    start, end = _period(req)
    detailed = parse_bool(req.query.get("detailed", "0"), "detailed")
    with db.read() as s:
        out = _usage_for(req, s, None, start, end, detailed)
    res: dict[str, Any] = {"tenant_usages": out}
    if views.mv(req, "2.40") and req.query.get("limit"):
        res["tenant_usages_links"] = []
    return res


def usage_show(req: Req) -> dict:
    project = req.params["tenant_id"]
    req.ctx.can("os_compute_api:os-simple-tenant-usage:show", {"project_id": project})
    start, end = _period(req)
    with db.read() as s:
        out = _usage_for(req, s, project, start, end, True)
    return {"tenant_usage": out[0] if out else {}}


# ------------------------------------------------------------------ migrations
def migrations_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-migrations:index", {})
    q = req.query
    with db.read() as s:
        stmt = select(m.Migration).order_by(m.Migration.created_at.desc(), m.Migration.id.desc())
        for key, col in (("host", None), ("status", m.Migration.status), ("instance_uuid", m.Migration.instance_uuid),
                         ("migration_type", m.Migration.migration_type), ("source_compute", m.Migration.source_compute)):
            if q.get(key) and col is not None:
                stmt = stmt.where(col == q[key])
        if views.mv(req, "2.80"):
            if q.get("user_id"):
                stmt = stmt.where(m.Migration.user_id == q["user_id"])
            if q.get("project_id"):
                stmt = stmt.where(m.Migration.project_id == q["project_id"])
        rows = list(s.scalars(stmt))
        if q.get("host"):
            rows = [x for x in rows if q["host"] in (x.source_compute, x.dest_compute)]
        if views.mv(req, "2.59"):
            if q.get("changes-since"):
                t = parse_time(q["changes-since"], "changes-since")
                rows = [x for x in rows if (x.updated_at or x.created_at) >= t]
            if q.get("marker"):
                ids = [x.uuid for x in rows]
                if q["marker"] not in ids:
                    raise errors.BadRequest(f"Marker {q['marker']} could not be found.")
                rows = rows[ids.index(q["marker"]) + 1:]
            if q.get("limit"):
                rows = rows[:parse_limit(q["limit"])]
        out: dict[str, Any] = {"migrations": [views.migration(req, x) for x in rows]}
        if views.mv(req, "2.59") and q.get("limit"):
            lk = views.collection_links(req, "os-migrations", rows, parse_limit(q["limit"]), lambda x: x.uuid)
            if lk:
                out["migrations_links"] = lk
        return out


# ------------------------------------------------------------------ os-hosts (deprecated; removed in 2.43)
def _hosts_gate(req: Req) -> None:
    if views.mv(req, "2.43"):
        raise errors.NotFound("The resource could not be found.")
    req.ctx.can("os_compute_api:os-hosts:list", {})


def hosts_index(req: Req) -> dict:
    _hosts_gate(req)
    zone = req.query.get("zone")
    out = []
    with db.read() as s:
        for svc in hosts.services(s):
            az = hosts.host_az(s, svc.host) if svc.binary == "nova-compute" else "internal"
            if zone and az != zone:
                continue
            out.append({"host_name": svc.host, "service": svc.binary.replace("nova-", ""), "zone": az})
    return {"hosts": out}


def hosts_show(req: Req) -> dict:
    _hosts_gate(req)
    name = req.params["host_name"]
    with db.read() as s:
        nodes = [n for n in hosts.nodes(s) if n.host == name]
        if not nodes:
            raise errors.NotFound(f"Compute host {name} could not be found.")
        node = nodes[0]
        rows = list(s.scalars(select(m.Server).where(m.Server.host == name, m.Server.deleted.is_(False))))
    used_cpu = sum(r.flavor["vcpus"] for r in rows)
    used_ram = sum(r.flavor["ram"] for r in rows)
    used_disk = sum(r.flavor["disk"] for r in rows)
    res = [{"resource": {"host": name, "project": "(total)", "cpu": node.vcpus, "memory_mb": node.memory_mb,
                         "disk_gb": node.local_gb}},
           {"resource": {"host": name, "project": "(used_now)", "cpu": used_cpu, "memory_mb": used_ram,
                         "disk_gb": used_disk}},
           {"resource": {"host": name, "project": "(used_max)", "cpu": used_cpu, "memory_mb": used_ram,
                         "disk_gb": used_disk}}]
    per: dict[str, list[int]] = {}
    for r in rows:
        v = per.setdefault(r.project_id, [0, 0, 0])
        v[0] += r.flavor["vcpus"]
        v[1] += r.flavor["ram"]
        v[2] += r.flavor["disk"]
    for p, (c, ram, d) in per.items():
        res.append({"resource": {"host": name, "project": p, "cpu": c, "memory_mb": ram, "disk_gb": d}})
    return {"host": res}


HOST_MODE = {"type": "string", "enum": ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]}


def _compute_service(s: Any, name: str) -> Any:
    rows = hosts.services(s, host=name, binary="nova-compute")
    if not rows:
        raise errors.NotFound(f"Compute host {name} could not be found.")
    return rows[0]


def hosts_update(req: Req) -> dict:
    if views.mv(req, "2.43"):
        raise errors.NotFound("The resource could not be found.")
    req.ctx.can("os_compute_api:os-hosts:update", {})
    data = body(req, {**obj({"status": HOST_MODE, "maintenance_mode": HOST_MODE}),
                      "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}]})
    name = req.params["host_name"]
    out: dict[str, Any] = {"host": name}
    with db.write() as s:
        svc = _compute_service(s, name)
        if "maintenance_mode" in data:
            if cconf.get().driver != "fake":
                raise errors.NotImplementedYet("Virt driver does not implement host maintenance mode.")
            out["maintenance_mode"] = ("on_maintenance" if data["maintenance_mode"].lower() == "enable"
                                       else "off_maintenance")
        if "status" in data:
            svc.disabled = data["status"].lower() == "disable"
            svc.disabled_reason = None
            svc.updated_at = utcnow()
            out["status"] = "disabled" if svc.disabled else "enabled"
    return out


def _host_power(action: str) -> Any:
    def handler(req: Req) -> dict:
        if views.mv(req, "2.43"):
            raise errors.NotFound("The resource could not be found.")
        req.ctx.can(f"os_compute_api:os-hosts:{action}", {})
        name = req.params["host_name"]
        with db.read() as s:
            _compute_service(s, name)
        if cconf.get().driver != "fake":
            raise errors.NotImplementedYet("Virt driver does not implement host power management.")
        return {"host": name, "power_action": action}
    handler.__name__ = f"hosts_{action}"
    return handler


hosts_reboot, hosts_shutdown, hosts_startup = _host_power("reboot"), _host_power("shutdown"), _host_power("startup")
