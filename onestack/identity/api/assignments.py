"""Grants (user|group x project|domain|system, OS-INHERIT) and /v3/role_assignments."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.routing import Req
from onestack.identity import directory, views
from onestack.identity import models as m
from onestack.identity.api.directory_common import flag, target


def _parts(req: Req) -> tuple[str, str, str, str]:
    """(actor, actor_id, target, target_id) from the route parameters."""
    p = req.params
    actor = "user" if "user_id" in p else "group"
    actor_id = p.get("user_id") or p["group_id"]
    if "project_id" in p:
        return actor, actor_id, "project", p["project_id"]
    if "domain_id" in p:
        return actor, actor_id, "domain", p["domain_id"]
    return actor, actor_id, "system", "system"


def _inherited(req: Req) -> bool:
    return req.path.rstrip("/").endswith("/inherited_to_projects")


def _pol(refs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for kind, row in refs.items():
        d = {"id": row.id, "name": row.name, "domain_id": getattr(row, "domain_id", None)}
        out[kind] = d
    return out


def _enforce(req: Req, action: str, with_role: bool) -> None:
    actor, actor_id, tgt, tgt_id = _parts(req)
    with db.read() as s:
        refs = directory.grant_refs(s, actor, actor_id, tgt, tgt_id,
                                    req.params.get("role_id") if with_role else None)
    if tgt == "system":
        name = f"identity:{action}_system_grants_for_{actor}" if action == "list" \
            else f"identity:{action}_system_grant_for_{actor}"
    else:
        name = "identity:list_grants" if action == "list" else f"identity:{action}_grant"
    req.ctx.can(name, target(req, **_pol(refs)))


def grant(req: Req) -> None:
    _enforce(req, "create", True)
    actor, actor_id, tgt, tgt_id = _parts(req)
    with directory.unique_writes(), db.write() as s:
        directory.create_grant(s, actor, actor_id, tgt, tgt_id, req.params["role_id"], _inherited(req))


def check(req: Req) -> None:
    _enforce(req, "check", True)
    actor, actor_id, tgt, tgt_id = _parts(req)
    with db.read() as s:
        directory.check_grant(s, actor, actor_id, tgt, tgt_id, req.params["role_id"], _inherited(req))


def revoke(req: Req) -> None:
    _enforce(req, "revoke", True)
    actor, actor_id, tgt, tgt_id = _parts(req)
    with directory.unique_writes(), db.write() as s:
        directory.revoke_grant(s, actor, actor_id, tgt, tgt_id, req.params["role_id"], _inherited(req))


def list_for(req: Req) -> dict:
    _enforce(req, "list", False)
    actor, actor_id, tgt, tgt_id = _parts(req)
    with db.read() as s:
        rows = directory.list_grants(s, actor, actor_id, tgt, tgt_id, _inherited(req))
        return views.collection(req, "roles", [views.role(req, r) for r in rows])


# ------------------------------------------------------------------ /v3/role_assignments
def _exclusive(req: Req, a: str, b: str, what: str) -> None:
    if req.query.get(a) and req.query.get(b):
        raise errors.ValidationError(f"Specify {what}, not both.")


def role_assignments(req: Req) -> dict:
    q = req.query
    include_subtree = flag(req, "include_subtree")
    effective = flag(req, "effective")
    _exclusive(req, "user.id", "group.id", "a user or group")
    _exclusive(req, "scope.domain.id", "scope.project.id", "a domain or project")
    _exclusive(req, "scope.system", "scope.domain.id", "system or domain")
    _exclusive(req, "scope.system", "scope.project.id", "system or project")
    inherited = None
    if "scope.OS-INHERIT:inherited_to" in q:
        inherited = q["scope.OS-INHERIT:inherited_to"] == "projects"
    if effective and q.get("group.id"):
        raise errors.ValidationError("Combining effective and group filter will always result in an "
                                     "empty list.")
    if effective and inherited and q.get("scope.domain.id"):
        raise errors.ValidationError("Combining effective, domain and inherited filters will always "
                                     "result in an empty list.")
    pol = target(req)
    if include_subtree:
        project_id = q.get("scope.project.id")
        if project_id:
            with db.read() as s:
                p = s.get(m.Project, project_id)
                if p is None or p.is_domain:
                    raise errors.NotFound(f"Could not find project: {project_id}.")
                pol["target"] = {"project": {"id": p.id, "domain_id": p.domain_id}}
                pol["target"]["domain_id"] = p.domain_id
        req.ctx.can("identity:list_role_assignments_for_tree", pol)
        if not project_id:
            raise errors.ValidationError("scope.project.id must be specified if include_subtree is also "
                                         "specified")
    else:
        if req.ctx.domain_id:
            pol["target"]["domain_id"] = req.ctx.domain_id
        req.ctx.can("identity:list_role_assignments", pol)
    with db.read() as s:
        entries = directory.list_role_assignments(
            s, user_id=q.get("user.id") or None, group_id=q.get("group.id") or None,
            role_id=q.get("role.id") or None, project_id=q.get("scope.project.id") or None,
            domain_id=q.get("scope.domain.id") or None, system=bool(q.get("scope.system")),
            inherited=inherited, effective=effective, include_subtree=include_subtree)
        if req.ctx.domain_id and not include_subtree:
            project_domains = dict(s.execute(
                m.Project.__table__.select().with_only_columns(m.Project.id, m.Project.domain_id)).all())
            entries = [e for e in entries
                       if (e["target"] == "domain" and e["target_id"] == req.ctx.domain_id)
                       or (e["target"] == "project" and project_domains.get(e["target_id"]) == req.ctx.domain_id)]
        names = directory.names_for(s, entries) if flag(req, "include_names") else None
        return views.collection(req, "role_assignments", [views.role_assignment(req, e, names) for e in entries])
