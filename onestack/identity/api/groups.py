"""/v3/groups: CRUD and membership."""
from __future__ import annotations

from typing import Any

from onestack import db
from onestack.api.routing import Reply, Req
from onestack.identity import directory, views
from onestack.identity import models as m
from onestack.identity.api.directory_common import GROUP, bool_query, member_body, scope_default_domain, target
from onestack.identity.service import get_user


def _pol(g: m.Group) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "domain_id": g.domain_id}


def _upol(u: m.User) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "domain_id": u.domain_id}


def list_groups(req: Req) -> dict:
    pol = target(req)
    if req.ctx.domain_id:
        pol["target"] = {"group": {"domain_id": req.ctx.domain_id}}
    req.ctx.can("identity:list_groups", pol)
    filters = {k: req.query[k] for k in ("name", "domain_id") if k in req.query}
    if req.ctx.domain_id:
        if filters.get("domain_id", req.ctx.domain_id) != req.ctx.domain_id:
            return views.collection(req, "groups", [])
        filters["domain_id"] = req.ctx.domain_id
    with db.read() as s:
        rows = directory.list_groups(s, filters, req.query_items)
        return views.collection(req, "groups", [views.group(req, g) for g in rows])


def create_group(req: Req) -> Reply:
    values = member_body(req, GROUP, "create")
    values.setdefault("domain_id", scope_default_domain(req))
    req.ctx.can("identity:create_group", target(req, group={"domain_id": values["domain_id"],
                                                            "name": values["name"]}))
    with directory.unique_writes(), db.write() as s:
        g = directory.create_group(s, values)
        return Reply(201, {"group": views.group(req, g)})


def show_group(req: Req) -> dict:
    with db.read() as s:
        g = directory.get_group(s, req.params["group_id"])
        req.ctx.can("identity:get_group", target(req, group=_pol(g)))
        return {"group": views.group(req, g)}


def update_group(req: Req) -> dict:
    values = member_body(req, GROUP, "update")
    with db.read() as s:
        g = directory.get_group(s, req.params["group_id"])
        req.ctx.can("identity:update_group", target(req, group=_pol(g)))
    with directory.unique_writes(), db.write() as s:
        g = directory.update_group(s, req.params["group_id"], values)
        return {"group": views.group(req, g)}


def delete_group(req: Req) -> None:
    with db.read() as s:
        g = directory.get_group(s, req.params["group_id"])
        req.ctx.can("identity:delete_group", target(req, group=_pol(g)))
    with directory.unique_writes(), db.write() as s:
        directory.delete_group(s, req.params["group_id"])


def list_members(req: Req) -> dict:
    with db.read() as s:
        g = directory.get_group(s, req.params["group_id"])
        req.ctx.can("identity:list_users_in_group", target(req, group=_pol(g)))
        filters: dict[str, Any] = {k: req.query[k] for k in ("name", "domain_id") if k in req.query}
        enabled = bool_query(req, "enabled")
        if enabled is not None:
            filters["enabled"] = enabled
        rows = directory.group_members(s, g.id, filters)
        return views.collection(req, "users", [views.user(req, u) for u in rows])


def _member_target(req: Req, rule: str) -> None:
    with db.read() as s:
        g = directory.get_group(s, req.params["group_id"])
        u = get_user(s, req.params["user_id"])
        req.ctx.can(rule, target(req, group=_pol(g), user=_upol(u)))


def add_member(req: Req) -> None:
    _member_target(req, "identity:add_user_to_group")
    with directory.unique_writes(), db.write() as s:
        directory.add_member(s, req.params["group_id"], req.params["user_id"])


def check_member(req: Req) -> None:
    _member_target(req, "identity:check_user_in_group")
    with db.read() as s:
        directory.check_member(s, req.params["group_id"], req.params["user_id"])


def remove_member(req: Req) -> None:
    _member_target(req, "identity:remove_user_from_group")
    with directory.unique_writes(), db.write() as s:
        directory.remove_member(s, req.params["group_id"], req.params["user_id"])
