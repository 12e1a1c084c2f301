"""/v3/users: CRUD, self-service password change, a user's projects and groups."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.routing import Reply, Req
from onestack.identity import directory, views
from onestack.identity import models as m
from onestack.identity.api.directory_common import USER, bool_query, member_body, scope_default_domain, target
from onestack.identity.service import get_user


def _pol(u: m.User) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled}


def _filters(req: Req, keys: tuple[str, ...] = ("name", "domain_id")) -> dict[str, Any]:
    out: dict[str, Any] = {k: req.query[k] for k in keys if k in req.query}
    enabled = bool_query(req, "enabled")
    if enabled is not None:
        out["enabled"] = enabled
    return out


def list_users(req: Req) -> dict:
    pol = target(req)
    if req.ctx.domain_id:
        pol["target"]["domain_id"] = req.ctx.domain_id
    req.ctx.can("identity:list_users", pol)
    filters = _filters(req)
    if req.ctx.domain_id:
        if filters.get("domain_id", req.ctx.domain_id) != req.ctx.domain_id:
            return views.collection(req, "users", [])
        filters["domain_id"] = req.ctx.domain_id
    with db.read() as s:
        rows = directory.list_users(s, filters, req.query_items)
        return views.collection(req, "users", [views.user(req, u) for u in rows])


def create_user(req: Req) -> Reply:
    values = member_body(req, USER, "create")
    req.ctx.can("identity:create_user", target(req, user=dict(req.json()["user"])))
    values.setdefault("domain_id", scope_default_domain(req))
    with directory.unique_writes(), db.write() as s:
        u = directory.create_user(s, values)
        return Reply(201, {"user": views.user(req, u)})


def show_user(req: Req) -> dict:
    with db.read() as s:
        u = get_user(s, req.params["user_id"])
        req.ctx.can("identity:get_user", target(req, user=_pol(u)))
        return {"user": views.user(req, u)}


def update_user(req: Req) -> dict:
    values = member_body(req, USER, "update")
    with db.read() as s:
        u = get_user(s, req.params["user_id"])
        req.ctx.can("identity:update_user", target(req, user=_pol(u)))
    with directory.unique_writes(), db.write() as s:
        u = directory.update_user(s, req.params["user_id"], values)
        return {"user": views.user(req, u)}


def delete_user(req: Req) -> None:
    with db.read() as s:
        u = get_user(s, req.params["user_id"])
        req.ctx.can("identity:delete_user", target(req, user=_pol(u)))
    with directory.unique_writes(), db.write() as s:
        directory.delete_user(s, req.params["user_id"])


def change_password(req: Req) -> None:
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("user"), dict) or set(body) != {"user"}:
        raise errors.ValidationError("'user' is a required property and must be an object.")
    data = body["user"]
    for key in ("original_password", "password"):
        if key not in data:
            raise errors.ValidationError(f"'{key}' is a required property.")
        if not isinstance(data[key], str):
            raise errors.ValidationError(f"Invalid input for field '{key}': not a string.")
    unknown = set(data) - {"original_password", "password"}
    if unknown:
        raise errors.ValidationError(f"Additional properties are not allowed ({sorted(unknown)} were unexpected).")
    with directory.unique_writes(), db.write() as s:
        directory.change_password(s, req.params["user_id"], data["original_password"], data["password"])


def user_projects(req: Req) -> dict:
    with db.read() as s:
        u = get_user(s, req.params["user_id"])
        req.ctx.can("identity:list_user_projects", target(req, user=_pol(u)))
        rows = directory.projects_for_user(s, u.id)
        f = _filters(req)
        rows = [p for p in rows if all(
            (p.enabled if k == "enabled" else getattr(p, k)) == v for k, v in f.items())]
        tags = directory.tags_of(s, [p.id for p in rows])
        return views.collection(req, "projects", [views.project_out(req, p, tags[p.id]) for p in rows])


def user_groups(req: Req) -> dict:
    with db.read() as s:
        u = get_user(s, req.params["user_id"])
        req.ctx.can("identity:list_groups_for_user", target(req, user=_pol(u)))
        rows = directory.groups_for_user(s, u.id)
        if "name" in req.query:
            rows = [g for g in rows if g.name == req.query["name"]]
        return views.collection(req, "groups", [views.group(req, g) for g in rows])
