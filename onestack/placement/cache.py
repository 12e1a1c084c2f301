"""In-memory copy of the providers' inventories, usages, traits and aggregates, for the
scheduler's allocation candidates (``interface.candidates``).

Placement stays the authority: a claim is a compare-and-swap on the database
(``set_allocations`` checks capacity inside the write transaction), so a stale copy can only
offer a host that then refuses the claim (the scheduler tries the next one) or miss room that
was freed (the caller falls back to the database search before answering NoValidHost).

Kept fresh by the writes themselves: every placement write names the providers it touched
(:func:`touch`), and after its commit those providers are re-read on the next search. Writes
made by another process are picked up by a full reload every ``TTL`` seconds.
"""
from __future__ import annotations

import bisect
import threading
import time
from typing import Any

from sqlalchemy import func, select

from onestack import db
from onestack.placement import models as m

TTL = 10.0


class _Provider:
    __slots__ = ("uuid", "name", "order", "inv", "used", "traits", "aggs", "summary")

    def __init__(self, uuid: str, name: str, order: tuple) -> None:
        self.uuid, self.name, self.order = uuid, name, order
        self.inv: dict[str, tuple] = {}      # rc -> (capacity, min_unit, max_unit, step_size)
        self.used: dict[str, int] = {}
        self.traits: set[str] = set()
        self.aggs: set[str] = set()
        self.summary: dict[str, Any] | None = None   # the candidate's body, built once per load


class ProviderCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rps: dict[str, _Provider] = {}
        self._ordered: list[str] = []      # provider uuids, oldest first
        self._nested = False
        self._dirty: set[str] = set()
        self._loaded = 0.0
        self._valid = False
        # incremental searches: the providers changed since the last re-ordering (a log), the
        # position of each provider in _ordered, and per request shape the last answer
        self._epoch = 0
        self._changes: list[str] = []
        self._pos: dict[str, int] = {}
        self._scans: dict[Any, _Scan] = {}

    # ------------------------------------------------------------ freshness
    def mark(self, rp_uuids: set[str]) -> None:
        with self._lock:
            self._dirty |= rp_uuids

    def set_used(self, rp_uuid: str, used: dict[str, int]) -> None:
        """A claim just committed: this is the provider's usage now (read in its transaction)."""
        with self._lock:
            p = self._rps.get(rp_uuid)
            if p is not None and rp_uuid not in self._dirty:
                p.used = used
                p.summary = None
                self._changes.append(rp_uuid)

    def invalidate(self) -> None:
        with self._lock:
            self._valid = False

    def _refresh(self) -> None:
        """Called with the lock held."""
        if not self._valid or time.monotonic() - self._loaded > TTL:
            self._dirty.clear()
            self._load(None)
            self._loaded = time.monotonic()
            self._valid = True
        elif self._dirty:
            only, self._dirty = self._dirty, set()
            self._load(only)

    def _load(self, only: set[str] | None) -> None:
        rp_stmt = select(m.ResourceProvider.uuid, m.ResourceProvider.name, m.ResourceProvider.parent_uuid,
                         m.ResourceProvider.created_at)
        inv_stmt = select(m.Inventory.rp_uuid, m.Inventory.resource_class, m.Inventory.total, m.Inventory.reserved,
                          m.Inventory.min_unit, m.Inventory.max_unit, m.Inventory.step_size,
                          m.Inventory.allocation_ratio)
        use_stmt = select(m.Allocation.rp_uuid, m.Allocation.resource_class, func.sum(m.Allocation.used)) \
            .group_by(m.Allocation.rp_uuid, m.Allocation.resource_class)
        tr_stmt = select(m.ProviderTrait.rp_uuid, m.ProviderTrait.trait)
        ag_stmt = select(m.ProviderAggregate.rp_uuid, m.ProviderAggregate.aggregate_uuid)
        if only is not None:
            ids = list(only)
            rp_stmt = rp_stmt.where(m.ResourceProvider.uuid.in_(ids))
            inv_stmt = inv_stmt.where(m.Inventory.rp_uuid.in_(ids))
            use_stmt = use_stmt.where(m.Allocation.rp_uuid.in_(ids))
            tr_stmt = tr_stmt.where(m.ProviderTrait.rp_uuid.in_(ids))
            ag_stmt = ag_stmt.where(m.ProviderAggregate.rp_uuid.in_(ids))
        fresh: dict[str, _Provider] = {}
        nested = False
        with db.read() as s:
            for uuid, name, parent, created in s.execute(rp_stmt):
                fresh[uuid] = _Provider(uuid, name, (created, uuid))
                nested = nested or parent is not None
            for rp, rc, total, reserved, lo, hi, step, ratio in s.execute(inv_stmt):
                p = fresh.get(rp)
                if p is not None:
                    p.inv[rc] = (int((total - reserved) * ratio), lo, hi, step)
            for rp, rc, n in s.execute(use_stmt):
                p = fresh.get(rp)
                if p is not None:
                    p.used[rc] = int(n)
            for rp, t in s.execute(tr_stmt):
                p = fresh.get(rp)
                if p is not None:
                    p.traits.add(t)
            for rp, a in s.execute(ag_stmt):
                p = fresh.get(rp)
                if p is not None:
                    p.aggs.add(a)
        if only is None:
            self._rps = fresh
            self._nested = nested
            self._reordered([p.uuid for p in sorted(fresh.values(), key=lambda p: p.order)])
            return
        reorder = False
        for uuid in only:
            if uuid in fresh:
                reorder = reorder or uuid not in self._rps
                self._rps[uuid] = fresh[uuid]
            elif self._rps.pop(uuid, None) is not None:
                reorder = True
        self._nested = self._nested or nested
        if reorder:
            self._reordered([p.uuid for p in sorted(self._rps.values(), key=lambda p: p.order)])
        else:
            self._changes.extend(only)

    def _reordered(self, ordered: list[str]) -> None:
        self._ordered = ordered
        self._pos = {u: i for i, u in enumerate(ordered)}
        self._epoch += 1
        self._changes = []
        self._scans = {}

    # ------------------------------------------------------------ search
    def candidates(self, resources: dict[str, int], required: set[str], forbidden: set[str],
                   member_of: list[set[str]], limit: int | None) -> list[dict[str, Any]] | None:
        """Single providers with room for every amount, in creation order, at most ``limit``:
        [{rp_uuid, name, resources: {rc: {capacity, used}}, traits}]. None when the providers
        form trees (nested providers): the caller searches the database instead."""
        with self._lock:
            self._refresh()
            if self._nested:
                return None
            key = (tuple(sorted(resources.items())), frozenset(required), frozenset(forbidden),
                   tuple(frozenset(x) for x in member_of), limit)
            scan = self._scans.get(key)
            if scan is None or scan.epoch != self._epoch:
                scan = self._scans[key] = _Scan(self._epoch)
            else:
                # the last answer for this shape, corrected for the providers changed since
                for uuid in set(self._changes[scan.seen:]):
                    at = self._pos.get(uuid)
                    if at is None or at >= scan.next:
                        continue   # not examined yet: the scan below gets to it
                    fits = self._fits(self._rps[uuid], resources, required, forbidden, member_of)
                    i = bisect.bisect_left(scan.found, at)
                    present = i < len(scan.found) and scan.found[i] == at
                    if present and not fits:
                        del scan.found[i]
                    elif fits and not present:
                        scan.found.insert(i, at)
                        if limit and len(scan.found) > limit:
                            scan.next = scan.found.pop()   # examine it again when the answer grows
            scan.seen = len(self._changes)
            ordered, rps = self._ordered, self._rps
            while (not limit or len(scan.found) < limit) and scan.next < len(ordered):
                if self._fits(rps[ordered[scan.next]], resources, required, forbidden, member_of):
                    scan.found.append(scan.next)
                scan.next += 1
            if len(self._changes) > 100000:   # keep the log short: start over
                self._reordered(self._ordered)
            return [self._summary(rps[ordered[i]]) for i in scan.found]

    @staticmethod
    def _fits(p: _Provider, resources: dict[str, int], required: set[str], forbidden: set[str],
              member_of: list[set[str]]) -> bool:
        inv, used = p.inv, p.used
        for rc, n in resources.items():
            i = inv.get(rc)
            if i is None or n < i[1] or n > i[2] or n % i[3] or used.get(rc, 0) + n > i[0]:
                return False
        if required and not required <= p.traits:
            return False
        if forbidden and forbidden & p.traits:
            return False
        return not member_of or all(p.aggs & agg for agg in member_of)

    @staticmethod
    def _summary(p: _Provider) -> dict[str, Any]:
        if p.summary is None:
            # shared between searches until the provider is re-read: callers only read it
            p.summary = {"rp_uuid": p.uuid, "name": p.name,
                         "resources": {rc: {"capacity": i[0], "used": p.used.get(rc, 0)}
                                       for rc, i in p.inv.items()},
                         "traits": sorted(p.traits)}
        return p.summary


class _Scan:
    """One request shape's answer: positions (in _ordered) of the fitting providers found, the
    next position to examine, how much of the change log it has applied."""
    __slots__ = ("epoch", "found", "next", "seen")

    def __init__(self, epoch: int) -> None:
        self.epoch, self.found, self.next, self.seen = epoch, [], 0, 0


CACHE = ProviderCache()


def touch(s: Any, *rp_uuids: str) -> None:
    """Called by placement writes: these providers changed in ``s``'s transaction."""
    pending = s.info.get("placement_touched")
    if pending is None:
        pending = s.info["placement_touched"] = set()
        db.session.after_commit(s, lambda: CACHE.mark(pending))
    pending.update(rp_uuids)
