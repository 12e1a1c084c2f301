"""What other services (compute) call on placement, in-process. Nobody else touches its tables."""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import select

from onestack import db
from onestack.placement import cache
from onestack.placement import errors as perr
from onestack.placement import models as m
from onestack.placement import service as svc


def ensure_provider(rp_uuid: str, name: str, inventories: dict[str, dict[str, Any]],
                    traits: list[str] | None = None) -> None:
    """Create or update a root provider with these inventories (compute hosts at start-up)."""
    with db.write() as s:
        rp = s.get(m.ResourceProvider, rp_uuid)
        if rp is None:
            existing = s.scalar(select(m.ResourceProvider).where(m.ResourceProvider.name == name))
            if existing is not None:
                rp = existing
            else:
                rp = svc.create_provider(s, name, rp_uuid)
        current = {rc: {k: getattr(i, k) for k in svc.INV_FIELDS} for rc, i in svc.inventories(s, rp.uuid).items()}
        wanted = {rc: svc.check_inventory(rc, d, True) for rc, d in inventories.items()}
        if current != wanted:
            svc.set_inventories(s, rp, rp.generation, inventories)
        if traits is not None:
            for t in traits:
                if s.get(m.Trait, t) is None:
                    svc.create_trait(s, t)
            if set(svc.provider_traits(s, rp.uuid)) != set(traits):
                svc.set_provider_traits(s, rp, traits, rp.generation)


def provider_uuid_by_name(name: str) -> str | None:
    with db.read() as s:
        return s.scalar(select(m.ResourceProvider.uuid).where(m.ResourceProvider.name == name))


def candidates(resources: dict[str, int], required: list[str] = (), forbidden: list[str] = (),
               member_of: list[list[str]] = (), limit: int | None = None,
               fresh: bool = False) -> list[dict[str, Any]]:
    """Root providers able to host ``resources``: [{rp_uuid, name, resources: {rc: {capacity, used}},
    traits}] (single-provider requests, which is what compute hosts expose). Answered from the
    in-memory copy (cache.py) unless ``fresh`` or the providers are nested."""
    if not fresh:
        got = cache.CACHE.candidates({rc: n for rc, n in resources.items() if n > 0}, set(required),
                                     set(forbidden), [set(x) for x in member_of], limit)
        if got is not None:
            return got
    g = svc.Group("")
    g.resources = {rc: n for rc, n in resources.items() if n > 0}
    g.required.all = set(required)
    g.required.forbidden = set(forbidden)
    g.member_of = [(set(x), False) for x in member_of]
    with db.read() as s:
        # single-provider requests: SQL finds the providers with room, the search reads only those
        only = svc.fitting_providers(s, g.resources, limit if not (required or forbidden or member_of) else None)
        if not only:
            return []
        results, summaries, _ = svc.allocation_candidates(s, [g], None, limit, only=only)
        names = dict(s.execute(select(m.ResourceProvider.uuid, m.ResourceProvider.name)
                               .where(m.ResourceProvider.uuid.in_(only))).all())
    out = []
    for r in results:
        if len(r["allocations"]) != 1:
            continue
        rp = next(iter(r["allocations"]))
        out.append({"rp_uuid": rp, "name": names.get(rp), "resources": summaries[rp]["resources"],
                    "traits": summaries[rp]["traits"]})
    return out


def claim(consumer: str, rp_uuid: str, resources: dict[str, int], project_id: str, user_id: str,
          consumer_type: str = "INSTANCE", also: Callable[[Any], None] | None = None) -> bool:
    """Atomically replace ``consumer``'s allocations with ``resources`` on ``rp_uuid``.
    False (and nothing written) when the provider lacks capacity. ``also(connection)`` runs in
    the same transaction once the claim succeeded (the caller's own bookkeeping, e.g. the
    server's host: one commit instead of two)."""
    resources = {k: v for k, v in resources.items() if v}
    try:
        with db.write() as s:
            done = svc.claim_new(s, consumer, rp_uuid, resources, project_id, user_id, consumer_type)
            if done is not None:
                if done and also is not None:
                    also(s.connection())
                return done
            svc.set_allocations(s, [{"consumer": consumer, "project_id": project_id, "user_id": user_id,
                                     "consumer_type": consumer_type,
                                     "allocations": {rp_uuid: {k: v for k, v in resources.items() if v}}}],
                                check_generation=False)
            if also is not None:
                also(s.connection())
        return True
    except (perr.Conflict, perr.BadRequest):
        return False


def release(consumer: str) -> None:
    with db.write() as s:
        svc.delete_allocations(s, consumer)


def allocations_of(consumer: str) -> dict[str, dict[str, int]]:
    with db.read() as s:
        return svc.consumer_allocations(s, consumer)


def all_consumers() -> dict[str, dict[str, dict[str, int]]]:
    """{consumer: {rp: {rc: n}}} — for audits and tests of leaks."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    with db.read() as s:
        for a in s.scalars(select(m.Allocation)):
            out.setdefault(a.consumer_uuid, {}).setdefault(a.rp_uuid, {})[a.resource_class] = a.used
    return out


def provider_usage(rp_uuid: str) -> dict[str, Any]:
    """{"inventories": {rc: {...}}, "usages": {rc: n}} of one provider."""
    with db.read() as s:
        invs = svc.inventories(s, rp_uuid)
        return {"inventories": {rc: {k: getattr(i, k) for k in svc.INV_FIELDS} for rc, i in invs.items()},
                "usages": svc.provider_usages(s, rp_uuid)}


def set_aggregates(rp_uuid: str, aggregates: list[str]) -> None:
    """Mirror compute host aggregates onto the provider (member_of filtering)."""
    with db.write() as s:
        rp = s.get(m.ResourceProvider, rp_uuid)
        if rp is not None and set(svc.provider_aggregates(s, rp_uuid)) != set(aggregates):
            svc.set_provider_aggregates(s, rp, aggregates, rp.generation)


def project_usage(project_id: str, user_id: str | None = None) -> dict[str, int]:
    with db.read() as s:
        return svc.project_usages(s, project_id, user_id)["usages"]
