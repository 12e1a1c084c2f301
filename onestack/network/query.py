"""Generic reads over network tables: visibility, filters, tags, sorting, markers.

Visibility is the SQL twin of the get_* policies' defaults: an admin sees everything; a
project sees its own rows plus what is shared with it (shared/external networks, RBAC
grants, shared pools/scopes/QoS policies). Another project's row is simply not found.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from sqlalchemy import Boolean, Integer, and_, exists, false, or_, select
from sqlalchemy.orm import Session

from onestack import errors
from onestack.api import pagination
from onestack.network import models as m


@dataclasses.dataclass
class Kind:
    name: str                 # "network" (policy and body key)
    collection: str           # "networks"
    model: Any
    not_found: Callable[..., errors.OpenStackError]
    tag_type: str | None = None     # taggable when set
    visibility: str = "own"         # own | network | port | shared | rule | rbac_network


def is_admin(ctx: Any) -> bool:
    return ctx.is_internal or ctx.is_admin


def rbac_network_ids(project_id: str | None, actions: tuple[str, ...] = ("access_as_shared",
                                                                         "access_as_external")):
    return select(m.RBACPolicy.object_id).where(
        m.RBACPolicy.object_type == "network", m.RBACPolicy.action.in_(actions),
        m.RBACPolicy.target_tenant.in_([project_id or "", "*"]))


def visible_networks(ctx: Any):
    """A WHERE clause on Network for what ``ctx`` may see (None: everything)."""
    if is_admin(ctx):
        return None
    return or_(m.Network.project_id == ctx.project_id, m.Network.shared.is_(True),
               m.Network.external.is_(True), m.Network.id.in_(rbac_network_ids(ctx.project_id)))


def shared_network_ids(ctx: Any):
    """Networks whose subnets ``ctx`` sees although another project owns them."""
    return select(m.Network.id).where(or_(
        m.Network.project_id == ctx.project_id, m.Network.shared.is_(True),
        m.Network.id.in_(rbac_network_ids(ctx.project_id, ("access_as_shared",)))))


def visibility(kind: Kind, ctx: Any):
    if is_admin(ctx) or kind.visibility == "all":
        return None
    model = kind.model
    own = model.project_id == ctx.project_id
    if kind.visibility == "rbac_network":
        return visible_networks(ctx)
    if kind.visibility == "network":      # subnets
        return or_(own, model.network_id.in_(shared_network_ids(ctx)))
    if kind.visibility == "port":
        owned_nets = select(m.Network.id).where(m.Network.project_id == ctx.project_id)
        return or_(own, model.network_id.in_(owned_nets))
    if kind.visibility == "shared":
        return or_(own, model.shared.is_(True))
    if kind.visibility == "rule":
        groups = select(m.SecurityGroup.id).where(m.SecurityGroup.project_id == ctx.project_id)
        return or_(own, model.security_group_id.in_(groups))
    return own


def get(s: Session, kind: Kind, ctx: Any, id_: str) -> Any:
    stmt = select(kind.model).where(kind.model.id == id_)
    clause = visibility(kind, ctx)
    if clause is not None:
        stmt = stmt.where(clause)
    row = s.scalars(stmt).first()
    if row is None:
        raise kind.not_found(id=id_)
    return row


def _coerce(col: Any, value: str, wire: str) -> Any:
    t = col.type
    if isinstance(t, Boolean):
        v = value.lower()
        if v in ("true", "1", "yes"):
            return True
        if v in ("false", "0", "no"):
            return False
        raise errors.BadRequest(f"Invalid input for {wire}. Reason: '{value}' cannot be converted to boolean.",
                                type_name="HTTPBadRequest")
    if isinstance(t, Integer):
        try:
            return int(value)
        except ValueError:
            raise errors.BadRequest(f"Invalid input for {wire}. Reason: '{value}' is not an integer.",
                                    type_name="HTTPBadRequest") from None
    return value


def column_filters(model: Any, filters: dict[str, tuple[str, list[str]]]) -> list[Any]:
    """WHERE clauses for {attr: (wire, [values])} on plain columns (several values: any of)."""
    out = []
    for attr, (wire, values) in filters.items():
        col = getattr(model, attr, None)
        if col is None or not hasattr(col, "type"):
            continue
        if col.type.__class__.__name__ == "JSON":
            continue
        vals = [_coerce(col, v, wire) for v in values]
        if len(vals) == 1 and (vals[0] == "" or vals[0] is None) and col.nullable:
            out.append(or_(col.is_(None), col == ""))
        elif len(vals) == 1:
            out.append(col == vals[0])
        else:
            out.append(col.in_(vals))
    return out


def tag_filters(kind: Kind, query: dict[str, str]) -> list[Any]:
    out = []
    rid = kind.model.id

    def has(tag: str):
        return exists().where(m.Tag.resource_id == rid, m.Tag.tag == tag)
    for key in ("tags", "tags-any", "not-tags", "not-tags-any"):
        raw = query.get(key)
        if not raw:
            continue
        tags = [t for t in raw.split(",") if t]
        if key == "tags":
            out.append(and_(*[has(t) for t in tags]))
        elif key == "tags-any":
            out.append(or_(*[has(t) for t in tags]))
        elif key == "not-tags":
            out.append(~and_(*[has(t) for t in tags]))
        else:
            out.append(~or_(*[has(t) for t in tags]))
    return out


def list_rows(s: Session, kind: Kind, ctx: Any, where: list[Any], sort: list[tuple[str, str]],
              limit: int | None, marker: str | None, page_reverse: bool = False) -> list[Any]:
    model = kind.model
    stmt = select(model)
    clause = visibility(kind, ctx)
    if clause is not None:
        stmt = stmt.where(clause)
    for w in where:
        stmt = stmt.where(w)
    marker_row = None
    if marker:
        marker_row = s.get(model, marker)
        if marker_row is None:
            raise errors.NotFound(f"Marker {marker} could not be found.", type_name="HTTPNotFound")
    if page_reverse:
        sort = [(k, "asc" if d == "desc" else "desc") for k, d in sort]
    stmt = pagination.apply_marker_sort(stmt, model, sort, marker_row)
    if limit:
        stmt = stmt.limit(limit)
    rows = list(s.scalars(stmt))
    if page_reverse:
        rows.reverse()
    return rows


def never() -> Any:
    return false()
