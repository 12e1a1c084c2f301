"""/v3/domains: create, list, show, update (PATCH), delete."""
from __future__ import annotations

from onestack import db
from onestack.api.routing import Reply, Req
from onestack.identity import directory, views
from onestack.identity.api.directory_common import DOMAIN, bool_query, member_body, target
from onestack.identity.service import get_domain


def _view(req: Req, s, d) -> dict:
    return views.domain_out(req, d, directory.tags_of(s, [d.id])[d.id])


def list_domains(req: Req) -> dict:
    pol = target(req)
    if req.ctx.domain_id:
        pol["target"] = {"domain": {"id": req.ctx.domain_id}}
    req.ctx.can("identity:list_domains", pol)
    with db.read() as s:
        rows = directory.list_domains(s, name=req.query.get("name"), enabled=bool_query(req, "enabled"),
                                      only_id=req.ctx.domain_id or None, query=req.query_items)
        tags = directory.tags_of(s, [d.id for d in rows])
        return views.collection(req, "domains", [views.domain_out(req, d, tags[d.id]) for d in rows])


def create_domain(req: Req) -> Reply:
    values = member_body(req, DOMAIN, "create")
    req.ctx.can("identity:create_domain", target(req, domain=values))
    with db.write() as s:
        d = directory.create_domain(s, values)
        return Reply(201, {"domain": _view(req, s, d)})


def show_domain(req: Req) -> dict:
    with db.read() as s:
        d = get_domain(s, req.params["domain_id"])
        req.ctx.can("identity:get_domain", target(req, domain={"id": d.id, "name": d.name}))
        return {"domain": _view(req, s, d)}


def update_domain(req: Req) -> dict:
    values = member_body(req, DOMAIN, "update")
    with db.read() as s:
        d = get_domain(s, req.params["domain_id"])
        req.ctx.can("identity:update_domain", target(req, domain={"id": d.id, "name": d.name}))
    with db.write() as s:
        d = directory.update_domain(s, req.params["domain_id"], values)
        return {"domain": _view(req, s, d)}


def delete_domain(req: Req) -> None:
    with db.read() as s:
        d = get_domain(s, req.params["domain_id"])
        req.ctx.can("identity:delete_domain", target(req, domain={"id": d.id, "name": d.name}))
    with db.write() as s:
        directory.delete_domain(s, req.params["domain_id"])
