"""Generic volume groups (3.13+), group types (3.11+) and group snapshots (3.14+).

A group holds volumes of the types it was created with; a group snapshot is one
snapshot per member volume (each an ordinary snapshot task); a group created from a
group or a group snapshot gets one new volume per source volume/snapshot (ordinary
volume-create tasks). Groups need no backend work of their own, so a group is
``available`` as soon as it is written."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack import db, errors, tasks
from onestack.volume import errors as verr
from onestack.volume import models as m
from onestack.volume import service

DEFAULT_GROUP_TYPE = "default_group_type"


def ensure_default_group_type() -> None:
    with db.write() as s:
        if s.scalar(select(m.GroupType).where(m.GroupType.name == DEFAULT_GROUP_TYPE)) is None:
            s.add(m.GroupType(id=service.new_uuid(), name=DEFAULT_GROUP_TYPE,
                              description="Default group type", is_public=True, group_specs={}))


# ------------------------------------------------------------------ group types
def get_group_type(s: Any, ctx: Any, ref: str) -> m.GroupType:
    if ref == "default":
        ref = DEFAULT_GROUP_TYPE
    t = s.get(m.GroupType, ref) or s.scalar(select(m.GroupType).where(m.GroupType.name == ref))
    if t is None or not (t.is_public or service._is_admin(ctx)):
        raise verr.GroupTypeNotFound(group_type_id=ref)
    return t


def list_group_types(ctx: Any, is_public: bool | None) -> list[m.GroupType]:
    with db.read() as s:
        rows = list(s.scalars(select(m.GroupType).order_by(m.GroupType.name)))
    if not service._is_admin(ctx):
        return [t for t in rows if t.is_public]
    return rows if is_public is None else [t for t in rows if t.is_public == is_public]


def create_group_type(name: str, description: str | None, is_public: bool,
                      specs: dict[str, str]) -> m.GroupType:
    with db.write() as s:
        if s.scalar(select(m.GroupType).where(m.GroupType.name == name)) is not None:
            raise errors.Conflict(f"Group Type {name} already exists.")
        t = m.GroupType(id=service.new_uuid(), name=name, description=description, is_public=is_public,
                        group_specs=dict(specs))
        s.add(t)
    return t


def update_group_type(ctx: Any, type_id: str, values: dict[str, Any]) -> m.GroupType:
    with db.write() as s:
        t = get_group_type(s, ctx, type_id)
        if values.get("name") and values["name"] != t.name:
            if s.scalar(select(m.GroupType).where(m.GroupType.name == values["name"])) is not None:
                raise errors.Conflict(f"Group Type {values['name']} already exists.")
            t.name = values["name"]
        for key in ("description", "is_public"):
            if key in values:
                setattr(t, key, values[key])
    return t


def delete_group_type(ctx: Any, type_id: str) -> None:
    with db.write() as s:
        t = get_group_type(s, ctx, type_id)
        if t.name == DEFAULT_GROUP_TYPE:
            raise errors.BadRequest("Default group type can not be deleted.")
        if s.scalar(select(m.Group.id).where(m.Group.group_type_id == t.id).limit(1)):
            raise errors.BadRequest(f"Target group type {t.id} is still in use.")
        s.delete(t)


def set_group_specs(ctx: Any, type_id: str, specs: dict[str, str], remove: str | None = None) -> dict[str, str]:
    with db.write() as s:
        t = get_group_type(s, ctx, type_id)
        cur = dict(t.group_specs or {})
        if remove is not None:
            if remove not in cur:
                raise errors.NotFound(f"Group Type {t.id} has no specs with key {remove}.")
            cur.pop(remove)
        cur.update(specs)
        t.group_specs = cur
        return cur


# ------------------------------------------------------------------ groups
def get_group(s: Any, ctx: Any, group_id: str) -> m.Group:
    return service.get_owned(s, ctx, m.Group, group_id, verr.GroupNotFound(group_id=group_id))


def check_volume_fits(g: m.Group, vtype: m.VolumeType) -> None:
    if g.status not in ("available", "in-use", "creating"):
        raise verr.InvalidVolume(f"Invalid group: group {g.id} status must be available, but is {g.status}.")
    if vtype.id not in (g.volume_type_ids or []):
        raise errors.BadRequest(f"Invalid input received: Invalid volume_type provided: {vtype.id}. "
                                f"Group {g.id} does not support this volume type.")


def group_volume_ids(s: Any, group_id: str) -> list[str]:
    return list(s.scalars(select(m.Volume.id).where(m.Volume.group_id == group_id)
                          .order_by(m.Volume.created_at)))


def create_group(ctx: Any, name: str | None, description: str | None, group_type: str,
                 volume_types: list[str], availability_zone: str | None) -> m.Group:
    with db.write() as s:
        gt = get_group_type(s, ctx, group_type)
        if not volume_types:
            raise errors.BadRequest("Invalid input received: volume_types must be provided to create "
                                    "group.")
        type_ids = [service.get_type(s, ctx, ref).id for ref in volume_types]
        az = availability_zone or service.conf().availability_zone
        if az != service.conf().availability_zone:
            raise errors.BadRequest(f"Invalid input received: Availability zone '{az}' is invalid.")
        service.check_quota(s, ctx.project_id, groups=1)
        g = m.Group(id=service.new_uuid(), project_id=ctx.project_id, user_id=ctx.user_id, name=name,
                    description=description, status="available", availability_zone=az,
                    group_type_id=gt.id, volume_type_ids=type_ids)
        s.add(g)
    return g


def update_group(ctx: Any, group_id: str, name: Any, description: Any, add: list[str],
                 remove: list[str], fields: set[str]) -> m.Group:
    with db.write() as s:
        g = get_group(s, ctx, group_id)
        if (add or remove) and g.status not in ("available", "in-use"):
            raise verr.InvalidVolume(f"Invalid group: Group {g.id} status must be available or in-use, "
                                     f"but is {g.status}.")
        for vid in add:
            v = service.get_volume(s, ctx, vid)
            if v.group_id == g.id:
                continue
            if v.group_id:
                raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} is already in group {v.group_id}.")
            if v.status not in ("available", "in-use"):
                raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} status must be available or "
                                         f"in-use to be added to a group, but is {v.status}.")
            if v.volume_type_id not in (g.volume_type_ids or []):
                raise errors.BadRequest(f"Invalid input received: volume {v.id} has a volume type the "
                                        f"group {g.id} does not support.")
            v.group_id = g.id
        for vid in remove:
            v = service.get_volume(s, ctx, vid)
            if v.group_id != g.id:
                raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} is not in group {g.id}.")
            v.group_id = None
        if "name" in fields:
            g.name = name
        if "description" in fields:
            g.description = description
    return g


def delete_group(ctx: Any, group_id: str, delete_volumes: bool) -> None:
    with db.write() as s:
        g = get_group(s, ctx, group_id)
        vols = list(s.scalars(select(m.Volume).where(m.Volume.group_id == g.id)))
        if vols and not delete_volumes:
            raise errors.BadRequest(f"Invalid group: Group {g.id} still contains volumes. The "
                                    "delete-volumes flag is required to delete it.")
        if s.scalar(select(m.GroupSnapshot.id).where(m.GroupSnapshot.group_id == g.id).limit(1)):
            raise errors.BadRequest(f"Invalid group: Group {g.id} has group snapshots.")
        for v in vols:
            if v.status not in service.DELETABLE or v.attach_status == "attached":
                raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} in group {g.id} is {v.status}; "
                                         "its volumes must be available or error to delete the group.")
            if s.scalar(select(m.Snapshot.id).where(m.Snapshot.volume_id == v.id).limit(1)):
                raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} in group {g.id} has snapshots.")
        for v in vols:
            v.status = "deleting"
            v.group_id = None
            tasks.submit(s, "volume.delete", resource_type="volume", resource_id=v.id,
                         project_id=v.project_id, payload={"snapshots": []})
        s.delete(g)


def reset_group_status(ctx: Any, group_id: str, status: str) -> None:
    with db.write() as s:
        get_group(s, ctx, group_id).status = status


def create_group_from_source(ctx: Any, name: str | None, description: str | None,
                             source_group_id: str | None, group_snapshot_id: str | None) -> m.Group:
    """A new group with one new volume per source volume (clone) or per snapshot of the
    group snapshot. The volumes are ordinary volume-create tasks."""
    if bool(source_group_id) == bool(group_snapshot_id):
        raise errors.BadRequest("Invalid input received: Either 'group_snapshot_id' or "
                                "'source_group_id' must be provided to create group from source.")
    with db.read() as s:
        if source_group_id:
            src = get_group(s, ctx, source_group_id)
            if src.status != "available":
                raise verr.InvalidVolume(f"Invalid group: Source group {src.id} status must be "
                                         f"available, but is {src.status}.")
            sources = [{"source_volid": v.id, "volume_type": v.volume_type_id, "size": v.size}
                       for v in s.scalars(select(m.Volume).where(m.Volume.group_id == src.id))]
            gtype, vtypes = src.group_type_id, list(src.volume_type_ids or [])
        else:
            gs = get_group_snapshot(s, ctx, group_snapshot_id)
            if gs.status != "available":
                raise verr.InvalidVolume(f"Invalid group snapshot: status must be available, but is "
                                         f"{gs.status}.")
            src = s.get(m.Group, gs.group_id)
            if src is None:
                raise verr.GroupNotFound(group_id=gs.group_id)
            sources = []
            for sn in s.scalars(select(m.Snapshot).where(m.Snapshot.group_snapshot_id == gs.id)):
                parent = s.get(m.Volume, sn.volume_id)
                sources.append({"snapshot_id": sn.id, "size": sn.size,
                                "volume_type": parent.volume_type_id if parent else None})
            gtype, vtypes = gs.group_type_id, list(src.volume_type_ids or [])
    g = create_group(ctx, name, description, gtype, vtypes, src.availability_zone)
    with db.write() as s:
        row = s.get(m.Group, g.id)
        row.source_group_id, row.group_snapshot_id = source_group_id, group_snapshot_id
        g = row
    for item in sources:
        service.create_volume(ctx, {**item, "group_id": g.id, "name": f"{name or 'group'}-volume"})
    return g


# ------------------------------------------------------------------ group snapshots
def get_group_snapshot(s: Any, ctx: Any, gs_id: str) -> m.GroupSnapshot:
    return service.get_owned(s, ctx, m.GroupSnapshot, gs_id, verr.GroupSnapshotNotFound(group_snapshot_id=gs_id))


def create_group_snapshot(ctx: Any, group_id: str, name: str | None, description: str | None) -> m.GroupSnapshot:
    with db.write() as s:
        g = get_group(s, ctx, group_id)
        if g.status != "available":
            raise verr.InvalidVolume(f"Invalid group: Group {g.id} status must be available, but is "
                                     f"{g.status}.")
        vols = list(s.scalars(select(m.Volume).where(m.Volume.group_id == g.id)))
        for v in vols:
            if v.status not in ("available", "in-use"):
                raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} status must be available or "
                                         f"in-use, but is {v.status}.")
        service.check_quota(s, g.project_id, snapshots=len(vols), gigabytes=sum(v.size for v in vols))
        gs = m.GroupSnapshot(id=service.new_uuid(), project_id=g.project_id, user_id=ctx.user_id,
                             group_id=g.id, group_type_id=g.group_type_id, name=name,
                             description=description, status="creating" if vols else "available")
        s.add(gs)
        for v in vols:
            sn = m.Snapshot(id=service.new_uuid(), project_id=v.project_id, user_id=ctx.user_id,
                            volume_id=v.id, name=f"group-snapshot-{gs.id}", description=None, size=v.size,
                            status="creating", progress="0%", metadata_={}, group_snapshot_id=gs.id)
            s.add(sn)
            s.flush()
            tasks.submit(s, "snapshot.create", resource_type="snapshot", resource_id=sn.id,
                         project_id=sn.project_id, payload={"volume_id": v.id, "backend": v.backend})
    return gs


def delete_group_snapshot(ctx: Any, gs_id: str) -> None:
    with db.write() as s:
        gs = get_group_snapshot(s, ctx, gs_id)
        if gs.status not in ("available", "error"):
            raise errors.BadRequest(f"Invalid group snapshot: status must be available or error, but "
                                    f"is {gs.status}.")
        snaps = list(s.scalars(select(m.Snapshot).where(m.Snapshot.group_snapshot_id == gs.id)))
        if not snaps:
            s.delete(gs)
            return
        gs.status = "deleting"
        for sn in snaps:
            v = s.get(m.Volume, sn.volume_id)
            sn.status = "deleting"
            tasks.submit(s, "snapshot.delete", resource_type="snapshot", resource_id=sn.id,
                         project_id=sn.project_id, payload={"backend": v.backend if v else None})


def reset_group_snapshot_status(ctx: Any, gs_id: str, status: str) -> None:
    with db.write() as s:
        get_group_snapshot(s, ctx, gs_id).status = status


def member_snapshot_changed(s: Any, gs_id: str | None) -> None:
    """Called in a snapshot task's unit of work: a group snapshot is available when all its
    snapshots are, in error when one failed, and gone when its last snapshot is deleted."""
    if not gs_id:
        return
    gs = s.get(m.GroupSnapshot, gs_id)
    if gs is None:
        return
    statuses = [x.status for x in s.scalars(select(m.Snapshot).where(m.Snapshot.group_snapshot_id == gs_id))]
    if gs.status == "deleting" and not statuses:
        s.delete(gs)
    elif gs.status == "creating" and statuses and all(x == "available" for x in statuses):
        gs.status = "available"
    elif gs.status == "creating" and "error" in statuses:
        gs.status = "error"
