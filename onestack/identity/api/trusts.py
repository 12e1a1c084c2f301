"""OS-TRUST: /v3/OS-TRUST/trusts[/{trust_id}[/roles[/{role_id}]]]."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.resource import Field, Resource
from onestack.api.routing import Reply, Req
from onestack.identity import appcreds, trusts, views
from onestack.identity.api.directory_common import target


def _positive(value: int) -> int:
    if value < 1:
        raise errors.ValidationError("Invalid input for field 'remaining_uses': must be 1 or more, or null.")
    return value


def _count(value: int) -> int:
    if value < 0:
        raise errors.ValidationError("Invalid input for field 'redelegation_count': must not be negative.")
    return value


TRUST = Resource("trust", "trusts", [
    Field("trustor_user_id", create=True, required=True, min_length=1, max_length=64),
    Field("trustee_user_id", create=True, required=True, min_length=1, max_length=64),
    Field("impersonation", type=bool, create=True, required=True),
    Field("project_id", create=True, nullable=True, max_length=64),
    Field("roles", type=list, create=True),
    Field("expires_at", create=True, nullable=True),
    Field("remaining_uses", type=int, create=True, nullable=True, parse=_positive),
    Field("allow_redelegation", type=bool, create=True, nullable=True),
    Field("redelegation_count", type=int, create=True, nullable=True, parse=_count),
], allow_extra=True)


def _role(req: Req, r: Any) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description,
            "options": r.options or {}, "links": views.link(req, "roles", r.id)}


def view(req: Req, t: Any, s: Any = None) -> dict[str, Any]:
    out = {"id": t.id, "trustor_user_id": t.trustor_user_id, "trustee_user_id": t.trustee_user_id,
           "project_id": t.project_id, "impersonation": t.impersonation,
           "expires_at": (appcreds.iso(t.expires_at) + "Z") if t.expires_at else None,
           "remaining_uses": t.remaining_uses,
           "allow_redelegation": bool((t.extra or {}).get("allow_redelegation")),
           "redelegated_trust_id": t.redelegated_trust_id,
           "links": {"self": f"{req.service_url}/v3/OS-TRUST/trusts/{t.id}"}}
    if t.redelegation_count is not None:
        out["redelegation_count"] = t.redelegation_count
    if s is not None:
        out["roles"] = [_role(req, r) for r in trusts.role_names(s, t)]
        out["roles_links"] = {"self": f"{req.service_url}/v3/OS-TRUST/trusts/{t.id}/roles",
                              "next": None, "previous": None}
    return out


def _pol(t: Any) -> dict[str, Any]:
    return {"id": t.id, "trustor_user_id": t.trustor_user_id, "trustee_user_id": t.trustee_user_id,
            "project_id": t.project_id}


def create(req: Req) -> Reply:
    body = req.json_object()
    inner = body.get("trust")
    if not isinstance(inner, dict):
        raise errors.ValidationError("'trust' is a required property and must be an object.")
    values = TRUST.parse({k: v for k, v in inner.items() if k not in ("id", "links")}, "create")
    req.ctx.can("identity:create_trust", target(req, trust=dict(inner)))
    with db.write() as s:
        t = trusts.create(s, req.ctx, values)
        return Reply(201, {"trust": view(req, t, s)})


def list_(req: Req) -> dict:
    trustor, trustee = req.query.get("trustor_user_id"), req.query.get("trustee_user_id")
    if trustor:
        req.ctx.can("identity:list_trusts_for_trustor", target(req, trust={"trustor_user_id": trustor}))
    elif trustee:
        req.ctx.can("identity:list_trusts_for_trustee", target(req, trust={"trustee_user_id": trustee}))
    else:
        req.ctx.can("identity:list_trusts", target(req))
    if req.ctx.app_cred_id:
        raise errors.Forbidden("Using method 'application_credential' is not allowed for managing trusts.")
    with db.read() as s:
        rows = trusts.list_trusts(s, trustor, trustee)
        return views.collection(req, "trusts", [view(req, t) for t in rows])


def _load(req: Req, s: Any, rule: str) -> Any:
    t = trusts.get(s, req.params["trust_id"])
    req.ctx.can(rule, target(req, trust=_pol(t)))
    if req.ctx.app_cred_id:
        raise errors.Forbidden("Using method 'application_credential' is not allowed for managing trusts.")
    return t


def show(req: Req) -> dict:
    with db.read() as s:
        return {"trust": view(req, _load(req, s, "identity:get_trust"), s)}


def delete(req: Req) -> None:
    with db.read() as s:
        _load(req, s, "identity:delete_trust")
    with db.write() as s:
        trusts.delete(s, req.ctx, req.params["trust_id"])


def list_roles(req: Req) -> dict:
    with db.read() as s:
        t = _load(req, s, "identity:list_roles_for_trust")
        return {"roles": [_role(req, r) for r in trusts.role_names(s, t)], "links": views.self_links(req)}


def get_role(req: Req) -> dict:
    with db.read() as s:
        t = _load(req, s, "identity:get_role_for_trust")
        for r in trusts.role_names(s, t):
            if r.id == req.params["role_id"]:
                return {"role": _role(req, r)}
    raise errors.NotFound(f"Could not find role: {req.params['role_id']}.")
