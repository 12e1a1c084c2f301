"""Catalog administration: regions (a tree), services and endpoints.

No HTTP here. Every write bumps ``tokens.revision`` in the same transaction, so the
cached catalog (service.catalog) and cached tokens are rebuilt everywhere.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from onestack import errors
from onestack.db.base import new_id
from onestack.identity import models as m
from onestack.identity import tokens
from onestack.identity.errors import EndpointNotFound, RegionNotFound, ServiceNotFound

INTERFACES = ("public", "internal", "admin")


# ------------------------------------------------------------------ regions
def get_region(s: Any, region_id: str) -> m.Region:
    r = s.get(m.Region, region_id)
    if r is None:
        raise RegionNotFound(region_id=region_id)
    return r


def list_regions(s: Any, parent_region_id: str | None = None) -> list[m.Region]:
    q = select(m.Region).order_by(m.Region.id)
    if parent_region_id is not None:
        q = q.where(m.Region.parent_region_id == parent_region_id)
    return list(s.scalars(q))


def _check_parent(s: Any, region_id: str, parent_id: str | None) -> None:
    if parent_id is None:
        return
    seen = {region_id}
    pid: str | None = parent_id
    first = True
    while pid is not None:
        if pid in seen:
            raise errors.BadRequest(
                f"The specified parent region {parent_id} would create a circular region hierarchy.")
        seen.add(pid)
        parent = s.get(m.Region, pid)
        if parent is None:
            if first:
                raise RegionNotFound(region_id=parent_id)
            break
        first = False
        pid = parent.parent_region_id


def create_region(s: Any, values: dict[str, Any], region_id: str | None = None) -> m.Region:
    rid = region_id or values.get("id") or new_id()
    if s.get(m.Region, rid) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store region - Duplicate ID, {rid}.")
    _check_parent(s, rid, values.get("parent_region_id"))
    r = m.Region(id=rid, description=values.get("description") or "",
                 parent_region_id=values.get("parent_region_id"), extra=values.get("_extra", {}))
    s.add(r)
    s.flush()
    tokens.revision.bump(s)
    return r


def update_region(s: Any, region_id: str, values: dict[str, Any]) -> m.Region:
    r = get_region(s, region_id)
    if "parent_region_id" in values:
        _check_parent(s, r.id, values["parent_region_id"])
        r.parent_region_id = values["parent_region_id"]
    if "description" in values:
        r.description = values["description"] or ""
    if values.get("_extra"):
        r.extra = {**(r.extra or {}), **values["_extra"]}
    s.flush()
    tokens.revision.bump(s)
    return r


def _subtree(s: Any, region_id: str) -> list[str]:
    out = [region_id]
    i = 0
    while i < len(out):
        out += [c for c in s.scalars(select(m.Region.id).where(m.Region.parent_region_id == out[i]))
                if c not in out]
        i += 1
    return out


def delete_region(s: Any, region_id: str) -> None:
    get_region(s, region_id)
    ids = _subtree(s, region_id)
    if s.scalar(select(m.Endpoint.id).where(m.Endpoint.region_id.in_(ids)).limit(1)):
        raise errors.Forbidden(f"Unable to delete region {region_id} because it or its child regions "
                               "have associated endpoints.")
    for rid in reversed(ids):
        s.delete(s.get(m.Region, rid))
    s.flush()
    tokens.revision.bump(s)


# ------------------------------------------------------------------ services
def get_service(s: Any, service_id: str) -> m.Service:
    svc = s.get(m.Service, service_id)
    if svc is None:
        raise ServiceNotFound(service_id=service_id)
    return svc


def list_services(s: Any, type_: str | None = None, name: str | None = None) -> list[m.Service]:
    q = select(m.Service).order_by(m.Service.type, m.Service.id)
    if type_ is not None:
        q = q.where(m.Service.type == type_)
    if name is not None:
        q = q.where(m.Service.name == name)
    return list(s.scalars(q))


def create_service(s: Any, values: dict[str, Any]) -> m.Service:
    svc = m.Service(id=new_id(), type=values["type"], name=values.get("name"),
                    description=values.get("description"), enabled=values.get("enabled", True),
                    extra=values.get("_extra", {}))
    s.add(svc)
    s.flush()
    tokens.revision.bump(s)
    return svc


def update_service(s: Any, service_id: str, values: dict[str, Any]) -> m.Service:
    svc = get_service(s, service_id)
    for k in ("type", "name", "description", "enabled"):
        if k in values:
            setattr(svc, k, values[k])
    if values.get("_extra"):
        svc.extra = {**(svc.extra or {}), **values["_extra"]}
    s.flush()
    tokens.revision.bump(s)
    return svc


def delete_service(s: Any, service_id: str) -> None:
    svc = get_service(s, service_id)
    for e in s.scalars(select(m.Endpoint).where(m.Endpoint.service_id == svc.id)):
        s.delete(e)
    s.delete(svc)
    s.flush()
    tokens.revision.bump(s)


# ------------------------------------------------------------------ endpoints
def check_url(url: str) -> str:
    """A URL with a scheme and host; $(x)s / %(x)s substitutions are allowed."""
    probe = url.replace("$(", "%(")
    try:
        probe % {"project_id": "p", "tenant_id": "p", "user_id": "u", "admin_port": "1",
                 "public_port": "1", "compute_port": "1"}
    except (KeyError, ValueError, TypeError):
        raise errors.ValidationError(f"Invalid input for field 'url': {url[:100]!r} has an unknown "
                                     "substitution.") from None
    parts = urlsplit(probe.replace("%(", "").replace(")s", ""))
    if not parts.scheme or not parts.netloc:
        raise errors.ValidationError(f"Invalid input for field 'url': {url[:100]!r} is not a URL.")
    return url


def get_endpoint(s: Any, endpoint_id: str) -> m.Endpoint:
    e = s.get(m.Endpoint, endpoint_id)
    if e is None:
        raise EndpointNotFound(endpoint_id=endpoint_id)
    return e


def list_endpoints(s: Any, filters: dict[str, str]) -> list[m.Endpoint]:
    q = select(m.Endpoint).order_by(m.Endpoint.service_id, m.Endpoint.interface, m.Endpoint.id)
    for k in ("interface", "service_id", "region_id"):
        if k in filters:
            q = q.where(getattr(m.Endpoint, k) == filters[k])
    return list(s.scalars(q))


def _endpoint_refs(s: Any, values: dict[str, Any]) -> None:
    if "region" in values and values.get("region_id") is None and values["region"] is not None:
        # legacy "region": created when missing, as keystone does
        values["region_id"] = values["region"]
        if s.get(m.Region, values["region_id"]) is None:
            create_region(s, {}, values["region_id"])
    values.pop("region", None)
    if values.get("region_id") is not None and s.get(m.Region, values["region_id"]) is None:
        raise errors.ValidationError(f"Invalid region_id {values['region_id']!r}: no such region.")
    if "service_id" in values and s.get(m.Service, values["service_id"]) is None:
        raise errors.ValidationError(f"Invalid service_id {values['service_id']!r}: no such service.")


def create_endpoint(s: Any, values: dict[str, Any]) -> m.Endpoint:
    _endpoint_refs(s, values)
    e = m.Endpoint(id=new_id(), service_id=values["service_id"], interface=values["interface"],
                   url=values["url"], region_id=values.get("region_id"),
                   enabled=values.get("enabled", True), extra=values.get("_extra", {}))
    s.add(e)
    s.flush()
    tokens.revision.bump(s)
    return e


def update_endpoint(s: Any, endpoint_id: str, values: dict[str, Any]) -> m.Endpoint:
    e = get_endpoint(s, endpoint_id)
    _endpoint_refs(s, values)
    for k in ("service_id", "interface", "url", "region_id", "enabled"):
        if k in values:
            setattr(e, k, values[k])
    if values.get("_extra"):
        e.extra = {**(e.extra or {}), **values["_extra"]}
    s.flush()
    tokens.revision.bump(s)
    return e


def delete_endpoint(s: Any, endpoint_id: str) -> None:
    s.delete(get_endpoint(s, endpoint_id))
    s.flush()
    tokens.revision.bump(s)


# ------------------------------------------------------------------ policies (/v3/policies)
class PolicyNotFound(errors.NotFound):
    message = "Could not find policy: {policy_id}."


def get_policy(s: Any, policy_id: str) -> m.Policy:
    p = s.get(m.Policy, policy_id)
    if p is None:
        raise PolicyNotFound(policy_id=policy_id)
    return p


def list_policies(s: Any, type_: str | None = None) -> list[m.Policy]:
    q = select(m.Policy).order_by(m.Policy.id)
    if type_ is not None:
        q = q.where(m.Policy.type == type_)
    return list(s.scalars(q))


def create_policy(s: Any, values: dict[str, Any]) -> m.Policy:
    p = m.Policy(id=new_id(), type=values["type"], blob=values["blob"], extra=values.get("_extra", {}))
    s.add(p)
    s.flush()
    return p


def update_policy(s: Any, policy_id: str, values: dict[str, Any]) -> m.Policy:
    p = get_policy(s, policy_id)
    for k in ("type", "blob"):
        if k in values:
            setattr(p, k, values[k])
    if values.get("_extra"):
        p.extra = {**(p.extra or {}), **values["_extra"]}
    s.flush()
    return p


def delete_policy(s: Any, policy_id: str) -> None:
    s.delete(get_policy(s, policy_id))
    s.flush()


# ------------------------------------------------------------------ endpoint groups (OS-EP-FILTER)
class EndpointGroupNotFound(errors.NotFound):
    message = "Could not find endpoint group: {endpoint_group_id}."


FILTER_KEYS = ("interface", "service_id", "region_id")


def check_filters(filters: dict[str, Any]) -> dict[str, Any]:
    bad = set(filters) - set(FILTER_KEYS)
    if bad or not filters:
        raise errors.ValidationError(f"Endpoint group filters admit only {list(FILTER_KEYS)} "
                                     f"(got {sorted(filters)!r}).")
    for k, v in filters.items():
        if not isinstance(v, str):
            raise errors.ValidationError(f"Endpoint group filter {k!r} must be a string.")
    if "interface" in filters and filters["interface"] not in INTERFACES:
        raise errors.ValidationError(f"Invalid interface {filters['interface']!r}.")
    return filters


def get_group(s: Any, group_id: str) -> m.EndpointGroup:
    g = s.get(m.EndpointGroup, group_id)
    if g is None:
        raise EndpointGroupNotFound(endpoint_group_id=group_id)
    return g


def list_groups(s: Any, name: str | None = None) -> list[m.EndpointGroup]:
    q = select(m.EndpointGroup).order_by(m.EndpointGroup.id)
    if name is not None:
        q = q.where(m.EndpointGroup.name == name)
    return list(s.scalars(q))


def create_group(s: Any, values: dict[str, Any]) -> m.EndpointGroup:
    g = m.EndpointGroup(id=new_id(), name=values["name"], description=values.get("description"),
                        filters=values["filters"])
    s.add(g)
    s.flush()
    return g


def update_group(s: Any, group_id: str, values: dict[str, Any]) -> m.EndpointGroup:
    g = get_group(s, group_id)
    for k in ("name", "description", "filters"):
        if k in values:
            setattr(g, k, values[k])
    s.flush()
    tokens.revision.bump(s)
    return g


def delete_group(s: Any, group_id: str) -> None:
    s.delete(get_group(s, group_id))
    s.flush()
    tokens.revision.bump(s)


def group_endpoints(s: Any, g: m.EndpointGroup) -> list[m.Endpoint]:
    return list_endpoints(s, dict(g.filters or {}))


def group_projects(s: Any, group_id: str) -> list[str]:
    get_group(s, group_id)
    return list(s.scalars(select(m.ProjectEndpointGroup.project_id).where(
        m.ProjectEndpointGroup.endpoint_group_id == group_id)))


def groups_for_project(s: Any, project_id: str) -> list[m.EndpointGroup]:
    ids = list(s.scalars(select(m.ProjectEndpointGroup.endpoint_group_id).where(
        m.ProjectEndpointGroup.project_id == project_id)))
    return [s.get(m.EndpointGroup, i) for i in ids]


def associate(s: Any, group_id: str, project_id: str) -> None:
    get_group(s, group_id)
    from onestack.identity.service import get_project
    get_project(s, project_id)
    if s.get(m.ProjectEndpointGroup, (group_id, project_id)) is None:
        s.add(m.ProjectEndpointGroup(endpoint_group_id=group_id, project_id=project_id))
        s.flush()
        tokens.revision.bump(s)


def association(s: Any, group_id: str, project_id: str) -> None:
    get_group(s, group_id)
    if s.get(m.ProjectEndpointGroup, (group_id, project_id)) is None:
        raise errors.NotFound(f"Endpoint group {group_id} is not associated with project {project_id}.")


def dissociate(s: Any, group_id: str, project_id: str) -> None:
    association(s, group_id, project_id)
    s.delete(s.get(m.ProjectEndpointGroup, (group_id, project_id)))
    s.flush()
    tokens.revision.bump(s)
