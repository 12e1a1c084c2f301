"""Operator-side block storage: QoS specs, volume encryption types, the service and host
views (enable/disable with a reason, freeze/thaw, log levels), user messages."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from onestack import db, errors
from onestack.volume import drivers, service
from onestack.volume import errors as verr
from onestack.volume import models as m

# The host name every service of this cloud reports (as `host = onestack` in cinder.conf);
# volumes carry it in os-vol-host-attr:host as "onestack@<backend>#<pool>".
HOST = "onestack"
SCHEDULER = "cinder-scheduler"
VOLUME = "cinder-volume"
LOGGERS = {"cinder-api": "onestack.volume.api", "cinder-scheduler": "onestack.volume.service",
           "cinder-volume": "onestack.volume", "cinder-backup": "onestack.volume.backups"}


# ------------------------------------------------------------------ QoS specs
def get_qos(s: Any, qos_id: str) -> m.QosSpecs:
    q = s.get(m.QosSpecs, qos_id)
    if q is None:
        raise verr.QosSpecsNotFound(specs_id=qos_id)
    return q


def create_qos(name: str, consumer: str, specs: dict[str, str]) -> m.QosSpecs:
    with db.write() as s:
        if s.scalar(select(m.QosSpecs).where(m.QosSpecs.name == name)) is not None:
            raise errors.Conflict(f"QoS Specs {name} already exists.")
        q = m.QosSpecs(id=service.new_uuid(), name=name, consumer=consumer, specs=dict(specs))
        s.add(q)
    return q


def set_qos_keys(qos_id: str, specs: dict[str, str], consumer: str | None = None) -> None:
    with db.write() as s:
        q = get_qos(s, qos_id)
        q.specs = {**(q.specs or {}), **specs}
        if consumer:
            q.consumer = consumer


def unset_qos_keys(qos_id: str, keys: list[str]) -> None:
    with db.write() as s:
        q = get_qos(s, qos_id)
        specs = dict(q.specs or {})
        missing = [k for k in keys if k not in specs]
        if missing:
            raise errors.NotFound(f"QoS spec {missing[0]} could not be found in QoS Specs {q.id}.")
        q.specs = {k: v for k, v in specs.items() if k not in keys}


def qos_types(s: Any, qos_id: str) -> list[m.VolumeType]:
    return list(s.scalars(select(m.VolumeType).where(m.VolumeType.qos_specs_id == qos_id,
                                                     m.VolumeType.deleted.is_(False))))


def delete_qos(qos_id: str, force: bool) -> None:
    with db.write() as s:
        q = get_qos(s, qos_id)
        types = qos_types(s, q.id)
        if types and not force:
            raise errors.BadRequest(f"QoS Specs {q.id} is still associated with entities.")
        for t in types:
            t.qos_specs_id = None
        s.delete(q)


def associate_qos(ctx: Any, qos_id: str, type_id: str | None, associate: bool) -> None:
    if not type_id:
        raise errors.BadRequest("Missing required parameter vol_type_id.")
    with db.write() as s:
        q = get_qos(s, qos_id)
        t = service.get_type(s, ctx, type_id, by_name=False)
        if associate:
            if t.qos_specs_id and t.qos_specs_id != q.id:
                raise errors.BadRequest(f"Type {t.id} is already associated with another qos specs: "
                                        f"{t.qos_specs_id}")
            t.qos_specs_id = q.id
        elif t.qos_specs_id == q.id:
            t.qos_specs_id = None


def disassociate_all_qos(qos_id: str) -> None:
    with db.write() as s:
        for t in qos_types(s, get_qos(s, qos_id).id):
            t.qos_specs_id = None


# ------------------------------------------------------------------ encryption types
def get_encryption(s: Any, type_id: str) -> m.Encryption | None:
    return s.scalar(select(m.Encryption).where(m.Encryption.volume_type_id == type_id))


def _type_unused(s: Any, t: m.VolumeType) -> None:
    if s.scalar(select(m.Volume.id).where(m.Volume.volume_type_id == t.id).limit(1)):
        raise errors.BadRequest(f"Invalid volume type: Cannot change encryption of volume type {t.id}: "
                                "volumes of this type exist.")


def set_encryption(ctx: Any, type_id: str, values: dict[str, Any], encryption_id: str | None = None) -> m.Encryption:
    """Create (``encryption_id`` None) or update a type's encryption spec."""
    with db.write() as s:
        t = service.get_type(s, ctx, type_id, by_name=False)
        _type_unused(s, t)
        e = get_encryption(s, t.id)
        if encryption_id is None:
            if e is not None:
                raise errors.BadRequest(f"Volume type encryption for type {t.id} already exists.")
            e = m.Encryption(id=service.new_uuid(), volume_type_id=t.id, provider=values["provider"],
                             control_location=values.get("control_location") or "front-end")
            s.add(e)
        elif e is None or e.id != encryption_id:
            raise errors.NotFound(f"Volume type encryption for type {t.id} does not exist.")
        for key in ("provider", "cipher", "key_size", "control_location"):
            if key in values:
                setattr(e, key, values[key])
        s.flush()
    return e


def delete_encryption(ctx: Any, type_id: str, encryption_id: str) -> None:
    with db.write() as s:
        t = service.get_type(s, ctx, type_id, by_name=False)
        e = get_encryption(s, t.id)
        if e is None or e.id != encryption_id:
            raise errors.NotFound(f"Volume type encryption for type {t.id} does not exist.")
        _type_unused(s, t)
        s.delete(e)


# ------------------------------------------------------------------ services and hosts
def service_rows() -> list[dict[str, Any]]:
    """One scheduler and one volume service per enabled backend, with their operator state."""
    rows = [{"binary": SCHEDULER, "host": HOST}]
    rows += [{"binary": VOLUME, "host": f"{HOST}@{name}", "backend": name}
             for name in sorted(drivers.all_backends())]
    with db.read() as s:
        states = {(x.binary, x.host): x for x in s.scalars(select(m.ServiceState))}
    for r in rows:
        st = states.get((r["binary"], r["host"]))
        r["disabled"] = bool(st and st.disabled)
        r["disabled_reason"] = st.disabled_reason if st else None
        r["frozen"] = bool(st and st.frozen)
    return rows


def unusable_backends(s: Any) -> set[str]:
    """Backends the scheduler must skip (in the caller's unit of work ``s``): their volume
    service is disabled or frozen."""
    return {x.host.split("@", 1)[1] for x in s.scalars(select(m.ServiceState).where(
        m.ServiceState.binary == VOLUME)) if "@" in x.host and (x.disabled or x.frozen)}


def set_service(host: str, binary: str, disabled: bool, reason: str | None) -> dict[str, Any]:
    row = next((r for r in service_rows() if r["host"] == host and r["binary"] == binary), None)
    if row is None:
        raise errors.NotFound(f"Service {binary} on host {host} could not be found.")
    with db.write() as s:
        st = s.get(m.ServiceState, (binary, host)) or m.ServiceState(binary=binary, host=host)
        st.disabled = disabled
        st.disabled_reason = reason if disabled else None
        s.add(st)
    return {**row, "disabled": disabled, "disabled_reason": reason if disabled else None}


def freeze(host: str, frozen: bool) -> None:
    hosts = {r["host"] for r in service_rows() if r["binary"] == VOLUME}
    if host not in hosts:
        raise errors.BadRequest(f"Invalid host: {host} is not a volume service host "
                                f"(known: {', '.join(sorted(hosts))}).")
    with db.write() as s:
        st = s.get(m.ServiceState, (VOLUME, host)) or m.ServiceState(binary=VOLUME, host=host)
        st.frozen = frozen
        s.add(st)


def set_log_level(binary: str | None, prefix: str | None, level: str) -> None:
    for b, logger in LOGGERS.items():
        if binary and binary not in (b, "*"):
            continue
        name = prefix or logger
        if not name.startswith("onestack") and not name.startswith("cinder"):
            continue
        logging.getLogger(name.replace("cinder", "onestack.volume", 1)).setLevel(level)


def log_levels(binary: str | None, prefix: str | None) -> list[dict[str, Any]]:
    out = []
    for b, logger in LOGGERS.items():
        if binary and binary not in (b, "*"):
            continue
        name = prefix or logger
        level = logging.getLevelName(logging.getLogger(name).getEffectiveLevel())
        out.append({"binary": b, "host": HOST, "levels": {name: level}})
    return out


def host_usage(host: str) -> list[dict[str, str]]:
    """Per-project (and total) volume/snapshot counts and sizes on a volume host."""
    hosts = {r["host"] for r in service_rows() if r["binary"] == VOLUME}
    if host.split("#")[0] not in hosts and host not in {h.split("@")[0] for h in hosts}:
        raise errors.NotFound(f"Host {host} could not be found.")
    backend = host.split("#")[0].split("@")[1] if "@" in host else None
    with db.read() as s:
        vq = select(m.Volume.project_id, func.count(m.Volume.id), func.coalesce(func.sum(m.Volume.size), 0))
        sq = select(m.Snapshot.project_id, func.count(m.Snapshot.id), func.coalesce(func.sum(m.Snapshot.size), 0)) \
            .join(m.Volume, m.Volume.id == m.Snapshot.volume_id)
        if backend:
            vq, sq = vq.where(m.Volume.backend == backend), sq.where(m.Volume.backend == backend)
        vols = {p: (c, g) for p, c, g in s.execute(vq.group_by(m.Volume.project_id))}
        snaps = {p: (c, g) for p, c, g in s.execute(sq.group_by(m.Snapshot.project_id))}
    projects = sorted(set(vols) | set(snaps))

    def res(project: str, v: tuple[int, int], sn: tuple[int, int]) -> dict[str, Any]:
        return {"resource": {"host": host, "project": project, "volume_count": str(v[0]),
                             "total_volume_gb": str(int(v[1])), "snapshot_count": str(sn[0]),
                             "total_snapshot_gb": str(int(sn[1]))}}
    total_v = (sum(c for c, _ in vols.values()), sum(int(g) for _, g in vols.values()))
    total_s = (sum(c for c, _ in snaps.values()), sum(int(g) for _, g in snaps.values()))
    return [res("(total)", total_v, total_s)] + [res(p, vols.get(p, (0, 0)), snaps.get(p, (0, 0)))
                                                 for p in projects]


# ------------------------------------------------------------------ messages
def get_message(s: Any, ctx: Any, message_id: str) -> m.Message:
    return service.get_owned(s, ctx, m.Message, message_id, verr.MessageNotFound(message_id=message_id))


def delete_message(ctx: Any, message_id: str) -> None:
    with db.write() as s:
        s.delete(get_message(s, ctx, message_id))
