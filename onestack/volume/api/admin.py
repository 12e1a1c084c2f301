"""QoS specs, encryption types, services and hosts, user messages."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.routing import Reply, Req
from onestack.api.schema import validate
from onestack.volume import admin as svc
from onestack.volume import models as m
from onestack.volume import service, views
from onestack.volume.api.common import admin, flag, need, page, parse_bool, target

CONSUMERS = ["front-end", "back-end", "both"]
SPEC_VALUE = {"type": "string", "maxLength": 255}


# ------------------------------------------------------------------ QoS specs
def _qos_reply(req: Req, q: m.QosSpecs) -> dict[str, Any]:
    return {"qos_specs": views.qos_specs(q), "links": views.links(req, "qos-specs", q.id)}


def qos_index(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:qos_specs_manage:get_all", target(req))
    limit, marker, sort = page(req, ["created_at", "id", "name", "consumer"])
    rows = service.list_rows(req.ctx, m.QosSpecs, {}, sort, limit, marker, True,
                             errors.NotFound(f"QoS Specs {marker} could not be found."))
    return {"qos_specs": [views.qos_specs(q) for q in rows]}


def qos_show(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:qos_specs_manage:get", target(req))
    with db.read() as s:
        return _qos_reply(req, svc.get_qos(s, req.params["qos_id"]))


def qos_create(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:qos_specs_manage:create", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"qos_specs": {"type": "object", "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "consumer": {"type": "string", "enum": CONSUMERS}},
        "patternProperties": {"^.{1,255}$": SPEC_VALUE}, "required": ["name"]}},
        "required": ["qos_specs"], "additionalProperties": False})["qos_specs"]
    name = body.pop("name").strip()
    if not name:
        raise errors.BadRequest("QoS Specs name can not be empty.")
    q = svc.create_qos(name, body.pop("consumer", "back-end"), body)
    return _qos_reply(req, q)


def qos_update(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:qos_specs_manage:update", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"qos_specs": {
        "type": "object", "minProperties": 1, "properties": {"consumer": {"type": "string", "enum": CONSUMERS}},
        "patternProperties": {"^.{1,255}$": SPEC_VALUE}}}, "required": ["qos_specs"],
        "additionalProperties": False})["qos_specs"]
    specs = dict(body)
    consumer = specs.pop("consumer", None)
    svc.set_qos_keys(req.params["qos_id"], specs, consumer)
    return {"qos_specs": body}


def qos_delete(req: Req) -> Reply:
    req.ctx.can("volume_extension:qos_specs_manage:delete", target(req))
    force = req.query.get("force")
    svc.delete_qos(req.params["qos_id"], parse_bool(force, "force") if force is not None else False)
    return Reply(202)


def qos_delete_keys(req: Req) -> Reply:
    req.ctx.can("volume_extension:qos_specs_manage:update", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"keys": {
        "type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1, "maxLength": 255}}},
        "required": ["keys"], "additionalProperties": False})
    svc.unset_qos_keys(req.params["qos_id"], body["keys"])
    return Reply(202)


def qos_associations(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:qos_specs_manage:get", target(req))
    with db.read() as s:
        types = svc.qos_types(s, svc.get_qos(s, req.params["qos_id"]).id)
        return {"qos_associations": [{"association_type": "volume_type", "id": t.id, "name": t.name}
                                     for t in types]}


def qos_associate(req: Req) -> Reply:
    req.ctx.can("volume_extension:qos_specs_manage:update", target(req))
    svc.associate_qos(req.ctx, req.params["qos_id"], req.query.get("vol_type_id"), True)
    return Reply(202)


def qos_disassociate(req: Req) -> Reply:
    req.ctx.can("volume_extension:qos_specs_manage:update", target(req))
    svc.associate_qos(req.ctx, req.params["qos_id"], req.query.get("vol_type_id"), False)
    return Reply(202)


def qos_disassociate_all(req: Req) -> Reply:
    req.ctx.can("volume_extension:qos_specs_manage:update", target(req))
    svc.disassociate_all_qos(req.params["qos_id"])
    return Reply(202)


# ------------------------------------------------------------------ encryption types
ENCRYPTION = {"type": "object", "properties": {
    "provider": {"type": "string", "minLength": 1, "maxLength": 255},
    "cipher": {"type": ["string", "null"], "maxLength": 255},
    "key_size": {"type": ["integer", "null"], "minimum": 0},
    "control_location": {"type": "string", "enum": ["front-end", "back-end"]}},
    "additionalProperties": False}


def _encryption(req: Req) -> m.Encryption | None:
    with db.read() as s:
        t = service.get_type(s, req.ctx, req.params["type_id"], by_name=False)
        return svc.get_encryption(s, t.id)


def encryption_show(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_type_encryption:get", target(req))
    e = _encryption(req)
    if e is None:
        return {}
    return {**views.encryption(e), "deleted": False, "created_at": views.ts(e.created_at),
            "updated_at": views.ts(e.updated_at), "deleted_at": None}


def encryption_key_show(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_type_encryption:get", target(req))
    e = _encryption(req)
    key = req.params["key"]
    body = views.encryption(e) if e is not None else {}
    if key not in ("provider", "cipher", "key_size", "control_location") or e is None:
        raise errors.NotFound(f"Volume type encryption for type {req.params['type_id']} has no key {key}.")
    return {key: body[key]}


def encryption_create(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_type_encryption:create", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"encryption": {**ENCRYPTION,
                                 "required": ["provider", "control_location"]}},
                                 "required": ["encryption"], "additionalProperties": False})["encryption"]
    e = svc.set_encryption(req.ctx, req.params["type_id"], body)
    return {"encryption": views.encryption(e)}


def encryption_update(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:volume_type_encryption:update", target(req))
    body = validate(req.json(), {"type": "object", "properties": {"encryption": ENCRYPTION},
                                 "required": ["encryption"], "additionalProperties": False})["encryption"]
    svc.set_encryption(req.ctx, req.params["type_id"], body, req.params["key"])
    return {"encryption": body}


def encryption_delete(req: Req) -> Reply:
    req.ctx.can("volume_extension:volume_type_encryption:delete", target(req))
    svc.delete_encryption(req.ctx, req.params["type_id"], req.params["key"])
    return Reply(202)


# ------------------------------------------------------------------ services and hosts
def _service_view(req: Req, r: dict[str, Any]) -> dict[str, Any]:
    out = {"binary": r["binary"], "host": r["host"], "zone": service.conf().availability_zone,
           "status": "disabled" if r["disabled"] else "enabled", "state": "up",
           "updated_at": views.ts(service.now()), "disabled_reason": r["disabled_reason"]}
    if req.ctx.microversion.matches("3.7"):
        out["cluster"] = None
    if req.ctx.microversion.matches("3.49") and r["binary"] == svc.VOLUME:
        out["backend_state"] = "up"
    return out


def services(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:services:index", target(req))
    rows = svc.service_rows()
    if req.query.get("binary"):
        rows = [r for r in rows if r["binary"] == req.query["binary"]]
    if req.query.get("host"):
        want = req.query["host"]
        rows = [r for r in rows if r["host"] == want or r["host"].split("@")[0] == want]
    return {"services": [_service_view(req, r) for r in rows]}


def service_action(req: Req) -> Any:
    req.ctx.can("volume_extension:services:update", target(req))
    action = req.params["action"]
    body = req.json_object()
    if action in ("enable", "disable", "disable-log-reason"):
        host, binary = body.get("host"), body.get("binary") or body.get("service")
        if not isinstance(host, str) or not isinstance(binary, str):
            raise errors.BadRequest("Missing required element 'host' or 'binary' in request body.")
        reason = None
        if action == "disable-log-reason":
            reason = body.get("disabled_reason")
            if not isinstance(reason, str) or not reason.strip() or len(reason) > 255:
                raise errors.BadRequest("Disabled reason contains invalid characters or is too long")
        r = svc.set_service(host, binary, action != "enable", reason)
        out = {"host": r["host"], "service": r["binary"], "binary": r["binary"], "disabled": r["disabled"],
               "status": "disabled" if r["disabled"] else "enabled"}
        if action != "disable":
            out["disabled_reason"] = r["disabled_reason"]
        return out
    if action in ("freeze", "thaw"):
        if not isinstance(body.get("host"), str):
            raise errors.BadRequest("Missing required element 'host' in request body.")
        svc.freeze(body["host"], action == "freeze")
        return Reply(200)
    if action in ("set-log", "get-log"):
        need(req, "3.32")
        binary, prefix = body.get("binary") or None, body.get("prefix") or None
        if action == "get-log":
            return {"log_levels": svc.log_levels(binary, prefix)}
        level = str(body.get("level") or "").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise errors.BadRequest(f"Invalid log level: {body.get('level')!r}.")
        svc.set_log_level(binary, prefix, level)
        return Reply(202)
    if action == "failover_host":
        raise errors.BadRequest("Invalid host: replication failover is not supported by the backends of "
                                "this cloud.")
    raise errors.NotFound(f"Unknown action {action}.")


def hosts(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:hosts", target(req))
    rows = svc.service_rows()
    if req.query.get("service_status"):
        want = req.query["service_status"]
        rows = [r for r in rows if ("disabled" if r["disabled"] else "enabled") == want]
    return {"hosts": [{"host_name": r["host"], "service": r["binary"], "zone": service.conf().availability_zone,
                       "service-status": "available", "service-state": "disabled" if r["disabled"] else "enabled",
                       "last-update": views.ts(service.now())} for r in rows]}


def host_show(req: Req) -> dict[str, Any]:
    req.ctx.can("volume_extension:hosts", target(req))
    return {"host": svc.host_usage(req.params["host"])}


# ------------------------------------------------------------------ messages (3.3)
def messages_index(req: Req) -> dict[str, Any]:
    need(req, "3.3")
    req.ctx.can("message:get_all", target(req))
    limit, marker, sort = page(req, ["created_at", "id", "event_id", "resource_type", "message_level"])
    filters = {k: req.query[k] for k in ("event_id", "resource_type", "resource_uuid", "message_level",
                                         "request_id") if req.query.get(k)}
    svc_all = admin(req) and flag(req, "all_tenants")
    rows = service.list_rows(req.ctx, m.Message, filters, sort, limit, marker, svc_all,
                             errors.NotFound(f"Message {marker} could not be found."))
    return {"messages": [views.message(req, x) for x in rows]}


def message_show(req: Req) -> dict[str, Any]:
    need(req, "3.3")
    with db.read() as s:
        msg = svc.get_message(s, req.ctx, req.params["message_id"])
    req.ctx.can("message:get", target(req, msg.project_id))
    return {"message": views.message(req, msg)}


def message_delete(req: Req) -> Reply:
    need(req, "3.3")
    with db.read() as s:
        msg = svc.get_message(s, req.ctx, req.params["message_id"])
    req.ctx.can("message:delete", target(req, msg.project_id))
    svc.delete_message(req.ctx, msg.id)
    return Reply(204)
