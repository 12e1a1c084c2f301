"""/v3/registered_limits, /v3/limits and /v3/limits/model."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack import db, errors
from onestack.api.resource import Field, Resource
from onestack.api.routing import Reply, Req
from onestack.identity import limits, views
from onestack.identity import models as m
from onestack.identity.api.directory_common import target


def _int(value: int) -> int:
    if not -1 <= value <= limits.MAX_LIMIT:
        raise errors.ValidationError(f"Limits are integers from -1 to {limits.MAX_LIMIT}.")
    return value


def _common(update: bool) -> list[Field]:
    return [
        Field("service_id", create=True, update=update, required=True, min_length=1, max_length=64, filter=True),
        Field("region_id", create=True, update=update, nullable=True, min_length=1, max_length=255, filter=True),
        Field("resource_name", create=True, update=update, required=True, min_length=1, max_length=255,
              filter=True),
        Field("description", create=True, update=True, nullable=True, max_length=255),
    ]


REGISTERED = Resource("registered_limit", "registered_limits", _common(True) + [
    Field("default_limit", type=int, create=True, update=True, required=True, parse=_int),
])
LIMIT = Resource("limit", "limits", _common(False) + [
    Field("project_id", create=True, nullable=True, min_length=1, max_length=64, filter=True),
    Field("domain_id", create=True, nullable=True, min_length=1, max_length=64, filter=True),
    Field("resource_limit", type=int, create=True, update=True, required=True, parse=_int),
])


def _items(req: Req, resource: Resource) -> list[dict[str, Any]]:
    body = req.json_object()
    if set(body) != {resource.collection}:
        raise errors.ValidationError(f"The body must be {{'{resource.collection}': [...]}}.")
    items = body[resource.collection]
    if not isinstance(items, list) or not items:
        raise errors.ValidationError(f"'{resource.collection}' must be a non-empty array.")
    return [resource.parse(i, "create") for i in items]


def _member(req: Req, resource: Resource) -> dict[str, Any]:
    body = req.json_object()
    inner = body.get(resource.name)
    if set(body) != {resource.name} or not isinstance(inner, dict) or not inner:
        raise errors.ValidationError(f"The body must be {{'{resource.name}': {{...}}}} with at least one field.")
    return resource.parse({k: v for k, v in inner.items() if k not in ("id", "links")}, "update")


def registered_view(req: Req, r: m.RegisteredLimit) -> dict[str, Any]:
    return {"id": r.id, "service_id": r.service_id, "region_id": r.region_id,
            "resource_name": r.resource_name, "default_limit": r.default_limit,
            "description": r.description, "links": views.link(req, "registered_limits", r.id)}


def limit_view(req: Req, r: m.Limit) -> dict[str, Any]:
    return {"id": r.id, "project_id": r.project_id, "domain_id": r.domain_id, "service_id": r.service_id,
            "region_id": r.region_id, "resource_name": r.resource_name, "resource_limit": r.resource_limit,
            "description": r.description, "links": views.link(req, "limits", r.id)}


# ------------------------------------------------------------------ registered limits
def list_registered(req: Req) -> dict:
    req.ctx.can("identity:list_registered_limits", target(req))
    with db.read() as s:
        rows = limits.list_registered(s, REGISTERED.filters(req.query_items))
        return views.collection(req, "registered_limits", [registered_view(req, r) for r in rows])


def create_registered(req: Req) -> Reply:
    items = _items(req, REGISTERED)
    req.ctx.can("identity:create_registered_limits", target(req))
    with db.write() as s:
        rows = limits.create_registered(s, items)
        return Reply(201, {"registered_limits": [registered_view(req, r) for r in rows]})


def show_registered(req: Req) -> dict:
    req.ctx.can("identity:get_registered_limit", target(req))
    with db.read() as s:
        return {"registered_limit": registered_view(req, limits.get_registered(s, req.params["registered_limit_id"]))}


def update_registered(req: Req) -> dict:
    values = _member(req, REGISTERED)
    req.ctx.can("identity:update_registered_limit", target(req))
    with db.write() as s:
        r = limits.update_registered(s, req.params["registered_limit_id"], values)
        return {"registered_limit": registered_view(req, r)}


def delete_registered(req: Req) -> None:
    req.ctx.can("identity:delete_registered_limit", target(req))
    with db.write() as s:
        limits.delete_registered(s, req.params["registered_limit_id"])


# ------------------------------------------------------------------ limits
def model(req: Req) -> dict:
    req.ctx.can("identity:get_limit_model", target(req))
    return {"model": dict(limits.MODEL)}


def list_limits(req: Req) -> dict:
    req.ctx.can("identity:list_limits", target(req))
    filters = LIMIT.filters(req.query_items)
    with db.read() as s:
        if req.ctx.system_scope:
            rows = limits.list_limits(s, filters)
        elif req.ctx.domain_id:
            pids = list(s.scalars(select(m.Project.id).where(m.Project.domain_id == req.ctx.domain_id)))
            rows = limits.list_limits(s, filters, pids, req.ctx.domain_id)
        else:
            rows = limits.list_limits(s, {**filters, "project_id": req.ctx.project_id or ""})
        return views.collection(req, "limits", [limit_view(req, r) for r in rows])


def create_limits(req: Req) -> Reply:
    items = _items(req, LIMIT)
    req.ctx.can("identity:create_limits", target(req))
    with db.write() as s:
        rows = limits.create_limits(s, items)
        return Reply(201, {"limits": [limit_view(req, r) for r in rows]})


def _limit_target(req: Req, s: Any, r: m.Limit) -> dict[str, Any]:
    t: dict[str, Any] = {"id": r.id, "project_id": r.project_id, "domain_id": r.domain_id}
    if r.project_id:
        p = s.get(m.Project, r.project_id)
        t["project"] = {"id": r.project_id, "domain_id": p.domain_id if p else None}
    if r.domain_id:
        t["domain"] = {"id": r.domain_id}
    return target(req, limit=t)


def show_limit(req: Req) -> dict:
    with db.read() as s:
        r = limits.get_limit(s, req.params["limit_id"])
        req.ctx.can("identity:get_limit", _limit_target(req, s, r))
        return {"limit": limit_view(req, r)}


def update_limit(req: Req) -> dict:
    values = _member(req, LIMIT)
    req.ctx.can("identity:update_limit", target(req))
    with db.write() as s:
        return {"limit": limit_view(req, limits.update_limit(s, req.params["limit_id"], values))}


def delete_limit(req: Req) -> None:
    req.ctx.can("identity:delete_limit", target(req))
    with db.write() as s:
        limits.delete_limit(s, req.params["limit_id"])
