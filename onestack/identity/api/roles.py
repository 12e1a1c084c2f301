"""/v3/roles (global and domain-specific), implied roles and /v3/role_inferences."""
from __future__ import annotations

from typing import Any

from onestack import db
from onestack.api.routing import Reply, Req
from onestack.identity import directory, views
from onestack.identity import models as m
from onestack.identity.api.directory_common import ROLE, member_body, target


def _pol(r: m.Role) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "domain_id": r.domain_id}


def _rule(action: str, r: Any) -> str:
    domain_id = r.get("domain_id") if isinstance(r, dict) else r.domain_id
    return f"identity:{action}_domain_role" if domain_id else f"identity:{action}_role"


def list_roles(req: Req) -> dict:
    domain_id = req.query.get("domain_id")
    req.ctx.can("identity:list_domain_roles" if domain_id else "identity:list_roles", target(req))
    filters = {k: req.query[k] for k in ("name", "domain_id") if k in req.query}
    with db.read() as s:
        rows = directory.list_roles(s, filters, req.query_items)
        return views.collection(req, "roles", [views.role(req, r) for r in rows])


def create_role(req: Req) -> Reply:
    values = member_body(req, ROLE, "create")
    req.ctx.can(_rule("create", values), target(req, role=dict(req.json()["role"])))
    with directory.unique_writes(), db.write() as s:
        r = directory.create_role(s, values)
        return Reply(201, {"role": views.role(req, r)})


def show_role(req: Req) -> dict:
    with db.read() as s:
        r = directory.get_role(s, req.params["role_id"])
        req.ctx.can(_rule("get", r), target(req, role=_pol(r)))
        return {"role": views.role(req, r)}


def update_role(req: Req) -> dict:
    values = member_body(req, ROLE, "update")
    with db.read() as s:
        r = directory.get_role(s, req.params["role_id"])
        req.ctx.can(_rule("update", r), target(req, role=_pol(r)))
    with directory.unique_writes(), db.write() as s:
        r = directory.update_role(s, req.params["role_id"], values)
        return {"role": views.role(req, r)}


def delete_role(req: Req) -> None:
    with db.read() as s:
        r = directory.get_role(s, req.params["role_id"])
        req.ctx.can(_rule("delete", r), target(req, role=_pol(r)))
    with directory.unique_writes(), db.write() as s:
        directory.delete_role(s, req.params["role_id"])


# ------------------------------------------------------------------ implied roles
def create_implied(req: Req) -> Reply:
    req.ctx.can("identity:create_implied_role", target(req))
    with directory.unique_writes(), db.write() as s:
        prior, implied = directory.create_implied(s, req.params["prior_role_id"], req.params["implied_role_id"])
        return Reply(201, views.implied_role(req, prior, implied))


def get_implied(req: Req) -> dict:
    req.ctx.can("identity:get_implied_role", target(req))
    with db.read() as s:
        prior, implied = directory.get_implied(s, req.params["prior_role_id"], req.params["implied_role_id"])
        return views.implied_role(req, prior, implied)


def check_implied(req: Req) -> None:
    req.ctx.can("identity:check_implied_role", target(req))
    with db.read() as s:
        directory.get_implied(s, req.params["prior_role_id"], req.params["implied_role_id"])


def delete_implied(req: Req) -> None:
    req.ctx.can("identity:delete_implied_role", target(req))
    with directory.unique_writes(), db.write() as s:
        directory.delete_implied(s, req.params["prior_role_id"], req.params["implied_role_id"])


def list_implied(req: Req) -> dict:
    req.ctx.can("identity:list_implied_roles", target(req))
    with db.read() as s:
        prior = directory.get_role(s, req.params["prior_role_id"])
        return views.implied_roles(req, prior, directory.implied_of(s, prior.id))


def role_inferences(req: Req) -> dict:
    req.ctx.can("identity:list_role_inference_rules", target(req))
    with db.read() as s:
        items = [{"prior_role": views.role_brief(req, p), "implies": [views.role_brief(req, r) for r in imp]}
                 for p, imp in directory.role_inferences(s)]
        return {"role_inferences": items, "links": views.self_links(req)}
