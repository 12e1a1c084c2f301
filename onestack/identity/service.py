"""Identity business rules: authentication, scopes, effective roles, catalog, bootstrap.

No HTTP here: functions take plain values and raise onestack.errors.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Iterable

from sqlalchemy import or_, select

from onestack import db, errors
from onestack.db.base import new_id, utcnow
from onestack.identity import models as m
from onestack.identity import passwords, tokens
from onestack.identity.errors import AuthFailed

DEFAULT_DOMAIN = "default"
DOMAIN_KEY = "<<keystone.domain.root>>"


def conf() -> Any:
    from onestack import conf as c
    return c.get().identity


# ------------------------------------------------------------------ lookups
def get_domain(s: Any, domain_id: str) -> m.Project:
    d = s.get(m.Project, domain_id)
    if d is None or not d.is_domain:
        raise errors.NotFound(f"Could not find domain: {domain_id}.")
    return d


def get_project(s: Any, project_id: str) -> m.Project:
    p = s.get(m.Project, project_id)
    if p is None or p.is_domain:
        raise errors.NotFound(f"Could not find project: {project_id}.")
    return p


def get_user(s: Any, user_id: str) -> m.User:
    u = s.get(m.User, user_id)
    if u is None:
        raise errors.NotFound(f"Could not find user: {user_id}.")
    return u


def domain_by_ref(s: Any, ref: Any, what: str = "domain") -> m.Project:
    """A domain from {"id": ...} or {"name": ...}; 401 on anything unusable (auth context)."""
    if not isinstance(ref, dict) or not (isinstance(ref.get("id"), str) or isinstance(ref.get("name"), str)):
        raise errors.BadRequest(f"{what} requires an id or a name.")
    if ref.get("id"):
        d = s.get(m.Project, ref["id"])
    else:
        d = s.scalar(select(m.Project).where(m.Project.is_domain.is_(True), m.Project.name == ref["name"]))
    if d is None or not d.is_domain:
        raise AuthFailed(f"Could not find domain: {ref.get('id') or ref.get('name')}.")
    return d


def ancestors(s: Any, project: m.Project) -> list[m.Project]:
    """Parent chain of a project, nearest first, up to (not including) its domain."""
    out: list[m.Project] = []
    seen = {project.id}
    pid = project.parent_id
    while pid and pid not in seen:
        seen.add(pid)
        p = s.get(m.Project, pid)
        if p is None or p.is_domain:
            break
        out.append(p)
        pid = p.parent_id
    return out


# ------------------------------------------------------------------ roles
def group_ids_of(s: Any, user_id: str) -> list[str]:
    return list(s.scalars(select(m.Membership.group_id).where(m.Membership.user_id == user_id)))


def expand_implied(s: Any, role_ids: Iterable[str]) -> list[str]:
    """role_ids plus everything they imply, transitively (cycles are harmless)."""
    implied = {}
    for row in s.execute(select(m.ImpliedRole.prior_role_id, m.ImpliedRole.implied_role_id)):
        implied.setdefault(row[0], []).append(row[1])
    out: list[str] = []
    stack = list(role_ids)
    while stack:
        rid = stack.pop(0)
        if rid in out:
            continue
        out.append(rid)
        stack.extend(implied.get(rid, []))
    return out


def direct_role_ids(s: Any, user_id: str, project: m.Project | None = None,
                    domain_id: str | None = None, system: bool = False) -> list[str]:
    """Role ids a user holds on a target from direct, group and inherited assignments."""
    actors = [user_id] + group_ids_of(s, user_id)
    A = m.Assignment
    conds = []
    if system:
        conds.append((A.target_id == "system") & A.type.in_([m.USER_SYSTEM, m.GROUP_SYSTEM]))
    elif project is not None:
        conds.append((A.target_id == project.id) & A.type.in_([m.USER_PROJECT, m.GROUP_PROJECT])
                     & A.inherited.is_(False))
        parents = [p.id for p in ancestors(s, project)]
        if parents:
            conds.append(A.target_id.in_(parents) & A.type.in_([m.USER_PROJECT, m.GROUP_PROJECT])
                         & A.inherited.is_(True))
        conds.append((A.target_id == project.domain_id) & A.type.in_([m.USER_DOMAIN, m.GROUP_DOMAIN])
                     & A.inherited.is_(True))
    elif domain_id is not None:
        conds.append((A.target_id == domain_id) & A.type.in_([m.USER_DOMAIN, m.GROUP_DOMAIN])
                     & A.inherited.is_(False))
    else:
        return []
    rows = s.scalars(select(A.role_id).where(A.actor_id.in_(actors), or_(*conds))).all()
    return list(dict.fromkeys(rows))


def effective_roles(s: Any, role_ids: Iterable[str]) -> list[dict[str, str]]:
    """[{id, name}] after implied-role expansion; domain-specific roles are not shown."""
    ids = expand_implied(s, role_ids)
    if not ids:
        return []
    roles = {r.id: r for r in s.scalars(select(m.Role).where(m.Role.id.in_(ids)))}
    out = []
    for rid in ids:
        r = roles.get(rid)
        if r is not None and r.domain_id is None:
            out.append({"id": r.id, "name": r.name})
    return out


# ------------------------------------------------------------------ catalog
_catalog_cache: tuple[int, list[dict[str, Any]]] = (-1, [])
_catalog_lock = threading.Lock()
# The substituted catalog per (project, user), for the revision it was built at (every
# catalog write bumps the identity revision, which empties this).
_scoped_catalogs: tuple[int, dict[tuple[str | None, str | None], list[dict[str, Any]]]] = (-1, {})


def catalog(project_id: str | None = None, user_id: str | None = None) -> list[dict[str, Any]]:
    """The catalog as a token sees it: ``%(project_id)s`` / ``$(project_id)s`` (and tenant_id,
    user_id) substituted; endpoints that cannot be substituted are left out, as keystone does.
    Callers must not modify the result (it is shared)."""
    global _scoped_catalogs
    rev = tokens.revision.current()
    cached_rev, by_scope = _scoped_catalogs
    if cached_rev == rev:
        hit = by_scope.get((project_id, user_id))
        if hit is not None:
            return hit
    else:
        by_scope = {}
    out = _substitute(_catalog_rows(), project_id, user_id)
    if len(by_scope) < 10000:
        by_scope[(project_id, user_id)] = out
    _scoped_catalogs = (rev, by_scope)
    return out


def _substitute(rows: list[dict[str, Any]], project_id: str | None,
                user_id: str | None) -> list[dict[str, Any]]:
    if not any("%(" in e["url"] or "$(" in e["url"] for svc in rows for e in svc["endpoints"]):
        return rows
    values = {"project_id": project_id, "tenant_id": project_id, "user_id": user_id}
    out = []
    for svc in rows:
        eps = []
        for e in svc["endpoints"]:
            url = e["url"].replace("$(", "%(")
            if "%(" in url:
                try:
                    url = url % {k: v for k, v in values.items() if v is not None}
                except (KeyError, ValueError, TypeError):
                    continue
            eps.append({**e, "url": url})
        out.append({**svc, "endpoints": eps})
    return out


def _catalog_rows() -> list[dict[str, Any]]:
    global _catalog_cache
    rev = tokens.revision.current()
    if _catalog_cache[0] == rev:
        return _catalog_cache[1]
    with db.read() as s:
        services = s.scalars(select(m.Service).where(m.Service.enabled.is_(True))).all()
        eps = s.scalars(select(m.Endpoint).where(m.Endpoint.enabled.is_(True))).all()
    by_svc: dict[str, list[dict[str, Any]]] = {}
    for e in eps:
        by_svc.setdefault(e.service_id, []).append(
            {"id": e.id, "interface": e.interface, "region_id": e.region_id,
             "region": e.region_id, "url": e.url})
    out = [{"id": svc.id, "type": svc.type, "name": svc.name or "",
            "endpoints": by_svc.get(svc.id, [])} for svc in services]
    with _catalog_lock:
        _catalog_cache = (rev, out)
    return out


# ------------------------------------------------------------------ token data
def _domain_ref(s: Any, domain_id: str | None) -> dict[str, Any]:
    d = s.get(m.Project, domain_id) if domain_id else None
    return {"id": domain_id, "name": d.name if d else None}


def token_data(payload: tokens.Payload) -> tokens.TokenData:
    """Derive everything a token means now; NotFound when it no longer means anything."""
    invalid = errors.NotFound("Failed to validate token")
    with db.read() as s:
        user = s.get(m.User, payload.user_id)
        if user is None or not user.enabled:
            raise invalid
        udomain = s.get(m.Project, user.domain_id)
        if udomain is None or not udomain.enabled:
            raise invalid
        body: dict[str, Any] = {
            "methods": payload.methods,
            "user": {"id": user.id, "name": user.name,
                     "domain": {"id": udomain.id, "name": udomain.name},
                     "password_expires_at": (user.password_expires_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
                                             if user.password_expires_at else None)},
            "audit_ids": payload.audit_ids,
            "expires_at": tokens.iso(payload.expires_at),
            "issued_at": tokens.iso(payload.issued_at),
        }
        roles: list[dict[str, str]] = []
        project_domain_id = None
        app_cred = None
        if payload.app_cred_id:
            app_cred = s.get(m.ApplicationCredential, payload.app_cred_id)
            if app_cred is None or (app_cred.expires_at and app_cred.expires_at <= utcnow()):
                raise invalid
        if payload.system:
            role_ids = direct_role_ids(s, user.id, system=True)
            roles = effective_roles(s, role_ids)
            body["system"] = {"all": True}
        elif payload.domain_id:
            d = s.get(m.Project, payload.domain_id)
            if d is None or not d.is_domain or not d.enabled:
                raise invalid
            roles = effective_roles(s, direct_role_ids(s, user.id, domain_id=d.id))
            body["domain"] = {"id": d.id, "name": d.name}
        elif payload.project_id:
            p = s.get(m.Project, payload.project_id)
            if p is None or not p.enabled:
                raise invalid
            pd = s.get(m.Project, p.domain_id) if p.domain_id else None
            if pd is not None and not pd.enabled:
                raise invalid
            if any(not a.enabled for a in ancestors(s, p)):
                raise invalid
            project_domain_id = p.domain_id
            roles = effective_roles(s, direct_role_ids(s, user.id, project=p))
            body["project"] = {"id": p.id, "name": p.name,
                               "domain": {"id": p.domain_id, "name": pd.name if pd else None}}
            body["is_domain"] = False
        if app_cred is not None:
            allowed = {r["id"] for r in app_cred.roles}
            roles = [r for r in roles if r["id"] in allowed]
            body["application_credential"] = {"id": app_cred.id, "name": app_cred.name,
                                              "restricted": not app_cred.unrestricted}
            if app_cred.access_rules:
                body["application_credential"]["access_rules"] = app_cred.access_rules
        if payload.trust_id:
            from onestack.identity import trusts
            facts = trusts.token_facts(s, payload)
            if facts is None:
                raise invalid
            roles, body["OS-TRUST:trust"] = facts
        if payload.scope != "unscoped":
            if not roles:
                raise invalid
            body["roles"] = roles
    return tokens.TokenData(payload=payload, body=body, roles=roles, user_domain_id=user.domain_id,
                            project_domain_id=project_domain_id)


# ------------------------------------------------------------------ authentication
def _user_from_ref(s: Any, ref: Any) -> m.User:
    if not isinstance(ref, dict):
        raise errors.BadRequest("'user' must be an object with an id, or a name and a domain.")
    if ref.get("id"):
        if not isinstance(ref["id"], str):
            raise errors.BadRequest("user id must be a string.")
        user = s.get(m.User, ref["id"])
    elif ref.get("name"):
        if not isinstance(ref["name"], str):
            raise errors.BadRequest("user name must be a string.")
        if "domain" not in ref:
            raise errors.BadRequest("A user name needs its domain (id or name).")
        d = domain_by_ref(s, ref["domain"], "user domain")
        user = s.scalar(select(m.User).where(m.User.domain_id == d.id, m.User.name == ref["name"]))
    else:
        raise errors.BadRequest("'user' needs an id, or a name and a domain.")
    if user is None:
        raise AuthFailed("The request you have made requires authentication.")
    return user


def _check_user_usable(s: Any, user: m.User) -> None:
    d = s.get(m.Project, user.domain_id)
    if not user.enabled or d is None or not d.enabled:
        raise AuthFailed("The account is disabled for user: " + user.id)


def _password_method(s: Any, data: Any) -> tuple[m.User, dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("user"), dict):
        raise errors.BadRequest("password authentication needs a 'user' object.")
    ref = data["user"]
    user = _user_from_ref(s, ref)
    pw = ref.get("password")
    if not isinstance(pw, str):
        raise errors.BadRequest("'password' must be a string.")
    c = conf()
    if c.lockout_failure_attempts and user.failed_auth_count >= c.lockout_failure_attempts:
        if user.failed_auth_at and user.failed_auth_at + dt.timedelta(seconds=c.lockout_duration) > utcnow():
            raise AuthFailed("The account is locked for user: " + user.id)
    if not passwords.check_password(pw, user.password_hash):
        return user, {"failed": True}
    _check_user_usable(s, user)
    if user.password_expires_at and user.password_expires_at <= utcnow():
        raise AuthFailed(f"The password is expired and needs to be changed for user: {user.id}.")
    return user, {}


def _record_failure(user_id: str) -> None:
    with db.write() as s:
        u = s.get(m.User, user_id)
        if u is not None:
            u.failed_auth_count = (u.failed_auth_count or 0) + 1
            u.failed_auth_at = utcnow()


def _appcred_method(s: Any, data: Any) -> tuple[m.User, m.ApplicationCredential]:
    if not isinstance(data, dict):
        raise errors.BadRequest("application_credential must be an object.")
    secret = data.get("secret")
    if not isinstance(secret, str):
        raise errors.BadRequest("application_credential needs a 'secret'.")
    ac = None
    if data.get("id"):
        ac = s.get(m.ApplicationCredential, data["id"])
    elif data.get("name"):
        user = _user_from_ref(s, data.get("user"))
        ac = s.scalar(select(m.ApplicationCredential).where(
            m.ApplicationCredential.user_id == user.id, m.ApplicationCredential.name == data["name"]))
    else:
        raise errors.BadRequest("application_credential needs an id, or a name and a user.")
    if ac is None or not passwords.check_password(secret, ac.secret_hash):
        raise AuthFailed("Invalid application credential.")
    if ac.expires_at and ac.expires_at <= utcnow():
        raise AuthFailed("The application credential has expired.")
    user = s.get(m.User, ac.user_id)
    if user is None:
        raise AuthFailed("Invalid application credential.")
    _check_user_usable(s, user)
    return user, ac


def authenticate(auth: Any) -> tuple[str, tokens.TokenData]:
    """POST /v3/auth/tokens: returns (token, data). ``auth`` is the body's "auth" object."""
    if not isinstance(auth, dict):
        raise errors.BadRequest("'auth' is a required property and must be an object.")
    ident = auth.get("identity")
    if not isinstance(ident, dict) or not isinstance(ident.get("methods"), list) or not ident["methods"]:
        raise errors.BadRequest("'identity' with a non-empty 'methods' list is required.")
    methods = ident["methods"]
    for meth in methods:
        if meth not in ("password", "token", "application_credential"):
            raise AuthFailed(f"Attempted to authenticate with an unsupported method: {meth}.")
    scope = auth.get("scope")
    audit_ids = [tokens.random_audit_id()]
    expires = time.time() + conf().token_expiration
    app_cred = None
    failed_user = None
    inherited: list[str] = []
    with db.read() as s:
        user = None
        if "token" in methods:
            t = ident.get("token")
            if not isinstance(t, dict) or not isinstance(t.get("id"), str):
                raise errors.BadRequest("token authentication needs 'token': {'id': ...}.")
            try:
                old = tokens.validate(t["id"])
            except errors.NotFound:
                raise AuthFailed("Could not validate the token.") from None
            if old.payload.app_cred_id:
                raise errors.Forbidden("A token from an application credential cannot be rescoped.")
            if old.payload.trust_id:
                raise errors.Forbidden("A trust-scoped token cannot be rescoped.")
            user = s.get(m.User, old.payload.user_id)
            expires = old.payload.expires_at
            audit_ids = [tokens.random_audit_id(), old.payload.audit_ids[-1]]
            inherited = old.payload.methods   # a rescoped token keeps its methods
            if scope is None and old.payload.scope != "unscoped":
                raise errors.Forbidden("Rescoping a scoped token without a new scope is not allowed.")
        if "password" in methods:
            pu, info = _password_method(s, ident.get("password"))
            if info.get("failed"):
                failed_user = pu.id
            elif user is not None and pu.id != user.id:
                raise AuthFailed("Authentication methods name different users.")
            user = pu
        if "application_credential" in methods:
            user, app_cred = _appcred_method(s, ident.get("application_credential"))
        if failed_user is None:
            assert user is not None
            _check_user_usable(s, user)
            payload = tokens.Payload(user_id=user.id, methods=list(dict.fromkeys(inherited + methods)),
                                     expires_at=expires, issued_at=time.time(),
                                     audit_ids=audit_ids)
            if app_cred is not None:
                if scope is not None:
                    raise errors.Forbidden("An application credential token cannot carry a scope.")
                payload.app_cred_id = app_cred.id
                payload.project_id = app_cred.project_id
                payload.system = app_cred.system
                if app_cred.expires_at:
                    payload.expires_at = min(payload.expires_at, app_cred.expires_at.replace(
                        tzinfo=dt.timezone.utc).timestamp())
            elif scope is not None:
                _apply_scope(s, user, scope, payload)
            elif user.default_project_id:
                p = s.get(m.Project, user.default_project_id)
                if p is not None and p.enabled and direct_role_ids(s, user.id, project=p):
                    payload.project_id = p.id
    if failed_user is not None:
        if conf().lockout_failure_attempts:
            _record_failure(failed_user)
        raise AuthFailed("The request you have made requires authentication.")
    token = tokens.encrypt(payload)
    try:
        data = token_data(payload)
    except errors.NotFound:
        raise AuthFailed("The user has no role on the requested scope, or the scope is disabled.") \
            from None
    return token, data


def _apply_scope(s: Any, user: m.User, scope: Any, payload: tokens.Payload) -> None:
    if scope == "unscoped":
        return
    if not isinstance(scope, dict) or len(scope) != 1:
        raise errors.BadRequest("'scope' must name exactly one of project, domain or system.")
    if "project" in scope:
        ref = scope["project"]
        if not isinstance(ref, dict):
            raise errors.BadRequest("scope 'project' must be an object.")
        if ref.get("id"):
            p = s.get(m.Project, ref["id"]) if isinstance(ref["id"], str) else None
        elif ref.get("name"):
            if "domain" not in ref:
                raise errors.BadRequest("A project name needs its domain (id or name).")
            d = domain_by_ref(s, ref["domain"], "project domain")
            p = s.scalar(select(m.Project).where(m.Project.domain_id == d.id, m.Project.name == ref["name"],
                                                 m.Project.is_domain.is_(False)))
        else:
            raise errors.BadRequest("scope 'project' needs an id, or a name and a domain.")
        if p is None or p.is_domain:
            raise AuthFailed(f"Could not find project: {ref.get('id') or ref.get('name')}.")
        if not p.enabled:
            raise AuthFailed(f"Project {p.id} is disabled.")
        if not direct_role_ids(s, user.id, project=p):
            raise AuthFailed(f"User {user.id} has no access to project {p.id}.")
        payload.project_id = p.id
    elif "domain" in scope:
        d = domain_by_ref(s, scope["domain"])
        if not d.enabled:
            raise AuthFailed(f"Domain {d.id} is disabled.")
        if not direct_role_ids(s, user.id, domain_id=d.id):
            raise AuthFailed(f"User {user.id} has no access to domain {d.id}.")
        payload.domain_id = d.id
    elif "system" in scope:
        if scope["system"] != {"all": True}:
            raise errors.BadRequest("scope 'system' must be {'all': true}.")
        if not direct_role_ids(s, user.id, system=True):
            raise AuthFailed(f"User {user.id} has no access to the system.")
        payload.system = "all"
    elif "OS-TRUST:trust" in scope:
        from onestack.identity import trusts
        trusts.scope_token(s, user, scope["OS-TRUST:trust"], payload)
    else:
        raise errors.BadRequest("'scope' must name exactly one of project, domain or system.")


# ------------------------------------------------------------------ writes used by bootstrap
def ensure_domain(s: Any, domain_id: str, name: str, description: str = "") -> m.Project:
    d = s.get(m.Project, domain_id)
    if d is None:
        d = s.scalar(select(m.Project).where(m.Project.is_domain.is_(True), m.Project.name == name))
    if d is None:
        d = m.Project(id=domain_id, name=name, domain_id=None, domain_key=DOMAIN_KEY, parent_id=None,
                      description=description, enabled=True, is_domain=True, extra={}, options={})
        s.add(d)
        s.flush()
    return d


def ensure_project(s: Any, name: str, domain_id: str, description: str = "") -> m.Project:
    p = s.scalar(select(m.Project).where(m.Project.domain_id == domain_id, m.Project.name == name))
    if p is None:
        p = m.Project(id=new_id(), name=name, domain_id=domain_id, domain_key=domain_id,
                      parent_id=domain_id, description=description, enabled=True, is_domain=False,
                      extra={}, options={})
        s.add(p)
        s.flush()
    return p


def ensure_role(s: Any, name: str) -> m.Role:
    r = s.scalar(select(m.Role).where(m.Role.name == name, m.Role.domain_id.is_(None)))
    if r is None:
        r = m.Role(id=new_id(), name=name, domain_id=None, domain_key="<<null>>", options={}, extra={})
        s.add(r)
        s.flush()
    return r


def ensure_user(s: Any, name: str, domain_id: str, password: str | None,
                reset_password: bool = False) -> m.User:
    u = s.scalar(select(m.User).where(m.User.domain_id == domain_id, m.User.name == name))
    if u is None:
        u = m.User(id=new_id(), name=name, domain_id=domain_id, enabled=True, extra={}, options={})
        s.add(u)
        reset_password = True
    if reset_password and password is not None:
        u.password_hash = passwords.hash_password(password, conf().password_hash_rounds)
        u.password_created_at = utcnow()
    s.flush()
    return u


def ensure_assignment(s: Any, type_: str, actor_id: str, target_id: str, role_id: str,
                      inherited: bool = False) -> None:
    key = (type_, actor_id, target_id, role_id, inherited)
    if s.get(m.Assignment, key) is None:
        s.add(m.Assignment(type=type_, actor_id=actor_id, target_id=target_id, role_id=role_id,
                           inherited=inherited))
        s.flush()


def ensure_implied(s: Any, prior_id: str, implied_id: str) -> None:
    if s.get(m.ImpliedRole, (prior_id, implied_id)) is None:
        s.add(m.ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
        s.flush()


def ensure_region(s: Any, region_id: str) -> None:
    if s.get(m.Region, region_id) is None:
        s.add(m.Region(id=region_id, description="", extra={}))
        s.flush()


def ensure_service_endpoints(s: Any, type_: str, name: str, url: str, region: str) -> m.Service:
    svc = s.scalar(select(m.Service).where(m.Service.type == type_))
    if svc is None:
        svc = m.Service(id=new_id(), type=type_, name=name, enabled=True, extra={})
        s.add(svc)
        s.flush()
    existing = {e.interface: e for e in s.scalars(select(m.Endpoint).where(m.Endpoint.service_id == svc.id))}
    for iface in ("public", "internal", "admin"):
        e = existing.get(iface)
        if e is None:
            s.add(m.Endpoint(id=new_id(), service_id=svc.id, interface=iface, url=url,
                             region_id=region, enabled=True, extra={}))
        elif e.url != url:
            e.url = url
    s.flush()
    return svc


# ------------------------------------------------------------------ auth listings
def auth_projects(user_id: str) -> list[dict[str, Any]]:
    """Projects the user can scope to: enabled, with at least one (effective) role."""
    from onestack.identity import directory  # directory builds on this module
    with db.read() as s:
        return [{"id": p.id, "name": p.name, "domain_id": p.domain_id, "enabled": p.enabled,
                 "description": p.description or "", "parent_id": p.parent_id,
                 "is_domain": False, "links": {}}
                for p in directory.projects_for_user(s, user_id) if p.enabled]


def auth_domains(user_id: str) -> list[dict[str, Any]]:
    with db.read() as s:
        domains = s.scalars(select(m.Project).where(m.Project.is_domain.is_(True),
                                                    m.Project.enabled.is_(True))).all()
        return [{"id": d.id, "name": d.name, "enabled": d.enabled, "description": d.description or "",
                 "links": {}} for d in domains if direct_role_ids(s, user_id, domain_id=d.id)]


def auth_system(user_id: str) -> list[dict[str, Any]]:
    with db.read() as s:
        return [{"all": True}] if direct_role_ids(s, user_id, system=True) else []
