"""The scheduler: placement allocation candidates -> filters -> weighers -> atomic claim.

``select_and_claim`` returns the chosen host (its placement allocation already made for the
server) and the alternates; the claim is a compare-and-swap in placement, so parallel builds
never overcommit a host. One lock serialises the select+claim of this process so group
(anti-)affinity decisions see each other's choices.
"""
from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from onestack import db
from onestack.compute import conf as cconf
from onestack.compute import hosts as hostlib
from onestack.compute import models as m
from onestack.compute.errors import NoValidHost
from onestack.compute.scheduler import filters, weights

_LOCK = threading.Lock()
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
                     user_id: str, exclude_hosts: list[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """Pick a host, claim ``resources`` for ``server_uuid`` in placement, record server.host.
    Raises NoValidHost with the reason."""
    from onestack.placement import interface as placement
    c = cconf.get()
    extra = (spec.get("flavor") or {}).get("extra_specs") or {}
    required = [k[len("trait:"):] for k, v in extra.items() if k.startswith("trait:") and v == "required"]
    forbidden = [k[len("trait:"):] for k, v in extra.items() if k.startswith("trait:") and v == "forbidden"]
    with _LOCK:
        cands = placement.candidates(resources, required, forbidden, limit=c.max_placement_results)
        if not cands:
            raise NoValidHost("placement returned no allocation candidates for " + str(resources))
        by_rp = {x["rp_uuid"]: x for x in cands}
        with db.read() as s:
            states = host_states(s, by_rp)
            g = spec.get("group")
            if g:
                g = dict(g, hosts=group_hosts(s, g["uuid"], server_uuid))
                spec = dict(spec, group=g)
        spec = dict(spec, ignore_hosts=list(spec.get("ignore_hosts") or []) + list(exclude_hosts))
        passing, trail = filters.run(states, spec)
        if not passing:
            raise NoValidHost("; ".join(trail))
        mults = {name: getattr(c, name) for name, _ in weights.WEIGHERS}
        ranked = weights.order(passing, spec, mults)
        for i, h in enumerate(ranked):
            if placement.claim(server_uuid, h["node_uuid"], resources, project_id, user_id):
                with db.write() as s:
                    srv = s.get(m.Server, server_uuid)
                    if srv is not None:
                        srv.host, srv.node = h["host"], h["node"]
                        if not srv.availability_zone or srv.availability_zone != h["az"]:
                            srv.availability_zone = h["az"]
                return h, [x["host"] for x in ranked[i + 1:i + c.max_attempts]]
        raise NoValidHost("claiming resources failed on every candidate")


def note_build(host: str, ok: bool) -> None:
    if ok:
        FAILED_BUILDS.pop(host, None)
    else:
        FAILED_BUILDS[host] = FAILED_BUILDS.get(host, 0) + 1
