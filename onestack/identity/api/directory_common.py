"""Shared request parsing for the directory handlers: member bodies, booleans in
queries, and the wire declarations (api.resource) of domains, projects, users, groups
and roles."""
from __future__ import annotations

import re
from typing import Any

from onestack import errors
from onestack.api.resource import Field, Resource
from onestack.api.routing import Req
from onestack.identity import directory

_NON_BLANK = re.compile(r"\S")


def _name(value: str) -> str:
    if not _NON_BLANK.search(value):
        raise errors.ValidationError(f"Invalid input for field 'name': {value!r} does not match '[\\S]+'.")
    return value


def _id(value: str) -> str:
    if not value or len(value) > 64:
        raise errors.ValidationError(f"Invalid input for an id: {value[:70]!r} must have 1 to 64 characters.")
    return value


def _name_field(max_length: int) -> Field:
    return Field("name", create=True, update=True, required=True, min_length=1, max_length=max_length,
                 parse=_name, filter=True)


def _desc() -> Field:
    return Field("description", create=True, update=True, nullable=True)


DOMAIN = Resource("domain", "domains", [
    _name_field(64), _desc(),
    Field("enabled", type=bool, create=True, update=True, filter=True),
    Field("options", type=dict, create=True, update=True),
    Field("tags", type=list, create=True, update=True),
    Field("explicit_domain_id", attr="id", create=True, parse=_id),
], allow_extra=True)

PROJECT = Resource("project", "projects", [
    _name_field(64), _desc(),
    Field("domain_id", create=True, update=True, nullable=True, filter=True),
    Field("parent_id", create=True, update=True, nullable=True, filter=True),
    Field("enabled", type=bool, create=True, update=True, filter=True),
    Field("is_domain", type=bool, create=True, update=True, filter=True),
    Field("tags", type=list, create=True, update=True),
    Field("options", type=dict, create=True, update=True),
], allow_extra=True)

USER = Resource("user", "users", [
    _name_field(255),
    Field("domain_id", create=True, update=True, filter=True, parse=_id),
    Field("default_project_id", create=True, update=True, nullable=True),
    Field("description", create=True, update=True, nullable=True),
    Field("enabled", type=bool, create=True, update=True, filter=True),
    Field("password", create=True, update=True, nullable=True),
    Field("email", create=True, update=True, nullable=True, max_length=255),
    Field("options", type=dict, create=True, update=True),
], allow_extra=True)

GROUP = Resource("group", "groups", [
    _name_field(255),
    Field("domain_id", create=True, update=True, filter=True, parse=_id),
    Field("description", create=True, update=True, nullable=True),
], allow_extra=True)

ROLE = Resource("role", "roles", [
    _name_field(255),
    Field("domain_id", create=True, update=True, nullable=True, filter=True),
    Field("description", create=True, update=True, nullable=True, max_length=255),
    Field("options", type=dict, create=True, update=True),
], allow_extra=True)


def member_body(req: Req, resource: Resource, mode: str) -> dict[str, Any]:
    """{"<member>": {...}} -> validated values; the wrapper admits no other key."""
    body = req.json()
    if not isinstance(body, dict):
        raise errors.ValidationError("The request body must be a JSON object.")
    extra = set(body) - {resource.name}
    if extra:
        raise errors.ValidationError(
            f"Additional properties are not allowed ({', '.join(repr(k) for k in sorted(extra))} "
            f"were unexpected).")
    inner = body.get(resource.name)
    if not isinstance(inner, dict):
        raise errors.ValidationError(f"'{resource.name}' is a required property and must be an object.")
    if mode == "update":
        inner = {k: v for k, v in inner.items() if k not in ("id", "links")}
        if not inner:
            raise errors.ValidationError(f"The {resource.name} update needs at least one attribute.")
    elif "id" in inner and resource.name != "domain":
        inner = {k: v for k, v in inner.items() if k != "id"}
    return resource.parse(inner, mode, ignore=("links",))


def bool_query(req: Req, name: str) -> bool | None:
    v = req.query.get(name)
    if v is None:
        return None
    return directory.truthy(v)


def flag(req: Req, name: str) -> bool:
    """A presence flag (?effective, ?include_names=true); an explicit false turns it off."""
    if name not in req.query:
        return False
    v = req.query[name]
    return v == "" or directory.truthy(v)


def scope_default_domain(req: Req) -> str:
    """Domain of a new user/group/project when the body names none (as upstream)."""
    return req.ctx.domain_id or req.ctx.project_domain_id or "default"


def target(req: Req, **objs: Any) -> dict[str, Any]:
    """Policy target: {"target": {kind: dict}} plus the URL parameters (as upstream)."""
    out: dict[str, Any] = dict(req.params)
    out["target"] = {k: v for k, v in objs.items() if v is not None}
    return out
