"""/v3/domains: create, list, show, update (PATCH), delete."""
from __future__ import annotations

from onestack import db, errors
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
    with directory.unique_writes(), db.write() as s:
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
    with directory.unique_writes(), db.write() as s:
        d = directory.update_domain(s, req.params["domain_id"], values)
        return {"domain": _view(req, s, d)}


def delete_domain(req: Req) -> None:
    with db.read() as s:
        d = get_domain(s, req.params["domain_id"])
        req.ctx.can("identity:delete_domain", target(req, domain={"id": d.id, "name": d.name}))
    with directory.unique_writes(), db.write() as s:
        directory.delete_domain(s, req.params["domain_id"])


# ------------------------------------------------------------------ domain-specific configuration
def _config_body(req: Req) -> object:
    body = req.json()
    if not isinstance(body, dict) or set(body) != {"config"}:
        raise errors.ValidationError("The body must be {\"config\": {...}}.")
    return body["config"]


def get_config(req: Req) -> dict:
    group, option = req.params.get("group"), req.params.get("option")
    if group == "security_compliance":
        req.ctx.can("identity:get_security_compliance_domain_config", target(req))
        with db.read() as s:
            return {"config": directory.security_compliance_config(s, req.params["domain_id"], option)}
    req.ctx.can("identity:get_domain_config", target(req))
    with db.read() as s:
        return {"config": directory.get_domain_config(s, req.params["domain_id"], group, option)}


def create_config(req: Req) -> Reply:
    config = _config_body(req)
    req.ctx.can("identity:create_domain_config", target(req))
    with directory.unique_writes(), db.write() as s:
        out, created = directory.create_domain_config(s, req.params["domain_id"], config)
    return Reply(201 if created else 200, {"config": out})


def update_config(req: Req) -> dict:
    config = _config_body(req)
    req.ctx.can("identity:update_domain_config", target(req))
    with directory.unique_writes(), db.write() as s:
        return {"config": directory.update_domain_config(s, req.params["domain_id"], config,
                                                         req.params.get("group"), req.params.get("option"))}


def delete_config(req: Req) -> None:
    req.ctx.can("identity:delete_domain_config", target(req))
    with directory.unique_writes(), db.write() as s:
        directory.delete_domain_config(s, req.params["domain_id"], req.params.get("group"),
                                       req.params.get("option"))


def default_config(req: Req) -> dict:
    req.ctx.can("identity:get_domain_config_default", target(req))
    return {"config": directory.domain_config_default(req.params.get("group"), req.params.get("option"))}
