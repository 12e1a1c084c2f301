"""Application credentials and access rules.

No HTTP here. The secret is returned once at creation and only its bcrypt hash is kept;
deleting an application credential revokes the tokens issued from it.
"""
from __future__ import annotations

import base64
import datetime as dt
import os
from typing import Any

from sqlalchemy import select

from onestack import errors
from onestack.db.base import new_id, utcnow
from onestack.identity import models as m
from onestack.identity import passwords, tokens
from onestack.identity.service import conf, get_user

ACCESS_RULE_METHODS = ("HEAD", "GET", "POST", "PUT", "PATCH", "DELETE")


class AppCredNotFound(errors.NotFound):
    message = "Could not find application credential: {app_cred_id}."


class AccessRuleNotFound(errors.NotFound):
    message = "Could not find access rule: {access_rule_id}."


def parse_time(value: Any, field: str = "expires_at") -> dt.datetime | None:
    """An ISO 8601 timestamp (naive UTC) or None; 400 on anything else."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.ValidationError(f"Invalid input for field '{field}': {value!r} is not a string.")
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.ValidationError(f"Invalid input for field '{field}': {value[:40]!r} is not an "
                                     "ISO 8601 date-time.") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def iso(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def generate_secret() -> str:
    return base64.urlsafe_b64encode(os.urandom(64)).decode().rstrip("=")


def _token_roles(ctx: Any) -> list[dict[str, str]]:
    return [{"id": i, "name": n} for i, n in zip(ctx.role_ids, ctx.roles)]


def _resolve_roles(s: Any, requested: list[Any], ctx: Any) -> list[dict[str, Any]]:
    """The requested roles ({"id"} or {"name"}), each held by the caller's token."""
    held = {r["id"]: r for r in _token_roles(ctx)}
    by_name = {r["name"]: r for r in held.values()}
    out: list[dict[str, Any]] = []
    for ref in requested:
        if not isinstance(ref, dict) or not (isinstance(ref.get("id"), str) or isinstance(ref.get("name"), str)):
            raise errors.ValidationError("Each role must be an object with an 'id' or a 'name'.")
        if ref.get("id"):
            role = s.get(m.Role, ref["id"])
        else:
            q = select(m.Role).where(m.Role.name == ref["name"])
            dom = ref.get("domain_id") or (ref.get("domain") or {}).get("id") if isinstance(
                ref.get("domain", {}), dict) else None
            q = q.where(m.Role.domain_id == dom) if dom else q.where(m.Role.domain_id.is_(None))
            role = s.scalar(q)
        if role is None:
            raise errors.NotFound(f"Could not find role: {ref.get('id') or ref.get('name')}.")
        if role.id not in held and role.name not in by_name:
            raise errors.NotFound(f"Could not find role assignment with role: {role.id}, user or group: "
                                  f"{ctx.user_id}, project, domain, or system: {ctx.project_id}.")
        if all(r["id"] != role.id for r in out):
            out.append({"id": role.id, "name": role.name, "domain_id": role.domain_id})
    return out


def _access_rules(s: Any, user_id: str, rules: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise errors.ValidationError("Each access rule must be an object.")
        if set(rule) - {"id", "service", "path", "method"}:
            raise errors.ValidationError("Access rules admit only id, service, path and method.")
        if "id" in rule and len(rule) == 1:
            row = s.get(m.AccessRule, rule["id"]) if isinstance(rule["id"], str) else None
            if row is None or row.user_id != user_id:
                raise AccessRuleNotFound(access_rule_id=rule["id"])
        else:
            svc, path, method = rule.get("service"), rule.get("path"), rule.get("method")
            if not isinstance(svc, str) or not svc or not isinstance(path, str) or not path.startswith("/") \
                    or method not in ACCESS_RULE_METHODS or len(svc) > 64 or len(path) > 128:
                raise errors.ValidationError(
                    "An access rule needs a service (catalog type), a path starting with '/' and "
                    f"a method in {list(ACCESS_RULE_METHODS)}.")
            row = s.scalar(select(m.AccessRule).where(
                m.AccessRule.user_id == user_id, m.AccessRule.service == svc, m.AccessRule.path == path,
                m.AccessRule.method == method))
            if row is None:
                rid = rule.get("id") if isinstance(rule.get("id"), str) else new_id()
                if s.get(m.AccessRule, rid) is not None:
                    raise errors.Conflict(f"Access rule {rid} already exists.")
                row = m.AccessRule(id=rid, user_id=user_id, service=svc, path=path, method=method)
                s.add(row)
                s.flush()
        out.append({"id": row.id, "service": row.service, "path": row.path, "method": row.method})
    return out


def create(s: Any, ctx: Any, user_id: str, values: dict[str, Any]) -> tuple[m.ApplicationCredential, str]:
    get_user(s, user_id)
    if ctx.token_info and ctx.token_info.get("application_credential", {}).get("restricted"):
        raise errors.Forbidden("Using method 'application_credential' is not allowed for managing "
                               "additional application credentials.")
    if ctx.token_info and "OS-TRUST:trust" in ctx.token_info:
        raise errors.Forbidden("Using trust-scoped tokens is not allowed for managing application credentials.")
    if not ctx.project_id:
        raise errors.Forbidden("Application credentials need a project-scoped token.")
    if s.scalar(select(m.ApplicationCredential.id).where(m.ApplicationCredential.user_id == user_id,
                                                         m.ApplicationCredential.name == values["name"])):
        raise errors.Conflict("Conflict occurred attempting to store application_credential - "
                              "Duplicate entry found with name {}.".format(values["name"]))
    expires = parse_time(values.get("expires_at"))
    if expires is not None and expires <= utcnow():
        raise errors.ValidationError("'expires_at' must be in the future.")
    if "roles" in values and values["roles"]:
        roles = _resolve_roles(s, values["roles"], ctx)
    else:
        roles = [{"id": r["id"], "name": r["name"], "domain_id": None} for r in _token_roles(ctx)]
    if not roles:
        raise errors.ValidationError("An application credential needs at least one role.")
    secret = values.get("secret") or generate_secret()
    rules = _access_rules(s, user_id, values.get("access_rules") or [])
    ac = m.ApplicationCredential(
        id=new_id(), name=values["name"], user_id=user_id, project_id=ctx.project_id, system=None,
        secret_hash=passwords.hash_password(secret, conf().password_hash_rounds),
        description=values.get("description"), expires_at=expires,
        unrestricted=bool(values.get("unrestricted", False)), roles=roles, access_rules=rules)
    s.add(ac)
    s.flush()
    return ac, secret


def get(s: Any, user_id: str, app_cred_id: str) -> m.ApplicationCredential:
    ac = s.get(m.ApplicationCredential, app_cred_id)
    if ac is None or ac.user_id != user_id:
        raise AppCredNotFound(app_cred_id=app_cred_id)
    return ac


def list_for(s: Any, user_id: str, name: str | None = None) -> list[m.ApplicationCredential]:
    q = select(m.ApplicationCredential).where(m.ApplicationCredential.user_id == user_id)
    if name is not None:
        q = q.where(m.ApplicationCredential.name == name)
    return list(s.scalars(q.order_by(m.ApplicationCredential.created_at)))


def delete(s: Any, ctx: Any, user_id: str, app_cred_id: str) -> None:
    if ctx.token_info and ctx.token_info.get("application_credential", {}).get("restricted"):
        raise errors.Forbidden("Using method 'application_credential' is not allowed for managing "
                               "additional application credentials.")
    ac = get(s, user_id, app_cred_id)
    s.delete(ac)
    s.flush()
    tokens.revoke(s, app_cred_id=app_cred_id)


# ------------------------------------------------------------------ access rules
def list_rules(s: Any, user_id: str) -> list[m.AccessRule]:
    return list(s.scalars(select(m.AccessRule).where(m.AccessRule.user_id == user_id).order_by(m.AccessRule.id)))


def get_rule(s: Any, user_id: str, rule_id: str) -> m.AccessRule:
    r = s.get(m.AccessRule, rule_id)
    if r is None or r.user_id != user_id:
        raise AccessRuleNotFound(access_rule_id=rule_id)
    return r


def delete_rule(s: Any, user_id: str, rule_id: str) -> None:
    r = get_rule(s, user_id, rule_id)
    for ac in list_for(s, user_id):
        if any(x.get("id") == r.id for x in ac.access_rules or []):
            raise errors.Forbidden(f"Cannot delete access rule {r.id}: it is used by application "
                                   f"credential {ac.id}.")
    s.delete(r)
    s.flush()


def delete_for_user(s: Any, user_id: str) -> None:
    """Revoke tokens of a user's application credentials (rows cascade with the user)."""
    for ac in list_for(s, user_id):
        tokens.revoke(s, app_cred_id=ac.id)
