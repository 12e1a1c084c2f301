"""Volumes, their metadata and their actions."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.routing import Reply, Req
from onestack.api.schema import validate
from onestack.volume import errors as verr
from onestack.volume import models as m
from onestack.volume import service, views
from onestack.volume.api.common import admin, as_int, flag, links, load, page, parse_bool, target

NAME = {"type": ["string", "null"], "maxLength": 255}
METADATA = {"type": "object", "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
            "additionalProperties": False}
METADATA_OR_NULL = {**METADATA, "type": ["object", "null"]}
CREATE = {"type": "object", "properties": {"volume": {"type": "object", "properties": {
    "name": NAME, "display_name": NAME, "description": NAME, "display_description": NAME,
    "size": {"type": ["integer", "string", "null"], "pattern": "^[0-9]+$"},
    "volume_type": {"type": ["string", "null"], "maxLength": 255},
    "availability_zone": {"type": ["string", "null"], "maxLength": 255},
    "snapshot_id": {"type": ["string", "null"]}, "source_volid": {"type": ["string", "null"]},
    "imageRef": {"type": ["string", "null"]}, "image_id": {"type": ["string", "null"]},
    "backup_id": {"type": ["string", "null"]}, "metadata": METADATA_OR_NULL,
    "multiattach": {"type": ["boolean", "null"]}, "consistencygroup_id": {"type": ["string", "null"]},
    "group_id": {"type": ["string", "null"]}, "source_replica": {"type": ["string", "null"]},
    "scheduler_hints": {"type": ["object", "null"]}},
    "additionalProperties": False}, "OS-SCH-HNT:scheduler_hints": {"type": ["object", "null"]}},
    "required": ["volume"], "additionalProperties": False}
UPDATE = {"type": "object", "properties": {"volume": {"type": "object", "properties": {
    "name": NAME, "display_name": NAME, "description": NAME, "display_description": NAME,
    "metadata": METADATA_OR_NULL}, "additionalProperties": False}}, "required": ["volume"],
    "additionalProperties": False}
SORT_KEYS = ["created_at", "updated_at", "id", "name", "size", "status", "availability_zone",
             "bootable", "project_id"]


def _render(req: Req, rows: list[m.Volume], extended: bool = True) -> list[dict[str, Any]]:
    atts = service.attachments_of([v.id for v in rows])
    names = service.type_names()
    is_admin = admin(req)
    return [views.volume(req, v, names.get(v.volume_type_id), atts.get(v.id, []), is_admin, extended)
            for v in rows]


def _show(req: Req, volume_id: str, extended: bool = True) -> dict[str, Any]:
    with db.read() as s:
        v = service.get_volume(s, req.ctx, volume_id)
    return _render(req, [v], extended)[0]


def create(req: Req) -> Reply:
    body = validate(req.json(), CREATE)["volume"]
    req.ctx.can("volume:create", target(req))
    vals = {"name": body.get("name", body.get("display_name")),
            "description": body.get("description", body.get("display_description")),
            "volume_type": body.get("volume_type"), "availability_zone": body.get("availability_zone"),
            "snapshot_id": body.get("snapshot_id"), "source_volid": body.get("source_volid"),
            "imageRef": body.get("imageRef") or body.get("image_id"), "backup_id": body.get("backup_id"),
            "metadata": body.get("metadata") or {}, "multiattach": body.get("multiattach"),
            "group_id": body.get("group_id")}
    if body.get("size") is not None:
        vals["size"] = as_int(body["size"], "size")
    if vals["backup_id"] and not (req.ctx.microversion and req.ctx.microversion.matches("3.47")):
        raise errors.BadRequest("Creating a volume from a backup needs microversion 3.47 or later.")
    if vals["group_id"] and not req.ctx.microversion.matches("3.13"):
        raise errors.BadRequest("Creating a volume in a group needs microversion 3.13 or later.")
    if vals["imageRef"]:
        req.ctx.can("volume:create_from_image", target(req))
    if vals["multiattach"]:
        req.ctx.can("volume:multiattach", target(req))
    v = service.create_volume(req.ctx, vals)
    return Reply(202, {"volume": _render(req, [v], extended=False)[0]})


def _filters(req: Req) -> dict[str, Any]:
    f: dict[str, Any] = {}
    q = req.query
    for key in ("status", "availability_zone", "project_id"):
        if q.get(key):
            f[key] = q[key]
    if q.get("name"):
        f["name"] = q["name"]
    if q.get("name~"):
        f.setdefault("_like", {})["name"] = q["name~"]
    if q.get("bootable"):
        f["bootable"] = parse_bool(q["bootable"], "bootable")
    if q.get("metadata"):
        import ast
        try:
            meta = ast.literal_eval(q["metadata"])
        except (ValueError, SyntaxError):
            raise errors.BadRequest("Invalid filter: metadata must be a dict literal.") from None
        if not isinstance(meta, dict):
            raise errors.BadRequest("Invalid filter: metadata must be a dict literal.")
        f["metadata"] = {str(k): str(v) for k, v in meta.items()}
    return f


def _list(req: Req, detail: bool) -> dict[str, Any]:
    req.ctx.can("volume:get_all", target(req))
    limit, marker, sort = page(req, SORT_KEYS)
    # As upstream: all_tenants is honoured for those allowed, silently ignored for others.
    all_tenants = flag(req, "all_tenants") and req.ctx.can("volume:get_all_tenants", target(req),
                                                           fatal=False)
    rows = service.list_rows(req.ctx, m.Volume, _filters(req), sort, limit, marker, all_tenants,
                             verr.VolumeNotFound(volume_id=marker))
    out: dict[str, Any] = {"volumes": _render(req, rows) if detail else
                           [views.volume_summary(req, v) for v in rows]}
    out.update(links(req, "volumes/detail" if detail else "volumes", rows, limit))
    if "volumes/detail_links" in out:
        out["volumes_links"] = out.pop("volumes/detail_links")
    if flag(req, "with_count") and req.ctx.microversion.matches("3.45"):
        out["count"] = len(service.list_rows(req.ctx, m.Volume, _filters(req), sort, None, None,
                                             all_tenants, verr.VolumeNotFound(volume_id=marker)))
    return out


def index(req: Req) -> dict[str, Any]:
    return _list(req, detail=False)


def detail(req: Req) -> dict[str, Any]:
    return _list(req, detail=True)


def show(req: Req) -> dict[str, Any]:
    out = _show(req, req.params["volume_id"])
    req.ctx.can("volume:get", target(req, out["os-vol-tenant-attr:tenant_id"]))
    return {"volume": out}


def update(req: Req) -> dict[str, Any]:
    body = validate(req.json(), UPDATE)["volume"]
    with db.read() as s:
        v = service.get_volume(s, req.ctx, req.params["volume_id"])
    req.ctx.can("volume:update", target(req, v.project_id))
    vals = {}
    if "name" in body or "display_name" in body:
        vals["name"] = body.get("name", body.get("display_name"))
    if "description" in body or "display_description" in body:
        vals["description"] = body.get("description", body.get("display_description"))
    if "metadata" in body:
        vals["metadata"] = body["metadata"]
    service.update_volume(req.ctx, v.id, vals)
    return {"volume": _show(req, v.id, extended=False)}


def delete(req: Req) -> Reply:
    with db.read() as s:
        v = service.get_volume(s, req.ctx, req.params["volume_id"])
    req.ctx.can("volume:delete", target(req, v.project_id))
    force = flag(req, "force")
    if force:
        req.ctx.can("volume_extension:volume_admin_actions:force_delete", target(req, v.project_id))
    service.delete_volume(req.ctx, v.id, cascade=flag(req, "cascade"), force=force)
    return Reply(202)


# ------------------------------------------------------------------ metadata
def _volume_for(req: Req, rule: str) -> m.Volume:
    return load(req, service.get_volume, "volume_id", rule)


def metadata_show(req: Req) -> dict[str, Any]:
    return {"metadata": dict(_volume_for(req, "volume:get_volume_metadata").metadata_ or {})}


def _meta_body(req: Req, key: str = "metadata") -> dict[str, str]:
    body = req.json_object()
    if key not in body:
        raise errors.BadRequest(f"Malformed request body: '{key}' is required.")
    return validate(body[key], METADATA)


def metadata_update(req: Req) -> dict[str, Any]:
    v = _volume_for(req, "volume:update_volume_metadata")
    new = {**(v.metadata_ or {}), **_meta_body(req)}
    service.update_volume(req.ctx, v.id, {"metadata": new})
    return {"metadata": new}


def metadata_replace(req: Req) -> dict[str, Any]:
    v = _volume_for(req, "volume:update_volume_metadata")
    new = _meta_body(req)
    service.update_volume(req.ctx, v.id, {"metadata": new})
    return {"metadata": new}


def metadata_key_show(req: Req) -> dict[str, Any]:
    meta = _volume_for(req, "volume:get_volume_metadata").metadata_ or {}
    key = req.params["key"]
    if key not in meta:
        raise errors.NotFound(f"Metadata item was not found for key {key}.")
    return {"meta": {key: meta[key]}}


def metadata_key_put(req: Req) -> dict[str, Any]:
    v = _volume_for(req, "volume:update_volume_metadata")
    item = _meta_body(req, "meta")
    key = req.params["key"]
    if list(item) != [key]:
        raise errors.BadRequest("Request body and URI mismatch.")
    service.update_volume(req.ctx, v.id, {"metadata": {**(v.metadata_ or {}), **item}})
    return {"meta": item}


def metadata_key_delete(req: Req) -> Reply:
    v = _volume_for(req, "volume:delete_volume_metadata")
    meta = dict(v.metadata_ or {})
    if req.params["key"] not in meta:
        raise errors.NotFound(f"Metadata item was not found for key {req.params['key']}.")
    meta.pop(req.params["key"])
    service.update_volume(req.ctx, v.id, {"metadata": meta})
    return Reply(200)


# ------------------------------------------------------------------ actions
def action(req: Req) -> Any:
    body = req.json_object()
    if len(body) != 1:
        raise errors.BadRequest("There is no such action (the body must name exactly one action).")
    name, arg = next(iter(body.items()))
    handler = ACTIONS.get(name)
    if handler is None:
        raise errors.BadRequest(f"There is no such action: {name}")
    with db.read() as s:
        v = service.get_volume(s, req.ctx, req.params["volume_id"])
    if arg is None:
        arg = {}
    if not isinstance(arg, dict):
        raise errors.BadRequest(f"Invalid input for {name}: the action's value must be an object.")
    return handler(req, v, arg)


def _extend(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    if "new_size" not in arg:
        raise errors.BadRequest("Invalid input for field/attribute os-extend: 'new_size' is required.")
    new_size = as_int(arg["new_size"], "new_size")
    attached_ok = req.ctx.microversion.matches("3.42")
    req.ctx.can("volume:extend_attached_volume" if v.status == "in-use" else "volume:extend",
                target(req, v.project_id))
    service.extend_volume(req.ctx, v.id, new_size, attached_ok)
    return Reply(202)


def _reset_status(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_admin_actions:reset_status", target(req, v.project_id))
    validate(arg, {"type": "object", "properties": {
        "status": {"type": "string", "enum": ["available", "error", "creating", "deleting", "in-use",
                                              "attaching", "detaching", "error_deleting", "maintenance",
                                              "reserved", "error_extending", "extending", "uploading",
                                              "backing-up", "restoring-backup", "error_restoring"]},
        "attach_status": {"type": "string", "enum": ["attached", "detached"]},
        "migration_status": {"type": "string", "enum": ["migrating", "error", "success", "completing",
                                                        "none", "starting"]}},
        "additionalProperties": False})
    if not arg:
        raise errors.BadRequest("Must specify 'status', 'attach_status' or 'migration_status' for update.")
    service.reset_status(req.ctx, v.id, arg.get("status"), arg.get("attach_status"),
                         arg.get("migration_status"))
    return Reply(202)


def _force_delete(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_admin_actions:force_delete", target(req, v.project_id))
    service.delete_volume(req.ctx, v.id, cascade=True, force=True)
    return Reply(202)


def _bool_arg(arg: dict[str, Any], key: str) -> bool:
    if key not in arg:
        raise errors.BadRequest(f"Must specify '{key}'.")
    return parse_bool(arg[key], key)


def _set_bootable(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume:update_bootable", target(req, v.project_id))
    service.set_flag(req.ctx, v.id, bootable=_bool_arg(arg, "bootable"))
    return Reply(200)


def _readonly(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume:update_readonly_flag", target(req, v.project_id))
    service.set_flag(req.ctx, v.id, readonly=_bool_arg(arg, "readonly"))
    return Reply(202)


def _retype(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume:retype", target(req, v.project_id))
    validate(arg, {"type": "object", "properties": {
        "new_type": {"type": "string", "minLength": 1, "maxLength": 255},
        "migration_policy": {"type": ["string", "null"], "enum": ["on-demand", "never", None]}},
        "required": ["new_type"], "additionalProperties": False})
    service.retype(req.ctx, v.id, arg["new_type"], arg.get("migration_policy") or "never")
    return Reply(202)


def _upload_image(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_actions:upload_image", target(req, v.project_id))
    validate(arg, {"type": "object", "properties": {
        "image_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "force": {"type": ["boolean", "string"]},
        "disk_format": {"type": "string", "enum": ["raw", "vmdk", "vdi", "qcow2", "vhd", "vhdx", "ploop"]},
        "container_format": {"type": "string", "enum": ["bare", "ovf"]},
        "visibility": {"type": "string", "enum": ["public", "private", "shared", "community"]},
        "protected": {"type": ["boolean", "string"]}}, "required": ["image_name"]})
    if "force" in arg:
        arg["force"] = parse_bool(arg["force"], "force")
    if "protected" in arg:
        arg["protected"] = parse_bool(arg["protected"], "protected")
    out = service.upload_to_image(req.ctx, v.id, arg)
    out["updated_at"] = views.ts(out["updated_at"])
    return Reply(202, {"os-volume_upload_image": out})


def _attach(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_actions:attach", target(req, v.project_id))
    validate(arg, {"type": "object", "properties": {
        "instance_uuid": {"type": "string"}, "host_name": {"type": "string"},
        "mountpoint": {"type": "string", "maxLength": 255}, "mode": {"type": "string", "enum": ["rw", "ro"]}},
        "required": ["mountpoint"]})
    if not arg.get("instance_uuid") and not arg.get("host_name"):
        raise errors.BadRequest("Invalid request to attach volume to an invalid target: give "
                                "instance_uuid or host_name.")
    service.legacy_attach(req.ctx, v.id, arg.get("instance_uuid"), arg["mountpoint"], arg.get("host_name"),
                          arg.get("mode", "rw"))
    return Reply(202)


def _detach(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_actions:detach", target(req, v.project_id))
    service.legacy_detach(req.ctx, v.id, arg.get("attachment_id"))
    return Reply(202)


def _simple(rule: str, fn: Any) -> Any:
    def handler(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
        req.ctx.can(rule, target(req, v.project_id))
        fn(req.ctx, v.id)
        return Reply(202)
    return handler


def _init_conn(req: Req, v: m.Volume, arg: dict[str, Any]) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_actions:initialize_connection", target(req, v.project_id))
    if not isinstance(arg.get("connector"), dict):
        raise errors.BadRequest("Must specify 'connector'.")
    return {"connection_info": service.initialize_connection(req.ctx, v.id, arg["connector"])}


def _term_conn(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_actions:terminate_connection", target(req, v.project_id))
    if not isinstance(arg.get("connector"), dict):
        raise errors.BadRequest("Must specify 'connector'.")
    return Reply(202)


def _force_detach(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_admin_actions:force_detach", target(req, v.project_id))
    service.legacy_detach(req.ctx, v.id, arg.get("attachment_id"))
    return Reply(202)


def _set_image_metadata(req: Req, v: m.Volume, arg: dict[str, Any]) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_image_metadata:set", target(req, v.project_id))
    meta = validate(arg.get("metadata"), METADATA)
    return {"metadata": service.update_image_metadata(req.ctx, v.id, set_keys=meta)}


def _unset_image_metadata(req: Req, v: m.Volume, arg: dict[str, Any]) -> Reply:
    req.ctx.can("volume_extension:volume_image_metadata:remove", target(req, v.project_id))
    key = arg.get("key")
    if not isinstance(key, str):
        raise errors.BadRequest("Must specify 'key'.")
    if key not in (v.image_metadata or {}):
        raise errors.NotFound(f"Glance metadata for volume {v.id} with key {key} not found.")
    service.update_image_metadata(req.ctx, v.id, remove_key=key)
    return Reply(200)


def _show_image_metadata(req: Req, v: m.Volume, arg: dict[str, Any]) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_image_metadata:show", target(req, v.project_id))
    return {"metadata": dict(v.image_metadata or {})}


def summary(req: Req) -> dict[str, Any]:
    if not req.ctx.microversion.matches("3.12"):
        raise errors.NotFound("The volume summary needs microversion 3.12 or later.")
    req.ctx.can("volume:get_all", target(req))
    all_tenants = flag(req, "all_tenants") and req.ctx.can("volume:get_all_tenants", target(req),
                                                           fatal=False)
    rows = service.list_rows(req.ctx, m.Volume, {}, [("created_at", "desc")], None, None, all_tenants,
                             verr.VolumeNotFound(volume_id=None))
    out: dict[str, Any] = {"total_size": sum(v.size for v in rows), "total_count": len(rows)}
    if req.ctx.microversion.matches("3.36"):
        meta: dict[str, list[str]] = {}
        for v in rows:
            for k, val in (v.metadata_ or {}).items():
                if val not in meta.setdefault(k, []):
                    meta[k].append(val)
        out["metadata"] = meta
    return {"volume-summary": out}


ACTIONS = {
    "os-extend": _extend, "os-reset_status": _reset_status, "os-force_delete": _force_delete,
    "os-set_bootable": _set_bootable, "os-update_readonly_flag": _readonly, "os-retype": _retype,
    "os-volume_upload_image": _upload_image, "os-attach": _attach, "os-detach": _detach,
    "os-reserve": _simple("volume_extension:volume_actions:reserve", service.reserve),
    "os-unreserve": _simple("volume_extension:volume_actions:unreserve", service.unreserve),
    "os-begin_detaching": _simple("volume_extension:volume_actions:begin_detaching",
                                  service.begin_detaching),
    "os-roll_detaching": _simple("volume_extension:volume_actions:roll_detaching",
                                 lambda ctx, vid: service.begin_detaching(ctx, vid, rollback=True)),
    "os-initialize_connection": _init_conn, "os-terminate_connection": _term_conn,
    "os-force_detach": _force_detach, "os-set_image_metadata": _set_image_metadata,
    "os-unset_image_metadata": _unset_image_metadata, "os-show_image_metadata": _show_image_metadata,
}
