"""Unified limits: registered limits (defaults per service/region/resource) and project
or domain limits, under the flat enforcement model. No HTTP here."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack import errors
from onestack.db.base import new_id
from onestack.identity import models as m

MODEL = {"name": "flat", "description": "Limit enforcement and validation does not take project "
                                        "hierarchy into consideration."}
MAX_LIMIT = 2147483647


class LimitNotFound(errors.NotFound):
    message = "Could not find limit for {limit_id}."


class RegisteredLimitNotFound(errors.NotFound):
    message = "Could not find registered limit for {limit_id}."


def _refs_exist(s: Any, item: dict[str, Any]) -> None:
    if s.get(m.Service, item["service_id"]) is None:
        raise errors.ValidationError(f"Invalid service_id {item['service_id']!r}: no such service.")
    if item.get("region_id") is not None and s.get(m.Region, item["region_id"]) is None:
        raise errors.ValidationError(f"Invalid region_id {item['region_id']!r}: no such region.")
    if item.get("project_id") is not None:
        p = s.get(m.Project, item["project_id"])
        if p is None:
            raise errors.ValidationError(f"Invalid project_id {item['project_id']!r}: no such project.")
        if p.is_domain:   # a domain named as a project is a domain limit
            item["domain_id"], item["project_id"] = p.id, None
    if item.get("domain_id") is not None:
        d = s.get(m.Project, item["domain_id"])
        if d is None or not d.is_domain:
            raise errors.ValidationError(f"Invalid domain_id {item['domain_id']!r}: no such domain.")


def _same(col: Any, value: Any) -> Any:
    return col.is_(None) if value is None else col == value


# ------------------------------------------------------------------ registered limits
def get_registered(s: Any, limit_id: str) -> m.RegisteredLimit:
    r = s.get(m.RegisteredLimit, limit_id)
    if r is None:
        raise RegisteredLimitNotFound(limit_id=limit_id)
    return r


def _registered_for(s: Any, service_id: str, region_id: str | None, resource: str) -> m.RegisteredLimit | None:
    R = m.RegisteredLimit
    return s.scalar(select(R).where(R.service_id == service_id, _same(R.region_id, region_id),
                                    R.resource_name == resource))


def list_registered(s: Any, filters: dict[str, str]) -> list[m.RegisteredLimit]:
    q = select(m.RegisteredLimit).order_by(m.RegisteredLimit.id)
    for k in ("service_id", "region_id", "resource_name"):
        if k in filters:
            q = q.where(getattr(m.RegisteredLimit, k) == filters[k])
    return list(s.scalars(q))


def create_registered(s: Any, items: list[dict[str, Any]]) -> list[m.RegisteredLimit]:
    out = []
    for item in items:
        _refs_exist(s, item)
        if _registered_for(s, item["service_id"], item.get("region_id"), item["resource_name"]):
            raise errors.Conflict("Conflict occurred attempting to store registered_limit - Duplicate entry "
                                  f"found with resource_name {item['resource_name']}.")
        r = m.RegisteredLimit(id=new_id(), service_id=item["service_id"], region_id=item.get("region_id"),
                              resource_name=item["resource_name"], default_limit=item["default_limit"],
                              description=item.get("description"))
        s.add(r)
        s.flush()
        out.append(r)
    return out


def _limits_referencing(s: Any, r: m.RegisteredLimit) -> bool:
    L = m.Limit
    return s.scalar(select(L.id).where(L.service_id == r.service_id, _same(L.region_id, r.region_id),
                                       L.resource_name == r.resource_name).limit(1)) is not None


def update_registered(s: Any, limit_id: str, values: dict[str, Any]) -> m.RegisteredLimit:
    r = get_registered(s, limit_id)
    keys = {k: values.get(k, getattr(r, k)) for k in ("service_id", "region_id", "resource_name")}
    if any(keys[k] != getattr(r, k) for k in keys):
        if _limits_referencing(s, r):
            raise errors.Forbidden(f"Cannot update registered limit {r.id}: project limits refer to it.")
        _refs_exist(s, dict(keys))
        dup = _registered_for(s, keys["service_id"], keys["region_id"], keys["resource_name"])
        if dup is not None and dup.id != r.id:
            raise errors.Conflict("Conflict occurred attempting to store registered_limit - Duplicate entry.")
    for k, v in values.items():
        setattr(r, k, v)
    s.flush()
    return r


def delete_registered(s: Any, limit_id: str) -> None:
    r = get_registered(s, limit_id)
    if _limits_referencing(s, r):
        raise errors.Forbidden(f"Cannot delete registered limit {r.id}: project limits refer to it.")
    s.delete(r)
    s.flush()


# ------------------------------------------------------------------ limits
def get_limit(s: Any, limit_id: str) -> m.Limit:
    r = s.get(m.Limit, limit_id)
    if r is None:
        raise LimitNotFound(limit_id=limit_id)
    return r


def list_limits(s: Any, filters: dict[str, str], project_ids: list[str] | None = None,
                domain_id: str | None = None) -> list[m.Limit]:
    L = m.Limit
    q = select(L).order_by(L.id)
    for k in ("service_id", "region_id", "resource_name", "project_id", "domain_id"):
        if k in filters:
            q = q.where(getattr(L, k) == filters[k])
    rows = list(s.scalars(q))
    if project_ids is not None:
        rows = [r for r in rows if (r.project_id in project_ids) or (domain_id and r.domain_id == domain_id)]
    return rows


def create_limits(s: Any, items: list[dict[str, Any]]) -> list[m.Limit]:
    out = []
    L = m.Limit
    for item in items:
        if (item.get("project_id") is None) == (item.get("domain_id") is None):
            raise errors.ValidationError("A limit needs exactly one of project_id and domain_id.")
        _refs_exist(s, item)
        if _registered_for(s, item["service_id"], item.get("region_id"), item["resource_name"]) is None:
            raise errors.Forbidden("The same service, region and resource_name must be registered first "
                                   f"(resource_name {item['resource_name']}).")
        dup = s.scalar(select(L.id).where(_same(L.project_id, item.get("project_id")),
                                          _same(L.domain_id, item.get("domain_id")),
                                          L.service_id == item["service_id"],
                                          _same(L.region_id, item.get("region_id")),
                                          L.resource_name == item["resource_name"]))
        if dup:
            raise errors.Conflict("Conflict occurred attempting to store limit - Duplicate entry found "
                                  f"with resource_name {item['resource_name']}.")
        r = L(id=new_id(), project_id=item.get("project_id"), domain_id=item.get("domain_id"),
              service_id=item["service_id"], region_id=item.get("region_id"),
              resource_name=item["resource_name"], resource_limit=item["resource_limit"],
              description=item.get("description"))
        s.add(r)
        s.flush()
        out.append(r)
    return out


def update_limit(s: Any, limit_id: str, values: dict[str, Any]) -> m.Limit:
    r = get_limit(s, limit_id)
    for k, v in values.items():
        setattr(r, k, v)
    s.flush()
    return r


def delete_limit(s: Any, limit_id: str) -> None:
    s.delete(get_limit(s, limit_id))
    s.flush()


def limit_for(s: Any, project_id: str, service_type: str, resource_name: str,
              region_id: str | None = None) -> int | None:
    """The project's limit, else the registered default, else None (the flat model)."""
    service_ids = list(s.scalars(select(m.Service.id).where(m.Service.type == service_type)))
    if not service_ids:
        return None
    L, R = m.Limit, m.RegisteredLimit

    def pick(rows: list[Any]) -> Any:
        exact = [r for r in rows if r.region_id == region_id]
        return (exact or [r for r in rows if r.region_id is None] or rows or [None])[0]

    row = pick(list(s.scalars(select(L).where(L.project_id == project_id, L.service_id.in_(service_ids),
                                               L.resource_name == resource_name))))
    if row is not None:
        return row.resource_limit
    reg = pick(list(s.scalars(select(R).where(R.service_id.in_(service_ids), R.resource_name == resource_name))))
    return reg.default_limit if reg is not None else None
