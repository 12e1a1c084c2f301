"""Placement business rules: providers (nested), inventories, allocations with consumer
generations, usages, traits, resource classes, aggregates and allocation candidates.

Every function takes an open session (``with db.write() as s``) and raises
``placement.errors``; nothing here knows HTTP. Writes that change a provider bump its
generation with a compare-and-swap, so two concurrent writers cannot both win.
"""
from __future__ import annotations

import itertools
import re
import uuid as uuidlib
from collections import defaultdict
from typing import Any, Iterable

import os_resource_classes
import os_traits
from sqlalchemy import bindparam, delete, exists, func, insert, select, update

from onestack.db.base import utcnow
from onestack.db.session import after_commit as db_after_commit
from onestack.placement import cache
from onestack.placement import errors as perr
from onestack.placement import models as m

STANDARD_CLASSES = list(os_resource_classes.STANDARDS)
_STANDARD_SET = frozenset(STANDARD_CLASSES)
CUSTOM_RE = re.compile(r"^CUSTOM_[A-Z0-9_]+$")
MAX_INT = 2147483647


# ------------------------------------------------------------------ providers
def get_provider(s: Any, rp_uuid: str) -> m.ResourceProvider:
    rp = s.get(m.ResourceProvider, rp_uuid)
    if rp is None:
        raise perr.ProviderNotFound(f"No resource provider with uuid {rp_uuid} found")
    return rp


def bump(s: Any, rp: m.ResourceProvider, expected: int | None = None) -> None:
    """Increment ``rp.generation`` if it is still ``expected`` (compare-and-swap)."""
    seen = rp.generation if expected is None else expected
    res = s.execute(update(m.ResourceProvider)
                    .where(m.ResourceProvider.uuid == rp.uuid, m.ResourceProvider.generation == seen)
                    .values(generation=seen + 1, updated_at=utcnow()))
    if res.rowcount != 1:
        raise perr.ConcurrentUpdate(
            f"resource provider generation conflict: {rp.uuid} changed since generation {seen}. "
            "Please update the generation and try again.")
    s.expire(rp)
    cache.touch(s, rp.uuid)


def create_provider(s: Any, name: str, rp_uuid: str | None = None,
                    parent_uuid: str | None = None) -> m.ResourceProvider:
    rp_uuid = rp_uuid or str(uuidlib.uuid4())
    if s.get(m.ResourceProvider, rp_uuid) is not None:
        raise perr.DuplicateName(f"Conflicting resource provider uuid: {rp_uuid} already exists.")
    if s.scalar(select(m.ResourceProvider.uuid).where(m.ResourceProvider.name == name)):
        raise perr.DuplicateName(f"Conflicting resource provider name: {name} already exists.")
    root = rp_uuid
    if parent_uuid:
        parent = s.get(m.ResourceProvider, parent_uuid)
        if parent is None:
            raise perr.BadRequest(f"parent provider UUID {parent_uuid} does not exist.")
        root = parent.root_uuid
    rp = m.ResourceProvider(uuid=rp_uuid, name=name, generation=0, parent_uuid=parent_uuid, root_uuid=root)
    s.add(rp)
    s.flush()
    cache.touch(s, rp_uuid)
    return rp


def update_provider(s: Any, rp_uuid: str, name: str, parent_uuid: Any = ..., ) -> m.ResourceProvider:
    rp = get_provider(s, rp_uuid)
    if name != rp.name and s.scalar(select(m.ResourceProvider.uuid).where(m.ResourceProvider.name == name)):
        raise perr.DuplicateName(f"Conflicting resource provider name: {name} already exists.")
    if parent_uuid is not ... and parent_uuid != rp.parent_uuid:
        if parent_uuid is None:
            # un-parenting (1.37+): becomes its own root, with its subtree
            _reroot(s, rp, rp.uuid)
            rp.parent_uuid = None
        else:
            parent = s.get(m.ResourceProvider, parent_uuid)
            if parent is None:
                raise perr.BadRequest(f"parent provider UUID {parent_uuid} does not exist.")
            if parent_uuid == rp.uuid or parent_uuid in _descendants(s, rp.uuid):
                raise perr.BadRequest("creating loop in the provider tree is not allowed.")
            if rp.parent_uuid is not None and not _reparent_allowed:
                raise perr.BadRequest("re-parenting a provider is not currently allowed.")
            rp.parent_uuid = parent_uuid
            _reroot(s, rp, parent.root_uuid)
    rp.name = name
    bump(s, rp)
    return rp


_reparent_allowed = True


def _descendants(s: Any, rp_uuid: str) -> set[str]:
    out: set[str] = set()
    frontier = [rp_uuid]
    while frontier:
        kids = s.scalars(select(m.ResourceProvider.uuid).where(
            m.ResourceProvider.parent_uuid.in_(frontier))).all()
        kids = [k for k in kids if k not in out]
        out.update(kids)
        frontier = kids
    return out


def _reroot(s: Any, rp: m.ResourceProvider, root: str) -> None:
    ids = _descendants(s, rp.uuid) | {rp.uuid}
    s.execute(update(m.ResourceProvider).where(m.ResourceProvider.uuid.in_(ids)).values(root_uuid=root))
    s.expire(rp)


def delete_provider(s: Any, rp_uuid: str) -> None:
    rp = get_provider(s, rp_uuid)
    if s.scalar(select(m.Allocation.id).where(m.Allocation.rp_uuid == rp_uuid).limit(1)):
        raise perr.ProviderInUse(f"Unable to delete resource provider {rp_uuid}: Resource provider "
                                 "has allocations.")
    if s.scalar(select(m.ResourceProvider.uuid).where(m.ResourceProvider.parent_uuid == rp_uuid).limit(1)):
        raise perr.CannotDeleteParent(f"Unable to delete parent resource provider {rp_uuid}: "
                                      "It has child resource providers.")
    for model in (m.Inventory, m.ProviderTrait, m.ProviderAggregate):
        s.execute(delete(model).where(model.rp_uuid == rp_uuid))
    s.delete(rp)
    cache.touch(s, rp_uuid)


def list_providers(s: Any, name: str | None = None, rp_uuid: str | None = None,
                   member_of: list[tuple[set[str], bool]] | None = None,
                   resources: dict[str, int] | None = None, in_tree: str | None = None,
                   required: "TraitFilter | None" = None) -> list[m.ResourceProvider]:
    stmt = select(m.ResourceProvider).order_by(m.ResourceProvider.created_at, m.ResourceProvider.uuid)
    if name is not None:
        stmt = stmt.where(m.ResourceProvider.name == name)
    if rp_uuid is not None:
        stmt = stmt.where(m.ResourceProvider.uuid == rp_uuid)
    if in_tree is not None:
        tree = s.get(m.ResourceProvider, in_tree)
        if tree is None:
            return []
        stmt = stmt.where(m.ResourceProvider.root_uuid == tree.root_uuid)
    rows = list(s.scalars(stmt).all())
    if not (member_of or resources or required):
        return rows
    snap = Snapshot(s)
    out = []
    for rp in rows:
        if member_of and not _member_ok(snap.aggs.get(rp.uuid, set()), member_of):
            continue
        if required and not required.ok(snap.traits.get(rp.uuid, set())):
            continue
        if resources and not all(snap.fits(rp.uuid, rc, n) for rc, n in resources.items()):
            continue
        out.append(rp)
    return out


def _member_ok(aggs: set[str], member_of: list[tuple[set[str], bool]]) -> bool:
    for group, forbidden in member_of:
        if forbidden and aggs & group:
            return False
        if not forbidden and not aggs & group:
            return False
    return True


# ------------------------------------------------------------------ resource classes / traits
def resource_class_exists(s: Any, name: str) -> bool:
    return name in STANDARD_CLASSES or s.get(m.ResourceClass, name) is not None


def list_resource_classes(s: Any) -> list[str]:
    return STANDARD_CLASSES + list(s.scalars(select(m.ResourceClass.name).order_by(m.ResourceClass.name)))


def create_resource_class(s: Any, name: str, exist_ok: bool = False) -> bool:
    if not CUSTOM_RE.match(name) or len(name) > 255:
        raise perr.BadRequest(f"JSON does not validate: '{name}' does not match '^CUSTOM\\_[A-Z0-9_]+$'")
    if resource_class_exists(s, name):
        if exist_ok:
            return False
        raise perr.DuplicateName(f"Conflicting resource class already exists: {name}")
    s.add(m.ResourceClass(name=name))
    s.flush()
    return True


def delete_resource_class(s: Any, name: str) -> None:
    if name in STANDARD_CLASSES:
        raise perr.BadRequest(f"Cannot delete standard resource class {name}: ")
    rc = s.get(m.ResourceClass, name)
    if rc is None:
        raise perr.NotFound(f"No such resource class {name}.")
    if s.scalar(select(m.Inventory.rp_uuid).where(m.Inventory.resource_class == name).limit(1)) or \
            s.scalar(select(m.Allocation.id).where(m.Allocation.resource_class == name).limit(1)):
        raise perr.Conflict(f"Unable to delete resource class {name}. Class is in use in inventory.")
    s.delete(rc)


def ensure_standard_traits(s: Any) -> None:
    have = set(s.scalars(select(m.Trait.name)))
    for t in os_traits.get_traits():
        if t not in have:
            s.add(m.Trait(name=t))


def list_traits(s: Any, names: tuple[str, set[str]] | None = None,
                associated: bool | None = None) -> list[str]:
    stmt = select(m.Trait.name).order_by(m.Trait.name)
    rows = list(s.scalars(stmt))
    if names is not None:
        how, values = names
        if how == "in":
            rows = [r for r in rows if r in values]
        else:
            rows = [r for r in rows if r.startswith(next(iter(values)))]
    if associated is not None:
        used = set(s.scalars(select(m.ProviderTrait.trait).distinct()))
        rows = [r for r in rows if (r in used) == associated]
    return rows


def create_trait(s: Any, name: str) -> bool:
    if not name.startswith("CUSTOM_"):
        raise perr.BadRequest(f"The trait {name} is not a custom trait: custom traits must start with "
                              "'CUSTOM_'.")
    if not CUSTOM_RE.match(name):
        raise perr.BadRequest(f"The trait {name} is invalid: must match '^CUSTOM_[A-Z0-9_]+$'.")
    if s.get(m.Trait, name) is not None:
        return False
    s.add(m.Trait(name=name))
    s.flush()
    return True


def delete_trait(s: Any, name: str) -> None:
    t = s.get(m.Trait, name)
    if t is None:
        raise perr.NotFound(f"No such trait(s): {name}.")
    if not name.startswith("CUSTOM_"):
        raise perr.BadRequest(f"Cannot delete standard trait {name}.")
    if s.scalar(select(m.ProviderTrait.rp_uuid).where(m.ProviderTrait.trait == name).limit(1)):
        raise perr.Conflict(f"The trait {name} is in use by a resource provider.")
    s.delete(t)


def provider_traits(s: Any, rp_uuid: str) -> list[str]:
    return sorted(s.scalars(select(m.ProviderTrait.trait).where(m.ProviderTrait.rp_uuid == rp_uuid)))


def set_provider_traits(s: Any, rp: m.ResourceProvider, traits: list[str], generation: int) -> None:
    missing = [t for t in traits if s.get(m.Trait, t) is None]
    if missing:
        raise perr.BadRequest(f"No such trait(s): {', '.join(sorted(missing))}.")
    bump(s, rp, generation)
    s.execute(delete(m.ProviderTrait).where(m.ProviderTrait.rp_uuid == rp.uuid))
    for t in sorted(set(traits)):
        s.add(m.ProviderTrait(rp_uuid=rp.uuid, trait=t))


def provider_aggregates(s: Any, rp_uuid: str) -> list[str]:
    return sorted(s.scalars(select(m.ProviderAggregate.aggregate_uuid)
                            .where(m.ProviderAggregate.rp_uuid == rp_uuid)))


def set_provider_aggregates(s: Any, rp: m.ResourceProvider, aggs: list[str], generation: int | None) -> None:
    bump(s, rp, generation)
    s.execute(delete(m.ProviderAggregate).where(m.ProviderAggregate.rp_uuid == rp.uuid))
    for a in sorted(set(aggs)):
        s.add(m.ProviderAggregate(rp_uuid=rp.uuid, aggregate_uuid=a))


# ------------------------------------------------------------------ inventories
INV_FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


def inventories(s: Any, rp_uuid: str) -> dict[str, m.Inventory]:
    return {i.resource_class: i for i in s.scalars(select(m.Inventory).where(m.Inventory.rp_uuid == rp_uuid))}


def check_inventory(rc: str, data: dict[str, Any], allow_reserved_equal: bool) -> dict[str, Any]:
    v = {"total": data["total"], "reserved": data.get("reserved", 0), "min_unit": data.get("min_unit", 1),
         "max_unit": data.get("max_unit", MAX_INT), "step_size": data.get("step_size", 1),
         "allocation_ratio": float(data.get("allocation_ratio", 1.0))}
    if v["reserved"] > v["total"] or (v["reserved"] == v["total"] and not allow_reserved_equal):
        raise perr.BadRequest(f"Unable to update inventory for resource provider: Invalid inventory for "
                              f"'{rc}'. The reserved value is greater than or equal to total.")
    if v["min_unit"] > v["max_unit"]:
        raise perr.BadRequest(f"Invalid inventory for '{rc}': min_unit is greater than max_unit.")
    return v


def set_inventories(s: Any, rp: m.ResourceProvider, generation: int, invs: dict[str, dict[str, Any]],
                    allow_reserved_equal: bool = True) -> None:
    for rc in invs:
        if not resource_class_exists(s, rc):
            raise perr.BadRequest(f"Unknown resource class in inventory for resource provider "
                                  f"{rp.uuid}: {rc}")
    checked = {rc: check_inventory(rc, d, allow_reserved_equal) for rc, d in invs.items()}
    bump(s, rp, generation)
    current = inventories(s, rp.uuid)
    for rc in set(current) - set(checked):
        if s.scalar(select(m.Allocation.id).where(m.Allocation.rp_uuid == rp.uuid,
                                                  m.Allocation.resource_class == rc).limit(1)):
            raise perr.InventoryInUse(
                f"update conflict: Inventory for '{rc}' on resource provider '{rp.uuid}' in use.")
        s.delete(current[rc])
    for rc, v in checked.items():
        inv = current.get(rc)
        if inv is None:
            s.add(m.Inventory(rp_uuid=rp.uuid, resource_class=rc, **v))
        else:
            for k, val in v.items():
                setattr(inv, k, val)
    s.flush()


def delete_inventory(s: Any, rp: m.ResourceProvider, rc: str, generation: int | None) -> None:
    inv = s.get(m.Inventory, (rp.uuid, rc))
    if inv is None:
        raise perr.NotFound(f"No inventory of class {rc} found for delete")
    if s.scalar(select(m.Allocation.id).where(m.Allocation.rp_uuid == rp.uuid,
                                              m.Allocation.resource_class == rc).limit(1)):
        raise perr.InventoryInUse(f"Inventory for '{rc}' on resource provider '{rp.uuid}' in use.")
    bump(s, rp, generation)
    s.delete(inv)


def provider_usages(s: Any, rp_uuid: str) -> dict[str, int]:
    out = {rc: 0 for rc in inventories(s, rp_uuid)}
    for rc, used in s.execute(select(m.Allocation.resource_class, func.sum(m.Allocation.used))
                              .where(m.Allocation.rp_uuid == rp_uuid).group_by(m.Allocation.resource_class)):
        out[rc] = int(used)
    return out


def project_usages(s: Any, project_id: str, user_id: str | None = None,
                   consumer_type: str | None = None) -> dict[str, Any]:
    stmt = (select(m.Consumer.consumer_type, m.Allocation.consumer_uuid, m.Allocation.resource_class,
                   m.Allocation.used)
            .join(m.Consumer, m.Consumer.uuid == m.Allocation.consumer_uuid)
            .where(m.Consumer.project_id == project_id))
    if user_id:
        stmt = stmt.where(m.Consumer.user_id == user_id)
    totals: dict[str, int] = defaultdict(int)
    by_type: dict[str, dict[str, Any]] = {}
    consumers_by_type: dict[str, set[str]] = defaultdict(set)
    for ctype, cons, rc, used in s.execute(stmt):
        ctype = ctype or "UNKNOWN"
        totals[rc] += used
        by_type.setdefault(ctype, defaultdict(int))[rc] += used
        consumers_by_type[ctype].add(cons)
    if consumer_type is None:
        return {"usages": dict(totals)}
    result = {}
    for ctype, usages in by_type.items():
        if consumer_type in ("all", ctype):
            result[ctype] = {**usages, "consumer_count": len(consumers_by_type[ctype])}
    if consumer_type == "all" and by_type:
        alltot: dict[str, Any] = defaultdict(int)
        for usages in by_type.values():
            for rc, n in usages.items():
                alltot[rc] += n
        alltot["consumer_count"] = sum(len(c) for c in consumers_by_type.values())
        result = {"all": dict(alltot)}
    return {"usages": result}


# ------------------------------------------------------------------ allocations
def consumer_allocations(s: Any, consumer: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for a in s.scalars(select(m.Allocation).where(m.Allocation.consumer_uuid == consumer)):
        out[a.rp_uuid][a.resource_class] = a.used
    return dict(out)


def provider_allocations(s: Any, rp_uuid: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for a in s.scalars(select(m.Allocation).where(m.Allocation.rp_uuid == rp_uuid)):
        out[a.consumer_uuid][a.resource_class] = a.used
    return dict(out)


def set_allocations(s: Any, requests: list[dict[str, Any]], check_generation: bool) -> None:
    """Replace the allocations of one or more consumers atomically.

    Each request: {consumer, allocations: {rp: {rc: n}}, project_id, user_id,
    consumer_generation (checked when ``check_generation``), consumer_type}.
    """
    touched: dict[str, m.ResourceProvider] = {}
    for req in requests:
        consumer_id = req["consumer"]
        cons = s.get(m.Consumer, consumer_id)
        if check_generation:
            gen = req.get("consumer_generation")
            if cons is None and gen is not None:
                raise perr.ConcurrentUpdate(
                    f"consumer generation conflict - expected null but got {gen}")
            if cons is not None and gen != cons.generation:
                raise perr.ConcurrentUpdate(
                    f"consumer generation conflict - expected {cons.generation} but got {gen}")
        old = s.scalars(select(m.Allocation).where(m.Allocation.consumer_uuid == consumer_id)).all()
        for a in old:
            touched.setdefault(a.rp_uuid, s.get(m.ResourceProvider, a.rp_uuid))
            s.delete(a)
        s.flush()
        allocs = req["allocations"]
        if not allocs:
            if cons is not None:
                s.delete(cons)
            continue
        if cons is None:
            cons = m.Consumer(uuid=consumer_id, project_id=req["project_id"], user_id=req["user_id"],
                              generation=0, consumer_type=req.get("consumer_type") or "UNKNOWN")
            s.add(cons)
        else:
            cons.project_id = req.get("project_id") or cons.project_id
            cons.user_id = req.get("user_id") or cons.user_id
            if req.get("consumer_type"):
                cons.consumer_type = req["consumer_type"]
            cons.generation += 1
        for rp_uuid, resources in allocs.items():
            rp = s.get(m.ResourceProvider, rp_uuid)
            if rp is None:
                raise perr.BadRequest(f"Allocation for resource provider '{rp_uuid}' that does not "
                                      "exist.")
            touched[rp_uuid] = rp
            for rc, n in resources.items():
                if not resource_class_exists(s, rc):
                    raise perr.BadRequest(f"Unknown resource class in allocation: {rc}")
                if n == 0:
                    continue
                s.add(m.Allocation(rp_uuid=rp_uuid, consumer_uuid=consumer_id, resource_class=rc, used=n))
    s.flush()
    # capacity of every provider that gained allocations
    snap = Snapshot(s, only=set(touched), usage_only=True)
    for req in requests:
        for rp_uuid, resources in req["allocations"].items():
            for rc, n in resources.items():
                if n == 0:
                    continue
                inv = snap.inv.get((rp_uuid, rc))
                if inv is None:
                    raise perr.Conflict(f"Unable to allocate inventory: Inventory for '{rc}' on resource "
                                        f"provider '{rp_uuid}' invalid.")
                if n < inv.min_unit or n > inv.max_unit or n % inv.step_size:
                    raise perr.BadRequest(
                        f"Unable to allocate inventory: Unable to create allocation for '{rc}' on "
                        f"resource provider '{rp_uuid}'. The requested amount would violate inventory "
                        "constraints.")
                if snap.used.get((rp_uuid, rc), 0) > snap.capacity(rp_uuid, rc):
                    raise perr.Conflict(
                        f"Unable to allocate inventory: Unable to create allocation for '{rc}' on "
                        f"resource provider '{rp_uuid}'. The requested amount would exceed the capacity.")
    for rp in touched.values():
        if rp is not None:
            bump(s, rp)


def claim_new(s: Any, consumer: str, rp_uuid: str, resources: dict[str, int], project_id: str,
              user_id: str, consumer_type: str) -> bool | None:
    """set_allocations for the scheduler's common case, a consumer with no allocations yet
    taking standard resources of one provider, in a handful of plain (Core) statements, no ORM
    unit of work. True: claimed; False: no room (nothing written); None: not that case (use
    set_allocations)."""
    if not resources or any(rc not in _STANDARD_SET for rc in resources):
        return None
    conn = s.connection()
    if any(conn.execute(_CONSUMER_KNOWN, {"p_consumer": consumer}).one()):
        return None
    invs = {r.resource_class: r for r in conn.execute(_RP_INVS_USED, {"p_rp": rp_uuid})}
    used = {rc: int(r.n or 0) for rc, r in invs.items() if r.n}
    for rc, n in resources.items():
        inv = invs.get(rc)
        if inv is None or n < inv.min_unit or n > inv.max_unit or n % inv.step_size or \
                used.get(rc, 0) + n > int((inv.total - inv.reserved) * inv.allocation_ratio):
            return False
    now = utcnow()
    if conn.execute(_RP_BUMP, {"p_rp": rp_uuid, "p_now": now}).rowcount != 1:
        return False   # the provider is gone
    conn.execute(insert(_CONSUMERS).values(uuid=consumer, project_id=project_id, user_id=user_id, generation=0,
                                           consumer_type=consumer_type, created_at=now, updated_at=now))
    conn.execute(insert(_ALLOCS), [{"rp_uuid": rp_uuid, "consumer_uuid": consumer, "resource_class": rc,
                                    "used": n} for rc, n in resources.items()])
    # the provider's usage after this transaction is known here: no need to re-read it
    after = dict(used)
    for rc, n in resources.items():
        after[rc] = after.get(rc, 0) + n
    db_after_commit(s, lambda: cache.CACHE.set_used(rp_uuid, after))
    return True


_CONSUMERS, _ALLOCS, _INVS, _RPS = (m.Consumer.__table__, m.Allocation.__table__, m.Inventory.__table__,
                                    m.ResourceProvider.__table__)
_CONSUMER_KNOWN = select(exists().where(_CONSUMERS.c.uuid == bindparam("p_consumer")),
                         exists().where(_ALLOCS.c.consumer_uuid == bindparam("p_consumer")))
_RP_USE = select(_ALLOCS.c.resource_class, func.sum(_ALLOCS.c.used).label("n")).where(
    _ALLOCS.c.rp_uuid == bindparam("p_rp")).group_by(_ALLOCS.c.resource_class).subquery()
# one provider's inventories with their usage, in one query
_RP_INVS_USED = select(_INVS.c.resource_class, _INVS.c.total, _INVS.c.reserved, _INVS.c.min_unit,
                       _INVS.c.max_unit, _INVS.c.step_size, _INVS.c.allocation_ratio, _RP_USE.c.n).select_from(
    _INVS.outerjoin(_RP_USE, _RP_USE.c.resource_class == _INVS.c.resource_class)).where(
    _INVS.c.rp_uuid == bindparam("p_rp"))
_RP_BUMP = update(_RPS).where(_RPS.c.uuid == bindparam("p_rp")).values(
    generation=_RPS.c.generation + 1, updated_at=bindparam("p_now"))


def delete_allocations(s: Any, consumer: str) -> bool:
    cache.touch(s, *s.scalars(select(m.Allocation.rp_uuid).where(m.Allocation.consumer_uuid == consumer)
                              .distinct()))
    n = s.execute(delete(m.Allocation).where(m.Allocation.consumer_uuid == consumer)).rowcount
    cons = s.get(m.Consumer, consumer)
    if cons is not None:
        s.delete(cons)
    return bool(n)


# ------------------------------------------------------------------ candidates
class Snapshot:
    """Everything the candidate search needs, read once."""

    def __init__(self, s: Any, only: set[str] | None = None, usage_only: bool = False):
        # plain rows (attribute access, no ORM identity map): thousands of providers per search
        rp_stmt = select(m.ResourceProvider.uuid, m.ResourceProvider.name, m.ResourceProvider.parent_uuid,
                         m.ResourceProvider.root_uuid, m.ResourceProvider.created_at)
        inv_stmt = select(m.Inventory.rp_uuid, m.Inventory.resource_class, m.Inventory.total, m.Inventory.reserved,
                          m.Inventory.min_unit, m.Inventory.max_unit, m.Inventory.step_size,
                          m.Inventory.allocation_ratio)
        use_stmt = select(m.Allocation.rp_uuid, m.Allocation.resource_class, func.sum(m.Allocation.used)) \
            .group_by(m.Allocation.rp_uuid, m.Allocation.resource_class)
        if only is not None:
            rp_stmt = rp_stmt.where(m.ResourceProvider.uuid.in_(only))
            inv_stmt = inv_stmt.where(m.Inventory.rp_uuid.in_(only))
            use_stmt = use_stmt.where(m.Allocation.rp_uuid.in_(only))
        self.rps = {rp.uuid: rp for rp in s.execute(rp_stmt)} if not usage_only else {}
        self.inv = {(i.rp_uuid, i.resource_class): i for i in s.execute(inv_stmt)}
        self.used = {(rp, rc): int(n) for rp, rc, n in s.execute(use_stmt)}
        self.traits: dict[str, set[str]] = defaultdict(set)
        self.aggs: dict[str, set[str]] = defaultdict(set)
        self.trees: dict[str, list[str]] = defaultdict(list)
        if usage_only:   # capacity checks (set_allocations) need inventories and usages only
            return
        tr_stmt = select(m.ProviderTrait.rp_uuid, m.ProviderTrait.trait)
        ag_stmt = select(m.ProviderAggregate.rp_uuid, m.ProviderAggregate.aggregate_uuid)
        if only is not None:
            tr_stmt = tr_stmt.where(m.ProviderTrait.rp_uuid.in_(only))
            ag_stmt = ag_stmt.where(m.ProviderAggregate.rp_uuid.in_(only))
        for rp, t in s.execute(tr_stmt):
            self.traits[rp].add(t)
        for rp, a in s.execute(ag_stmt):
            self.aggs[rp].add(a)
        for rp in sorted(self.rps.values(), key=lambda r: (r.created_at, r.uuid)):
            self.trees[rp.root_uuid].append(rp.uuid)

    def capacity(self, rp: str, rc: str) -> int:
        inv = self.inv.get((rp, rc))
        if inv is None:
            return 0
        return int((inv.total - inv.reserved) * inv.allocation_ratio)

    def fits(self, rp: str, rc: str, amount: int, extra: int = 0) -> bool:
        inv = self.inv.get((rp, rc))
        if inv is None:
            return False
        if amount < inv.min_unit or amount > inv.max_unit or amount % inv.step_size:
            return False
        return self.used.get((rp, rc), 0) + extra + amount <= self.capacity(rp, rc)


class TraitFilter:
    def __init__(self) -> None:
        self.all: set[str] = set()
        self.any: list[set[str]] = []
        self.forbidden: set[str] = set()

    def __bool__(self) -> bool:
        return bool(self.all or self.any or self.forbidden)

    def ok(self, traits: set[str]) -> bool:
        return self.all <= traits and not (self.forbidden & traits) and all(g & traits for g in self.any)

    def names(self) -> set[str]:
        return self.all | self.forbidden | set().union(*self.any) if self.any else self.all | self.forbidden


class Group:
    def __init__(self, suffix: str):
        self.suffix = suffix
        self.resources: dict[str, int] = {}
        self.required = TraitFilter()
        self.member_of: list[tuple[set[str], bool]] = []
        self.in_tree: str | None = None


def fitting_providers(s: Any, resources: dict[str, int], limit: int | None) -> set[str]:
    """Providers that alone have room for every amount in ``resources`` (capacity, used, min/max
    unit, step), plus their roots: one SQL query, so a search over many hosts reads only these."""
    used = select(m.Allocation.rp_uuid, m.Allocation.resource_class, func.sum(m.Allocation.used).label("n")) \
        .group_by(m.Allocation.rp_uuid, m.Allocation.resource_class).subquery()
    ids = None
    for rc, n in resources.items():
        stmt = select(m.Inventory.rp_uuid).outerjoin(
            used, (used.c.rp_uuid == m.Inventory.rp_uuid) & (used.c.resource_class == m.Inventory.resource_class)
        ).where(m.Inventory.resource_class == rc, m.Inventory.min_unit <= n, m.Inventory.max_unit >= n,
                (m.Inventory.total - m.Inventory.reserved) * m.Inventory.allocation_ratio
                - func.coalesce(used.c.n, 0) >= n)
        stmt = stmt if ids is None else stmt.where(m.Inventory.rp_uuid.in_(ids))
        ids = stmt
    if ids is None:
        return set()
    rows = list(s.scalars(ids.limit(limit) if limit else ids))
    roots = set(s.scalars(select(m.ResourceProvider.root_uuid).where(m.ResourceProvider.uuid.in_(rows)))) \
        if rows else set()
    return set(rows) | roots


def allocation_candidates(s: Any, groups: list[Group], group_policy: str | None, limit: int | None,
                          root_required: TraitFilter | None = None,
                          only: set[str] | None = None) -> tuple[list[dict], dict[str, dict], set[str]]:
    """(allocation requests [{allocations: {rp: {rc: n}}, mappings: {suffix: [rp]}}],
    provider summaries {rp: {...}}, providers of the trees involved). ``only``: search these
    providers (e.g. fitting_providers) instead of all of them."""
    snap = Snapshot(s, only)
    results: list[dict[str, Any]] = []
    seen: set[Any] = set()
    trees_used: set[str] = set()
    in_trees = {}
    for g in groups:
        if g.in_tree:
            rp = snap.rps.get(g.in_tree)
            in_trees[g.suffix] = rp.root_uuid if rp else None
    for root, members in snap.trees.items():
        if root_required and not root_required.ok(snap.traits.get(root, set())):
            continue
        per_group: list[list[tuple[str, dict[str, dict[str, int]]]]] = []
        ok = True
        for g in groups:
            if g.suffix in in_trees and in_trees[g.suffix] != root:
                ok = False
                break
            opts = _group_options(snap, g, members, root)
            if not opts:
                ok = False
                break
            per_group.append(opts)
        if not ok:
            continue
        for combo in itertools.product(*per_group):
            if group_policy == "isolate":
                numbered = [c for g, c in zip(groups, combo) if g.suffix]
                provs = [frozenset(alloc) for _, alloc in numbered]
                flat = [p for ps in provs for p in ps]
                if len(flat) != len(set(flat)):
                    continue
            merged: dict[str, dict[str, int]] = defaultdict(dict)
            mappings: dict[str, list[str]] = {}
            for g, (_, alloc) in zip(groups, combo):
                mappings[g.suffix] = sorted(alloc)
                for rp, res in alloc.items():
                    for rc, n in res.items():
                        merged[rp][rc] = merged[rp].get(rc, 0) + n
            if not all(snap.used.get((rp, rc), 0) + n <= snap.capacity(rp, rc)
                       for rp, res in merged.items() for rc, n in res.items()):
                continue
            key = tuple(sorted((rp, tuple(sorted(res.items()))) for rp, res in merged.items()))
            if key in seen:
                continue
            seen.add(key)
            results.append({"allocations": {rp: dict(res) for rp, res in merged.items()},
                            "mappings": mappings})
            trees_used.add(root)
            if limit and len(results) >= limit:
                break
        if limit and len(results) >= limit:
            break
    summaries: dict[str, dict[str, Any]] = {}
    classes: dict[str, list[str]] = defaultdict(list)
    for irp, rc in snap.inv:
        classes[irp].append(rc)
    for root in trees_used:
        for rp in snap.trees[root]:
            res = {rc: {"capacity": snap.capacity(rp, rc), "used": snap.used.get((rp, rc), 0)}
                   for rc in classes[rp]}
            summaries[rp] = {"resources": res, "traits": sorted(snap.traits.get(rp, set())),
                             "parent_provider_uuid": snap.rps[rp].parent_uuid, "root_provider_uuid": root}
    return results, summaries, trees_used


def _group_options(snap: Snapshot, g: Group, members: list[str], root: str) -> list[tuple[str, dict]]:
    """Ways ``g`` can be satisfied inside one tree: [(label, {rp: {rc: n}})]."""
    def provider_ok(rp: str) -> bool:
        return not g.member_of or _member_ok(snap.aggs.get(rp, set()) | snap.aggs.get(root, set()),
                                             g.member_of)
    if not g.resources:
        # a traits-only group: some provider in the tree has the traits
        hits = [rp for rp in members if g.required.ok(snap.traits.get(rp, set())) and provider_ok(rp)]
        return [("", {})] if hits else []
    if g.suffix:
        out = []
        for rp in members:
            if not provider_ok(rp) or not g.required.ok(snap.traits.get(rp, set())):
                continue
            if all(snap.fits(rp, rc, n) for rc, n in g.resources.items()):
                out.append((rp, {rp: dict(g.resources)}))
        return out
    # unsuffixed: resources may come from different providers of the tree
    choices = []
    for rc, n in g.resources.items():
        c = [rp for rp in members if provider_ok(rp) and snap.fits(rp, rc, n)]
        if not c:
            return []
        choices.append([(rc, n, rp) for rp in c])
    out = []
    for combo in itertools.islice(itertools.product(*choices), 1000):
        alloc: dict[str, dict[str, int]] = defaultdict(dict)
        for rc, n, rp in combo:
            alloc[rp][rc] = n
        traits = set().union(*(snap.traits.get(rp, set()) for rp in alloc))
        wide = traits | snap.traits.get(root, set())
        if not (g.required.all <= wide and all(a & wide for a in g.required.any)
                and not (g.required.forbidden & traits)):
            continue
        out.append(("", dict(alloc)))
    return out


def names_exist(s: Any, names: Iterable[str]) -> list[str]:
    names = set(names)
    have = set(s.scalars(select(m.Trait.name).where(m.Trait.name.in_(names))))
    return sorted(names - have)
