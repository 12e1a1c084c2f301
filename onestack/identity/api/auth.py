"""/v3/auth/*: tokens (issue, validate, check, revoke) and the auth-scoped listings."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.routing import Reply, Req, dumps
from onestack.identity import service, tokens
from onestack.identity import views


def _flag(req: Req, name: str) -> bool:
    v = req.query.get(name)
    return v is not None and v.lower() not in ("0", "false", "no")


def issue(req: Req) -> Reply:
    body = req.json_object()
    token, data = service.authenticate(body.get("auth"))
    out = dict(data.body)
    if not _flag(req, "nocatalog") and data.payload.scope != "unscoped":   # as keystone
        out["catalog"] = service.catalog(data.payload.project_id, data.payload.user_id)
    return Reply(201, {"token": out}, headers={"X-Subject-Token": token})


def _subject(req: Req) -> tokens.TokenData:
    subject = req.headers.get("x-subject-token")
    if not subject:
        raise errors.NotFound("X-Subject-Token header is required.")
    return tokens.validate(subject, allow_expired=_flag(req, "allow_expired"))


def _target(data: tokens.TokenData) -> dict[str, Any]:
    return {"target": {"token": {"user_id": data.payload.user_id}}, "user_id": data.payload.user_id}


def validate(req: Req) -> Reply:
    data = _subject(req)
    req.ctx.can("identity:validate_token", _target(data))
    with_catalog = not _flag(req, "nocatalog") and data.payload.scope != "unscoped"  # as keystone
    body = data.rendered.get(with_catalog)
    if body is None:
        out = dict(data.body)
        if with_catalog:
            out["catalog"] = service.catalog(data.payload.project_id, data.payload.user_id)
        body = data.rendered[with_catalog] = dumps({"token": out})
    return Reply(200, body, headers={"X-Subject-Token": req.headers["x-subject-token"]})


def check(req: Req) -> Reply:
    data = _subject(req)
    req.ctx.can("identity:check_token", _target(data))
    return Reply(200, None, headers={"X-Subject-Token": req.headers["x-subject-token"]})


def revoke(req: Req) -> None:
    data = _subject(req)
    req.ctx.can("identity:revoke_token", _target(data))
    with db.write() as s:
        tokens.revoke(s, audit_id=data.payload.audit_ids[0])


def auth_catalog(req: Req) -> dict:
    if req.ctx.project_id is None and req.ctx.domain_id is None and req.ctx.system_scope is None:
        raise errors.Forbidden("The catalog needs a scoped token.")
    return {"catalog": service.catalog(req.ctx.project_id, req.ctx.user_id), "links": views.self_links(req)}


def auth_projects(req: Req) -> dict:
    return {"projects": service.auth_projects(req.ctx.user_id), "links": views.self_links(req)}


def auth_domains(req: Req) -> dict:
    return {"domains": service.auth_domains(req.ctx.user_id), "links": views.self_links(req)}


def auth_system(req: Req) -> dict:
    return {"system": service.auth_system(req.ctx.user_id), "links": views.self_links(req)}
