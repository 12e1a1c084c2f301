"""Directory business rules: domains, projects (hierarchy, tags), users, groups, roles,
implied roles and role assignments.

No HTTP here: functions take a session and plain values, return model rows (or plain
dicts for assignments) and raise onestack.errors. Every write that can change what a
token means bumps ``tokens.revision`` in the same transaction.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Any, Iterable

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from onestack import errors
from onestack.db.base import new_id, utcnow
from onestack.identity import models as m
from onestack.identity import passwords, tokens
from onestack.identity.service import DOMAIN_KEY, ancestors, conf, get_domain, get_project, get_user

ROLE_NULL_DOMAIN = "<<null>>"
MAX_TAGS = 80
USER_OPTIONS = {
    "ignore_change_password_upon_first_use": bool,
    "ignore_password_expiry": bool,
    "ignore_lockout_failure_attempts": bool,
    "lock_password": bool,
    "multi_factor_auth_enabled": bool,
    "multi_factor_auth_rules": list,
}
IMMUTABLE_OPTIONS = {"immutable": bool}
COMPARATORS = ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith")


# ------------------------------------------------------------------ helpers
@contextlib.contextmanager
def unique_writes() -> Any:
    """Wrap a write unit of work: a unique-constraint race lost to a concurrent request
    (the name checks above run first, so only a race gets here) is a 409, not a 500."""
    try:
        yield
    except IntegrityError:
        raise errors.Conflict("Conflict occurred attempting to store the resource - a concurrent "
                              "request stored a duplicate entry first.") from None


def _bump(s: Any) -> None:
    tokens.revision.bump(s)


def truthy(value: str | None) -> bool:
    """Keystone's reading of a boolean query parameter (?enabled=..., ?effective)."""
    if value is None:
        return False
    return value.strip().lower() not in ("0", "false", "no", "off", "n", "f")


def name_filters(model: Any, query: Iterable[tuple[str, str]], attrs: Iterable[str]) -> list[Any]:
    """WHERE clauses for ``attr__contains=x`` style comparators on string columns."""
    allowed = set(attrs)
    out = []
    for key, value in query:
        attr, sep, op = key.partition("__")
        if not sep or attr not in allowed or op not in COMPARATORS:
            continue
        col = getattr(model, attr)
        if op.startswith("i"):
            col, value, op = func.lower(col), value.lower(), op[1:]
        pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"contains": f"%{pattern}%", "startswith": f"{pattern}%",
                   "endswith": f"%{pattern}"}[op]
        out.append(col.like(pattern, escape="\\"))
    return out


def check_options(options: Any, registry: dict[str, type], existing: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    """Merge ``options`` into ``existing``; null removes an option; unknown ones are 400."""
    if not isinstance(options, dict):
        raise errors.ValidationError("Invalid input for field 'options': must be an object.")
    out = dict(existing or {})
    for k, v in options.items():
        if k not in registry:
            raise errors.ValidationError(f"Invalid input for field 'options': unknown option {k!r}.")
        if v is None:
            out.pop(k, None)
            continue
        t = registry[k]
        if t is bool and not isinstance(v, bool):
            raise errors.ValidationError(f"Invalid input for option {k!r}: {v!r} is not a boolean.")
        if t is list:
            if not isinstance(v, list) or not all(
                    isinstance(rule, list) and rule and all(isinstance(x, str) for x in rule) for rule in v):
                raise errors.ValidationError(
                    f"Invalid input for option {k!r}: must be a list of lists of method names.")
        out[k] = v
    return out


def _immutable(obj: Any, kind: str) -> None:
    if (obj.options or {}).get("immutable"):
        raise errors.Forbidden(f"{kind} {obj.id} is immutable and cannot be changed.")


def _check_immutable_update(obj: Any, kind: str, changes: dict[str, Any]) -> None:
    """Upstream: an immutable resource accepts only an update that clears the option."""
    if not (obj.options or {}).get("immutable"):
        return
    opts = changes.get("options") or {}
    if set(changes) == {"options"} and "immutable" in opts and not opts["immutable"]:
        return
    raise errors.Forbidden(f"{kind} {obj.id} is immutable and cannot be changed.")


# ------------------------------------------------------------------ domains
def list_domains(s: Any, name: str | None = None, enabled: bool | None = None,
                 only_id: str | None = None, query: Iterable[tuple[str, str]] = ()) -> list[m.Project]:
    stmt = select(m.Project).where(m.Project.is_domain.is_(True))
    if name is not None:
        stmt = stmt.where(m.Project.name == name)
    if enabled is not None:
        stmt = stmt.where(m.Project.enabled.is_(enabled))
    if only_id is not None:
        stmt = stmt.where(m.Project.id == only_id)
    stmt = stmt.where(*name_filters(m.Project, query, ("name", "description")))
    return list(s.scalars(stmt.order_by(m.Project.name)))


def _unique_domain_name(s: Any, name: str, exclude: str | None = None) -> None:
    q = select(m.Project.id).where(m.Project.is_domain.is_(True), func.lower(m.Project.name) == name.lower())
    if exclude:
        q = q.where(m.Project.id != exclude)
    if s.scalar(q) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store domain - Duplicate entry found "
                              f"with name {name}.")


def create_domain(s: Any, values: dict[str, Any]) -> m.Project:
    _unique_domain_name(s, values["name"])
    did = values.get("id") or new_id()
    if s.get(m.Project, did) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store domain - Duplicate ID, {did}.")
    d = m.Project(id=did, name=values["name"], domain_id=None, domain_key=DOMAIN_KEY, parent_id=None,
                  description=values.get("description"), enabled=values.get("enabled", True),
                  is_domain=True, extra=values.get("_extra", {}),
                  options=check_options(values.get("options") or {}, IMMUTABLE_OPTIONS))
    s.add(d)
    if values.get("tags"):
        set_tags(s, d, values["tags"])
    s.flush()      # a new domain changes no existing token: no revision bump
    return d


def update_domain(s: Any, domain_id: str, values: dict[str, Any]) -> m.Project:
    d = get_domain(s, domain_id)
    _check_immutable_update(d, "Domain", values)
    if "name" in values and values["name"] != d.name:
        _unique_domain_name(s, values["name"], exclude=d.id)
        d.name = values["name"]
    if "description" in values:
        d.description = values["description"]
    if "enabled" in values:
        d.enabled = values["enabled"]
    if "options" in values:
        d.options = check_options(values["options"], IMMUTABLE_OPTIONS, d.options)
    if "tags" in values:
        set_tags(s, d, values["tags"])
    if values.get("_extra"):
        d.extra = {**(d.extra or {}), **values["_extra"]}
    s.flush()
    _bump(s)
    return d


def delete_domain(s: Any, domain_id: str) -> None:
    d = get_domain(s, domain_id)
    _immutable(d, "Domain")
    if d.enabled:
        raise errors.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    # Everything the domain owns goes with it.
    projects = list(s.scalars(select(m.Project.id).where(m.Project.domain_id == d.id)))
    users = list(s.scalars(select(m.User.id).where(m.User.domain_id == d.id)))
    groups = list(s.scalars(select(m.Group.id).where(m.Group.domain_id == d.id)))
    roles = list(s.scalars(select(m.Role.id).where(m.Role.domain_id == d.id)))
    targets = projects + [d.id]
    s.execute(delete(m.Assignment).where(or_(m.Assignment.target_id.in_(targets),
                                             m.Assignment.actor_id.in_(users + groups),
                                             m.Assignment.role_id.in_(roles))))
    s.execute(delete(m.ImpliedRole).where(or_(m.ImpliedRole.prior_role_id.in_(roles),
                                              m.ImpliedRole.implied_role_id.in_(roles))))
    for model, col, ids in ((m.Role, m.Role.id, roles), (m.Group, m.Group.id, groups),
                            (m.User, m.User.id, users), (m.Project, m.Project.id, projects)):
        if ids:
            s.execute(delete(model).where(col.in_(ids)))
    s.delete(d)
    s.flush()
    tokens.revoke(s, domain_id=d.id)


# ------------------------------------------------------------------ projects
def children(s: Any, project_id: str) -> list[m.Project]:
    return list(s.scalars(select(m.Project).where(m.Project.parent_id == project_id,
                                                  m.Project.is_domain.is_(False))))


def subtree(s: Any, project_id: str) -> list[m.Project]:
    """Every descendant of a project, breadth first (the project itself excluded)."""
    out: list[m.Project] = []
    frontier = [project_id]
    seen = {project_id}
    while frontier:
        rows = list(s.scalars(select(m.Project).where(m.Project.parent_id.in_(frontier),
                                                      m.Project.is_domain.is_(False))))
        frontier = []
        for p in rows:
            if p.id not in seen:
                seen.add(p.id)
                out.append(p)
                frontier.append(p.id)
    return out


def tags_of(s: Any, project_ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(project_ids)
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    for pid, name in s.execute(select(m.ProjectTag.project_id, m.ProjectTag.name)
                               .where(m.ProjectTag.project_id.in_(ids)).order_by(m.ProjectTag.name)):
        out[pid].append(name)
    return out


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str):
        raise errors.ValidationError(f"Invalid input for field 'tags': {tag!r} is not of type 'string'.")
    if not 1 <= len(tag) <= 255:
        raise errors.ValidationError("Invalid input for field 'tags': a tag has 1 to 255 characters.")
    if "/" in tag or "," in tag:
        raise errors.ValidationError(f"Invalid input for field 'tags': {tag!r} contains '/' or ','.")
    return tag


def check_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list):
        raise errors.ValidationError(f"Invalid input for field 'tags': {tags!r} is not of type 'array'.")
    if len(tags) > MAX_TAGS:
        raise errors.ValidationError(f"Invalid input for field 'tags': at most {MAX_TAGS} tags are allowed.")
    out = [check_tag(t) for t in tags]
    if len(set(out)) != len(out):
        raise errors.ValidationError("Invalid input for field 'tags': tags must be unique.")
    return out


def set_tags(s: Any, project: m.Project, tags: list[str]) -> list[str]:
    tags = check_tags(tags)
    s.execute(delete(m.ProjectTag).where(m.ProjectTag.project_id == project.id))
    s.flush()
    for t in tags:
        s.add(m.ProjectTag(project_id=project.id, name=t))
    s.flush()
    return sorted(tags)


def add_tag(s: Any, project: m.Project, tag: str) -> list[str]:
    check_tag(tag)
    current = tags_of(s, [project.id])[project.id]
    if tag not in current:
        if len(current) >= MAX_TAGS:
            raise errors.ValidationError(f"A project has at most {MAX_TAGS} tags.")
        s.add(m.ProjectTag(project_id=project.id, name=tag))
        s.flush()
        current.append(tag)
    return sorted(current)


def remove_tag(s: Any, project: m.Project, tag: str) -> None:
    res = s.execute(delete(m.ProjectTag).where(m.ProjectTag.project_id == project.id,
                                               m.ProjectTag.name == tag))
    if res.rowcount == 0:
        raise errors.NotFound(f"Tag {tag} was not found on project {project.id}.")


def _tag_clause(tags: list[str], mode: str) -> Any:
    has = [exists().where(m.ProjectTag.project_id == m.Project.id, m.ProjectTag.name == t) for t in tags]
    if mode == "tags":
        return and_(*has)
    if mode == "tags-any":
        return or_(*has)
    if mode == "not-tags":
        return ~and_(*has)
    return ~or_(*has)


def list_projects(s: Any, filters: dict[str, Any], query: Iterable[tuple[str, str]] = (),
                  tag_filters: dict[str, list[str]] | None = None) -> list[m.Project]:
    stmt = select(m.Project)
    is_domain = filters.get("is_domain", False)
    stmt = stmt.where(m.Project.is_domain.is_(bool(is_domain)))
    for attr in ("name", "domain_id", "parent_id"):
        if attr in filters:
            stmt = stmt.where(getattr(m.Project, attr) == filters[attr])
    if "enabled" in filters:
        stmt = stmt.where(m.Project.enabled.is_(filters["enabled"]))
    if "ids" in filters:
        stmt = stmt.where(m.Project.id.in_(filters["ids"]))
    for mode, tags in (tag_filters or {}).items():
        if tags:
            stmt = stmt.where(_tag_clause(tags, mode))
    stmt = stmt.where(*name_filters(m.Project, query, ("name", "description")))
    return list(s.scalars(stmt.order_by(m.Project.name, m.Project.id)))


def _project_name_free(s: Any, domain_id: str, name: str, exclude: str | None = None) -> None:
    q = select(m.Project.id).where(m.Project.domain_key == domain_id, m.Project.name == name)
    if exclude:
        q = q.where(m.Project.id != exclude)
    if s.scalar(q) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store project - it is not permitted to "
                              f"have two projects with the same name in the same domain : {name}.")


def resolve_project_location(s: Any, values: dict[str, Any], default_domain: str) -> tuple[str, str]:
    """(domain_id, parent_id) of a new project, validated as upstream (400 on a bad ref)."""
    domain_id = values.get("domain_id")
    parent_id = values.get("parent_id")
    parent = None
    if parent_id:
        parent = s.get(m.Project, parent_id)
        if parent is None:
            raise errors.ValidationError(f"Could not find project: {parent_id}.")
        parent_domain = parent.id if parent.is_domain else parent.domain_id
        if domain_id and domain_id != parent_domain:
            raise errors.ValidationError(
                "Cannot create project, the parent and the project must be in the same domain.")
        domain_id = parent_domain
        if not parent.is_domain and not parent.enabled:
            raise errors.ValidationError(f"Cannot create project, since its parent ({parent.id}) is disabled.")
    domain_id = domain_id or default_domain
    d = s.get(m.Project, domain_id)
    if d is None or not d.is_domain:
        raise errors.ValidationError(f"Could not find domain: {domain_id}.")
    return domain_id, parent_id or domain_id


def create_project(s: Any, values: dict[str, Any], default_domain: str) -> m.Project:
    if values.get("is_domain"):
        if values.get("parent_id") or values.get("domain_id"):
            raise errors.ValidationError("A project acting as a domain has no parent and no domain.")
        return create_domain(s, values)
    domain_id, parent_id = resolve_project_location(s, values, default_domain)
    _project_name_free(s, domain_id, values["name"])
    pid = values.get("id") or new_id()
    p = m.Project(id=pid, name=values["name"], domain_id=domain_id, domain_key=domain_id,
                  parent_id=parent_id, description=values.get("description"),
                  enabled=values.get("enabled", True), is_domain=False,
                  extra=values.get("_extra", {}),
                  options=check_options(values.get("options") or {}, IMMUTABLE_OPTIONS))
    s.add(p)
    s.flush()
    if values.get("tags"):
        set_tags(s, p, values["tags"])
    return p


def update_project(s: Any, project_id: str, values: dict[str, Any]) -> m.Project:
    p = s.get(m.Project, project_id)
    if p is None:
        raise errors.NotFound(f"Could not find project: {project_id}.")
    if p.is_domain:
        return update_domain(s, project_id, values)
    _check_immutable_update(p, "Project", values)
    if "domain_id" in values and values["domain_id"] != p.domain_id:
        raise errors.ValidationError("Update of `domain_id` is not allowed.")
    if "parent_id" in values and values["parent_id"] != p.parent_id:
        raise errors.Forbidden("Update of `parent_id` is not allowed.")
    if "is_domain" in values and values["is_domain"] != p.is_domain:
        raise errors.ValidationError("Update of `is_domain` is not allowed.")
    if "name" in values and values["name"] != p.name:
        _project_name_free(s, p.domain_id, values["name"], exclude=p.id)
        p.name = values["name"]
    if "description" in values:
        p.description = values["description"]
    if "enabled" in values and values["enabled"] != p.enabled:
        if values["enabled"]:
            if any(not a.enabled for a in ancestors(s, p)):
                raise errors.Forbidden(f"Cannot enable project {p.id} since it has disabled parents.")
        elif any(c.enabled for c in subtree(s, p.id)):
            raise errors.Forbidden(f"Cannot disable project {p.id} since its subtree contains enabled "
                                   f"projects.")
        p.enabled = values["enabled"]
    if "options" in values:
        p.options = check_options(values["options"], IMMUTABLE_OPTIONS, p.options)
    if "tags" in values:
        set_tags(s, p, values["tags"])
    if values.get("_extra"):
        p.extra = {**(p.extra or {}), **values["_extra"]}
    s.flush()
    _bump(s)
    return p


def delete_project(s: Any, project_id: str) -> None:
    p = s.get(m.Project, project_id)
    if p is None:
        raise errors.NotFound(f"Could not find project: {project_id}.")
    if p.is_domain:
        return delete_domain(s, project_id)
    _immutable(p, "Project")
    if children(s, p.id):
        raise errors.Forbidden(f"Cannot delete the project {p.id} since it is not a leaf in the "
                               f"hierarchy. Use the cascade option if you want to delete a subtree.")
    s.execute(delete(m.Assignment).where(m.Assignment.target_id == p.id))
    s.execute(delete(m.ProjectTag).where(m.ProjectTag.project_id == p.id))
    s.delete(p)
    s.flush()
    tokens.revoke(s, project_id=p.id)


def parents_of(s: Any, p: m.Project) -> list[m.Project]:
    """Ancestors of a project, nearest first, ending with its domain."""
    out = ancestors(s, p)
    d = s.get(m.Project, p.domain_id) if p.domain_id else None
    if d is not None:
        out.append(d)
    return out


def parents_as_ids(s: Any, p: m.Project) -> dict[str, Any] | None:
    chain = parents_of(s, p)
    tree: dict[str, Any] | None = None
    for anc in reversed(chain):
        tree = {anc.id: tree}
    return tree


def subtree_as_ids(s: Any, p: m.Project) -> dict[str, Any] | None:
    kids = children(s, p.id)
    if not kids:
        return None
    return {c.id: subtree_as_ids(s, c) for c in kids}


# ------------------------------------------------------------------ users
def _check_password_rules(password: str) -> None:
    c = conf()
    if len(password) > c.max_password_length:
        raise errors.ValidationError(
            f"Invalid input for field 'password': longer than {c.max_password_length} characters.")
    if c.password_regex and not re.match(c.password_regex, password):
        raise errors.ValidationError("Password validation error: "
                                     + (c.password_regex_description or "the password is too weak."))


def _set_password(s: Any, user: m.User, password: str | None, admin_reset: bool) -> None:
    c = conf()
    if password is None:
        user.password_hash = None
        user.password_created_at = None
        user.password_expires_at = None
        return
    _check_password_rules(password)
    if c.unique_last_password_count > 1 and not admin_reset:
        recent = list(s.scalars(select(m.PasswordHistory.password_hash)
                                .where(m.PasswordHistory.user_id == user.id)
                                .order_by(m.PasswordHistory.id.desc())
                                .limit(c.unique_last_password_count)))
        if any(passwords.check_password(password, h) for h in recent):
            raise errors.ValidationError(f"Password validation error: the new password must not match "
                                         f"any of the last {c.unique_last_password_count} passwords.")
    now = utcnow()
    user.password_hash = passwords.hash_password(password, c.password_hash_rounds)
    user.password_created_at = now
    opts = user.options or {}
    if admin_reset and c.change_password_upon_first_use and \
            not opts.get("ignore_change_password_upon_first_use"):
        user.password_expires_at = now
    elif c.password_expires_days and not opts.get("ignore_password_expiry"):
        user.password_expires_at = now + dt.timedelta(days=c.password_expires_days)
    else:
        user.password_expires_at = None
    s.flush()
    s.add(m.PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))


def list_users(s: Any, filters: dict[str, Any], query: Iterable[tuple[str, str]] = ()) -> list[m.User]:
    stmt = select(m.User)
    for attr in ("name", "domain_id"):
        if attr in filters:
            stmt = stmt.where(getattr(m.User, attr) == filters[attr])
    if "enabled" in filters:
        stmt = stmt.where(m.User.enabled.is_(filters["enabled"]))
    if "ids" in filters:
        stmt = stmt.where(m.User.id.in_(filters["ids"]))
    stmt = stmt.where(*name_filters(m.User, query, ("name", "email")))
    return list(s.scalars(stmt.order_by(m.User.name, m.User.id)))


def _user_name_free(s: Any, domain_id: str, name: str, exclude: str | None = None) -> None:
    q = select(m.User.id).where(m.User.domain_id == domain_id, m.User.name == name)
    if exclude:
        q = q.where(m.User.id != exclude)
    if s.scalar(q) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store user - Duplicate entry found "
                              f"with name {name} at domain ID {domain_id}.")


def create_user(s: Any, values: dict[str, Any]) -> m.User:
    domain_id = values["domain_id"]
    get_domain(s, domain_id)
    _user_name_free(s, domain_id, values["name"])
    if values.get("default_project_id"):
        dp = s.get(m.Project, values["default_project_id"])
        if dp is not None and dp.is_domain:
            raise errors.ValidationError("The default project of a user must not be a domain.")
    u = m.User(id=new_id(), name=values["name"], domain_id=domain_id, enabled=values.get("enabled", True),
               default_project_id=values.get("default_project_id"), description=values.get("description"),
               email=values.get("email"), extra=values.get("_extra", {}),
               options=check_options(values.get("options") or {}, USER_OPTIONS),
               failed_auth_count=0)
    s.add(u)
    s.flush()
    if values.get("password") is not None:
        _set_password(s, u, values["password"], admin_reset=True)
    return u


def update_user(s: Any, user_id: str, values: dict[str, Any]) -> m.User:
    u = get_user(s, user_id)
    revoke = False
    if "domain_id" in values and values["domain_id"] != u.domain_id:
        raise errors.ValidationError("Update of `domain_id` is not allowed.")
    if "name" in values and values["name"] != u.name:
        _user_name_free(s, u.domain_id, values["name"], exclude=u.id)
        u.name = values["name"]
    for attr in ("description", "email", "default_project_id"):
        if attr in values:
            setattr(u, attr, values[attr])
    if values.get("default_project_id"):
        dp = s.get(m.Project, values["default_project_id"])
        if dp is not None and dp.is_domain:
            raise errors.ValidationError("The default project of a user must not be a domain.")
    if "options" in values:
        u.options = check_options(values["options"], USER_OPTIONS, u.options)
    if "enabled" in values:
        if u.enabled and not values["enabled"]:
            revoke = True
        if values["enabled"] and not u.enabled:
            u.failed_auth_count = 0
        u.enabled = values["enabled"]
    if "password" in values:
        _set_password(s, u, values["password"], admin_reset=True)
        u.failed_auth_count = 0
        revoke = True
    if values.get("_extra"):
        u.extra = {**(u.extra or {}), **values["_extra"]}
    s.flush()
    if revoke:
        tokens.revoke(s, user_id=u.id)
    else:
        _bump(s)
    return u


def change_password(s: Any, user_id: str, original: str, new: str) -> None:
    u = s.get(m.User, user_id)
    if u is None:
        raise errors.NotFound(f"Could not find user: {user_id}.")
    if not passwords.check_password(original, u.password_hash):
        raise errors.Unauthorized("Error when changing user password: Invalid user / password.")
    if (u.options or {}).get("lock_password"):
        raise errors.BadRequest(f"The password for user {u.id} is locked and cannot be changed.")
    c = conf()
    if c.minimum_password_age and u.password_created_at:
        if u.password_created_at + dt.timedelta(days=c.minimum_password_age) > utcnow():
            raise errors.BadRequest(f"You cannot change your password at this time due to the minimum "
                                    f"password age. Once you change your password, it must be used for "
                                    f"{c.minimum_password_age} day(s) before it can be changed.")
    _set_password(s, u, new, admin_reset=False)
    u.failed_auth_count = 0
    s.flush()
    tokens.revoke(s, user_id=u.id)


def delete_user(s: Any, user_id: str) -> None:
    u = get_user(s, user_id)
    s.execute(delete(m.Assignment).where(m.Assignment.actor_id == u.id,
                                         m.Assignment.type.in_([m.USER_PROJECT, m.USER_DOMAIN,
                                                                m.USER_SYSTEM])))
    s.execute(delete(m.Membership).where(m.Membership.user_id == u.id))
    s.execute(delete(m.ApplicationCredential).where(m.ApplicationCredential.user_id == u.id))
    s.execute(delete(m.AccessRule).where(m.AccessRule.user_id == u.id))
    s.execute(delete(m.Credential).where(m.Credential.user_id == u.id))
    s.execute(delete(m.PasswordHistory).where(m.PasswordHistory.user_id == u.id))
    s.delete(u)
    s.flush()
    tokens.revoke(s, user_id=u.id)


def projects_for_user(s: Any, user_id: str) -> list[m.Project]:
    """Projects on which the user has any role (direct, group or inherited)."""
    get_user(s, user_id)
    ids = {e["target_id"] for e in list_role_assignments(s, user_id=user_id, effective=True)
           if e["target"] == "project"}
    if not ids:
        return []
    return list(s.scalars(select(m.Project).where(m.Project.id.in_(ids), m.Project.is_domain.is_(False))
                          .order_by(m.Project.name)))


def groups_for_user(s: Any, user_id: str) -> list[m.Group]:
    get_user(s, user_id)
    return list(s.scalars(select(m.Group).join(m.Membership, m.Membership.group_id == m.Group.id)
                          .where(m.Membership.user_id == user_id).order_by(m.Group.name)))


# ------------------------------------------------------------------ groups
def get_group(s: Any, group_id: str) -> m.Group:
    g = s.get(m.Group, group_id)
    if g is None:
        raise errors.NotFound(f"Could not find group: {group_id}.")
    return g


def list_groups(s: Any, filters: dict[str, Any], query: Iterable[tuple[str, str]] = ()) -> list[m.Group]:
    stmt = select(m.Group)
    for attr in ("name", "domain_id"):
        if attr in filters:
            stmt = stmt.where(getattr(m.Group, attr) == filters[attr])
    stmt = stmt.where(*name_filters(m.Group, query, ("name", "description")))
    return list(s.scalars(stmt.order_by(m.Group.name, m.Group.id)))


def _group_name_free(s: Any, domain_id: str, name: str, exclude: str | None = None) -> None:
    q = select(m.Group.id).where(m.Group.domain_id == domain_id, m.Group.name == name)
    if exclude:
        q = q.where(m.Group.id != exclude)
    if s.scalar(q) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store group - Duplicate entry found "
                              f"with name {name}.")


def create_group(s: Any, values: dict[str, Any]) -> m.Group:
    d = get_domain(s, values["domain_id"])
    _group_name_free(s, d.id, values["name"])
    g = m.Group(id=new_id(), name=values["name"], domain_id=d.id, description=values.get("description"),
                extra=values.get("_extra", {}))
    s.add(g)
    s.flush()
    return g


def update_group(s: Any, group_id: str, values: dict[str, Any]) -> m.Group:
    g = get_group(s, group_id)
    if "domain_id" in values and values["domain_id"] != g.domain_id:
        raise errors.ValidationError("Update of `domain_id` is not allowed.")
    if "name" in values and values["name"] != g.name:
        _group_name_free(s, g.domain_id, values["name"], exclude=g.id)
        g.name = values["name"]
    if "description" in values:
        g.description = values["description"]
    if values.get("_extra"):
        g.extra = {**(g.extra or {}), **values["_extra"]}
    s.flush()
    return g


def delete_group(s: Any, group_id: str) -> None:
    g = get_group(s, group_id)
    s.execute(delete(m.Assignment).where(m.Assignment.actor_id == g.id,
                                         m.Assignment.type.in_([m.GROUP_PROJECT, m.GROUP_DOMAIN,
                                                                m.GROUP_SYSTEM])))
    s.execute(delete(m.Membership).where(m.Membership.group_id == g.id))
    s.delete(g)
    s.flush()
    _bump(s)


def group_members(s: Any, group_id: str, filters: dict[str, Any] | None = None) -> list[m.User]:
    get_group(s, group_id)
    stmt = select(m.User).join(m.Membership, m.Membership.user_id == m.User.id) \
        .where(m.Membership.group_id == group_id)
    for attr in ("name", "domain_id"):
        if filters and attr in filters:
            stmt = stmt.where(getattr(m.User, attr) == filters[attr])
    if filters and "enabled" in filters:
        stmt = stmt.where(m.User.enabled.is_(filters["enabled"]))
    return list(s.scalars(stmt.order_by(m.User.name)))


def add_member(s: Any, group_id: str, user_id: str) -> None:
    get_group(s, group_id)
    get_user(s, user_id)
    if s.get(m.Membership, (user_id, group_id)) is None:
        s.add(m.Membership(user_id=user_id, group_id=group_id))
        s.flush()
        _bump(s)


def check_member(s: Any, group_id: str, user_id: str) -> None:
    get_group(s, group_id)
    get_user(s, user_id)
    if s.get(m.Membership, (user_id, group_id)) is None:
        raise errors.NotFound(f"User '{user_id}' not found in group '{group_id}'.")


def remove_member(s: Any, group_id: str, user_id: str) -> None:
    check_member(s, group_id, user_id)
    s.execute(delete(m.Membership).where(m.Membership.user_id == user_id, m.Membership.group_id == group_id))
    s.flush()
    tokens.revoke(s, user_id=user_id) if _group_has_grants(s, group_id) else _bump(s)


def _group_has_grants(s: Any, group_id: str) -> bool:
    return s.scalar(select(m.Assignment.role_id).where(m.Assignment.actor_id == group_id).limit(1)) is not None


# ------------------------------------------------------------------ roles
def get_role(s: Any, role_id: str) -> m.Role:
    r = s.get(m.Role, role_id)
    if r is None:
        raise errors.NotFound(f"Could not find role: {role_id}.")
    return r


def list_roles(s: Any, filters: dict[str, Any], query: Iterable[tuple[str, str]] = ()) -> list[m.Role]:
    stmt = select(m.Role)
    if "name" in filters:
        stmt = stmt.where(m.Role.name == filters["name"])
    if filters.get("domain_id"):
        stmt = stmt.where(m.Role.domain_id == filters["domain_id"])
    else:
        stmt = stmt.where(m.Role.domain_id.is_(None))
    stmt = stmt.where(*name_filters(m.Role, query, ("name", "description")))
    return list(s.scalars(stmt.order_by(m.Role.name, m.Role.id)))


def _role_name_free(s: Any, domain_id: str | None, name: str, exclude: str | None = None) -> None:
    q = select(m.Role.id).where(m.Role.domain_key == (domain_id or ROLE_NULL_DOMAIN), m.Role.name == name)
    if exclude:
        q = q.where(m.Role.id != exclude)
    if s.scalar(q) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store role - Duplicate entry found "
                              f"with name {name}.")


def create_role(s: Any, values: dict[str, Any]) -> m.Role:
    domain_id = values.get("domain_id")
    if domain_id:
        get_domain(s, domain_id)
    _role_name_free(s, domain_id, values["name"])
    r = m.Role(id=new_id(), name=values["name"], domain_id=domain_id,
               domain_key=domain_id or ROLE_NULL_DOMAIN, description=values.get("description"),
               options=check_options(values.get("options") or {}, IMMUTABLE_OPTIONS),
               extra=values.get("_extra", {}))
    s.add(r)
    s.flush()
    return r


def update_role(s: Any, role_id: str, values: dict[str, Any]) -> m.Role:
    r = get_role(s, role_id)
    _check_immutable_update(r, "Role", values)
    if "domain_id" in values and values["domain_id"] != r.domain_id:
        raise errors.ValidationError("Update of `domain_id` is not allowed.")
    if "name" in values and values["name"] != r.name:
        _role_name_free(s, r.domain_id, values["name"], exclude=r.id)
        r.name = values["name"]
    if "description" in values:
        r.description = values["description"]
    if "options" in values:
        r.options = check_options(values["options"], IMMUTABLE_OPTIONS, r.options)
    if values.get("_extra"):
        r.extra = {**(r.extra or {}), **values["_extra"]}
    s.flush()
    _bump(s)
    return r


def delete_role(s: Any, role_id: str) -> None:
    r = get_role(s, role_id)
    _immutable(r, "Role")
    s.execute(delete(m.Assignment).where(m.Assignment.role_id == r.id))
    s.execute(delete(m.ImpliedRole).where(or_(m.ImpliedRole.prior_role_id == r.id,
                                              m.ImpliedRole.implied_role_id == r.id)))
    s.delete(r)
    s.flush()
    tokens.revoke(s, role_id=r.id)


def implied_of(s: Any, prior_id: str) -> list[m.Role]:
    return list(s.scalars(select(m.Role).join(m.ImpliedRole, m.ImpliedRole.implied_role_id == m.Role.id)
                          .where(m.ImpliedRole.prior_role_id == prior_id).order_by(m.Role.name)))


def create_implied(s: Any, prior_id: str, implied_id: str) -> tuple[m.Role, m.Role]:
    prior, implied = get_role(s, prior_id), get_role(s, implied_id)
    if implied.domain_id is not None and prior.domain_id is None:
        raise errors.Forbidden("A global role cannot imply a domain-specific role.")
    if implied.name == "admin":
        raise errors.Forbidden(f"{implied.name} role cannot be an implied role.")
    from onestack.identity.service import expand_implied
    if prior.id == implied.id or prior.id in expand_implied(s, [implied.id]):
        raise errors.Forbidden(f"Role {prior.id} implying {implied.id} would create a cycle.")
    if s.get(m.ImpliedRole, (prior.id, implied.id)) is None:
        s.add(m.ImpliedRole(prior_role_id=prior.id, implied_role_id=implied.id))
        s.flush()
        _bump(s)
    return prior, implied


def get_implied(s: Any, prior_id: str, implied_id: str) -> tuple[m.Role, m.Role]:
    prior, implied = get_role(s, prior_id), get_role(s, implied_id)
    if s.get(m.ImpliedRole, (prior.id, implied.id)) is None:
        raise errors.NotFound(f"{prior_id} does not imply {implied_id}.")
    return prior, implied


def delete_implied(s: Any, prior_id: str, implied_id: str) -> None:
    get_implied(s, prior_id, implied_id)
    s.execute(delete(m.ImpliedRole).where(m.ImpliedRole.prior_role_id == prior_id,
                                          m.ImpliedRole.implied_role_id == implied_id))
    s.flush()
    _bump(s)


def role_inferences(s: Any) -> list[tuple[m.Role, list[m.Role]]]:
    rows = list(s.execute(select(m.ImpliedRole.prior_role_id, m.ImpliedRole.implied_role_id)))
    ids = {r[0] for r in rows} | {r[1] for r in rows}
    roles = {r.id: r for r in s.scalars(select(m.Role).where(m.Role.id.in_(ids)))} if ids else {}
    grouped: dict[str, list[m.Role]] = {}
    for prior, implied in rows:
        if prior in roles and implied in roles:
            grouped.setdefault(prior, []).append(roles[implied])
    return [(roles[p], v) for p, v in grouped.items()]


# ------------------------------------------------------------------ grants
def _grant_type(actor: str, target: str) -> str:
    return {("user", "project"): m.USER_PROJECT, ("group", "project"): m.GROUP_PROJECT,
            ("user", "domain"): m.USER_DOMAIN, ("group", "domain"): m.GROUP_DOMAIN,
            ("user", "system"): m.USER_SYSTEM, ("group", "system"): m.GROUP_SYSTEM}[(actor, target)]


def grant_refs(s: Any, actor: str, actor_id: str, target: str, target_id: str,
               role_id: str | None) -> dict[str, Any]:
    """Load (404 when missing) what a grant names: {user|group, project|domain, role}."""
    out: dict[str, Any] = {}
    if role_id is not None:
        out["role"] = get_role(s, role_id)
    out[actor] = get_user(s, actor_id) if actor == "user" else get_group(s, actor_id)
    if target == "project":
        out["project"] = get_project(s, target_id)
    elif target == "domain":
        out["domain"] = get_domain(s, target_id)
    return out


def _check_domain_role(s: Any, role: m.Role, target: str, target_id: str) -> None:
    if role.domain_id is None:
        return
    target_domain = (target_id if target == "domain" else
                     get_project(s, target_id).domain_id if target == "project" else None)
    if target_domain != role.domain_id:
        raise errors.Forbidden(f"Cannot grant domain-specific role {role.id} on a target outside its "
                               f"domain.")


def create_grant(s: Any, actor: str, actor_id: str, target: str, target_id: str, role_id: str,
                 inherited: bool = False) -> None:
    refs = grant_refs(s, actor, actor_id, target, target_id, role_id)
    _check_domain_role(s, refs["role"], target, target_id)
    key = (_grant_type(actor, target), actor_id, target_id, role_id, inherited)
    if s.get(m.Assignment, key) is None:
        s.add(m.Assignment(type=key[0], actor_id=actor_id, target_id=target_id, role_id=role_id,
                           inherited=inherited))
        s.flush()
        _bump(s)


def check_grant(s: Any, actor: str, actor_id: str, target: str, target_id: str, role_id: str,
                inherited: bool = False) -> None:
    grant_refs(s, actor, actor_id, target, target_id, role_id)
    key = (_grant_type(actor, target), actor_id, target_id, role_id, inherited)
    if s.get(m.Assignment, key) is None:
        where = "system" if target == "system" else f"{target} {target_id}"
        raise errors.NotFound(f"Could not find role assignment with role: {role_id}, {actor}: {actor_id}, "
                              f"{where}.")


def revoke_grant(s: Any, actor: str, actor_id: str, target: str, target_id: str, role_id: str,
                 inherited: bool = False) -> None:
    check_grant(s, actor, actor_id, target, target_id, role_id, inherited)
    key = (_grant_type(actor, target), actor_id, target_id, role_id, inherited)
    s.delete(s.get(m.Assignment, key))
    s.flush()
    if actor == "user" and target == "project" and not inherited:
        tokens.revoke(s, user_id=actor_id, project_id=target_id)
    else:
        _bump(s)


def list_grants(s: Any, actor: str, actor_id: str, target: str, target_id: str,
                inherited: bool = False) -> list[m.Role]:
    grant_refs(s, actor, actor_id, target, target_id, None)
    A = m.Assignment
    ids = list(s.scalars(select(A.role_id).where(A.type == _grant_type(actor, target), A.actor_id == actor_id,
                                                 A.target_id == target_id, A.inherited.is_(inherited))))
    if not ids:
        return []
    return list(s.scalars(select(m.Role).where(m.Role.id.in_(ids)).order_by(m.Role.name)))


# ------------------------------------------------------------------ role assignments
def list_role_assignments(s: Any, *, user_id: str | None = None, group_id: str | None = None,
                          role_id: str | None = None, project_id: str | None = None,
                          domain_id: str | None = None, system: bool = False,
                          inherited: bool | None = None, effective: bool = False,
                          include_subtree: bool = False) -> list[dict[str, Any]]:
    """Assignments as plain dicts: {type: user|group, actor, target: project|domain|system,
    target_id, role, inherited, indirect: {...}, assignment: (the stored row's key)}."""
    A = m.Assignment
    stmt = select(A)
    # Narrow the rows read where the filters allow it (the rest is filtered below).
    if user_id:
        actors = [user_id] + (list(s.scalars(select(m.Membership.group_id)
                                             .where(m.Membership.user_id == user_id))) if effective else [])
        stmt = stmt.where(A.actor_id.in_(actors))
    elif group_id:
        stmt = stmt.where(A.actor_id == group_id)
    if not effective:
        if role_id:
            stmt = stmt.where(A.role_id == role_id)
        if project_id and not include_subtree:
            stmt = stmt.where(A.target_id == project_id)
        elif domain_id:
            stmt = stmt.where(A.target_id == domain_id)
        elif system:
            stmt = stmt.where(A.target_id == "system")
    rows = list(s.scalars(stmt))
    entries: list[dict[str, Any]] = []
    for a in rows:
        actor = "user" if a.type.startswith("User") else "group"
        target = "project" if a.type.endswith("Project") else "domain" if a.type.endswith("Domain") \
            else "system"
        entries.append({"actor": actor, "actor_id": a.actor_id, "target": target, "target_id": a.target_id,
                        "role_id": a.role_id, "inherited": a.inherited, "indirect": {},
                        "source": (actor, a.actor_id, target, a.target_id, a.role_id, a.inherited)})

    if effective:
        # groups -> their members
        members: dict[str, list[str]] = {}
        for uid, gid in s.execute(select(m.Membership.user_id, m.Membership.group_id)):
            members.setdefault(gid, []).append(uid)
        expanded = []
        for e in entries:
            if e["actor"] == "group":
                for uid in members.get(e["actor_id"], []):
                    expanded.append({**e, "actor": "user", "actor_id": uid,
                                     "indirect": {"group_id": e["actor_id"]}})
            else:
                expanded.append(e)
        entries = expanded
        # inheritance -> the projects below the target
        expanded = []
        domain_projects: dict[str, list[str]] = {}
        for pid, did in s.execute(select(m.Project.id, m.Project.domain_id).where(m.Project.is_domain.is_(False))):
            domain_projects.setdefault(did, []).append(pid)
        for e in entries:
            if not e["inherited"]:
                expanded.append(e)
                continue
            if e["target"] == "domain":
                pids = domain_projects.get(e["target_id"], [])
            else:
                pids = [p.id for p in subtree(s, e["target_id"])]
            for pid in pids:
                ind = dict(e["indirect"])
                ind["domain_id" if e["target"] == "domain" else "project_id"] = e["target_id"]
                expanded.append({**e, "target": "project", "target_id": pid, "inherited": False,
                                 "indirect": ind})
        entries = expanded
        # implied roles
        implied: dict[str, list[str]] = {}
        for prior, imp in s.execute(select(m.ImpliedRole.prior_role_id, m.ImpliedRole.implied_role_id)):
            implied.setdefault(prior, []).append(imp)
        expanded = []
        for e in entries:
            expanded.append(e)
            stack, seen = [(e["role_id"], r) for r in implied.get(e["role_id"], [])], {e["role_id"]}
            while stack:
                prior, rid = stack.pop(0)
                if rid in seen:
                    continue
                seen.add(rid)
                expanded.append({**e, "role_id": rid, "indirect": {**e["indirect"], "role_id": prior}})
                stack.extend((rid, r) for r in implied.get(rid, []))
        # domain-specific roles never reach a token, so they are not effective
        domain_roles = set(s.scalars(select(m.Role.id).where(m.Role.domain_id.is_not(None))))
        entries = [e for e in expanded if e["role_id"] not in domain_roles]

    subtree_ids: set[str] | None = None
    if project_id and include_subtree:
        subtree_ids = {project_id} | {p.id for p in subtree(s, project_id)}
    out = []
    seen_keys: set[tuple[Any, ...]] = set()
    for e in entries:
        if user_id and not (e["actor"] == "user" and e["actor_id"] == user_id):
            continue
        if group_id and not (e["actor"] == "group" and e["actor_id"] == group_id):
            continue
        if role_id and e["role_id"] != role_id:
            continue
        if project_id:
            if e["target"] != "project":
                continue
            if subtree_ids is not None:
                if e["target_id"] not in subtree_ids:
                    continue
            elif e["target_id"] != project_id:
                continue
        if domain_id and not (e["target"] == "domain" and e["target_id"] == domain_id):
            continue
        if system and e["target"] != "system":
            continue
        if inherited is not None and e["inherited"] != inherited:
            continue
        key = (e["actor"], e["actor_id"], e["target"], e["target_id"], e["role_id"], e["inherited"],
               tuple(sorted(e["indirect"].items())))
        if key in seen_keys:
            continue
        seen_keys.add(key)
        out.append(e)
    return out


def names_for(s: Any, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """{id: row} for every role, user, group, project and domain named by ``entries``."""
    ids: dict[Any, set[str]] = {m.Role: set(), m.User: set(), m.Group: set(), m.Project: set()}
    for e in entries:
        ids[m.Role].add(e["role_id"])
        ids[m.User if e["actor"] == "user" else m.Group].add(e["actor_id"])
        if e["target"] != "system":
            ids[m.Project].add(e["target_id"])
    out: dict[str, Any] = {}
    for model, wanted in ids.items():
        if wanted:
            for row in s.scalars(select(model).where(model.id.in_(wanted))):
                out[row.id] = row
    domain_ids = {getattr(r, "domain_id", None) for r in out.values()} - {None}
    for row in s.scalars(select(m.Project).where(m.Project.id.in_(domain_ids))):
        out[row.id] = row
    return out


# ------------------------------------------------------------------ domain-specific configuration
# Options a domain may override (upstream's whitelist) with the defaults Keystone ships.
DOMAIN_CONFIG_DEFAULTS: dict[str, dict[str, Any]] = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost", "user": None, "suffix": "cn=example,cn=com", "query_scope": "one",
        "page_size": 0, "alias_dereferencing": "default", "debug_level": None, "chase_referrals": None,
        "user_tree_dn": None, "user_filter": None, "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn", "user_name_attribute": "sn", "user_mail_attribute": "mail",
        "user_description_attribute": "description", "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled", "user_enabled_invert": False, "user_enabled_mask": 0,
        "user_enabled_default": "True", "user_attribute_ignore": ["default_project_id"],
        "user_default_project_id_attribute": None, "user_enabled_emulation": False,
        "user_enabled_emulation_dn": None, "user_enabled_emulation_use_group_config": False,
        "user_additional_attribute_mapping": [], "group_tree_dn": None, "group_filter": None,
        "group_objectclass": "groupOfNames", "group_id_attribute": "cn", "group_name_attribute": "ou",
        "group_members_are_ids": False, "group_member_attribute": "member",
        "group_desc_attribute": "description", "group_attribute_ignore": [],
        "group_additional_attribute_mapping": [], "tls_cacertfile": None, "tls_cacertdir": None,
        "use_tls": False, "tls_req_cert": "demand", "use_pool": True, "pool_size": 10,
        "pool_retry_max": 3, "pool_retry_delay": 0.1, "pool_connection_timeout": -1,
        "pool_connection_lifetime": 600, "use_auth_pool": True, "auth_pool_size": 100,
        "auth_pool_connection_lifetime": 60,
    },
}
DOMAIN_CONFIG_SENSITIVE = {"identity": set(), "ldap": {"password"}}
SECURITY_COMPLIANCE_OPTIONS = ("password_regex", "password_regex_description")


class InvalidDomainConfig(errors.Forbidden):
    message = "Invalid domain specific configuration: {reason}"


def _check_group_option(group: str, option: str | None = None) -> None:
    if group not in DOMAIN_CONFIG_DEFAULTS:
        raise InvalidDomainConfig(reason=f"Group {group} is not supported for domain specific "
                                         f"configurations.")
    if option is not None and option not in DOMAIN_CONFIG_DEFAULTS[group] \
            and option not in DOMAIN_CONFIG_SENSITIVE[group]:
        raise InvalidDomainConfig(reason=f"Option {option} in group {group} is not supported for "
                                         f"domain specific configurations.")


def _config_not_found(domain_id: str, group: str | None = None, option: str | None = None) -> errors.NotFound:
    what = (f"option {option} in group {group}" if option else f"group {group}" if group else "any options")
    return errors.NotFound(f"Could not find Domain Config: {what} (domain {domain_id}).")


def _config_rows(s: Any, domain_id: str) -> list[m.DomainConfig]:
    return list(s.scalars(select(m.DomainConfig).where(m.DomainConfig.domain_id == domain_id)))


def _check_config_body(config: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(config, dict) or not config:
        raise InvalidDomainConfig(reason="the config must be a non-empty object of groups.")
    for group, opts in config.items():
        _check_group_option(group)
        if not isinstance(opts, dict) or not opts:
            raise InvalidDomainConfig(reason=f"group {group} must be a non-empty object of options.")
        for option, value in opts.items():
            _check_group_option(group, option)
            if value is None:
                raise InvalidDomainConfig(reason=f"option {option} in group {group} has no value.")
    return config


def get_domain_config(s: Any, domain_id: str, group: str | None = None,
                      option: str | None = None) -> dict[str, Any]:
    get_domain(s, domain_id)
    if group is not None:
        _check_group_option(group, option)
    out: dict[str, dict[str, Any]] = {}
    for row in _config_rows(s, domain_id):
        if not row.sensitive:
            out.setdefault(row.group, {})[row.option] = row.value
    if group is None:
        if not out:
            raise _config_not_found(domain_id)
        return out
    if group not in out:
        raise _config_not_found(domain_id, group)
    if option is None:
        return {group: out[group]}
    if option not in out[group]:
        raise _config_not_found(domain_id, group, option)
    return {option: out[group][option]}


def create_domain_config(s: Any, domain_id: str, config: Any) -> tuple[dict[str, Any], bool]:
    """Replace the domain's configuration; (config, created)."""
    get_domain(s, domain_id)
    config = _check_config_body(config)
    existed = bool(_config_rows(s, domain_id))
    s.execute(delete(m.DomainConfig).where(m.DomainConfig.domain_id == domain_id))
    for group, opts in config.items():
        for option, value in opts.items():
            s.add(m.DomainConfig(domain_id=domain_id, group=group, option=option, value=value,
                                 sensitive=option in DOMAIN_CONFIG_SENSITIVE[group]))
    s.flush()
    return get_domain_config(s, domain_id), not existed


def update_domain_config(s: Any, domain_id: str, config: Any, group: str | None = None,
                         option: str | None = None) -> dict[str, Any]:
    get_domain(s, domain_id)
    current = {(r.group, r.option): r for r in _config_rows(s, domain_id)}
    if option is not None:
        assert group is not None
        _check_group_option(group, option)
        if not isinstance(config, dict) or set(config) != {option}:
            raise InvalidDomainConfig(reason=f"the body must contain just option {option}.")
        config = {group: config}
    elif group is not None:
        _check_group_option(group)
        if not isinstance(config, dict) or set(config) != {group}:
            raise InvalidDomainConfig(reason=f"the body must contain just group {group}.")
    config = _check_config_body(config)
    if group is not None and not any(g == group for g, _ in current):
        raise _config_not_found(domain_id, group)
    if option is not None and (group, option) not in current:
        raise _config_not_found(domain_id, group, option)
    for grp, opts in config.items():
        for opt, value in opts.items():
            row = current.get((grp, opt))
            if row is None:
                s.add(m.DomainConfig(domain_id=domain_id, group=grp, option=opt, value=value,
                                     sensitive=opt in DOMAIN_CONFIG_SENSITIVE[grp]))
            else:
                row.value = value
    s.flush()
    return get_domain_config(s, domain_id)


def delete_domain_config(s: Any, domain_id: str, group: str | None = None, option: str | None = None) -> None:
    get_domain(s, domain_id)
    rows = _config_rows(s, domain_id)
    if group is not None:
        _check_group_option(group, option)
        rows = [r for r in rows if r.group == group and (option is None or r.option == option)]
    if not rows:
        raise _config_not_found(domain_id, group, option)
    for r in rows:
        s.delete(r)
    s.flush()


def domain_config_default(group: str | None = None, option: str | None = None) -> dict[str, Any]:
    if group is None:
        return {g: dict(opts) for g, opts in DOMAIN_CONFIG_DEFAULTS.items()}
    if group not in DOMAIN_CONFIG_DEFAULTS:
        raise InvalidDomainConfig(reason=f"Group {group} is not supported for domain specific "
                                         f"configurations.")
    if option is None:
        return {group: dict(DOMAIN_CONFIG_DEFAULTS[group])}
    if option not in DOMAIN_CONFIG_DEFAULTS[group]:
        raise InvalidDomainConfig(reason=f"Reading the default for option {option} in group {group} is "
                                         f"not supported.")
    return {option: DOMAIN_CONFIG_DEFAULTS[group][option]}


def security_compliance_config(s: Any, domain_id: str, option: str | None = None) -> dict[str, Any]:
    get_domain(s, domain_id)
    c = conf()
    values = {"password_regex": c.password_regex or None,
              "password_regex_description": c.password_regex_description or None}
    if option is None:
        return {"security_compliance": values}
    if option not in values:
        raise InvalidDomainConfig(reason=f"Reading option {option} of group security_compliance is not "
                                         f"supported.")
    return {option: values[option]}
