"""Types, snapshots, attachments, backups, transfers, quotas, limits, zones, services, pools."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack import db, errors
from onestack.api.routing import Reply, Req
from onestack.api.schema import validate
from onestack.volume import drivers
from onestack.volume.admin import HOST
from onestack.volume import errors as verr
from onestack.volume import models as m
from onestack.volume import service, views
from onestack.volume.api.common import admin, as_int, flag, links, load, page, parse_bool, target
from onestack.volume.api.volumes import METADATA, METADATA_OR_NULL, NAME

# ------------------------------------------------------------------ volume types
TYPE_CREATE = {"type": "object", "properties": {"volume_type": {"type": "object", "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": {"type": ["string", "null"], "maxLength": 255},
    "os-volume-type-access:is_public": {"type": ["boolean", "string"]},
    "extra_specs": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 255}}},
    "required": ["name"], "additionalProperties": False}}, "required": ["volume_type"],
    "additionalProperties": False}


def types_index(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:type_get_all", target(req))
    raw = req.query.get("is_public")
    every = raw is not None and raw.strip().lower() == "none"
    is_public = None if raw is None or every else parse_bool(raw, "is_public")
    rows = service.list_types(req.ctx, is_public, every)
    return {"volume_types": [views.volume_type(req, t, admin(req)) for t in rows]}


def _type(req: Req) -> m.VolumeType:
    with db.read() as s:
        ref = req.params["type_id"]
        if ref == "default":
            return service.default_type(s, req.ctx)
        return service.get_type(s, req.ctx, ref)


def type_show(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:type_get", target(req))
    return {"volume_type": views.volume_type(req, _type(req), admin(req))}


def type_create(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:types_manage", target(req))
    body = validate(req.json(), TYPE_CREATE)["volume_type"]
    is_public = parse_bool(body.get("os-volume-type-access:is_public", True), "is_public")
    t = service.create_type(body["name"].strip(), body.get("description"), is_public,
                            body.get("extra_specs") or {})
    return {"volume_type": views.volume_type(req, t, True, extended=False)}


def type_update(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:types_manage", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"volume_type": {
        "type": "object", "properties": {"name": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
                                         "description": {"type": ["string", "null"], "maxLength": 255},
                                         "is_public": {"type": ["boolean", "string"]}},
        "additionalProperties": False}}, "required": ["volume_type"]})["volume_type"]
    if not body:
        raise errors.BadRequest("Specify volume type name, description, is_public or a combination "
                                "thereof.")
    with db.write() as s:
        t = service.get_type(s, req.ctx, req.params["type_id"], by_name=False)
        if body.get("name"):
            clash = s.scalar(select(m.VolumeType).where(m.VolumeType.name == body["name"],
                                                        m.VolumeType.id != t.id))
            if clash is not None:
                raise errors.Conflict(f"Volume Type {body['name']} already exists.")
            t.name = body["name"]
        if "description" in body:
            t.description = body["description"]
        if "is_public" in body:
            t.is_public = parse_bool(body["is_public"], "is_public")
    out = views.volume_type(req, t, True, extended=False)
    out.pop("os-volume-type-access:is_public")  # not in upstream's update response
    return {"volume_type": out}


def type_delete(req: Req) -> Reply:
    req.ctx.can("volume_extension:types_manage", target(req))
    service.delete_type(req.ctx, req.params["type_id"])
    return Reply(202)


def specs_index(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:types_extra_specs:index", target(req))
    return {"extra_specs": views.volume_type(req, _type(req), admin(req))["extra_specs"]}


def specs_create(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:types_extra_specs:create", target(req))
    body = req.json_object()
    specs = validate(body.get("extra_specs"), {"type": "object", "minProperties": 1, "additionalProperties":
                                               {"type": "string", "maxLength": 255}})
    for key in specs:
        if not key or len(key) > 255:
            raise errors.BadRequest("Invalid extra spec key.")
    with db.write() as s:
        t = service.get_type(s, req.ctx, req.params["type_id"], by_name=False)
        if s.scalar(select(m.Volume.id).where(m.Volume.volume_type_id == t.id).limit(1)):
            raise errors.BadRequest(f"Invalid volume type: Volume Type {t.id} is currently in use "
                                    "and its extra specs cannot be changed.")
        t.extra_specs = {**(t.extra_specs or {}), **specs}
    return {"extra_specs": specs}


def specs_show(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:types_extra_specs:show", target(req))
    specs = views.volume_type(req, _type(req), admin(req))["extra_specs"]
    key = req.params["key"]
    if key not in specs:
        raise errors.NotFound(f"Volume Type {req.params['type_id']} has no extra specs with key {key}.")
    return {key: specs[key]}


def specs_update(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:types_extra_specs:update", target(req))
    body = req.json_object()
    key = req.params["key"]
    if list(body) != [key] or not isinstance(body[key], str):
        raise errors.BadRequest("Request body and URI mismatch.")
    with db.write() as s:
        t = service.get_type(s, req.ctx, req.params["type_id"], by_name=False)
        t.extra_specs = {**(t.extra_specs or {}), key: body[key]}
    return body


def specs_delete(req: Req) -> Reply:
    req.ctx.can("volume_extension:types_extra_specs:delete", target(req))
    with db.write() as s:
        t = service.get_type(s, req.ctx, req.params["type_id"], by_name=False)
        specs = dict(t.extra_specs or {})
        if req.params["key"] not in specs:
            raise errors.NotFound(f"Volume Type {t.id} has no extra specs with key {req.params['key']}.")
        specs.pop(req.params["key"])
        t.extra_specs = specs
    return Reply(202)


def type_access_list(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_type_access", target(req))
    with db.read() as s:
        t = service.get_type(s, req.ctx, req.params["type_id"], by_name=False)
        if t.is_public:
            raise errors.NotFound("Access list not available for public volume types.")
        rows = s.scalars(select(m.VolumeTypeAccess).where(m.VolumeTypeAccess.type_id == t.id)).all()
        return {"volume_type_access": [{"volume_type_id": t.id, "project_id": r.project_id} for r in rows]}


def type_action(req: Req) -> Reply:
    body = req.json_object()
    if "addProjectAccess" in body:
        rule, arg, add = "volume_extension:volume_type_access:addProjectAccess", body["addProjectAccess"], True
    elif "removeProjectAccess" in body:
        rule, arg = "volume_extension:volume_type_access:removeProjectAccess", body["removeProjectAccess"]
        add = False
    else:
        raise errors.BadRequest("There is no such action.")
    req.ctx.can(rule, target(req))
    if not isinstance(arg, dict) or not isinstance(arg.get("project"), str):
        raise errors.BadRequest("Missing required element 'project' in request body.")
    with db.write() as s:
        t = service.get_type(s, req.ctx, req.params["type_id"], by_name=False)
        if t.is_public:
            raise errors.BadRequest("Invalid volume type: Type access modification is not applicable "
                                    "to public volume type.")
        row = s.get(m.VolumeTypeAccess, (t.id, arg["project"]))
        if add:
            if row is not None:
                raise errors.Conflict(f"Volume type access for {t.id} / {arg['project']} combination "
                                      "already exists.")
            s.add(m.VolumeTypeAccess(type_id=t.id, project_id=arg["project"]))
        else:
            if row is None:
                raise errors.NotFound(f"Volume type access not found for {t.id} / {arg['project']} "
                                      "combination.")
            s.delete(row)
    return Reply(202)


# ------------------------------------------------------------------ snapshots
SNAP_CREATE = {"type": "object", "properties": {"snapshot": {"type": "object", "properties": {
    "volume_id": {"type": ["string", "null"]}, "name": NAME, "display_name": NAME, "description": NAME,
    "display_description": NAME, "force": {"type": ["boolean", "string"]}, "metadata": METADATA_OR_NULL},
    "required": ["volume_id"], "additionalProperties": False}}, "required": ["snapshot"],
    "additionalProperties": False}


def snapshot_create(req: Req) -> Reply:
    body = validate(req.json(), SNAP_CREATE)["snapshot"]
    if body["volume_id"] is None:
        raise verr.VolumeNotFound(volume_id=None)
    with db.read() as s:
        v = service.get_volume(s, req.ctx, body["volume_id"])
    req.ctx.can("volume:create_snapshot", target(req, v.project_id))
    force = parse_bool(body.get("force", False), "force")
    sn = service.create_snapshot(req.ctx, v.id, body.get("name", body.get("display_name")),
                                 body.get("description", body.get("display_description")), force,
                                 body.get("metadata") or {})
    return Reply(202, {"snapshot": views.snapshot(req, sn, extended=False)})


def _snapshots(req: Req, detail: bool) -> dict[str, Any]:
    req.ctx.can("volume:get_all_snapshots", target(req))
    limit, marker, sort, offset = page(req, ["created_at", "updated_at", "id", "name", "size", "status"],
                                       with_offset=True)
    filters: dict[str, Any] = {k: req.query[k] for k in ("status", "volume_id", "name", "project_id")
                               if req.query.get(k)}
    rows = service.list_rows(req.ctx, m.Snapshot, filters, sort, None if limit is None else limit + offset,
                             marker, flag(req, "all_tenants"), verr.SnapshotNotFound(snapshot_id=marker))
    rows = rows[offset:]
    out: dict[str, Any] = {"snapshots": [views.snapshot(req, sn, extended=detail) for sn in rows]}
    out.update(links(req, "snapshots", rows, limit))
    return out


def snapshots_index(req: Req) -> dict[str, Any]:
    return _snapshots(req, False)


def snapshots_detail(req: Req) -> dict[str, Any]:
    return _snapshots(req, True)


def _snapshot(req: Req, rule: str) -> m.Snapshot:
    return load(req, service.get_snapshot, "snapshot_id", rule)


def snapshot_show(req: Req) -> dict[str, Any]:
    return {"snapshot": views.snapshot(req, _snapshot(req, "volume:get_snapshot"))}


def snapshot_update(req: Req) -> dict[str, Any]:
    body = validate(req.json(), {"type": "object", "properties": {"snapshot": {"type": "object", "properties": {
        "name": NAME, "display_name": NAME, "description": NAME, "display_description": NAME},
        "additionalProperties": False}}, "required": ["snapshot"]})["snapshot"]
    sn = _snapshot(req, "volume:update_snapshot")
    with db.write() as s:
        row = s.get(m.Snapshot, sn.id)
        if "name" in body or "display_name" in body:
            row.name = body.get("name", body.get("display_name"))
        if "description" in body or "display_description" in body:
            row.description = body.get("description", body.get("display_description"))
    return {"snapshot": views.snapshot(req, row, extended=False)}


def snapshot_delete(req: Req) -> Reply:
    sn = _snapshot(req, "volume:delete_snapshot")
    service.delete_snapshot(req.ctx, sn.id)
    return Reply(202)


def snapshot_action(req: Req) -> Reply:
    body = req.json_object()
    sn = _snapshot(req, "volume:get_snapshot")
    if "os-reset_status" in body:
        req.ctx.can("volume_extension:snapshot_admin_actions:reset_status", target(req, sn.project_id))
        arg = validate(body["os-reset_status"], {"type": "object", "properties": {"status": {
            "type": "string", "enum": ["available", "error", "creating", "deleting", "error_deleting"]}},
            "required": ["status"]})
        with db.write() as s:
            s.get(m.Snapshot, sn.id).status = arg["status"]
        return Reply(202)
    if "os-force_delete" in body:
        req.ctx.can("volume_extension:snapshot_admin_actions:force_delete", target(req, sn.project_id))
        service.delete_snapshot(req.ctx, sn.id, force=True)
        return Reply(202)
    if "os-update_snapshot_status" in body:
        arg = body["os-update_snapshot_status"] or {}
        with db.write() as s:
            row = s.get(m.Snapshot, sn.id)
            row.status = arg.get("status", row.status)
            row.progress = arg.get("progress", row.progress)
        return Reply(202)
    raise errors.BadRequest(f"There is no such action: {', '.join(body)}")


def snapshot_metadata_show(req: Req) -> dict[str, Any]:
    return {"metadata": dict(_snapshot(req, "volume:get_snapshot_metadata").metadata_ or {})}


def _snapshot_set_metadata(req: Req, replace: bool) -> dict[str, Any]:
    sn = _snapshot(req, "volume:update_snapshot_metadata")
    body = req.json_object()
    new = validate(body.get("metadata"), METADATA) if "metadata" in body else None
    if new is None:
        raise errors.BadRequest("Malformed request body: 'metadata' is required.")
    with db.write() as s:
        row = s.get(m.Snapshot, sn.id)
        row.metadata_ = dict(new) if replace else {**(row.metadata_ or {}), **new}
        return {"metadata": dict(row.metadata_)}


def snapshot_metadata_update(req: Req) -> dict[str, Any]:
    return _snapshot_set_metadata(req, replace=False)


def snapshot_metadata_replace(req: Req) -> dict[str, Any]:
    return _snapshot_set_metadata(req, replace=True)


def snapshot_metadata_key_show(req: Req) -> dict[str, Any]:
    meta = _snapshot(req, "volume:get_snapshot_metadata").metadata_ or {}
    if req.params["key"] not in meta:
        raise errors.NotFound(f"Metadata item was not found for key {req.params['key']}.")
    return {"meta": {req.params["key"]: meta[req.params["key"]]}}


def snapshot_metadata_key_put(req: Req) -> dict[str, Any]:
    sn = _snapshot(req, "volume:update_snapshot_metadata")
    body = req.json_object()
    item = validate(body.get("meta"), METADATA) if "meta" in body else None
    if not item or list(item) != [req.params["key"]]:
        raise errors.BadRequest("Request body and URI mismatch.")
    with db.write() as s:
        row = s.get(m.Snapshot, sn.id)
        row.metadata_ = {**(row.metadata_ or {}), **item}
    return {"meta": item}


def snapshot_metadata_key_delete(req: Req) -> Reply:
    sn = _snapshot(req, "volume:delete_snapshot_metadata")
    with db.write() as s:
        row = s.get(m.Snapshot, sn.id)
        meta = dict(row.metadata_ or {})
        if req.params["key"] not in meta:
            raise errors.NotFound(f"Metadata item was not found for key {req.params['key']}.")
        meta.pop(req.params["key"])
        row.metadata_ = meta
    return Reply(200)


# ------------------------------------------------------------------ attachments (3.27+)
ATT_CREATE = {"type": "object", "properties": {"attachment": {"type": "object", "properties": {
    "volume_uuid": {"type": "string"}, "instance_uuid": {"type": ["string", "null"]},
    "connector": {"type": ["object", "null"]}, "mode": {"type": "string", "enum": ["rw", "ro"]}},
    "required": ["volume_uuid"], "additionalProperties": False}}, "required": ["attachment"],
    "additionalProperties": False}


def attachment_create(req: Req) -> dict[str, Any]:
    body = validate(req.json(), ATT_CREATE)["attachment"]
    with db.read() as s:
        v = service.get_volume(s, req.ctx, body["volume_uuid"])
    req.ctx.can("volume:attachment_create", target(req, v.project_id))
    mode = body.get("mode", "rw")
    if "mode" in body and not req.ctx.microversion.matches("3.54"):
        raise errors.BadRequest("Attachment mode needs microversion 3.54 or later.")
    a = service.create_attachment(req.ctx, v.id, body.get("instance_uuid"), body.get("connector"), mode)
    return {"attachment": views.attachment(a)}


def _attachment(req: Req, rule: str) -> m.Attachment:
    with db.read() as s:
        a = s.get(m.Attachment, req.params["attachment_id"])
        if a is None or (not admin(req) and a.project_id != req.ctx.project_id):
            raise verr.AttachmentNotFound(attachment_id=req.params["attachment_id"])
    req.ctx.can(rule, target(req, a.project_id))
    return a


def attachment_show(req: Req) -> dict[str, Any]:
    return {"attachment": views.attachment(_attachment(req, "volume:attachment_get"))}


def _attachments(req: Req, detail: bool) -> dict[str, Any]:
    req.ctx.can("volume:attachment_get_all", target(req))
    limit, marker, sort = page(req, ["created_at", "id"])
    filters = {}
    if req.query.get("volume_id"):
        filters["volume_id"] = req.query["volume_id"]
    if req.query.get("instance_id"):
        filters["instance_uuid"] = req.query["instance_id"]
    rows = service.list_rows(req.ctx, m.Attachment, filters, sort, limit, marker, flag(req, "all_tenants"),
                             verr.AttachmentNotFound(attachment_id=marker))
    return {"attachments": [views.attachment(a, detail) for a in rows]}


def attachments_index(req: Req) -> dict[str, Any]:
    return _attachments(req, False)


def attachments_detail(req: Req) -> dict[str, Any]:
    return _attachments(req, True)


def attachment_update(req: Req) -> dict[str, Any]:
    body = validate(req.json(), {"type": "object", "properties": {"attachment": {"type": "object",
        "properties": {"connector": {"type": "object"}}, "required": ["connector"]}},
        "required": ["attachment"]})["attachment"]
    a = _attachment(req, "volume:attachment_update")
    a = service.update_attachment(req.ctx, a.id, body["connector"])
    return {"attachment": views.attachment(a)}


def attachment_action(req: Req) -> None:
    body = req.json_object()
    if "os-complete" not in body:
        raise errors.BadRequest(f"There is no such action: {', '.join(body)}")
    a = _attachment(req, "volume:attachment_complete")
    service.complete_attachment(req.ctx, a.id)
    return None


def attachment_delete(req: Req) -> dict[str, Any]:
    a = _attachment(req, "volume:attachment_delete")
    service.delete_attachment(req.ctx, a.id)
    return {"attachments": []}


# ------------------------------------------------------------------ backups
BACKUP_CREATE = {"type": "object", "properties": {"backup": {"type": "object", "properties": {
    "volume_id": {"type": "string"}, "container": {"type": ["string", "null"], "maxLength": 255},
    "name": NAME, "description": NAME, "incremental": {"type": ["boolean", "string", "null"]},
    "force": {"type": ["boolean", "string", "null"]}, "snapshot_id": {"type": ["string", "null"]},
    "metadata": METADATA_OR_NULL, "availability_zone": {"type": ["string", "null"]}},
    "required": ["volume_id"], "additionalProperties": False}}, "required": ["backup"],
    "additionalProperties": False}


def _backup_view(req: Req, b: m.Backup) -> dict[str, Any]:
    with db.read() as s:
        dependents = s.scalar(select(m.Backup.id).where(m.Backup.parent_id == b.id).limit(1)) is not None
    return views.backup(req, b, dependents, admin(req))


def backup_create(req: Req) -> Reply:
    body = validate(req.json(), BACKUP_CREATE)["backup"]
    with db.read() as s:
        v = service.get_volume(s, req.ctx, body["volume_id"])
    req.ctx.can("backup:create", target(req, v.project_id))
    for key in ("incremental", "force"):
        if key in body and body[key] is not None:
            body[key] = parse_bool(body[key], key)
    b = service.create_backup(req.ctx, body)
    return Reply(202, {"backup": {"id": b.id, "links": views.links(req, "backups", b.id), "name": b.name}})


def _backups(req: Req, detail: bool) -> dict[str, Any]:
    req.ctx.can("backup:get_all", target(req))
    limit, marker, sort = page(req, ["created_at", "id", "name", "size", "status"])
    filters = {k: req.query[k] for k in ("status", "volume_id", "name") if req.query.get(k)}
    rows = service.list_rows(req.ctx, m.Backup, filters, sort, limit, marker, flag(req, "all_tenants"),
                             verr.BackupNotFound(backup_id=marker))
    items = [_backup_view(req, b) if detail else {"id": b.id, "name": b.name,
                                                   "links": views.links(req, "backups", b.id)} for b in rows]
    out: dict[str, Any] = {"backups": items}
    out.update(links(req, "backups", rows, limit))
    return out


def backups_index(req: Req) -> dict[str, Any]:
    return _backups(req, False)


def backups_detail(req: Req) -> dict[str, Any]:
    return _backups(req, True)


def _backup(req: Req, rule: str) -> m.Backup:
    return load(req, service.get_backup, "backup_id", rule)


def backup_show(req: Req) -> dict[str, Any]:
    return {"backup": _backup_view(req, _backup(req, "backup:get"))}


def backup_delete(req: Req) -> Reply:
    b = _backup(req, "backup:delete")
    service.delete_backup(req.ctx, b.id, force=flag(req, "force"))
    return Reply(202)


def backup_restore(req: Req) -> Reply:
    b = _backup(req, "backup:restore")
    body = req.json_object()
    arg = validate(body.get("restore") or {}, {"type": "object", "properties": {
        "volume_id": {"type": ["string", "null"]}, "name": NAME}, "additionalProperties": False})
    b, v = service.restore_backup(req.ctx, b.id, arg.get("volume_id"), arg.get("name"))
    return Reply(202, {"restore": {"backup_id": b.id, "volume_id": v.id, "volume_name": v.name}})


def backup_update(req: Req) -> dict[str, Any]:
    if not req.ctx.microversion.matches("3.9"):
        raise errors.MethodNotAllowed()
    body = validate(req.json(), {"type": "object", "properties": {"backup": {"type": "object", "properties": {
        "name": NAME, "description": NAME, "metadata": METADATA}, "additionalProperties": False}},
        "required": ["backup"], "additionalProperties": False})["backup"]
    if "metadata" in body and not req.ctx.microversion.matches("3.43"):
        raise errors.BadRequest("Backup metadata needs microversion 3.43 or later.")
    b = _backup(req, "backup:update")
    with db.write() as s:
        row = s.get(m.Backup, b.id)
        for key in ("name", "description"):
            if key in body:
                setattr(row, key, body[key])
        if "metadata" in body:
            row.metadata_ = dict(body["metadata"])
    return {"backup": {"id": row.id, "name": row.name, "links": views.links(req, "backups", row.id)}}


def backup_action(req: Req) -> Reply:
    body = req.json_object()
    b = _backup(req, "backup:get")
    if "os-reset_status" in body:
        req.ctx.can("volume_extension:backup_admin_actions:reset_status", target(req, b.project_id))
        arg = validate(body["os-reset_status"], {"type": "object", "properties": {"status": {
            "type": "string", "enum": ["available", "error"]}}, "required": ["status"]})
        with db.write() as s:
            s.get(m.Backup, b.id).status = arg["status"]
        return Reply(202)
    if "os-force_delete" in body:
        req.ctx.can("volume_extension:backup_admin_actions:force_delete", target(req, b.project_id))
        service.delete_backup(req.ctx, b.id, force=True)
        return Reply(202)
    raise errors.BadRequest(f"There is no such action: {', '.join(body)}")


def backup_export(req: Req) -> dict[str, Any]:
    b = _backup(req, "backup:backup-export")
    name, url = service.export_backup(req.ctx, b.id)
    return {"backup-record": {"backup_service": name, "backup_url": url}}


def backup_import(req: Req) -> Reply:
    req.ctx.can("backup:backup-import", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"backup-record": {"type": "object", "properties": {
        "backup_service": {"type": "string", "minLength": 1, "maxLength": 255},
        "backup_url": {"type": "string", "minLength": 1}}, "required": ["backup_service", "backup_url"],
        "additionalProperties": False}}, "required": ["backup-record"], "additionalProperties": False})
    rec = body["backup-record"]
    b = service.import_backup(req.ctx, rec["backup_service"], rec["backup_url"])
    return Reply(201, {"backup": {"id": b.id, "links": views.links(req, "backups", b.id), "name": b.name}})


# ------------------------------------------------------------------ transfers
def transfer_create(req: Req) -> Reply:
    body = validate(req.json(), {"type": "object", "properties": {"transfer": {"type": "object",
        "properties": {"volume_id": {"type": "string"}, "name": NAME,
                       "no_snapshots": {"type": ["boolean", "string"]}},
        "required": ["volume_id"], "additionalProperties": False}}, "required": ["transfer"]})["transfer"]
    with db.read() as s:
        v = service.get_volume(s, req.ctx, body["volume_id"])
    req.ctx.can("volume:create_transfer", target(req, v.project_id))
    t, key = service.create_transfer(req.ctx, v.id, body.get("name"),
                                     parse_bool(body.get("no_snapshots", False), "no_snapshots"))
    return Reply(202, {"transfer": views.transfer(req, t, key)})


def transfers_index(req: Req, detail: bool = False) -> dict[str, Any]:
    req.ctx.can("volume:get_all_transfers", target(req))
    with db.read() as s:
        stmt = select(m.Transfer)
        if not (admin(req) and flag(req, "all_tenants")):
            stmt = stmt.where(m.Transfer.project_id == req.ctx.project_id)
        rows = s.scalars(stmt.order_by(m.Transfer.created_at)).all()
    return {"transfers": [views.transfer(req, t, detail=detail) for t in rows]}


def transfers_detail(req: Req) -> dict[str, Any]:
    return transfers_index(req, detail=True)


def transfer_show(req: Req) -> dict[str, Any]:
    with db.read() as s:
        t = service.get_transfer(s, req.ctx, req.params["transfer_id"])
    req.ctx.can("volume:get_transfer", target(req, t.project_id))
    return {"transfer": views.transfer(req, t)}


def transfer_delete(req: Req) -> Reply:
    with db.read() as s:
        t = service.get_transfer(s, req.ctx, req.params["transfer_id"])
    req.ctx.can("volume:delete_transfer", target(req, t.project_id))
    service.delete_transfer(req.ctx, t.id)
    return Reply(202)


def transfer_accept(req: Req) -> Reply:
    req.ctx.can("volume:accept_transfer", target(req))
    body = req.json_object()
    arg = body.get("accept")
    if not isinstance(arg, dict) or not isinstance(arg.get("auth_key"), str):
        raise errors.BadRequest("Missing required element 'accept' with an 'auth_key' in request body.")
    t = service.accept_transfer(req.ctx, req.params["transfer_id"], arg["auth_key"])
    return Reply(202, {"transfer": {"id": t.id, "name": t.name, "volume_id": t.volume_id,
                                    "links": views.links(req, "os-volume-transfer", t.id)}})


# ------------------------------------------------------------------ quotas and limits
def _quota_target(req: Req) -> str:
    pid = req.params["target_project"]
    from onestack.identity import interface as identity
    if identity.get_project(pid) is None:
        raise errors.NotFound(f"Project {pid} could not be found.")
    return pid


def quotas_show(req: Req) -> dict[str, Any]:
    pid = req.params["target_project"]
    req.ctx.can("volume_extension:quotas:show", target(req, pid))
    with db.read() as s:
        limits = service.quotas(s, pid)
        if flag(req, "usage"):
            used = service.usage(s, pid)
            body = {k: {"limit": val, "in_use": used.get(k, 0), "reserved": 0, "allocated": 0}
                    for k, val in limits.items()}
        else:
            body = dict(limits)
    return {"quota_set": {"id": pid, **body}}


def quotas_defaults(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:quotas:show_defaults", target(req))
    with db.read() as s:
        limits = service.quotas(s, "__defaults__")
    return {"quota_set": {"id": req.params["target_project"], **limits}}


def quotas_update(req: Req) -> dict[str, Any]:
    pid = _quota_target(req)
    req.ctx.can("volume_extension:quotas:update", target(req, pid))
    body = req.json_object("quota_set")
    values = {}
    for key, val in body.items():
        if key == "id":
            continue
        values[key] = as_int(val, key, minimum=-1)
    service.set_quotas(pid, values)
    with db.read() as s:
        return {"quota_set": service.quotas(s, pid)}


def quotas_delete(req: Req) -> Reply:
    pid = _quota_target(req)
    req.ctx.can("volume_extension:quotas:delete", target(req, pid))
    service.reset_quotas(pid)
    return Reply(200)


def limits(req: Req) -> dict[str, Any]:
    req.ctx.can("limits_extension:used_limits", target(req))
    pid = req.query.get("project_id") if admin(req) and req.query.get("project_id") else req.ctx.project_id
    with db.read() as s:
        q = service.quotas(s, pid)
        u = service.usage(s, pid)
    return {"limits": {"rate": [], "absolute": {
        "maxTotalVolumes": q["volumes"], "maxTotalSnapshots": q["snapshots"],
        "maxTotalVolumeGigabytes": q["gigabytes"], "maxTotalBackups": q["backups"],
        "maxTotalBackupGigabytes": q["backup_gigabytes"], "totalVolumesUsed": u["volumes"],
        "totalSnapshotsUsed": u["snapshots"], "totalGigabytesUsed": u["gigabytes"],
        "totalBackupsUsed": u["backups"], "totalBackupGigabytesUsed": u["backup_gigabytes"]}}}


# ------------------------------------------------------------------ zones, services, pools
def availability_zones(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:availability_zone_list", target(req))
    return {"availabilityZoneInfo": [{"zoneName": service.conf().availability_zone,
                                      "zoneState": {"available": bool(drivers.all_backends())}}]}


def pools(req: Req) -> dict[str, Any]:
    req.ctx.can("scheduler_extension:scheduler_stats:get_pools", target(req))
    out = []
    with db.read() as s:
        for name, drv in sorted(drivers.all_backends().items()):
            total, free = drv.capacity()
            allocated = sum(s.scalars(select(m.Volume.size).where(m.Volume.backend == name)))
            item: dict[str, Any] = {"name": f"{HOST}@{name}#{name}"}
            if flag(req, "detail"):
                item["capabilities"] = {
                    "volume_backend_name": name, "vendor_name": "Open Source", "driver_version": "1.0",
                    "storage_protocol": "file", "total_capacity_gb": round(total, 2),
                    "free_capacity_gb": round(free, 2), "allocated_capacity_gb": allocated,
                    "provisioned_capacity_gb": allocated, "thin_provisioning_support": drv.thin,
                    "thick_provisioning_support": not drv.thin,
                    "max_over_subscription_ratio": service.conf().max_over_subscription_ratio,
                    "reserved_percentage": 0, "multiattach": True, "pool_name": name,
                    "timestamp": views.ts(service.now())}
            out.append(item)
    return {"pools": out}


def backends_capabilities(req: Req) -> dict[str, Any]:
    req.ctx.can("scheduler_extension:scheduler_stats:get_pools", target(req))
    name = req.params["host"].split("@")[-1].split("#")[0]
    if name not in drivers.all_backends():
        raise errors.NotFound(f"Host {req.params['host']} could not be found.")
    return {"namespace": f"OS::Storage::Capabilities::{req.params['host']}", "vendor_name": "Open Source",
            "volume_backend_name": name, "pool_name": name, "driver_version": "1.0",
            "storage_protocol": "file", "display_name": None, "description": None, "visibility": None,
            "replication_targets": [], "properties": {}}




# ------------------------------------------------------------------ quota classes, extensions
def quota_class_show(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:quota_classes", target(req))
    with db.read() as s:
        return {"quota_class_set": {"id": req.params["class_name"],
                                    **service.quotas(s, service.class_key(req.params["class_name"]))}}


def quota_class_update(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:quota_classes:update", target(req))
    body = req.json_object("quota_class_set")
    values = {k: as_int(v, k, minimum=-1) for k, v in body.items() if k != "id"}
    key = service.class_key(req.params["class_name"])
    service.set_quotas(key, values)
    with db.read() as s:
        return {"quota_class_set": service.quotas(s, key)}


# Only what is built: each alias names an API this service answers.
EXTENSIONS = [
    ("AvailabilityZones", "os-availability-zone"), ("Backups", "backups"),
    ("VolumeTypeAccess", "os-volume-type-access"), ("Quotas", "os-quota-sets"),
    ("QuotaClasses", "os-quota-class-sets"), ("SchedulerStats", "scheduler-stats"),
    ("Services", "os-services"), ("Hosts", "os-hosts"), ("VolumeTransfer", "os-volume-transfer"),
    ("VolumeActions", "os-volume-actions"), ("VolumeAdminActions", "os-admin-actions"),
    ("VolumeTenantAttribute", "os-vol-tenant-attr"), ("VolumeHostAttribute", "os-vol-host-attr"),
    ("VolumeMigStatusAttribute", "os-vol-mig-status-attr"), ("VolumeImageMetadata", "os-vol-image-meta"),
    ("ExtendedSnapshotAttributes", "os-extended-snapshot-attributes"), ("Types_extra_specs", "os-types-extra-specs"),
    ("Types_manage", "os-types-manage"), ("SnapshotActions", "os-snapshot-actions"),
    ("UsedLimits", "os-used-limits"), ("Qos_specs_manage", "qos-specs"),
    ("VolumeTypeEncryption", "encryption"), ("Capabilities", "capabilities"),
    ("BackupProjectAttribute", "os-backup-project-attr"),
]


def extensions(req: Req) -> dict[str, Any]:
    return {"extensions": [{"alias": alias, "name": name, "description": f"{name} support.",
                            "links": [], "updated": "2024-09-01T00:00:00+00:00"}
                           for name, alias in EXTENSIONS]}
