"""What other services (and auth.py) may call on identity. Nobody else touches its tables."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack import db
from onestack.context import RequestContext
from onestack.identity import models as m
from onestack.identity import tokens


def cached_token(token: str) -> tokens.TokenData | None:
    """A validated token from the cache, or None (no I/O beyond a revision check)."""
    return tokens.cached(token)


def validate_token(token: str) -> tokens.TokenData:
    """Full validation; raises errors.NotFound when the token is not (or no longer) valid."""
    return tokens.validate(token)


def context_from_token(data: tokens.TokenData, token: str, request_id: str,
                       service: str = "") -> RequestContext:
    b = data.body
    p = data.payload
    return RequestContext(
        user_id=p.user_id, user_name=b["user"]["name"], user_domain_id=data.user_domain_id,
        project_id=p.project_id, project_name=b.get("project", {}).get("name"),
        project_domain_id=data.project_domain_id,
        domain_id=p.domain_id, domain_name=b.get("domain", {}).get("name"),
        system_scope=p.system, roles=[r["name"] for r in data.roles],
        role_ids=[r["id"] for r in data.roles], auth_token=token, token_info=b,
        request_id=request_id, service=service, app_cred_id=p.app_cred_id)


def get_project(project_id: str) -> dict[str, Any] | None:
    """{id, name, domain_id, parent_id, enabled} of a project, or None."""
    with db.read() as s:
        p = s.get(m.Project, project_id)
        if p is None or p.is_domain:
            return None
        return {"id": p.id, "name": p.name, "domain_id": p.domain_id, "parent_id": p.parent_id,
                "enabled": p.enabled}


def project_id_by_name(name: str, domain_id: str = "default") -> str | None:
    with db.read() as s:
        return s.scalar(select(m.Project.id).where(m.Project.name == name, m.Project.domain_id == domain_id,
                                                   m.Project.is_domain.is_(False)))


def get_user(user_id: str) -> dict[str, Any] | None:
    with db.read() as s:
        u = s.get(m.User, user_id)
        if u is None:
            return None
        return {"id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled}


def service_token() -> tuple[str, dict[str, Any]]:
    """A token for onestack's own calls between roles (the 'onestack' service user)."""
    from onestack.identity import service
    from onestack.identity.bootstrap import service_user_password
    return service.authenticate({"identity": {"methods": ["password"], "password": {"user": {
        "name": "onestack", "domain": {"id": "default"}, "password": service_user_password()}}},
        "scope": {"project": {"name": "service", "domain": {"id": "default"}}}})[0], {}


def ec2_credential(access_key: str) -> dict[str, Any] | None:
    """{"access", "secret", "user_id", "project_id"} of an EC2/S3 access key, or None
    (object storage verifies S3 signatures with it)."""
    from onestack.identity import credentials
    if not isinstance(access_key, str) or not access_key:
        return None
    with db.read() as s:
        c = credentials.by_access(s, access_key)
        if c is None:
            return None
        info = credentials.ec2_view(c)
        return {"access": info["access"], "secret": info["secret"], "user_id": c.user_id,
                "project_id": c.project_id}


def limit_for(project_id: str, service_type: str, resource_name: str,
              region_id: str | None = None) -> int | None:
    """The unified limit of ``resource_name`` for a project (its own limit, else the
    registered default), or None when none is set (-1 = unlimited)."""
    from onestack.identity import limits
    with db.read() as s:
        return limits.limit_for(s, project_id, service_type, resource_name, region_id)


def project_roles(user_id: str, project_id: str) -> list[str]:
    """Names of the roles (implied ones included) ``user_id`` holds on ``project_id``; []
    when either is missing or disabled. S3 requests signed with an EC2 credential act
    with these roles (keystone's s3tokens answer carries the same)."""
    from onestack.identity import service
    with db.read() as s:
        p = s.get(m.Project, project_id)
        u = s.get(m.User, user_id)
        if p is None or u is None or not u.enabled or not p.enabled or p.is_domain:
            return []
        return [r["name"] for r in service.effective_roles(s, service.direct_role_ids(s, user_id, project=p))]


def _rule_regex(path: str) -> Any:
    import re
    out = []
    for part in re.split(r"(\*\*|\*)", path):
        out.append(".*" if part == "**" else "[^/]+" if part == "*" else re.escape(part))
    return re.compile("^" + "".join(out) + "/?$")


def access_allowed(data: tokens.TokenData, service_types: tuple[str, ...], method: str, path: str) -> bool:
    """Does the application credential behind a token (if it has access rules) allow
    ``method path`` on a service of one of ``service_types``? ``path`` is as the service
    sees it (e.g. /v2.1/servers); in a rule, ``*`` matches one path segment, ``**`` any."""
    rules = (data.body.get("application_credential") or {}).get("access_rules")
    if not rules:
        return True
    for rule in rules:
        if rule.get("service") in service_types and rule.get("method") == method \
                and _rule_regex(rule.get("path", "")).match(path.rstrip("/") or "/"):
            return True
    return False
