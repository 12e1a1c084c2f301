"""OS-TRUST: delegation of a trustor's roles on a project to a trustee, and the facts a
trust-scoped token carries. No HTTP here."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update

from onestack import db, errors
from onestack.db.base import new_id, utcnow
from onestack.identity import models as m
from onestack.identity import tokens
from onestack.identity.appcreds import parse_time
from onestack.identity.errors import AuthFailed
from onestack.identity.service import direct_role_ids, effective_roles, get_project, get_user

MAX_REDELEGATION = 3


class TrustNotFound(errors.NotFound):
    message = "Could not find trust: {trust_id}."


def get(s: Any, trust_id: str) -> m.Trust:
    t = s.get(m.Trust, trust_id)
    if t is None or t.deleted_at is not None:
        raise TrustNotFound(trust_id=trust_id)
    return t


def list_trusts(s: Any, trustor: str | None = None, trustee: str | None = None) -> list[m.Trust]:
    q = select(m.Trust).where(m.Trust.deleted_at.is_(None))
    if trustor:
        q = q.where(m.Trust.trustor_user_id == trustor)
    if trustee:
        q = q.where(m.Trust.trustee_user_id == trustee)
    return list(s.scalars(q.order_by(m.Trust.id)))


def trustor_role_ids(s: Any, trustor_id: str, project_id: str | None) -> set[str]:
    if not project_id:
        return set()
    p = s.get(m.Project, project_id)
    if p is None or p.is_domain:
        return set()
    return {r["id"] for r in effective_roles(s, direct_role_ids(s, trustor_id, project=p))}


def _roles(s: Any, refs: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for ref in refs:
        if not isinstance(ref, dict) or not (isinstance(ref.get("id"), str) or isinstance(ref.get("name"), str)):
            raise errors.ValidationError("Each trust role must be an object with an 'id' or a 'name'.")
        if ref.get("id"):
            role = s.get(m.Role, ref["id"])
        else:
            role = s.scalar(select(m.Role).where(m.Role.name == ref["name"], m.Role.domain_id.is_(None)))
        if role is None:
            raise errors.NotFound(f"Could not find role: {ref.get('id') or ref.get('name')}.")
        if all(r["id"] != role.id for r in out):
            out.append({"id": role.id})
    return out


def create(s: Any, ctx: Any, values: dict[str, Any]) -> m.Trust:
    if ctx.app_cred_id:
        raise errors.Forbidden("Using method 'application_credential' is not allowed for managing trusts.")
    if values.get("project_id") and not values.get("roles"):
        raise errors.Forbidden("At least one role should be specified.")
    if ctx.user_id != values["trustor_user_id"]:
        raise errors.Forbidden("The authenticated user should match the trustor.")
    get_user(s, values["trustee_user_id"])
    if values.get("project_id"):
        get_project(s, values["project_id"])
    roles = _roles(s, values.get("roles") or [])
    parent = None
    trust_info = (ctx.token_info or {}).get("OS-TRUST:trust")
    if trust_info:
        parent = get(s, trust_info["id"])
        if not (parent.extra or {}).get("allow_redelegation") or not parent.redelegation_count:
            raise errors.Forbidden("Redelegation is not allowed for this trust.")
        if values.get("project_id") != parent.project_id:
            raise errors.Forbidden("A redelegated trust must keep the project of its parent.")
        if any(r["id"] not in {x["id"] for x in parent.roles} for r in roles):
            raise errors.Forbidden("A redelegated trust cannot add roles.")
        if values.get("impersonation") and not parent.impersonation:
            raise errors.Forbidden("A redelegated trust cannot add impersonation.")
    held = trustor_role_ids(s, parent.trustor_user_id if parent else values["trustor_user_id"],
                            values.get("project_id"))
    for r in roles:
        if r["id"] not in held:
            raise errors.NotFound(f"Could not find role: {r['id']}.")
    expires = parse_time(values.get("expires_at"))
    if expires is not None and expires <= utcnow():
        raise errors.ValidationError("'expires_at' must be in the future.")
    if parent is not None and parent.expires_at and (expires is None or expires > parent.expires_at):
        expires = parent.expires_at
    allow = bool(values.get("allow_redelegation"))
    if parent is not None:
        count = parent.redelegation_count - 1
    elif allow:
        count = values.get("redelegation_count")
        count = MAX_REDELEGATION if count is None else count
        if count > MAX_REDELEGATION:
            raise errors.Forbidden(f"redelegation_count cannot exceed {MAX_REDELEGATION}.")
    else:
        count = None
    t = m.Trust(id=new_id(), trustor_user_id=values["trustor_user_id"],
                trustee_user_id=values["trustee_user_id"], project_id=values.get("project_id"),
                impersonation=values["impersonation"], expires_at=expires,
                remaining_uses=values.get("remaining_uses"), redelegation_count=count,
                redelegated_trust_id=parent.id if parent else None, roles=roles,
                extra={"allow_redelegation": allow and bool(count)})
    s.add(t)
    s.flush()
    return t


def delete(s: Any, ctx: Any, trust_id: str) -> None:
    if ctx.app_cred_id:
        raise errors.Forbidden("Using method 'application_credential' is not allowed for managing trusts.")
    t = get(s, trust_id)
    now = utcnow()
    ids = [t.id]
    # trusts redelegated from this one go with it
    while True:
        more = [c.id for c in s.scalars(select(m.Trust).where(m.Trust.redelegated_trust_id.in_(ids),
                                                              m.Trust.deleted_at.is_(None)))
                if c.id not in ids]
        if not more:
            break
        ids += more
    for tid in ids:
        s.get(m.Trust, tid).deleted_at = now
        tokens.revoke(s, trust_id=tid)
    s.flush()


def role_names(s: Any, t: m.Trust) -> list[m.Role]:
    ids = [r["id"] for r in t.roles]
    rows = {r.id: r for r in s.scalars(select(m.Role).where(m.Role.id.in_(ids)))} if ids else {}
    return [rows[i] for i in ids if i in rows]


# ------------------------------------------------------------------ trust-scoped tokens
def usable(t: m.Trust | None) -> bool:
    return t is not None and t.deleted_at is None and not (t.expires_at and t.expires_at <= utcnow())


def scope_token(s: Any, user: m.User, ref: Any, payload: Any) -> None:
    """Apply {"OS-TRUST:trust": {"id": ...}} to a token being issued to ``user``."""
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str):
        raise errors.BadRequest("scope 'OS-TRUST:trust' needs an 'id'.")
    t = s.get(m.Trust, ref["id"])
    if not usable(t):
        raise errors.NotFound(f"Could not find trust: {ref['id']}.")
    if t.trustee_user_id != user.id:
        raise errors.Forbidden("The user is not the trustee of this trust.")
    trustor = s.get(m.User, t.trustor_user_id)
    if trustor is None or not trustor.enabled:
        raise errors.Forbidden("The trustor is disabled or no longer exists.")
    if t.remaining_uses is not None:
        with db.write() as w:
            res = w.execute(update(m.Trust).where(m.Trust.id == t.id, m.Trust.remaining_uses > 0)
                            .values(remaining_uses=m.Trust.remaining_uses - 1))
            if res.rowcount == 0:
                raise errors.Forbidden("The trust has no uses left.")
    payload.trust_id = t.id
    payload.project_id = t.project_id
    if t.impersonation:
        payload.user_id = t.trustor_user_id
    if t.expires_at:
        payload.expires_at = min(payload.expires_at,
                                 t.expires_at.replace(tzinfo=dt.timezone.utc).timestamp())


def token_facts(s: Any, payload: Any) -> tuple[list[dict[str, str]], dict[str, Any]] | None:
    """(roles, the token's "OS-TRUST:trust" object) of a trust-scoped token, or None if the
    trust no longer grants anything."""
    t = s.get(m.Trust, payload.trust_id)
    if not usable(t):
        return None
    trustee = s.get(m.User, t.trustee_user_id)
    trustor = s.get(m.User, t.trustor_user_id)
    if trustee is None or not trustee.enabled or trustor is None or not trustor.enabled:
        return None
    held = trustor_role_ids(s, t.trustor_user_id, t.project_id)
    wanted = {r["id"] for r in t.roles}
    roles = [r for r in effective_roles(s, [i for i in wanted if i in held])]
    info = {"id": t.id, "impersonation": t.impersonation,
            "trustee_user": {"id": t.trustee_user_id}, "trustor_user": {"id": t.trustor_user_id}}
    return roles, info
