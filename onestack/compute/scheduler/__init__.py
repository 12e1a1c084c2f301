"""The scheduler: placement allocation candidates -> filters -> weighers -> atomic claim.

``select_and_claim`` returns the chosen host (its placement allocation already made for the
server) and the alternates; the claim is a compare-and-swap in placement, so parallel builds
never overcommit a host. One lock serialises the select+claim of this process so group
(anti-)affinity decisions see each other's choices.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

from sqlalchemy import and_, case, event, inspect, or_, select, update
from sqlalchemy.orm import Session

from onestack import db
from onestack.compute import conf as cconf
from onestack.compute import hosts as hostlib
from onestack.compute import models as m
from onestack.compute.errors import NoValidHost
from onestack.compute.scheduler import filters, weights
from onestack.db.base import utcnow

_LOCK = threading.Lock()
_SRV = m.Server.__table__
FAILED_BUILDS: dict[str, int] = {}


def host_states(s: Any, candidates: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    c = cconf.get()
    node_rows = hostlib.nodes(s, list(candidates) if candidates is not None else None, rows=True)
    svcs = {svc.host: svc for svc in hostlib.services(s, binary="nova-compute",
                                                       hosts=list({n.host for n in node_rows}), rows=True)}
    # every aggregate's hosts and metadata in two queries (not per host)
    meta: dict[int, dict[str, str]] = {}
    for row in s.scalars(select(m.AggregateMetadata)):
        meta.setdefault(row.aggregate_id, {})[row.key] = row.value
    by_host: dict[str, list[int]] = {}
    for row in s.scalars(select(m.AggregateHost)):
        by_host.setdefault(row.host, []).append(row.aggregate_id)
    for node in node_rows:
        if candidates is not None and node.uuid not in candidates:
            continue
        svc = svcs.get(node.host)
        if svc is None:
            continue
        res = (candidates or {}).get(node.uuid, {}).get("resources", {})

        def free(rc: str) -> int:
            r = res.get(rc)
            return (r["capacity"] - r["used"]) if r else 0
        aggs = [{"id": a, "metadata": meta.get(a, {})} for a in by_host.get(node.host, [])]
        az = next((a["metadata"]["availability_zone"] for a in aggs if a["metadata"].get("availability_zone")),
                  c.default_availability_zone)
        out.append({"host": node.host, "node": node.hypervisor_hostname, "node_uuid": node.uuid,
                    "az": az, "enabled": not svc.disabled, "up": hostlib.is_up(svc),
                    "hypervisor_type": node.hypervisor_type, "aggregates": aggs,
                    "free_ram_mb": free("MEMORY_MB"), "free_vcpus": free("VCPU"), "free_disk_gb": free("DISK_GB"),
                    "failed_builds": FAILED_BUILDS.get(node.host, 0)})
    return out


# ------------------------------------------------------------------ host-state cache
# What the filters need of each compute node (host, AZ, aggregates, service state) changes
# rarely; reading it for up to max_placement_results nodes per boot was most of a
# placement's cost. Kept here, re-read after any commit that changes a service (other than
# its heartbeat), a node or an aggregate in this process, and every _HOSTS_TTL seconds (other
# processes' changes, heartbeats). Free resources always come from placement's candidates.
_HOSTS_TTL = 10.0
_WATCHED = (m.Service, m.ComputeNode, m.Aggregate, m.AggregateHost, m.AggregateMetadata)
_WATCHED_TABLES = {c.__table__.name for c in _WATCHED}


class _HostCache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version = 0          # bumped after a commit that changed a watched row
        self.loaded_version = -1
        self.loaded_at = 0.0
        self.by_node: dict[str, dict[str, Any]] = {}
        # node uuid -> (placement's candidate body, failed builds, host state): reused while both hold
        self.states: dict[str, tuple[Any, int, dict[str, Any]]] = {}

    def get(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            if self.loaded_version != self.version or time.monotonic() - self.loaded_at > _HOSTS_TTL:
                version = self.version
                with db.read() as s:
                    self.by_node = _read_hosts(s)
                self.loaded_version, self.loaded_at = version, time.monotonic()
                self.states = {}
            return self.by_node

    def changed(self) -> None:
        self.version += 1


HOSTS = _HostCache()


def _read_hosts(s: Any) -> dict[str, dict[str, Any]]:
    c = cconf.get()
    node_rows = hostlib.nodes(s, None, rows=True)
    svcs = {svc.host: svc for svc in hostlib.services(s, binary="nova-compute", rows=True)}
    meta: dict[int, dict[str, str]] = {}
    for row in s.scalars(select(m.AggregateMetadata)):
        meta.setdefault(row.aggregate_id, {})[row.key] = row.value
    by_host: dict[str, list[int]] = {}
    for row in s.scalars(select(m.AggregateHost)):
        by_host.setdefault(row.host, []).append(row.aggregate_id)
    out = {}
    for node in node_rows:
        svc = svcs.get(node.host)
        if svc is None:
            continue
        aggs = [{"id": a, "metadata": meta.get(a, {})} for a in by_host.get(node.host, [])]
        az = next((a["metadata"]["availability_zone"] for a in aggs if a["metadata"].get("availability_zone")),
                  c.default_availability_zone)
        out[node.uuid] = {"host": node.host, "node": node.hypervisor_hostname, "node_uuid": node.uuid, "az": az,
                          "enabled": not svc.disabled, "forced_down": bool(svc.forced_down),
                          "last_seen_up": svc.last_seen_up, "hypervisor_type": node.hypervisor_type,
                          "aggregates": aggs}
    return out


def cached_host_states(candidates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """host_states() of the candidates, from the cache."""
    known = HOSTS.get()
    memo = HOSTS.states
    down_after = dt.timedelta(seconds=cconf.get().service_down_time)
    now = utcnow()
    out = []
    for rp, cand in candidates.items():
        base = known.get(rp)
        if base is None:
            continue
        failed = FAILED_BUILDS.get(base["host"], 0)
        hit = memo.get(rp)
        if hit is not None and hit[0] is cand and hit[1] == failed:
            out.append(hit[2])
            continue
        res = cand.get("resources", {})

        def free(rc: str) -> int:
            r = res.get(rc)
            return (r["capacity"] - r["used"]) if r else 0
        seen = base["last_seen_up"]
        h = dict(base, up=not base["forced_down"] and seen is not None and now - seen < down_after,
                 free_ram_mb=free("MEMORY_MB"), free_vcpus=free("VCPU"), free_disk_gb=free("DISK_GB"),
                 failed_builds=failed)
        memo[rp] = (cand, failed, h)
        out.append(h)
    return out


def _only_heartbeat(values: Any) -> bool:
    names = {getattr(k, "key", k) for k in (values or {})}
    return bool(names) and names <= {"last_seen_up"}


@event.listens_for(Session, "before_flush")
def _note_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.info.get("compute_hosts_changed"):
        return
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, _WATCHED):
            session.info["compute_hosts_changed"] = True
            return
    for obj in session.dirty:
        if isinstance(obj, _WATCHED):
            changed = set(inspect(obj).committed_state)
            if changed - {"last_seen_up"}:
                session.info["compute_hosts_changed"] = True
                return


@event.listens_for(Session, "do_orm_execute")
def _note_execute(state: Any) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in _WATCHED_TABLES:
        return
    if state.is_update and _only_heartbeat(getattr(state.statement, "_values", None)):
        return
    state.session.info["compute_hosts_changed"] = True


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    if session.info.pop("compute_hosts_changed", False):
        HOSTS.changed()


def group_hosts(s: Any, group_uuid: str | None, exclude: str) -> dict[str, int]:
    if not group_uuid:
        return {}
    ids = s.scalars(select(m.ServerGroupMember.instance_uuid).where(m.ServerGroupMember.group_uuid == group_uuid)).all()
    counts: dict[str, int] = {}
    for host in s.scalars(select(m.Server.host).where(m.Server.uuid.in_(ids), m.Server.uuid != exclude,
                                                      m.Server.deleted.is_(False), m.Server.host.is_not(None))):
        counts[host] = counts.get(host, 0) + 1
    return counts


def select_and_claim(server_uuid: str, spec: dict[str, Any], resources: dict[str, int], project_id: str,
                     user_id: str, exclude_hosts: list[str] = (),
                     task_state: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Pick a host, claim ``resources`` for ``server_uuid`` in placement, record server.host
    (and ``task_state`` when given, in the same write). Raises NoValidHost with the reason."""
    extra = (spec.get("flavor") or {}).get("extra_specs") or {}
    required = [k[len("trait:"):] for k, v in extra.items() if k.startswith("trait:") and v == "required"]
    forbidden = [k[len("trait:"):] for k, v in extra.items() if k.startswith("trait:") and v == "forbidden"]
    spec = dict(spec, ignore_hosts=list(spec.get("ignore_hosts") or []) + list(exclude_hosts))
    g = spec.get("group")
    with _LOCK:
        if g:
            with db.read() as s:
                spec = dict(spec, group=dict(g, hosts=group_hosts(s, g["uuid"], server_uuid)))
        try:
            # from the in-memory copies first; a miss is checked against the database
            return _select_and_claim(server_uuid, spec, resources, project_id, user_id, required, forbidden,
                                     fresh=False, task_state=task_state)
        except NoValidHost:
            return _select_and_claim(server_uuid, spec, resources, project_id, user_id, required, forbidden,
                                     fresh=True, task_state=task_state)


def _select_and_claim(server_uuid: str, spec: dict[str, Any], resources: dict[str, int], project_id: str,
                      user_id: str, required: list[str], forbidden: list[str],
                      fresh: bool, task_state: str | None = None) -> tuple[dict[str, Any], list[str]]:
    from onestack.placement import interface as placement
    c = cconf.get()
    cands = placement.candidates(resources, required, forbidden, limit=c.max_placement_results, fresh=fresh)
    if not cands:
        raise NoValidHost("placement returned no allocation candidates for " + str(resources))
    by_rp = {x["rp_uuid"]: x for x in cands}
    if fresh:
        with db.read() as s:
            states = host_states(s, by_rp)
    else:
        states = cached_host_states(by_rp)
    passing, trail = filters.run(states, spec)
    if not passing:
        raise NoValidHost("; ".join(trail))
    mults = {name: getattr(c, name) for name, _ in weights.WEIGHERS}
    # the best few first (a claim rarely fails); the whole order only if all of them refuse
    top = c.max_attempts + 2
    ranked = weights.order(passing, spec, mults, top=top)
    i = -1
    while i + 1 < len(ranked):
        i += 1
        h = ranked[i]
        values: dict[str, Any] = {"host": h["host"], "node": h["node"], "availability_zone": h["az"]}
        if task_state is not None:   # (not over a delete that came meanwhile)
            values["task_state"] = case(
                (and_(_SRV.c.deleted.is_(False), or_(_SRV.c.task_state.is_(None),
                                                     _SRV.c.task_state != "deleting")), task_state),
                else_=_SRV.c.task_state)
        # the server's host is recorded in the claim's own transaction (one plain statement)
        record = update(_SRV).where(_SRV.c.uuid == server_uuid).values(**values)
        if not placement.claim(server_uuid, h["node_uuid"], resources, project_id, user_id,
                               also=lambda conn, stmt=record: conn.execute(stmt)):
            if i + 1 == len(ranked) < len(passing):
                ranked = weights.order(passing, spec, mults)   # same order, all of it
            continue
        return h, [x["host"] for x in ranked[i + 1:i + c.max_attempts]]
    raise NoValidHost("claiming resources failed on every candidate")


def note_build(host: str, ok: bool) -> None:
    if ok:
        FAILED_BUILDS.pop(host, None)
    else:
        FAILED_BUILDS[host] = FAILED_BUILDS.get(host, 0) + 1
