"""/v3/projects: CRUD, hierarchy views and tags."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.routing import Reply, Req
from onestack.identity import directory, views
from onestack.identity import models as m
from onestack.identity.api.directory_common import (PROJECT, bool_query, flag, member_body,
                                                    scope_default_domain, target)

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def _load(s: Any, project_id: str) -> m.Project:
    p = s.get(m.Project, project_id)
    if p is None:
        raise errors.NotFound(f"Could not find project: {project_id}.")
    return p


def _pol(p: m.Project) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "domain_id": p.domain_id, "parent_id": p.parent_id,
            "is_domain": p.is_domain, "enabled": p.enabled}


def _view(req: Req, s: Any, p: m.Project) -> dict[str, Any]:
    return views.project_out(req, p, directory.tags_of(s, [p.id])[p.id])


def list_projects(req: Req) -> dict:
    pol = target(req)
    if req.ctx.domain_id:
        pol["target"]["domain_id"] = req.ctx.domain_id
    req.ctx.can("identity:list_projects", pol)
    filters: dict[str, Any] = {}
    for key in ("name", "domain_id", "parent_id"):
        if key in req.query:
            filters[key] = req.query[key]
    for key in ("enabled", "is_domain"):
        v = bool_query(req, key)
        if v is not None:
            filters[key] = v
    if req.ctx.domain_id:
        filters["domain_id"] = req.ctx.domain_id if filters.get("domain_id", req.ctx.domain_id) \
            == req.ctx.domain_id else "\x00none"
    tag_filters = {}
    for key in TAG_FILTERS:
        if key in req.query:
            tag_filters[key] = [t for t in req.query[key].split(",") if t]
    with db.read() as s:
        rows = directory.list_projects(s, filters, req.query_items, tag_filters)
        tags = directory.tags_of(s, [p.id for p in rows])
        return views.collection(req, "projects", [views.project_out(req, p, tags[p.id]) for p in rows])


def create_project(req: Req) -> Reply:
    values = member_body(req, PROJECT, "create")
    raw = dict(req.json()["project"])
    req.ctx.can("identity:create_project", target(req, project=raw))
    with directory.unique_writes(), db.write() as s:
        p = directory.create_project(s, values, scope_default_domain(req))
        return Reply(201, {"project": _view(req, s, p)})


def show_project(req: Req) -> dict:
    with db.read() as s:
        p = _load(s, req.params["project_id"])
        req.ctx.can("identity:get_project", target(req, project=_pol(p)))
        out = _view(req, s, p)
        if flag(req, "parents_as_list") and flag(req, "parents_as_ids"):
            raise errors.ValidationError("Cannot use parents_as_list and parents_as_ids query params "
                                         "at the same time.")
        if flag(req, "subtree_as_list") and flag(req, "subtree_as_ids"):
            raise errors.ValidationError("Cannot use subtree_as_list and subtree_as_ids query params "
                                         "at the same time.")
        if not p.is_domain:
            if flag(req, "parents_as_list"):
                out["parents"] = [{"project": views.project_out(req, a)}
                                  for a in directory.parents_of(s, p)
                                  if _visible(req, a)]
            if flag(req, "parents_as_ids"):
                out["parents"] = directory.parents_as_ids(s, p)
        if flag(req, "subtree_as_list"):
            out["subtree"] = [{"project": views.project_out(req, c)} for c in directory.subtree(s, p.id)
                              if _visible(req, c)]
        if flag(req, "subtree_as_ids"):
            out["subtree"] = directory.subtree_as_ids(s, p)
        return {"project": out}


def _visible(req: Req, p: m.Project) -> bool:
    return req.ctx.can("identity:get_project", target(req, project=_pol(p)), fatal=False)


def update_project(req: Req) -> dict:
    values = member_body(req, PROJECT, "update")
    with db.read() as s:
        p = _load(s, req.params["project_id"])
        req.ctx.can("identity:update_project", target(req, project=_pol(p)))
    with directory.unique_writes(), db.write() as s:
        p = directory.update_project(s, req.params["project_id"], values)
        return {"project": _view(req, s, p)}


def delete_project(req: Req) -> None:
    with db.read() as s:
        p = _load(s, req.params["project_id"])
        req.ctx.can("identity:delete_project", target(req, project=_pol(p)))
    with directory.unique_writes(), db.write() as s:
        directory.delete_project(s, req.params["project_id"])


# ------------------------------------------------------------------ tags
def _tag_project(req: Req, rule: str) -> None:
    with db.read() as s:
        p = _load(s, req.params["project_id"])
        req.ctx.can(rule, target(req, project=_pol(p)))


def _tags_body(req: Req, tags: list[str]) -> dict:
    return {"tags": tags, "links": {"self": f"{req.service_url}{req.path}"}}


def list_tags(req: Req) -> dict:
    _tag_project(req, "identity:list_project_tags")
    with db.read() as s:
        return _tags_body(req, directory.tags_of(s, [req.params["project_id"]])[req.params["project_id"]])


def replace_tags(req: Req) -> dict:
    body = req.json()
    if not isinstance(body, dict) or set(body) != {"tags"}:
        raise errors.ValidationError("The body must be {\"tags\": [...]}.")
    tags = directory.check_tags(body["tags"])
    _tag_project(req, "identity:update_project_tags")
    with directory.unique_writes(), db.write() as s:
        return _tags_body(req, directory.set_tags(s, _load(s, req.params["project_id"]), tags))


def delete_tags(req: Req) -> None:
    _tag_project(req, "identity:delete_project_tags")
    with directory.unique_writes(), db.write() as s:
        directory.set_tags(s, _load(s, req.params["project_id"]), [])


def check_tag(req: Req) -> None:
    _tag_project(req, "identity:get_project_tag")
    with db.read() as s:
        if req.params["tag"] not in directory.tags_of(s, [req.params["project_id"]])[req.params["project_id"]]:
            raise errors.NotFound(f"Tag {req.params['tag']} was not found on project {req.params['project_id']}.")


def add_tag(req: Req) -> Reply:
    tag = directory.check_tag(req.params["tag"])
    _tag_project(req, "identity:create_project_tag")
    with directory.unique_writes(), db.write() as s:
        directory.add_tag(s, _load(s, req.params["project_id"]), tag)
    # 201 and no body, as the API-WG tags guideline (and Tempest) expect
    return Reply(201, None, headers={"Location": f"{req.service_url}{req.path}"})


def delete_tag(req: Req) -> None:
    _tag_project(req, "identity:delete_project_tag")
    with directory.unique_writes(), db.write() as s:
        directory.remove_tag(s, _load(s, req.params["project_id"]), req.params["tag"])
