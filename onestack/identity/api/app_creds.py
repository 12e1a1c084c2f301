"""/v3/users/{user_id}/application_credentials and /v3/users/{user_id}/access_rules."""
from __future__ import annotations

from typing import Any

from onestack import db
from onestack.api.resource import Field, Resource
from onestack.api.routing import Reply, Req
from onestack.identity import appcreds, views
from onestack.identity.api.directory_common import member_body, target

APP_CRED = Resource("application_credential", "application_credentials", [
    Field("name", create=True, required=True, min_length=1, max_length=255, filter=True),
    Field("description", create=True, nullable=True, max_length=255),
    Field("secret", create=True, nullable=True, min_length=1, max_length=4096),
    Field("expires_at", create=True, nullable=True),
    Field("roles", type=list, create=True),
    Field("unrestricted", type=bool, create=True, nullable=True),
    Field("access_rules", type=list, create=True),
    Field("system", create=True, nullable=True),
])


def _link(req: Req, ac: Any) -> dict[str, str]:
    return {"self": f"{req.service_url}/v3/users/{ac.user_id}/application_credentials/{ac.id}"}


def view(req: Req, ac: Any) -> dict[str, Any]:
    out = {"id": ac.id, "name": ac.name, "description": ac.description, "user_id": ac.user_id,
           "project_id": ac.project_id, "system": ac.system,
           "roles": [{"id": r["id"], "name": r["name"], "domain_id": r.get("domain_id")} for r in ac.roles],
           "expires_at": appcreds.iso(ac.expires_at), "unrestricted": bool(ac.unrestricted),
           "links": _link(req, ac)}
    if ac.access_rules:
        out["access_rules"] = ac.access_rules
    return out


def rule_view(req: Req, r: Any) -> dict[str, Any]:
    return {"id": r.id, "service": r.service, "path": r.path, "method": r.method,
            "links": {"self": f"{req.service_url}/v3/users/{r.user_id}/access_rules/{r.id}"}}


def create(req: Req) -> Reply:
    values = member_body(req, APP_CRED, "create")
    req.ctx.can("identity:create_application_credential", target(req))
    with db.write() as s:
        ac, secret = appcreds.create(s, req.ctx, req.params["user_id"], values)
        out = view(req, ac)
        out["secret"] = secret
        return Reply(201, {"application_credential": out})


def list_(req: Req) -> dict:
    req.ctx.can("identity:list_application_credentials", target(req))
    with db.read() as s:
        rows = appcreds.list_for(s, req.params["user_id"], req.query.get("name"))
        return views.collection(req, "application_credentials", [view(req, r) for r in rows])


def show(req: Req) -> dict:
    req.ctx.can("identity:get_application_credential", target(req))
    with db.read() as s:
        ac = appcreds.get(s, req.params["user_id"], req.params["application_credential_id"])
        return {"application_credential": view(req, ac)}


def delete(req: Req) -> None:
    req.ctx.can("identity:delete_application_credential", target(req))
    with db.write() as s:
        appcreds.delete(s, req.ctx, req.params["user_id"], req.params["application_credential_id"])


def _rule_target(req: Req) -> dict[str, Any]:
    return target(req, user={"id": req.params["user_id"]})


def list_rules(req: Req) -> dict:
    req.ctx.can("identity:list_access_rules", _rule_target(req))
    with db.read() as s:
        rows = appcreds.list_rules(s, req.params["user_id"])
        return views.collection(req, "access_rules", [rule_view(req, r) for r in rows])


def show_rule(req: Req) -> dict:
    req.ctx.can("identity:get_access_rule", _rule_target(req))
    with db.read() as s:
        return {"access_rule": rule_view(req, appcreds.get_rule(s, req.params["user_id"],
                                                               req.params["access_rule_id"]))}


def delete_rule(req: Req) -> None:
    req.ctx.can("identity:delete_access_rule", _rule_target(req))
    with db.write() as s:
        appcreds.delete_rule(s, req.params["user_id"], req.params["access_rule_id"])
