"""Compute services, hypervisor nodes, host aggregates and availability zones."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, select

from onestack import errors
from onestack.compute import conf as cconf
from onestack.compute import models as m
from onestack.compute.errors import AggregateNotFound
from onestack.db.base import utcnow


# ------------------------------------------------------------------ services / nodes
def ensure_service(s: Any, host: str, binary: str) -> m.Service:
    svc = s.scalar(select(m.Service).where(m.Service.host == host, m.Service.binary == binary))
    if svc is None:
        svc = m.Service(uuid=str(uuid.uuid4()), host=host, binary=binary,
                        topic="compute" if binary == "nova-compute" else None, last_seen_up=utcnow())
        s.add(svc)
        s.flush()
    else:
        svc.last_seen_up = utcnow()
        svc.deleted = False
    return svc


def heartbeat(s: Any, hosts: list[str]) -> None:
    now = utcnow()
    for svc in s.scalars(select(m.Service).where(m.Service.host.in_(hosts))):
        svc.last_seen_up = now


def is_up(svc: m.Service) -> bool:
    if svc.forced_down:
        return False
    if svc.last_seen_up is None:
        return False
    return utcnow() - svc.last_seen_up < dt.timedelta(seconds=cconf.get().service_down_time)


def ensure_node(s: Any, host: str, res: Any) -> m.ComputeNode:
    node = s.scalar(select(m.ComputeNode).where(m.ComputeNode.hypervisor_hostname == res.nodename))
    import json
    if node is None:
        node = m.ComputeNode(uuid=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"onestack-node-{res.nodename}")),
                             host=host, hypervisor_hostname=res.nodename)
        s.add(node)
    node.hypervisor_type = res.hypervisor_type
    node.hypervisor_version = res.hypervisor_version
    node.vcpus, node.memory_mb, node.local_gb = res.vcpus, res.memory_mb, res.local_gb
    node.host_ip = res.host_ip
    node.cpu_info = json.dumps(res.cpu_info)
    node.started_at = utcnow()
    node.deleted = False
    s.flush()
    return node


_SERVICE_COLS = (m.Service.id, m.Service.uuid, m.Service.host, m.Service.binary, m.Service.disabled,
                 m.Service.forced_down, m.Service.last_seen_up)
_NODE_COLS = (m.ComputeNode.id, m.ComputeNode.uuid, m.ComputeNode.host, m.ComputeNode.hypervisor_hostname,
              m.ComputeNode.hypervisor_type)


def services(s: Any, host: str | None = None, binary: str | None = None,
             hosts: list[str] | None = None, rows: bool = False) -> list[m.Service]:
    """Live services; ``rows``: read-only rows of the scheduling columns (cheaper than objects)."""
    stmt = (select(*_SERVICE_COLS) if rows else select(m.Service)).where(m.Service.deleted.is_(False)) \
        .order_by(m.Service.id)
    if host:
        stmt = stmt.where(m.Service.host == host)
    if hosts is not None:
        stmt = stmt.where(m.Service.host.in_(hosts))
    if binary:
        stmt = stmt.where(m.Service.binary == binary)
    return list(s.execute(stmt) if rows else s.scalars(stmt))


def nodes(s: Any, uuids: list[str] | None = None, rows: bool = False) -> list[m.ComputeNode]:
    stmt = (select(*_NODE_COLS) if rows else select(m.ComputeNode)).where(m.ComputeNode.deleted.is_(False)) \
        .order_by(m.ComputeNode.id)
    if uuids is not None:
        stmt = stmt.where(m.ComputeNode.uuid.in_(uuids))
    return list(s.execute(stmt) if rows else s.scalars(stmt))


def compute_hosts(s: Any) -> list[str]:
    return [svc.host for svc in services(s, binary="nova-compute")]


# ------------------------------------------------------------------ aggregates
def get_aggregate(s: Any, agg_id: Any) -> m.Aggregate:
    agg = None
    try:
        agg = s.get(m.Aggregate, int(agg_id))
    except (TypeError, ValueError):
        agg = s.scalar(select(m.Aggregate).where(m.Aggregate.uuid == str(agg_id)))
    if agg is None:
        raise AggregateNotFound(id=agg_id)
    return agg


def agg_hosts(s: Any, agg: m.Aggregate) -> list[str]:
    return sorted(s.scalars(select(m.AggregateHost.host).where(m.AggregateHost.aggregate_id == agg.id)))


def agg_metadata(s: Any, agg: m.Aggregate) -> dict[str, str]:
    return {x.key: x.value for x in s.scalars(select(m.AggregateMetadata).where(
        m.AggregateMetadata.aggregate_id == agg.id))}


def aggregates(s: Any) -> list[m.Aggregate]:
    return list(s.scalars(select(m.Aggregate).order_by(m.Aggregate.id)))


def host_aggregates(s: Any, host: str) -> list[m.Aggregate]:
    ids = s.scalars(select(m.AggregateHost.aggregate_id).where(m.AggregateHost.host == host)).all()
    return [s.get(m.Aggregate, i) for i in ids]


def host_az(s: Any, host: str) -> str:
    for agg in host_aggregates(s, host):
        az = agg_metadata(s, agg).get("availability_zone")
        if az:
            return az
    return cconf.get().default_availability_zone


def _check_az_conflict(s: Any, host: str, az: str | None, exclude: int | None = None) -> None:
    if az is None:
        return
    for other in host_aggregates(s, host):
        if other.id == exclude:
            continue
        oaz = agg_metadata(s, other).get("availability_zone")
        if oaz and oaz != az:
            raise errors.Conflict(f"Cannot add host to aggregate {exclude}. Reason: One or more hosts "
                                  f"already in availability zone(s) ['{oaz}'].")


def create_aggregate(s: Any, name: str, az: str | None) -> m.Aggregate:
    if s.scalar(select(m.Aggregate.id).where(m.Aggregate.name == name)):
        raise errors.Conflict(f"Aggregate {name} already exists.")
    if az is not None and az == cconf.get().internal_service_availability_zone:
        raise errors.BadRequest("Aggregates cannot use the internal availability zone.")
    agg = m.Aggregate(uuid=str(uuid.uuid4()), name=name)
    s.add(agg)
    s.flush()
    if az:
        s.add(m.AggregateMetadata(aggregate_id=agg.id, key="availability_zone", value=az))
    s.flush()
    return agg


def update_aggregate(s: Any, agg: m.Aggregate, name: str | None, az: Any = ...) -> None:
    if name is not None and name != agg.name:
        if s.scalar(select(m.Aggregate.id).where(m.Aggregate.name == name)):
            raise errors.Conflict(f"Aggregate {name} already exists.")
        agg.name = name
    if az is not ...:
        set_metadata(s, agg, {"availability_zone": az})
    agg.updated_at = utcnow()


def delete_aggregate(s: Any, agg: m.Aggregate) -> None:
    if agg_hosts(s, agg):
        raise errors.BadRequest(f"Cannot remove aggregate {agg.id}: it still has hosts.")
    s.execute(delete(m.AggregateMetadata).where(m.AggregateMetadata.aggregate_id == agg.id))
    s.delete(agg)


def add_host(s: Any, agg: m.Aggregate, host: str) -> None:
    if host not in compute_hosts(s):
        raise errors.NotFound(f"Compute host {host} could not be found.")
    if s.get(m.AggregateHost, (agg.id, host)) is not None:
        raise errors.Conflict(f"Aggregate {agg.id} already has host {host}.")
    _check_az_conflict(s, host, agg_metadata(s, agg).get("availability_zone"), agg.id)
    s.add(m.AggregateHost(aggregate_id=agg.id, host=host))
    agg.updated_at = utcnow()
    s.flush()


def remove_host(s: Any, agg: m.Aggregate, host: str) -> None:
    row = s.get(m.AggregateHost, (agg.id, host))
    if row is None:
        raise errors.NotFound(f"Cannot remove host {host} in aggregate {agg.id}: not found.")
    s.delete(row)
    agg.updated_at = utcnow()
    s.flush()


def set_metadata(s: Any, agg: m.Aggregate, meta: dict[str, Any]) -> None:
    if "availability_zone" in meta and meta["availability_zone"]:
        for host in agg_hosts(s, agg):
            _check_az_conflict(s, host, meta["availability_zone"], agg.id)
    for k, v in meta.items():
        row = s.get(m.AggregateMetadata, (agg.id, k))
        if v is None:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(m.AggregateMetadata(aggregate_id=agg.id, key=k, value=str(v)))
        else:
            row.value = str(v)
    agg.updated_at = utcnow()
    s.flush()


def placement_sync(s: Any, hosts: list[str]) -> list[tuple[str, list[str]]]:
    """(node uuid, aggregate uuids) for each host — mirrored to placement after commit."""
    out = []
    for host in hosts:
        aggs = [a.uuid for a in host_aggregates(s, host)]
        for node in s.scalars(select(m.ComputeNode).where(m.ComputeNode.host == host)):
            out.append((node.uuid, aggs))
    return out


def availability_zones(s: Any) -> dict[str, list[str]]:
    """{az: [hosts]} for compute hosts."""
    out: dict[str, list[str]] = {}
    for host in compute_hosts(s):
        out.setdefault(host_az(s, host), []).append(host)
    return out
