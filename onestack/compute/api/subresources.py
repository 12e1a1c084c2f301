"""Per-server sub-resources: instance actions, migrations, remote consoles, interfaces,
volume attachments, diagnostics, topology, password; and os-server-external-events."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from onestack import bus, db, errors
from onestack.api import schema
from onestack.api.routing import Reply, Req
from onestack.compute import deps
from onestack.compute import models as m
from onestack.compute import service as svc
from onestack.compute import states as st
from onestack.compute.api import views
from onestack.compute.api.common import body, load, need_capability, target
from onestack.compute.errors import InvalidState
from onestack.compute.schemas.common import BOOL, obj


# ------------------------------------------------------------------ instance actions
def _action_view(req: Req, a: m.InstanceAction) -> dict[str, Any]:
    out = {"action": a.action, "instance_uuid": a.instance_uuid, "request_id": a.request_id,
           "user_id": a.user_id, "project_id": a.project_id, "start_time": views.ts_usec(a.start_time),
           "message": a.message}
    if views.mv(req, "2.58"):
        out["updated_at"] = views.ts_usec(a.updated_at)
    return out


def _server_any(s: Any, req: Req, rule: str) -> m.Server:
    """Instance actions stay visible for deleted servers (upstream reads them with read_deleted)."""
    srv = s.get(m.Server, req.params["server_id"])
    if srv is None or (srv.project_id != req.ctx.project_id and not req.ctx.is_admin):
        from onestack.compute.errors import ServerNotFound
        raise ServerNotFound(id=req.params["server_id"])
    req.ctx.can(rule, target(srv))
    return srv


def actions_index(req: Req) -> dict:
    with db.read() as s:
        srv = _server_any(s, req, "os_compute_api:os-instance-actions:list")
        stmt = select(m.InstanceAction).where(m.InstanceAction.instance_uuid == srv.uuid)
        rows = sorted(s.scalars(stmt), key=lambda a: (a.start_time, a.id), reverse=True)
        q = req.query
        if views.mv(req, "2.58"):
            from onestack.compute.api.common import parse_time
            if "changes-since" in q:
                t = parse_time(q["changes-since"], "changes-since")
                rows = [a for a in rows if a.updated_at >= t]
            if "changes-before" in q and views.mv(req, "2.66"):
                t = parse_time(q["changes-before"], "changes-before")
                rows = [a for a in rows if a.updated_at <= t]
            if "marker" in q:
                ids = [a.request_id for a in rows]
                if q["marker"] not in ids:
                    raise errors.BadRequest(f"Marker {q['marker']} could not be found.")
                rows = rows[ids.index(q["marker"]) + 1:]
            if "limit" in q:
                from onestack.api.pagination import parse_limit
                rows = rows[:parse_limit(q["limit"])]
        out: dict[str, Any] = {"instanceActions": [_action_view(req, a) for a in rows]}
        if views.mv(req, "2.58") and "limit" in q and rows and len(rows) >= int(q["limit"] or 0) > 0:
            out["links"] = views.collection_links(req, f"servers/{srv.uuid}/os-instance-actions", rows,
                                                  int(q["limit"]), lambda a: a.request_id)
        return out


def actions_show(req: Req) -> dict:
    with db.read() as s:
        srv = _server_any(s, req, "os_compute_api:os-instance-actions:show")
        a = s.scalar(select(m.InstanceAction).where(m.InstanceAction.instance_uuid == srv.uuid,
                                                    m.InstanceAction.request_id == req.params["request_id"]))
        if a is None:
            raise errors.NotFound(f"Action for request_id {req.params['request_id']} on instance {srv.uuid} not "
                                  "found")
        out = _action_view(req, a)
        show_events = views.mv(req, "2.51") or req.ctx.can("os_compute_api:os-instance-actions:events",
                                                           target(srv), fatal=False)
        if show_events:
            details = req.ctx.can("os_compute_api:os-instance-actions:events:details", target(srv), fatal=False)
            evs = []
            for e in s.scalars(select(m.InstanceActionEvent).where(m.InstanceActionEvent.action_id == a.id)
                               .order_by(m.InstanceActionEvent.id)):
                ev = {"event": e.event, "start_time": views.ts_usec(e.start_time),
                      "finish_time": views.ts_usec(e.finish_time), "result": e.result}
                if details:
                    ev["traceback"] = e.traceback
                if views.mv(req, "2.62"):
                    ev["hostId"] = views.host_id(srv.project_id, e.host) if e.host else ""
                    if details:
                        ev["host"] = e.host or ""
                if views.mv(req, "2.84") and details:
                    ev["details"] = e.details
                evs.append(ev)
            out["events"] = evs
        return {"instanceAction": out}


# ------------------------------------------------------------------ server migrations
def server_migrations(req: Req) -> dict:
    if not views.mv(req, "2.23"):
        raise errors.NotFound("The resource could not be found.")
    with db.read() as s:
        srv = load(s, req, "os_compute_api:servers:migrations:index")
        rows = s.scalars(select(m.Migration).where(m.Migration.instance_uuid == srv.uuid,
                                                   m.Migration.migration_type == "live-migration",
                                                   m.Migration.status.in_(["queued", "preparing", "running",
                                                                           "post-migrating"])))
        return {"migrations": [_live_view(req, x) for x in rows]}


def _live_view(req: Req, x: m.Migration) -> dict[str, Any]:
    out = {"id": x.id, "server_uuid": x.instance_uuid, "status": x.status, "source_compute": x.source_compute,
           "source_node": x.source_node, "dest_compute": x.dest_compute, "dest_node": x.dest_node,
           "dest_host": x.dest_host or "", "created_at": views.ts_usec(x.created_at),
           "updated_at": views.ts_usec(x.updated_at), "memory_total_bytes": None, "memory_processed_bytes": None,
           "memory_remaining_bytes": None, "disk_total_bytes": None, "disk_processed_bytes": None,
           "disk_remaining_bytes": None}
    if views.mv(req, "2.59"):
        out["uuid"] = x.uuid
    if views.mv(req, "2.80"):
        out["user_id"], out["project_id"] = x.user_id, x.project_id
    return out


def server_migration_show(req: Req) -> dict:
    if not views.mv(req, "2.23"):
        raise errors.NotFound("The resource could not be found.")
    with db.read() as s:
        srv = load(s, req, "os_compute_api:servers:migrations:show")
        x = s.get(m.Migration, int(req.params["migration_id"])) if req.params["migration_id"].isdigit() else None
        if x is None or x.instance_uuid != srv.uuid:
            raise errors.NotFound(f"Migration {req.params['migration_id']} could not be found.")
        if x.migration_type != "live-migration" or x.status not in ("queued", "preparing", "running",
                                                                      "post-migrating"):
            raise errors.NotFound(f"In-progress live migration {x.id} is not found for server {srv.uuid}.")
        return {"migration": _live_view(req, x)}


def server_migration_action(req: Req) -> None:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:servers:migrations:force_complete")
        raise errors.BadRequest(f"Migration {req.params['migration_id']} for server {srv.uuid} is not in "
                                "progress (live migrations complete immediately on this cloud).")


def server_migration_delete(req: Req) -> None:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:servers:migrations:delete")
        raise errors.NotFound(f"In-progress live migration {req.params['migration_id']} is not found for server "
                              f"{srv.uuid}.")


# ------------------------------------------------------------------ consoles
def remote_console(req: Req) -> Any:
    if not views.mv(req, "2.6"):
        raise errors.NotFound("The resource could not be found.")
    protocols = ["vnc", "spice", "serial", "rdp"] + (["mks"] if views.mv(req, "2.8") else [])
    data = body(req, obj({"remote_console": obj({
        "protocol": {"type": "string", "enum": protocols},
        "type": {"type": "string", "enum": ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "spice-direct",
                                            "serial", "webmks"]}}, ["protocol", "type"])}, ["remote_console"]))
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-remote-consoles")
        if not srv.host:
            raise InvalidState(action="get console", id=srv.uuid, attr="vm_state", state=srv.vm_state)
        caps = bus.get().call(f"compute.{srv.host}", "capabilities")
    kind = data["remote_console"]["type"]
    if kind not in caps.get("remote_consoles", []):
        raise errors.BadRequest(f"Unavailable console type {kind}: the {caps.get('hypervisor_type')} compute driver "
                                "of this cloud provides no remote consoles (use os-getConsoleOutput).")
    raise errors.BadRequest(f"Unavailable console type {kind}.")


# ------------------------------------------------------------------ password
def password_show(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-server-password:show")
        return {"password": (srv.system_metadata or {}).get("password", "")}


def password_clear(req: Req) -> None:
    with db.write() as s:
        srv = load(s, req, "os_compute_api:os-server-password:clear")
        meta = dict(srv.system_metadata or {})
        meta.pop("password", None)
        srv.system_metadata = meta


# ------------------------------------------------------------------ diagnostics / topology
def diagnostics(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-server-diagnostics")
        if not srv.host:
            raise InvalidState(action="get_diagnostics", id=srv.uuid, attr="vm_state", state=srv.vm_state)
        inst, host = svc.instance_dict(srv), srv.host
    d = bus.get().call(f"compute.{host}", "diagnostics", instance=inst)
    if views.mv(req, "2.48"):
        return d
    return {"cpu0_time": 17300000000, "memory": d.get("memory_details", {}).get("maximum", 0),
            "vda_read": 262144, "vda_read_req": 112, "vda_write": 5778432, "vda_write_req": 488}


def topology(req: Req) -> dict:
    if not views.mv(req, "2.78"):
        raise errors.NotFound("The resource could not be found.")
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-server-topology:index")
        return {"nodes": [], "pagesize_kb": None}


# ------------------------------------------------------------------ interfaces
def _iface_view(p: dict[str, Any]) -> dict[str, Any]:
    return {"port_id": p.get("id"), "net_id": p.get("network_id"), "mac_addr": p.get("mac_address"),
            "port_state": p.get("status", "ACTIVE"),
            "fixed_ips": [{"subnet_id": f.get("subnet_id"), "ip_address": f.get("ip_address")}
                          for f in p.get("fixed_ips") or []]}


def interfaces_index(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-attach-interfaces:list")
    if not deps.available("network"):
        return {"interfaceAttachments": []}
    ports = deps.network().list_ports(req.ctx, device_id=srv.uuid)
    return {"interfaceAttachments": [_iface_view(p) for p in ports]}


def interfaces_show(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-attach-interfaces:show")
    net = deps.network("interface attachments")
    try:
        p = net.get_port(req.ctx, req.params["port_id"])
    except errors.NotFound:
        p = None
    if not p or p.get("device_id") != srv.uuid:
        raise errors.NotFound(f"Instance {srv.uuid} is not attached to port {req.params['port_id']}.")
    return {"interfaceAttachment": _iface_view(p)}


def interfaces_create(req: Req) -> dict:
    props = {"net_id": {"type": "string", "format": "uuid"}, "port_id": {"type": "string", "format": "uuid"},
             "fixed_ips": {"type": "array", "maxItems": 1, "items": obj({"ip_address": {"type": "string"}},
                                                                        ["ip_address"])}}
    if views.mv(req, "2.49"):
        props["tag"] = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
    data = body(req, {"type": "object", "properties": {"interfaceAttachment": obj(props)},
                      "additionalProperties": False}) if req.body else {}
    spec = data.get("interfaceAttachment") or {}
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-attach-interfaces:create")
        svc.check_lock(req.ctx, srv)
        if srv.vm_state not in (st.ACTIVE, st.PAUSED, st.STOPPED) or srv.task_state is not None:
            raise InvalidState(action="attach_interface", id=srv.uuid, attr="vm_state", state=srv.vm_state)
        need_capability(srv, "interface_attach", "attach_interface")
        host, inst = srv.host, svc.instance_dict(srv)
    net = deps.network("interface attachments")
    if spec.get("port_id"):
        port = net.get_port(req.ctx, spec["port_id"])
        if port.get("device_id"):
            raise errors.Conflict(f"Port {spec['port_id']} is still in use.")
        port = net.allocate_for_server(req.ctx, srv.uuid, [{"port": port["id"]}], None, host,
                                       srv.availability_zone or "nova")[0]
    else:
        if not spec.get("net_id"):
            raise errors.BadRequest("A network (net_id) or a port (port_id) is required.")
        fixed = (spec.get("fixed_ips") or [{}])[0].get("ip_address")
        port = net.create_port(req.ctx, spec["net_id"], fixed_ip=fixed, device_id=srv.uuid,
                               device_owner=f"compute:{srv.availability_zone or 'nova'}", host=host)
    bus.get().call(f"compute.{host}", "attach_interface", instance=inst, vif=port)
    with db.write() as s:
        srv = load(s, req)
        srv.addresses_cache = net.server_addresses(srv.uuid)
        svc.record_action(s, req.ctx, srv.uuid, "attach_interface", srv.project_id)
    out = _iface_view(port)
    if views.mv(req, "2.70"):
        out["tag"] = spec.get("tag")
    return {"interfaceAttachment": out}


def interfaces_delete(req: Req) -> Reply:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-attach-interfaces:delete")
        svc.check_lock(req.ctx, srv)
        need_capability(srv, "interface_attach", "detach_interface")
        host, inst = srv.host, svc.instance_dict(srv)
    net = deps.network("interface attachments")
    try:
        port = net.get_port(req.ctx, req.params["port_id"])
    except errors.NotFound:
        port = None
    if not port or port.get("device_id") != srv.uuid:
        raise errors.NotFound(f"Port {req.params['port_id']} is not attached")
    if host:
        bus.get().call(f"compute.{host}", "detach_interface", instance=inst, vif=port)
    if port.get("preexisting"):
        net.unbind_port(port["id"])
    else:
        net.delete_port(req.ctx, port["id"])
    with db.write() as s:
        srv = load(s, req)
        srv.addresses_cache = net.server_addresses(srv.uuid)
        svc.record_action(s, req.ctx, srv.uuid, "detach_interface", srv.project_id)
    return Reply(202)


# ------------------------------------------------------------------ volume attachments
def _att_view(req: Req, a: m.VolumeAttachment) -> dict[str, Any]:
    out: dict[str, Any] = {"device": a.device, "serverId": a.instance_uuid, "volumeId": a.volume_id}
    if not views.mv(req, "2.89"):
        out["id"] = a.volume_id
    if views.mv(req, "2.70"):
        out["tag"] = a.tag
    if views.mv(req, "2.79"):
        out["delete_on_termination"] = a.delete_on_termination
    if views.mv(req, "2.89"):
        out["attachment_id"] = a.attachment_id
        out["bdm_uuid"] = a.id
    return out


def volumes_index(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-volumes-attachments:index")
        rows = list(s.scalars(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == srv.uuid)
                              .order_by(m.VolumeAttachment.created_at)))
        from onestack.api.pagination import parse_limit
        off = int(req.query.get("offset", 0) or 0)
        lim = parse_limit(req.query.get("limit"))
        rows = rows[off:off + lim] if lim is not None else rows[off:]
        return {"volumeAttachments": [_att_view(req, a) for a in rows]}


def volumes_show(req: Req) -> dict:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-volumes-attachments:show")
        a = s.scalar(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == srv.uuid,
                                                      m.VolumeAttachment.volume_id == req.params["volume_id"]))
        if a is None:
            raise errors.NotFound(f"Volume {req.params['volume_id']} is not attached to the instance")
        return {"volumeAttachment": _att_view(req, a)}


def volumes_create(req: Req) -> dict:
    props = {"volumeId": {"type": "string", "format": "uuid"},
             "device": {"type": ["string", "null"], "pattern": "(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$"}}
    if views.mv(req, "2.49"):
        props["tag"] = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[^,/]*$"}
    if views.mv(req, "2.79"):
        props["delete_on_termination"] = BOOL
    data = body(req, obj({"volumeAttachment": obj(props, ["volumeId"])}, ["volumeAttachment"]))["volumeAttachment"]
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-volumes-attachments:create")
        svc.check_lock(req.ctx, srv)
        if srv.vm_state not in (st.ACTIVE, st.PAUSED, st.STOPPED, st.SUSPENDED, st.RESIZED, st.SHELVED,
                                st.SHELVED_OFFLOADED) or srv.task_state is not None:
            raise InvalidState(action="attach_volume", id=srv.uuid, attr="vm_state", state=srv.vm_state)
        n = len(s.scalars(select(m.VolumeAttachment.id).where(m.VolumeAttachment.instance_uuid == srv.uuid)).all())
        if s.scalar(select(m.VolumeAttachment.id).where(m.VolumeAttachment.instance_uuid == srv.uuid,
                                                        m.VolumeAttachment.volume_id == data["volumeId"])):
            raise errors.BadRequest(f"Invalid volume: volume {data['volumeId']} already attached")
        host, inst = srv.host, svc.instance_dict(srv)
    vol = deps.volume("volume attachments")
    try:
        vol.get_volume(req.ctx, data["volumeId"])
    except errors.NotFound:
        raise errors.NotFound(f"Volume {data['volumeId']} could not be found.") from None
    device = data.get("device") or f"/dev/vd{chr(ord('b') + n)}"
    conn = vol.attach(req.ctx, data["volumeId"], srv.uuid, host, device)
    if host:
        try:
            bus.get().call(f"compute.{host}", "attach_volume", instance=inst,
                           connection=(conn or {}).get("connection_info") or {}, device=device)
        except bus.BusError as e:   # the hypervisor refused (e.g. a format its driver cannot attach)
            vol.detach(req.ctx, data["volumeId"], server_id=srv.uuid)
            raise errors.Conflict(f"Volume {data['volumeId']} cannot be attached to instance {srv.uuid}: "
                                  f"{e.message}") from None
    with db.write() as s:
        a = m.VolumeAttachment(id=str(uuid.uuid4()), instance_uuid=srv.uuid, volume_id=data["volumeId"],
                               device=device, tag=data.get("tag"),
                               delete_on_termination=str(data.get("delete_on_termination", False)).lower()
                               in ("true", "1", "yes", "on"), attachment_id=(conn or {}).get("id"))
        s.add(a)
        svc.record_action(s, req.ctx, srv.uuid, "attach_volume", srv.project_id)
        s.flush()
        if views.mv(req, "2.101"):
            return Reply(202)
        return {"volumeAttachment": _att_view(req, a)}


def volumes_update(req: Req) -> Reply:
    data = body(req, obj({"volumeAttachment": {"type": "object"}}, ["volumeAttachment"]))["volumeAttachment"]
    with db.write() as s:
        srv = load(s, req, "os_compute_api:os-volumes-attachments:update")
        a = s.scalar(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == srv.uuid,
                                                      m.VolumeAttachment.volume_id == req.params["volume_id"]))
        if a is None:
            raise errors.NotFound(f"Volume {req.params['volume_id']} is not attached to the instance")
        if data.get("volumeId") and data["volumeId"] != a.volume_id:
            req.ctx.can("os_compute_api:os-volumes-attachments:swap", target(srv))
            raise errors.BadRequest("Swapping volumes is not supported by this cloud's compute driver.")
        if "delete_on_termination" in data and views.mv(req, "2.85"):
            a.delete_on_termination = str(data["delete_on_termination"]).lower() in ("true", "1")
    return Reply(202)


def volumes_delete(req: Req) -> Reply:
    with db.read() as s:
        srv = load(s, req, "os_compute_api:os-volumes-attachments:delete")
        svc.check_lock(req.ctx, srv)
        a = s.scalar(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == srv.uuid,
                                                      m.VolumeAttachment.volume_id == req.params["volume_id"]))
        if a is None:
            raise errors.NotFound(f"Volume {req.params['volume_id']} is not attached to the instance")
        if a.boot_index == 0:
            raise errors.Forbidden("Can't detach root device volume")
        if srv.vm_state not in (st.ACTIVE, st.PAUSED, st.STOPPED, st.SUSPENDED, st.RESIZED, st.SOFT_DELETED,
                                st.SHELVED, st.SHELVED_OFFLOADED) or srv.task_state is not None:
            raise InvalidState(action="detach_volume", id=srv.uuid, attr="vm_state", state=srv.vm_state)
        host, inst, device = srv.host, svc.instance_dict(srv), a.device
    vol = deps.volume("volume attachments")
    if host:
        bus.get().call(f"compute.{host}", "detach_volume", instance=inst, connection={}, device=device)
    vol.detach(req.ctx, req.params["volume_id"], server_id=srv.uuid)
    with db.write() as s:
        a = s.scalar(select(m.VolumeAttachment).where(m.VolumeAttachment.instance_uuid == srv.uuid,
                                                      m.VolumeAttachment.volume_id == req.params["volume_id"]))
        if a is not None:
            s.delete(a)
        svc.record_action(s, req.ctx, srv.uuid, "detach_volume", srv.project_id)
    return Reply(202)


# ------------------------------------------------------------------ external events
EVENT_NAMES = ["network-changed", "network-vif-plugged", "network-vif-unplugged", "network-vif-deleted",
               "volume-extended", "power-update", "accelerator-request-bound", "volume-reimaged"]


def external_events(req: Req) -> Reply:
    data = body(req, obj({"events": {"type": "array", "minItems": 1, "items": obj({
        "server_uuid": {"type": "string", "format": "uuid"}, "name": {"type": "string", "enum": EVENT_NAMES},
        "status": {"type": "string", "enum": ["failed", "completed", "in-progress"]},
        "tag": {"type": "string", "maxLength": 255}}, ["server_uuid", "name"])}}, ["events"]))
    req.ctx.can("os_compute_api:os-server-external-events:create", {"project_id": req.ctx.project_id})
    out = []
    found = False
    with db.write() as s:
        for ev in data["events"]:
            srv = s.get(m.Server, ev["server_uuid"])
            res = dict(ev, status=ev.get("status", "completed"))
            if srv is None or srv.deleted:
                res["code"] = 404
                res["status"] = "failed"
            elif not srv.host:
                res["code"] = 422
                res["status"] = "failed"
            else:
                res["code"] = 200
                found = True
                if ev["name"] == "network-changed" and deps.available("network"):
                    srv.addresses_cache = deps.network().server_addresses(srv.uuid)
            out.append(res)
    if not found:
        raise errors.NotFound("No instances found for any event")
    return Reply(200 if all(e["code"] == 200 for e in out) else 207, {"events": out})
