"""Group types (+ specs), groups and group snapshots."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api import pagination
from onestack.api.routing import Reply, Req
from onestack.api.schema import validate
from onestack.volume import errors as verr
from onestack.volume import groups, service, views
from onestack.volume import models as m
from onestack.volume.api.common import admin, flag, load, need, page, parse_bool, target
from onestack.volume.api.volumes import NAME

SPECS = {"type": "object", "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
         "additionalProperties": False}


# ------------------------------------------------------------------ group types (3.11)
def _group_type_body(req: Req, required: list[str]) -> dict[str, Any]:
    return validate(req.json(), {"type": "object", "properties": {"group_type": {"type": "object", "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255}, "description": NAME,
        "is_public": {"type": ["boolean", "string"]}, "group_specs": SPECS},
        "required": required, "additionalProperties": False}}, "required": ["group_type"],
        "additionalProperties": False})["group_type"]


def group_types_index(req: Req) -> dict[str, Any]:
    need(req, "3.11")
    req.ctx.can("group:group_types:get_all", target(req))
    raw = req.query.get("is_public")
    is_public = None if raw is None or raw.lower() == "none" else parse_bool(raw, "is_public")
    rows = groups.list_group_types(req.ctx, is_public)
    for key, direction in reversed(pagination.parse_sort(req, ["name", "id", "created_at", "is_public",
                                                               "description"], [("name", "asc")])):
        rows.sort(key=lambda t: (getattr(t, key) is None, getattr(t, key)), reverse=direction == "desc")
    return {"group_types": [views.group_type(t, admin(req)) for t in rows]}


def group_type_show(req: Req) -> dict[str, Any]:
    need(req, "3.11")
    req.ctx.can("group:group_types:get", target(req))
    with db.read() as s:
        t = groups.get_group_type(s, req.ctx, req.params["group_type_id"])
    return {"group_type": views.group_type(t, admin(req))}


def group_type_create(req: Req) -> Reply:
    need(req, "3.11")
    req.ctx.can("group:group_types:create", target(req))
    body = _group_type_body(req, ["name"])
    name = body["name"].strip()
    if not name:
        raise errors.BadRequest("Group type name can not be empty.")
    t = groups.create_group_type(name, body.get("description"),
                                 parse_bool(body.get("is_public", True), "is_public"),
                                 body.get("group_specs") or {})
    return Reply(202, {"group_type": views.group_type(t, True)})


def group_type_update(req: Req) -> dict[str, Any]:
    need(req, "3.11")
    req.ctx.can("group:group_types:update", target(req))
    body = _group_type_body(req, [])
    body.pop("group_specs", None)
    if not body:
        raise errors.BadRequest("Specify group type name, description or a combination thereof.")
    if "is_public" in body:
        body["is_public"] = parse_bool(body["is_public"], "is_public")
    t = groups.update_group_type(req.ctx, req.params["group_type_id"], body)
    return {"group_type": views.group_type(t, True)}


def group_type_delete(req: Req) -> Reply:
    need(req, "3.11")
    req.ctx.can("group:group_types:delete", target(req))
    groups.delete_group_type(req.ctx, req.params["group_type_id"])
    return Reply(202)


def group_specs_index(req: Req) -> dict[str, Any]:
    need(req, "3.11")
    req.ctx.can("group:group_types_specs:get_all", target(req))
    with db.read() as s:
        t = groups.get_group_type(s, req.ctx, req.params["group_type_id"])
    return {"group_specs": dict(t.group_specs or {})}


def group_specs_create(req: Req) -> Reply:
    need(req, "3.11")
    req.ctx.can("group:group_types_specs:create", target(req))
    body = req.json_object()
    specs = validate(body.get("group_specs"), {**SPECS, "minProperties": 1})
    groups.set_group_specs(req.ctx, req.params["group_type_id"], specs)
    return Reply(202, {"group_specs": specs})


def group_spec_show(req: Req) -> dict[str, Any]:
    need(req, "3.11")
    req.ctx.can("group:group_types_specs:get", target(req))
    with db.read() as s:
        t = groups.get_group_type(s, req.ctx, req.params["group_type_id"])
    key = req.params["key"]
    if key not in (t.group_specs or {}):
        raise errors.NotFound(f"Group Type {t.id} has no specs with key {key}.")
    return {key: t.group_specs[key]}


def group_spec_update(req: Req) -> dict[str, Any]:
    need(req, "3.11")
    req.ctx.can("group:group_types_specs:update", target(req))
    body = validate(req.json(), SPECS)
    key = req.params["key"]
    if list(body) != [key]:
        raise errors.BadRequest("Request body and URI mismatch.")
    groups.set_group_specs(req.ctx, req.params["group_type_id"], body)
    return body


def group_spec_delete(req: Req) -> Reply:
    need(req, "3.11")
    req.ctx.can("group:group_types_specs:delete", target(req))
    groups.set_group_specs(req.ctx, req.params["group_type_id"], {}, remove=req.params["key"])
    return Reply(202)


# ------------------------------------------------------------------ groups (3.13)
def _volume_ids(value: Any, name: str) -> list[str]:
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}: a comma-separated string "
                                "of volume ids is expected.")
    return [x.strip() for x in value.split(",") if x.strip()]


def group_create(req: Req) -> Reply:
    need(req, "3.13")
    req.ctx.can("group:create", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"group": {"type": "object", "properties": {
        "name": NAME, "description": NAME, "group_type": {"type": "string", "minLength": 1, "maxLength": 255},
        "volume_types": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 255}},
        "availability_zone": NAME}, "required": ["group_type", "volume_types"],
        "additionalProperties": False}}, "required": ["group"], "additionalProperties": False})["group"]
    g = groups.create_group(req.ctx, body.get("name"), body.get("description"), body["group_type"],
                            body["volume_types"], body.get("availability_zone"))
    return Reply(202, {"group": {"id": g.id, "name": g.name}})


def _groups(req: Req, detail: bool) -> dict[str, Any]:
    need(req, "3.13")
    req.ctx.can("group:get_all", target(req))
    limit, marker, sort = page(req, ["created_at", "id", "name", "status"])
    rows = service.list_rows(req.ctx, m.Group, {}, sort, limit, marker, admin(req) and flag(req, "all_tenants"),
                             verr.GroupNotFound(group_id=marker))
    with db.read() as s:
        members = {g.id: groups.group_volume_ids(s, g.id) for g in rows} if detail else {}
    return {"groups": [views.group(req, g, members.get(g.id, []), flag(req, "list_volume")) if detail
                       else {"id": g.id, "name": g.name} for g in rows]}


def groups_index(req: Req) -> dict[str, Any]:
    return _groups(req, False)


def groups_detail(req: Req) -> dict[str, Any]:
    return _groups(req, True)


def _group(req: Req, rule: str) -> m.Group:
    return load(req, groups.get_group, "group_id", rule)


def group_show(req: Req) -> dict[str, Any]:
    need(req, "3.13")
    g = _group(req, "group:get")
    with db.read() as s:
        vols = groups.group_volume_ids(s, g.id)
    return {"group": views.group(req, g, vols, flag(req, "list_volume"))}


def group_update(req: Req) -> Reply:
    need(req, "3.13")
    body = validate(req.json(), {"type": "object", "properties": {"group": {"type": "object", "properties": {
        "name": NAME, "description": NAME, "add_volumes": {"type": ["string", "null"]},
        "remove_volumes": {"type": ["string", "null"]}}, "additionalProperties": False}},
        "required": ["group"], "additionalProperties": False})["group"]
    if not body:
        raise errors.BadRequest("Name, description, add_volumes, and remove_volumes can not be all "
                                "empty in the request body.")
    g = _group(req, "group:update")
    groups.update_group(req.ctx, g.id, body.get("name"), body.get("description"),
                        _volume_ids(body.get("add_volumes"), "add_volumes"),
                        _volume_ids(body.get("remove_volumes"), "remove_volumes"), set(body))
    return Reply(202)


def group_action(req: Req) -> Reply:
    need(req, "3.13")
    body = req.json_object()
    if len(body) != 1:
        raise errors.BadRequest("There is no such action (the body must name exactly one action).")
    name, arg = next(iter(body.items()))
    if not isinstance(arg, dict):
        raise errors.BadRequest(f"Invalid input for {name}: the action's value must be an object.")
    if name == "delete":
        g = _group(req, "group:delete")
        unknown = set(arg) - {"delete-volumes"}
        if unknown:
            raise errors.BadRequest(f"Invalid input for delete: unexpected {', '.join(sorted(unknown))}.")
        groups.delete_group(req.ctx, g.id, parse_bool(arg.get("delete-volumes", False), "delete-volumes"))
        return Reply(202)
    if name == "reset_status":
        need(req, "3.20")
        g = _group(req, "group:reset_status")
        arg = validate(arg, {"type": "object", "properties": {"status": {"type": "string", "enum": [
            "available", "error", "creating", "deleting", "updating", "in-use", "error_deleting"]}},
            "required": ["status"], "additionalProperties": False})
        groups.reset_group_status(req.ctx, g.id, arg["status"])
        return Reply(202)
    if name in ("enable_replication", "disable_replication", "failover_replication",
                "list_replication_targets"):
        need(req, "3.38")
        _group(req, "group:enable_replication")
        raise errors.BadRequest("Invalid group: replication is not supported by the backends of this "
                                "cloud.")
    raise errors.BadRequest(f"There is no such action: {name}")


def groups_create_from_src(req: Req) -> Reply:
    need(req, "3.14")
    req.ctx.can("group:create", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"create-from-src": {
        "type": "object", "properties": {"name": NAME, "description": NAME,
                                         "group_snapshot_id": {"type": ["string", "null"]},
                                         "source_group_id": {"type": ["string", "null"]}},
        "additionalProperties": False}}, "required": ["create-from-src"],
        "additionalProperties": False})["create-from-src"]
    g = groups.create_group_from_source(req.ctx, body.get("name"), body.get("description"),
                                        body.get("source_group_id"), body.get("group_snapshot_id"))
    return Reply(202, {"group": {"id": g.id, "name": g.name}})


# ------------------------------------------------------------------ group snapshots (3.14)
def group_snapshot_create(req: Req) -> Reply:
    need(req, "3.14")
    body = validate(req.json(), {"type": "object", "properties": {"group_snapshot": {"type": "object",
        "properties": {"group_id": {"type": "string", "minLength": 1}, "name": NAME, "description": NAME},
        "required": ["group_id"], "additionalProperties": False}}, "required": ["group_snapshot"],
        "additionalProperties": False})["group_snapshot"]
    with db.read() as s:
        g = groups.get_group(s, req.ctx, body["group_id"])
    req.ctx.can("group:create_group_snapshot", target(req, g.project_id))
    gs = groups.create_group_snapshot(req.ctx, g.id, body.get("name"), body.get("description"))
    return Reply(202, {"group_snapshot": {"id": gs.id, "name": gs.name, "group_type_id": gs.group_type_id}})


def _group_snapshots(req: Req, detail: bool) -> dict[str, Any]:
    need(req, "3.14")
    req.ctx.can("group:get_all_group_snapshots", target(req))
    limit, marker, sort = page(req, ["created_at", "id", "name", "status", "group_id"])
    filters = {"group_id": req.query["group_id"]} if req.query.get("group_id") else {}
    rows = service.list_rows(req.ctx, m.GroupSnapshot, filters, sort, limit, marker,
                             admin(req) and flag(req, "all_tenants"),
                             verr.GroupSnapshotNotFound(group_snapshot_id=marker))
    return {"group_snapshots": [views.group_snapshot(req, gs) if detail else {"id": gs.id, "name": gs.name}
                                for gs in rows]}


def group_snapshots_index(req: Req) -> dict[str, Any]:
    return _group_snapshots(req, False)


def group_snapshots_detail(req: Req) -> dict[str, Any]:
    return _group_snapshots(req, True)


def _group_snapshot(req: Req, rule: str) -> m.GroupSnapshot:
    return load(req, groups.get_group_snapshot, "group_snapshot_id", rule)


def group_snapshot_show(req: Req) -> dict[str, Any]:
    need(req, "3.14")
    return {"group_snapshot": views.group_snapshot(req, _group_snapshot(req, "group:get_group_snapshot"))}


def group_snapshot_delete(req: Req) -> Reply:
    need(req, "3.14")
    gs = _group_snapshot(req, "group:delete_group_snapshot")
    groups.delete_group_snapshot(req.ctx, gs.id)
    return Reply(202)


def group_snapshot_action(req: Req) -> Reply:
    need(req, "3.19")
    body = req.json_object()
    if list(body) != ["reset_status"]:
        raise errors.BadRequest(f"There is no such action: {', '.join(body) or '(none)'}")
    gs = _group_snapshot(req, "group:reset_group_snapshot_status")
    arg = validate(body["reset_status"], {"type": "object", "properties": {"status": {"type": "string", "enum": [
        "available", "error", "creating", "deleting", "error_deleting"]}}, "required": ["status"],
        "additionalProperties": False})
    groups.reset_group_snapshot_status(req.ctx, gs.id, arg["status"])
    return Reply(202)
