"""Block-storage business rules: quotas, types, volumes, snapshots, attachments, backups,
transfers. No HTTP here. Long work (filling a volume, snapshots, backups, uploads) runs
as durable tasks (tasks.py) submitted in the same transaction as the row it works on."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import Any

from sqlalchemy import func, select

from onestack import db, errors, tasks
from onestack.db.base import utcnow
from onestack.volume import drivers, messages
from onestack.volume import errors as verr
from onestack.volume import models as m

QUOTA_RESOURCES = ("volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes", "groups",
                   "per_volume_gigabytes")
# Statuses that count as "busy" for deletes and other actions.
DELETABLE = {"available", "error", "error_restoring", "error_extending", "error_managing"}


def conf() -> Any:
    from onestack import conf as c
    return c.get().volume


def new_uuid() -> str:
    return str(uuid.uuid4())


def _is_admin(ctx: Any) -> bool:
    return ctx.is_internal or "admin" in ctx.roles


# ------------------------------------------------------------------ quotas
def default_quotas() -> dict[str, int]:
    c = conf()
    return {"volumes": c.quota_volumes, "snapshots": c.quota_snapshots,
            "gigabytes": c.quota_gigabytes, "backups": c.quota_backups,
            "backup_gigabytes": c.quota_backup_gigabytes, "groups": c.quota_groups,
            "per_volume_gigabytes": c.quota_per_volume_gigabytes}


def quotas(s: Any, project_id: str) -> dict[str, int]:
    """Limits of a project: the defaults ([volume] quota_*, overridden by the "default"
    quota class, as upstream), then the project's own rows."""
    out = default_quotas()
    for t in s.scalars(select(m.VolumeType).where(m.VolumeType.deleted.is_(False))):
        for res in ("volumes", "snapshots", "gigabytes"):
            out[f"{res}_{t.name}"] = -1
    if project_id != class_key("default"):
        out.update({q.resource: q.hard_limit for q in s.scalars(
            select(m.Quota).where(m.Quota.project_id == class_key("default")))})
    for q in s.scalars(select(m.Quota).where(m.Quota.project_id == project_id)):
        out[q.resource] = q.hard_limit
    return out


def usage(s: Any, project_id: str) -> dict[str, int]:
    vols = s.execute(select(func.count(m.Volume.id), func.coalesce(func.sum(m.Volume.size), 0))
                     .where(m.Volume.project_id == project_id, m.Volume.status != "deleting")).one()
    snaps = s.execute(select(func.count(m.Snapshot.id), func.coalesce(func.sum(m.Snapshot.size), 0))
                      .where(m.Snapshot.project_id == project_id)).one()
    backups = s.execute(select(func.count(m.Backup.id), func.coalesce(func.sum(m.Backup.size), 0))
                        .where(m.Backup.project_id == project_id)).one()
    out = {"volumes": vols[0], "gigabytes": int(vols[1]) + int(snaps[1]), "snapshots": snaps[0],
           "backups": backups[0], "backup_gigabytes": int(backups[1]),
           "groups": s.scalar(select(func.count(m.Group.id)).where(m.Group.project_id == project_id)) or 0,
           "per_volume_gigabytes": 0}
    for name, count, size in s.execute(
            select(m.VolumeType.name, func.count(m.Volume.id), func.coalesce(func.sum(m.Volume.size), 0))
            .join(m.VolumeType, m.VolumeType.id == m.Volume.volume_type_id)
            .where(m.Volume.project_id == project_id).group_by(m.VolumeType.name)):
        out[f"volumes_{name}"] = count
        out[f"gigabytes_{name}"] = int(size)
    return out


def check_quota(s: Any, project_id: str, **deltas: int) -> None:
    """Raise the upstream over-quota error if adding ``deltas`` exceeds a limit."""
    limits = quotas(s, project_id)
    used = usage(s, project_id)
    if "gigabytes" in deltas and limits["per_volume_gigabytes"] >= 0 and \
            deltas.get("_size", 0) > limits["per_volume_gigabytes"]:
        raise verr.VolumeSizeExceedsAvailableQuota(
            f"VolumeSizeExceedsLimit: Requested volume size {deltas['_size']}G is larger than maximum "
            f"allowed limit {limits['per_volume_gigabytes']}G.")
    for res, delta in deltas.items():
        if res.startswith("_") or delta <= 0:
            continue
        limit = limits.get(res, -1)
        if limit >= 0 and used.get(res, 0) + delta > limit:
            if res in ("gigabytes", "backup_gigabytes") or res.startswith("gigabytes_"):
                raise verr.VolumeSizeExceedsAvailableQuota(
                    f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
                    f"{res} quota. Requested {delta}G, quota is {limit}G and {used.get(res, 0)}G has "
                    f"been consumed.")
            raise verr.OverQuota(f"Maximum number of {res} allowed ({limit}) exceeded for quota '{res}'.")


def set_quotas(project_id: str, values: dict[str, int]) -> None:
    with db.write() as s:
        known = quotas(s, project_id)
        for res, limit in values.items():
            if res not in known:
                raise errors.BadRequest(f"Bad key(s) in quota set: {res}")
            row = s.scalar(select(m.Quota).where(m.Quota.project_id == project_id, m.Quota.resource == res))
            if row is None:
                s.add(m.Quota(project_id=project_id, resource=res, hard_limit=limit))
            else:
                row.hard_limit = limit


def reset_quotas(project_id: str) -> None:
    with db.write() as s:
        for row in s.scalars(select(m.Quota).where(m.Quota.project_id == project_id)):
            s.delete(row)


# ------------------------------------------------------------------ types
def ensure_default_type() -> None:
    name = conf().default_volume_type
    with db.write() as s:
        if s.scalar(select(m.VolumeType).where(m.VolumeType.name == name)) is None:
            s.add(m.VolumeType(id=new_uuid(), name=name, description="Default Volume Type",
                               is_public=True, extra_specs={}))


def _type_visible(s: Any, ctx: Any, t: m.VolumeType) -> bool:
    if t.is_public or _is_admin(ctx):
        return True
    return s.get(m.VolumeTypeAccess, (t.id, ctx.project_id)) is not None


def get_type(s: Any, ctx: Any, ref: str, by_name: bool = True) -> m.VolumeType:
    t = s.get(m.VolumeType, ref)
    if (t is None or t.deleted) and by_name:
        t = s.scalar(select(m.VolumeType).where(m.VolumeType.name == ref, m.VolumeType.deleted.is_(False)))
    if t is None or t.deleted or not _type_visible(s, ctx, t):
        raise verr.TypeNotFound(type_id=ref)
    return t


def default_type(s: Any, ctx: Any) -> m.VolumeType:
    return get_type(s, ctx, conf().default_volume_type)


def list_types(ctx: Any, is_public: bool | None = None, every: bool = False) -> list[m.VolumeType]:
    """Visible types; an admin may ask for public or private ones only, or ``every`` one."""
    with db.read() as s:
        rows = s.scalars(select(m.VolumeType).where(m.VolumeType.deleted.is_(False))
                         .order_by(m.VolumeType.name)).all()
        if (every or is_public is not None) and _is_admin(ctx):
            return [t for t in rows if every or t.is_public == is_public]
        return [t for t in rows if t.is_public or (ctx.project_id and s.get(
            m.VolumeTypeAccess, (t.id, ctx.project_id)) is not None)]


def create_type(name: str, description: str | None, is_public: bool, extra_specs: dict[str, str]) -> m.VolumeType:
    with db.write() as s:
        if s.scalar(select(m.VolumeType).where(m.VolumeType.name == name, m.VolumeType.deleted.is_(False))):
            raise errors.Conflict(f"Volume Type {name} already exists.")
        old = s.scalar(select(m.VolumeType).where(m.VolumeType.name == name))
        if old is not None:  # a deleted type keeps its row for volumes; free its name
            old.name = f"{old.name}-deleted-{old.id}"
            s.flush()
        t = m.VolumeType(id=new_uuid(), name=name, description=description, is_public=is_public,
                         extra_specs=dict(extra_specs))
        s.add(t)
    return t


def delete_type(ctx: Any, type_id: str) -> None:
    with db.write() as s:
        t = get_type(s, ctx, type_id, by_name=False)
        if t.name == conf().default_volume_type:
            raise errors.BadRequest("Default volume type can not be deleted.")
        if s.scalar(select(m.Volume.id).where(m.Volume.volume_type_id == t.id).limit(1)):
            raise errors.BadRequest(f"Target volume type is still in use. Volume Type {t.id} deletion "
                                    "is not allowed with volumes present with the type.")
        t.deleted = True
        t.name = f"{t.name}-deleted-{t.id}"


def get_owned(s: Any, ctx: Any, model: Any, row_id: str, not_found: Exception) -> Any:
    """A row of ``model`` the caller may see (its project's, or any for admins); else ``not_found``."""
    row = s.get(model, row_id)
    if row is None or (not _is_admin(ctx) and row.project_id != ctx.project_id):
        raise not_found
    return row


# ------------------------------------------------------------------ volumes
def get_volume(s: Any, ctx: Any, volume_id: str, for_update: bool = False) -> m.Volume:
    return get_owned(s, ctx, m.Volume, volume_id, verr.VolumeNotFound(volume_id=volume_id))


# Extra specs the scheduler compares with a backend's capabilities (unscoped or
# "capabilities:"-scoped keys, as upstream's CapabilitiesFilter). storage_protocol is not
# among them: every backend here hands volumes out as local files.
CAPABILITY_KEYS = ("volume_backend_name", "vendor_name", "driver_version", "thin_provisioning_support",
                   "thick_provisioning_support")


def _capabilities(name: str, drv: Any) -> dict[str, str]:
    return {"volume_backend_name": name, "vendor_name": "Open Source", "driver_version": "1.0",
            "thin_provisioning_support": str(drv.thin), "thick_provisioning_support": str(not drv.thin)}


def _spec_matches(want: str, have: str) -> bool:
    want = want.strip()
    if want.lower().startswith("<is>"):
        return want[4:].strip().lower() == have.lower()
    if want.startswith("<in>"):
        return want[4:].strip() in have
    if want.startswith("<or>"):
        return have in [w.strip() for w in want[4:].split("<or>")]
    return want == have


def pick_backend(t: m.VolumeType | None, size: int, skip: set[str] = frozenset()) -> str | None:
    """The scheduler: backends whose capabilities satisfy the type's extra specs and that
    have room, the default backend first. None when no backend qualifies (the volume then
    goes to ``error`` with a user message, as upstream's NoValidBackend)."""
    backends = drivers.all_backends()
    specs = {k.split(":", 1)[1] if k.startswith("capabilities:") else k: v
             for k, v in ((t.extra_specs or {}) if t is not None else {}).items()}
    specs = {k: v for k, v in specs.items() if k in CAPABILITY_KEYS}
    for name in [conf().default_backend] + sorted(backends):
        drv = backends.get(name)
        if drv is None or name in skip:
            continue
        caps = _capabilities(name, drv)
        if not all(_spec_matches(v, caps[k]) for k, v in specs.items()):
            continue
        total, free = drv.capacity()
        if free * (conf().max_over_subscription_ratio if drv.thin else 1) >= size:
            return name
    return None


def create_volume(ctx: Any, req: dict[str, Any]) -> m.Volume:
    """Validate everything, then write the row (status creating) and its task together."""
    size = req.get("size")
    with db.write() as s:
        src_snap = src_vol = backup = None
        image = None
        if req.get("snapshot_id"):
            src_snap = get_snapshot(s, ctx, req["snapshot_id"])
            if src_snap.status != "available":
                raise verr.InvalidVolume(f"Invalid snapshot: Originating snapshot status must be "
                                         f"available, but is {src_snap.status}.")
            size = size or src_snap.size
            if size < src_snap.size:
                raise errors.BadRequest(f"Invalid input received: Volume size '{size}'GB cannot be smaller "
                                        f"than the snapshot size {src_snap.size}GB. They must be >= "
                                        "original snapshot size.")
        if req.get("source_volid"):
            src_vol = get_volume(s, ctx, req["source_volid"])
            if src_vol.status not in ("available", "in-use"):
                raise verr.InvalidVolume(f"Invalid volume: Source volume status must be available or "
                                         f"in-use, but is {src_vol.status}.")
            size = size or src_vol.size
            if size < src_vol.size:
                raise errors.BadRequest(f"Invalid input received: Volume size '{size}'GB cannot be smaller "
                                        f"than original volume size {src_vol.size}GB.")
        if req.get("backup_id"):
            backup = get_backup(s, ctx, req["backup_id"])
            if backup.status != "available":
                raise verr.InvalidVolume(f"Invalid backup: Backup status must be available, but is "
                                         f"{backup.status}.")
            size = size or backup.size
        if req.get("imageRef"):
            from onestack.image import interface as image_if
            image = image_if.get_image(ctx, req["imageRef"])
            if image["status"] != "active":
                raise errors.BadRequest(f"Invalid image identifier or unable to access requested image. "
                                        f"Image {image['id']} is not active ({image['status']}).")
            needed = max(image.get("min_disk") or 0,
                         -(-(image.get("virtual_size") or image.get("size") or 0) // (1 << 30)))
            size = size or needed or 1
            if size < needed:
                raise errors.BadRequest(f"Invalid input received: Image {image['id']} requires {needed}GB, "
                                        f"larger than the requested volume size {size}GB.")
        if size is None:
            raise errors.BadRequest("Invalid input received: 'size' is required when no source is given.")
        if size > conf().max_volume_size:
            raise errors.BadRequest(f"Invalid input received: volume size {size}GB exceeds the maximum "
                                    f"of {conf().max_volume_size}GB.")
        if req.get("volume_type"):
            vtype = get_type(s, ctx, req["volume_type"])
        elif src_vol is not None and src_vol.volume_type_id:
            vtype = s.get(m.VolumeType, src_vol.volume_type_id)
        elif src_snap is not None:
            parent = s.get(m.Volume, src_snap.volume_id)
            vtype = s.get(m.VolumeType, parent.volume_type_id) if parent and parent.volume_type_id \
                else default_type(s, ctx)
        else:
            vtype = default_type(s, ctx)
        az = req.get("availability_zone") or (src_vol.availability_zone if src_vol else None) \
            or conf().availability_zone
        if az != conf().availability_zone:
            raise errors.BadRequest(f"Invalid input received: Availability zone '{az}' is invalid.")
        if s.scalar(select(m.Encryption.id).where(m.Encryption.volume_type_id == vtype.id)):
            raise errors.BadRequest(f"Invalid volume type: type {vtype.name} asks for encryption, which "
                                    "the backends of this cloud do not provide.")
        multiattach = bool(req.get("multiattach")) or \
            (vtype.extra_specs or {}).get("multiattach", "").strip().lower() in ("<is> true", "true")
        check_quota(s, ctx.project_id, volumes=1, gigabytes=size, _size=size,
                    **{f"volumes_{vtype.name}": 1, f"gigabytes_{vtype.name}": size})
        group = None
        if req.get("group_id"):
            from onestack.volume import groups
            group = groups.get_group(s, ctx, req["group_id"])
            groups.check_volume_fits(group, vtype)
        if src_vol is not None or src_snap is not None:
            parent = src_vol or s.get(m.Volume, src_snap.volume_id)
            backend = parent.backend if parent else pick_backend(vtype, size)
        else:
            from onestack.volume import admin
            backend = pick_backend(vtype, size, admin.unusable_backends(s))
        v = m.Volume(id=new_uuid(), project_id=ctx.project_id, user_id=ctx.user_id,
                     name=req.get("name"), description=req.get("description"), size=size,
                     status="creating", attach_status="detached", availability_zone=az,
                     volume_type_id=vtype.id, backend=backend, host=f"onestack@{backend}#{backend}",
                     multiattach=multiattach, snapshot_id=src_snap.id if src_snap else None,
                     source_volid=src_vol.id if src_vol else None,
                     image_id=image["id"] if image else None, backup_id=backup.id if backup else None,
                     metadata_=dict(req.get("metadata") or {}), image_metadata={}, admin_metadata={},
                     bootable=bool(image) or bool(src_vol and src_vol.bootable),
                     group_id=group.id if group is not None else None)
        if image is not None:
            v.image_metadata = _image_metadata(image)
        elif src_vol is not None:
            v.image_metadata = dict(src_vol.image_metadata or {})
        s.add(v)
        s.flush()
        if backend is None:  # no backend qualifies: the volume exists, in error, and says why
            v.status, v.host = "error", None
            messages.add(s, v.project_id, "VOLUME", v.id, "schedule allocate volume",
                         messages.NO_BACKEND, getattr(ctx, "request_id", "") or "")
            return v
        tasks.submit(s, "volume.create", resource_type="volume", resource_id=v.id,
                     project_id=v.project_id)
    return v


def _image_metadata(image: dict[str, Any]) -> dict[str, str]:
    out = {"image_id": image["id"], "image_name": image.get("name") or "",
           "checksum": image.get("checksum") or "", "container_format": image.get("container_format") or "",
           "disk_format": image.get("disk_format") or "", "min_disk": str(image.get("min_disk") or 0),
           "min_ram": str(image.get("min_ram") or 0), "size": str(image.get("size") or 0)}
    for k, val in (image.get("properties") or {}).items():
        out[k] = str(val)
    return out


def remember_status(v: m.Volume) -> None:
    """Record the status to return to when a busy operation (extend, upload, backup) ends."""
    v.admin_metadata = {**(v.admin_metadata or {}), "previous_status": v.status}


def restore_status(v: m.Volume) -> None:
    """Back to the status recorded by remember_status (when the busy operation ends)."""
    meta = dict(v.admin_metadata or {})
    v.status = meta.pop("previous_status", "available")
    v.admin_metadata = meta


def delete_volume(ctx: Any, volume_id: str, cascade: bool = False, force: bool = False) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        snaps = s.scalars(select(m.Snapshot).where(m.Snapshot.volume_id == v.id)).all()
        if not force:
            if v.attach_status == "attached" or v.status == "in-use":
                raise verr.InvalidVolume("Invalid volume: Volume status must be available or error or "
                                         "error_restoring or error_extending or error_managing and must "
                                         "not be migrating, attached, belong to a group, have snapshots, "
                                         "awaiting a transfer, or be disassociated from snapshots after "
                                         "volume transfer.")
            if v.status not in DELETABLE:
                raise verr.InvalidVolume(f"Invalid volume: Volume status must be available or error or "
                                         f"error_restoring or error_extending or error_managing and must "
                                         f"not be migrating, attached, belong to a group, have snapshots "
                                         f"or be disassociated from snapshots after volume transfer. "
                                         f"(status is {v.status})")
            if snaps and not cascade:
                raise verr.InvalidVolume("Invalid volume: Volume still has 1 dependent snapshots.")
            if any(sn.status not in ("available", "error") for sn in snaps):
                raise verr.InvalidVolume("Invalid volume: Snapshots must be available or error to "
                                         "delete a volume with cascade.")
        v.status = "deleting"
        for sn in snaps:
            sn.status = "deleting"
        tasks.submit(s, "volume.delete", resource_type="volume", resource_id=v.id, project_id=v.project_id,
                     payload={"snapshots": [sn.id for sn in snaps]})


def update_volume(ctx: Any, volume_id: str, values: dict[str, Any]) -> m.Volume:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        for k in ("name", "description"):
            if k in values:
                setattr(v, k, values[k])
        if "metadata" in values:
            v.metadata_ = dict(values["metadata"] or {})
    return v


def update_image_metadata(ctx: Any, volume_id: str, set_keys: dict[str, str] | None = None,
                          remove_key: str | None = None) -> dict[str, str]:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        meta = dict(v.image_metadata or {})
        meta.update(set_keys or {})
        if remove_key is not None:
            meta.pop(remove_key, None)
        v.image_metadata = meta
        return dict(meta)


def extend_volume(ctx: Any, volume_id: str, new_size: int, attached_ok: bool) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        allowed = {"available"} | ({"in-use"} if attached_ok else set())
        if v.status not in allowed:
            raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} status must be "
                                     f"{' or '.join(sorted(allowed))} to extend, currently {v.status}.")
        if new_size <= v.size:
            raise errors.BadRequest(f"Invalid input received: New size for extend must be greater than "
                                    f"current size. (current: {v.size}, extended: {new_size}).")
        if new_size > conf().max_volume_size:
            raise errors.BadRequest(f"Invalid input received: {new_size}GB exceeds the maximum of "
                                    f"{conf().max_volume_size}GB.")
        vtype = s.get(m.VolumeType, v.volume_type_id) if v.volume_type_id else None
        extra = {f"gigabytes_{vtype.name}": new_size - v.size} if vtype else {}
        check_quota(s, v.project_id, gigabytes=new_size - v.size, _size=new_size, **extra)
        remember_status(v)
        v.status = "extending"
        tasks.submit(s, "volume.extend", resource_type="volume", resource_id=v.id, project_id=v.project_id,
                     payload={"new_size": new_size})


def reset_status(ctx: Any, volume_id: str, status: str | None, attach_status: str | None,
                 migration_status: str | None) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if status:
            v.status = status
        if attach_status:
            v.attach_status = attach_status
            if attach_status == "detached":
                for a in s.scalars(select(m.Attachment).where(m.Attachment.volume_id == v.id)):
                    s.delete(a)
        if migration_status:
            v.migration_status = None if migration_status == "none" else migration_status


def class_key(class_name: str) -> str:
    """Quota classes share the quota table under a reserved project key."""
    if not class_name or len(class_name) > 200:
        raise errors.BadRequest("Invalid quota class name.")
    return f"__class__:{class_name}"


def set_flag(ctx: Any, volume_id: str, **values: Any) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if v.status not in ("available", "in-use"):
            raise verr.InvalidVolume(f"Invalid volume: Volume status must be available or in-use, "
                                     f"but is {v.status}.")
        for k, val in values.items():
            setattr(v, k, val)
        if "readonly" in values:
            v.admin_metadata = {**(v.admin_metadata or {}), "readonly": str(values["readonly"])}


def retype(ctx: Any, volume_id: str, new_type: str, policy: str) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if v.status not in ("available", "in-use"):
            raise verr.InvalidVolume(f"Invalid volume: Volume status must be available or in-use, "
                                     f"but is {v.status}.")
        t = get_type(s, ctx, new_type)
        if t.id == v.volume_type_id:
            raise errors.BadRequest("Invalid input received: New volume type must be different from the "
                                    "current one.")
        wanted = (t.extra_specs or {}).get("volume_backend_name")
        if wanted and wanted != v.backend:
            if policy != "on-demand":
                raise errors.BadRequest(f"Invalid input received: Retype needs migration to backend "
                                        f"{wanted}, but migration_policy is 'never'.")
            if v.status != "available":
                raise verr.InvalidVolume("Invalid volume: Migrating retype needs an available volume.")
            v.status = "retyping"
            v.migration_status = "migrating"
            tasks.submit(s, "volume.migrate", resource_type="volume", resource_id=v.id,
                         project_id=v.project_id, payload={"backend": wanted, "type_id": t.id})
            return
        check_quota(s, v.project_id, **{f"volumes_{t.name}": 1, f"gigabytes_{t.name}": v.size})
        v.volume_type_id = t.id


def upload_to_image(ctx: Any, volume_id: str, body: dict[str, Any]) -> dict[str, Any]:
    from onestack.image import interface as image_if
    force = bool(body.get("force"))

    def check(v: m.Volume) -> None:
        if v.status != "available" and not (force and v.status == "in-use"):
            raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} status must be available or "
                                     f"in-use with force, but is {v.status}.")
    with db.read() as s:
        v = get_volume(s, ctx, volume_id)
        check(v)
        props = {k: val for k, val in (v.image_metadata or {}).items()
                 if k not in ("image_id", "image_name", "checksum", "size", "disk_format",
                              "container_format", "min_disk", "min_ram")}
    disk_format = body.get("disk_format") or "raw"
    container_format = body.get("container_format") or "bare"
    # The image is created outside our transaction (the image service has its own unit of
    # work); if the volume changed state meanwhile, the image is removed again.
    image = image_if.create_image(ctx, body["image_name"], disk_format, container_format, props,
                                  visibility=body.get("visibility") or "private", min_disk=v.size)
    try:
        with db.write() as s:
            v = get_volume(s, ctx, volume_id)
            check(v)
            remember_status(v)
            v.status = "uploading"
            tasks.submit(s, "volume.upload_image", resource_type="volume", resource_id=v.id,
                         project_id=v.project_id,
                         payload={"image_id": image["id"], "disk_format": disk_format})
    except Exception:
        image_if.delete_image(ctx, image["id"])
        raise
    return {"id": v.id, "updated_at": v.updated_at, "status": "uploading", "display_description":
            v.description, "size": v.size, "volume_type": None, "image_id": image["id"],
            "container_format": container_format, "disk_format": disk_format,
            "image_name": body["image_name"], "protected": bool(body.get("protected")),
            "visibility": body.get("visibility") or "private"}


# ------------------------------------------------------------------ attachments
def _attachment(s: Any, ctx: Any, attachment_id: str) -> m.Attachment:
    a = s.get(m.Attachment, attachment_id)
    if a is None or (not _is_admin(ctx) and a.project_id != ctx.project_id):
        raise verr.AttachmentNotFound(attachment_id=attachment_id)
    return a


def _can_attach(s: Any, v: m.Volume, instance_uuid: str | None) -> None:
    live = s.scalars(select(m.Attachment).where(m.Attachment.volume_id == v.id)).all()
    if v.status not in ("available", "reserved", "attaching", "in-use") or \
            (live and not v.multiattach) or v.status == "in-use" and not v.multiattach:
        raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} status must be available or "
                                 f"downloading to reserve, but the current status is {v.status}.")
    if instance_uuid and any(a.instance_uuid == instance_uuid for a in live):
        raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} is already attached to instance "
                                 f"{instance_uuid}.")


def create_attachment(ctx: Any, volume_id: str, instance_uuid: str | None,
                      connector: dict[str, Any] | None, mode: str = "rw") -> m.Attachment:
    """Reserve (and, with a connector, connect) — the 3.27 attachments API and os-reserve."""
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        _can_attach(s, v, instance_uuid)
        if mode == "rw" and v.readonly:
            mode = "ro"
        a = m.Attachment(id=new_uuid(), volume_id=v.id, project_id=v.project_id,
                         instance_uuid=instance_uuid, attach_mode=mode, attach_status="reserved")
        s.add(a)
        if v.status == "available":
            v.status = "reserved"
        if connector is not None:
            _connect(v, a, connector)
        s.flush()
    return a


def _connect(v: m.Volume, a: m.Attachment, connector: dict[str, Any]) -> None:
    info = drivers.get(v.backend).connection_info(v.id)
    info["data"].update({"access_mode": a.attach_mode, "volume_id": v.id, "attachment_id": a.id,
                         "discard": True})
    a.connector = dict(connector)
    a.connection_info = info
    a.attached_host = connector.get("host")
    a.attach_status = "attaching"
    if v.status in ("reserved", "available"):
        v.status = "attaching"


def update_attachment(ctx: Any, attachment_id: str, connector: dict[str, Any]) -> m.Attachment:
    with db.write() as s:
        a = _attachment(s, ctx, attachment_id)
        v = s.get(m.Volume, a.volume_id)
        _connect(v, a, connector)
    return a


def complete_attachment(ctx: Any, attachment_id: str, mountpoint: str | None = None) -> None:
    with db.write() as s:
        a = _attachment(s, ctx, attachment_id)
        v = s.get(m.Volume, a.volume_id)
        a.attach_status = "attached"
        a.attach_time = utcnow()
        if mountpoint:
            a.mountpoint = mountpoint
        v.status = "in-use"
        v.attach_status = "attached"


def delete_attachment(ctx: Any, attachment_id: str) -> None:
    with db.write() as s:
        a = _attachment(s, ctx, attachment_id)
        v = s.get(m.Volume, a.volume_id)
        s.delete(a)
        s.flush()
        left = s.scalar(select(func.count(m.Attachment.id)).where(m.Attachment.volume_id == v.id))
        if not left:
            v.status = "available"
            v.attach_status = "detached"


def legacy_attach(ctx: Any, volume_id: str, instance_uuid: str | None, mountpoint: str,
                  host_name: str | None, mode: str = "rw") -> m.Attachment:
    """os-attach: completes a reservation for the instance (or makes one)."""
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        a = s.scalar(select(m.Attachment).where(m.Attachment.volume_id == v.id,
                                                m.Attachment.attach_status.in_(["reserved", "attaching"]),
                                                m.Attachment.instance_uuid.in_([instance_uuid, None])))
        if a is None:
            _can_attach(s, v, instance_uuid)
            a = m.Attachment(id=new_uuid(), volume_id=v.id, project_id=v.project_id, attach_mode=mode)
            s.add(a)
        a.instance_uuid = instance_uuid
        a.mountpoint = mountpoint
        a.attached_host = host_name or a.attached_host
        a.attach_status = "attached"
        a.attach_time = utcnow()
        if a.connection_info is None:
            a.connection_info = drivers.get(v.backend).connection_info(v.id)
        v.status = "in-use"
        v.attach_status = "attached"
        s.flush()
    return a


def legacy_detach(ctx: Any, volume_id: str, attachment_id: str | None) -> None:
    with db.read() as s:
        v = get_volume(s, ctx, volume_id)
        atts = s.scalars(select(m.Attachment).where(m.Attachment.volume_id == v.id)).all()
        if attachment_id:
            atts = [a for a in atts if a.id == attachment_id]
        elif len(atts) > 1:
            raise verr.InvalidVolume("Invalid volume: Volume is attached more than once; name the "
                                     "attachment_id to detach.")
        if not atts and attachment_id:
            raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} has no attachment {attachment_id}.")
        ids = [a.id for a in atts]
    if not ids:  # as upstream: detaching a volume that is not attached just makes it available
        with db.write() as s:
            v = get_volume(s, ctx, volume_id)
            if v.status not in ("maintenance", "deleting"):
                v.status, v.attach_status = "available", "detached"
        return
    for aid in ids:
        delete_attachment(ctx, aid)


def reserve(ctx: Any, volume_id: str) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if v.status != "available" and not (v.multiattach and v.status == "in-use"):
            raise verr.InvalidVolume(f"Invalid volume: Volume status must be available to reserve, "
                                     f"but the status is {v.status}.")
        v.status = "attaching"


def unreserve(ctx: Any, volume_id: str) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if v.status == "attaching":
            attached = s.scalar(select(func.count(m.Attachment.id)).where(
                m.Attachment.volume_id == v.id, m.Attachment.attach_status == "attached"))
            v.status = "in-use" if attached else "available"


def begin_detaching(ctx: Any, volume_id: str, rollback: bool = False) -> None:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if rollback:
            if v.status == "detaching":
                v.status = "in-use"
            return
        if v.status != "in-use":
            raise verr.InvalidVolume(f"Invalid volume: Unable to detach volume. Volume status must be "
                                     f"'in-use' and attach_status must be 'attached' to detach "
                                     f"(status {v.status}).")
        v.status = "detaching"


def initialize_connection(ctx: Any, volume_id: str, connector: dict[str, Any]) -> dict[str, Any]:
    with db.read() as s:
        v = get_volume(s, ctx, volume_id)
        if v.status not in ("available", "reserved", "attaching", "in-use"):
            raise verr.InvalidVolume(f"Invalid volume: cannot connect a volume in status {v.status}.")
        info = drivers.get(v.backend).connection_info(v.id)
        info["data"].update({"access_mode": "ro" if v.readonly else "rw", "volume_id": v.id})
        return info


# ------------------------------------------------------------------ snapshots
def get_snapshot(s: Any, ctx: Any, snapshot_id: str) -> m.Snapshot:
    return get_owned(s, ctx, m.Snapshot, snapshot_id, verr.SnapshotNotFound(snapshot_id=snapshot_id))


def create_snapshot(ctx: Any, volume_id: str, name: str | None, description: str | None,
                    force: bool, metadata: dict[str, str]) -> m.Snapshot:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if v.status != "available" and not (force and v.status == "in-use"):
            raise verr.InvalidVolume(f"Invalid volume: Volume {v.id} status must be available, but "
                                     f"current status is: {v.status}.")
        check_quota(s, v.project_id, snapshots=1, gigabytes=v.size)
        sn = m.Snapshot(id=new_uuid(), project_id=v.project_id, user_id=ctx.user_id, volume_id=v.id,
                        name=name, description=description, size=v.size, status="creating",
                        progress="0%", metadata_=dict(metadata or {}))
        s.add(sn)
        s.flush()
        tasks.submit(s, "snapshot.create", resource_type="snapshot", resource_id=sn.id,
                     project_id=sn.project_id, payload={"volume_id": v.id, "backend": v.backend})
    return sn


def delete_snapshot(ctx: Any, snapshot_id: str, force: bool = False) -> None:
    with db.write() as s:
        sn = get_snapshot(s, ctx, snapshot_id)
        if not force and sn.status not in ("available", "error"):
            raise errors.BadRequest(f"Invalid snapshot: Volume Snapshot status must be available or "
                                    f"error, but is {sn.status}.")
        v = s.get(m.Volume, sn.volume_id)
        sn.status = "deleting"
        tasks.submit(s, "snapshot.delete", resource_type="snapshot", resource_id=sn.id,
                     project_id=sn.project_id, payload={"backend": v.backend if v else None})


# ------------------------------------------------------------------ backups
def get_backup(s: Any, ctx: Any, backup_id: str) -> m.Backup:
    return get_owned(s, ctx, m.Backup, backup_id, verr.BackupNotFound(backup_id=backup_id))


def create_backup(ctx: Any, body: dict[str, Any]) -> m.Backup:
    with db.write() as s:
        v = get_volume(s, ctx, body["volume_id"])
        force = bool(body.get("force"))
        if v.status != "available" and not (force and v.status == "in-use"):
            raise verr.InvalidVolume(f"Invalid volume: Volume to be backed up must be available or "
                                     f"in-use with force, but the current status is \"{v.status}\".")
        parent = None
        if body.get("incremental"):
            parent = s.scalar(select(m.Backup).where(m.Backup.volume_id == v.id,
                                                     m.Backup.status == "available")
                              .order_by(m.Backup.created_at.desc()).limit(1))
            if parent is None:
                raise errors.BadRequest("Invalid backup: No backups available to do an incremental "
                                        "backup.")
        check_quota(s, v.project_id, backups=1, backup_gigabytes=v.size)
        b = m.Backup(id=new_uuid(), project_id=v.project_id, user_id=ctx.user_id, volume_id=v.id,
                     snapshot_id=body.get("snapshot_id"), parent_id=parent.id if parent else None,
                     name=body.get("name"), description=body.get("description"),
                     container=body.get("container") or conf().backup_container,
                     service=conf().backup_driver, size=v.size, status="creating",
                     is_incremental=parent is not None, availability_zone=v.availability_zone,
                     metadata_=dict(body.get("metadata") or {}))
        s.add(b)
        remember_status(v)
        v.status = "backing-up"
        s.flush()
        tasks.submit(s, "backup.create", resource_type="backup", resource_id=b.id, project_id=b.project_id,
                     payload={"volume_id": v.id})
    return b


def delete_backup(ctx: Any, backup_id: str, force: bool = False) -> None:
    with db.write() as s:
        b = get_backup(s, ctx, backup_id)
        if not force and b.status not in ("available", "error"):
            raise errors.BadRequest(f"Invalid backup: Backup status must be available or error, but is "
                                    f"{b.status}.")
        if s.scalar(select(m.Backup.id).where(m.Backup.parent_id == b.id, m.Backup.status != "deleting")
                    .limit(1)):
            raise errors.BadRequest("Invalid backup: Incremental backups exist for this backup.")
        b.status = "deleting"
        tasks.submit(s, "backup.delete", resource_type="backup", resource_id=b.id, project_id=b.project_id)


def restore_backup(ctx: Any, backup_id: str, volume_id: str | None, name: str | None) -> tuple[m.Backup, m.Volume]:
    with db.write() as s:
        b = get_backup(s, ctx, backup_id)
        if b.status != "available":
            raise errors.BadRequest(f"Invalid backup: Backup status must be available, but is {b.status}.")
    if volume_id is None:
        v = create_volume(ctx, {"size": b.size, "name": name or f"restore_backup_{b.id}",
                                "backup_id": b.id})
        return b, v
    with db.write() as s:
        b = get_backup(s, ctx, backup_id)
        v = get_volume(s, ctx, volume_id)
        if v.status != "available":
            raise verr.InvalidVolume(f"Invalid volume: Volume to be restored to must be available, but "
                                     f"is {v.status}.")
        if v.size < b.size:
            raise verr.InvalidVolume(f"Invalid volume: volume size {v.size}GB is too small to restore "
                                     f"backup of size {b.size}GB.")
        v.status = "restoring-backup"
        b.status = "restoring"
        tasks.submit(s, "backup.restore", resource_type="backup", resource_id=b.id, project_id=b.project_id,
                     payload={"volume_id": v.id})
    return b, v


def export_backup(ctx: Any, backup_id: str) -> tuple[str, str]:
    """(backup_service, backup_url): the backup's row and manifest, base64 JSON, enough to
    import it again into a cloud whose backup store still holds its chunks."""
    import base64
    import json
    from onestack.volume import backups, tasks as vtasks
    with db.read() as s:
        b = get_backup(s, ctx, backup_id)
        if b.status != "available":
            raise errors.BadRequest(f"Invalid backup: Backup status must be available and not "
                                    f"{b.status}.")
        record = {k: getattr(b, k) for k in ("id", "project_id", "user_id", "volume_id", "snapshot_id",
                                             "parent_id", "name", "description", "container", "service",
                                             "size", "object_count", "is_incremental", "availability_zone")}
        record["data_timestamp"] = b.data_timestamp.isoformat() if b.data_timestamp else None
    record["manifest"] = vtasks.chunk_store(backup_id).manifest(backup_id)
    name = backups.SERVICE_NAMES[record["service"] or "posix"]
    return name, base64.b64encode(json.dumps(record).encode()).decode()


def import_backup(ctx: Any, backup_service: str, backup_url: str) -> m.Backup:
    """A backup row from an exported record, owned by the caller's project; its manifest is
    written to the store (object-store chunks the importer's container lacks are copied)."""
    import base64
    import binascii
    import json
    from onestack.volume import backups, tasks as vtasks
    try:
        rec = json.loads(base64.b64decode(backup_url, validate=True))
        man = rec["manifest"]
        if not isinstance(rec, dict) or not isinstance(man.get("chunks"), list):
            raise ValueError
        bid = str(uuid.UUID(str(rec["id"])))
        size = int(rec["size"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise errors.BadRequest("Invalid backup: the backup_url is not a record exported by this "
                                "cloud.") from None
    driver = {v: k for k, v in backups.SERVICE_NAMES.items()}.get(backup_service)
    if driver is None or driver != (rec.get("service") or "posix"):
        raise errors.BadRequest(f"Invalid backup: unsupported backup_service {backup_service!r}.")
    with db.read() as s:
        if s.get(m.Backup, bid) is not None:
            raise errors.BadRequest(f"Invalid backup: Backup {bid} already exists in database.")
    container = rec.get("container") or conf().backup_container
    dst = vtasks.store_for(driver, ctx.project_id, container)
    missing = dst.missing_chunks(man)
    if missing and driver == "object":
        src = vtasks.store_for(driver, str(rec.get("project_id")), container)
        for digest in missing:
            dst.blobs.put(f"chunks/{digest}", src.blobs.get(f"chunks/{digest}"))
        missing = dst.missing_chunks(man)
    if missing:
        raise errors.BadRequest(f"Invalid backup: the backup store lacks {len(missing)} chunks of "
                                f"backup {bid}.")
    dst.put_manifest(bid, {**man, "backup_id": bid})
    with db.write() as s:
        b = m.Backup(id=bid, project_id=ctx.project_id, user_id=ctx.user_id,
                     volume_id=str(rec.get("volume_id") or "00000000-0000-0000-0000-000000000000"),
                     snapshot_id=rec.get("snapshot_id"), parent_id=None, name=rec.get("name"),
                     description=rec.get("description"), container=container, service=driver, size=size,
                     object_count=int(rec.get("object_count") or 0), status="available",
                     is_incremental=False, availability_zone=rec.get("availability_zone"), metadata_={})
        s.add(b)
    return b


# ------------------------------------------------------------------ transfers
def _hash_key(salt: str, key: str) -> str:
    return hashlib.sha256((salt + key).encode()).hexdigest()


def create_transfer(ctx: Any, volume_id: str, name: str | None, no_snapshots: bool) -> tuple[m.Transfer, str]:
    with db.write() as s:
        v = get_volume(s, ctx, volume_id)
        if v.status != "available":
            raise verr.InvalidVolume(f"Invalid volume: status must be available, but is {v.status}.")
        key = secrets.token_hex(8)
        salt = secrets.token_hex(8)
        t = m.Transfer(id=new_uuid(), volume_id=v.id, project_id=v.project_id, name=name, salt=salt,
                       crypt_hash=_hash_key(salt, key), no_snapshots=no_snapshots)
        s.add(t)
        v.status = "awaiting-transfer"
        s.flush()
    return t, key


def get_transfer(s: Any, ctx: Any, transfer_id: str, any_project: bool = False) -> m.Transfer:
    t = s.get(m.Transfer, transfer_id)
    if t is None or not (any_project or _is_admin(ctx) or t.project_id == ctx.project_id):
        raise verr.TransferNotFound(transfer_id=transfer_id)
    return t


def accept_transfer(ctx: Any, transfer_id: str, auth_key: str) -> m.Transfer:
    with db.write() as s:
        t = get_transfer(s, ctx, transfer_id, any_project=True)
        if not secrets.compare_digest(t.crypt_hash, _hash_key(t.salt, auth_key)):
            raise errors.BadRequest(f"Invalid auth key: Attempt to transfer {t.id} with invalid auth key.")
        v = s.get(m.Volume, t.volume_id)
        snaps = s.scalars(select(m.Snapshot).where(m.Snapshot.volume_id == v.id)).all()
        check_quota(s, ctx.project_id, volumes=1, gigabytes=v.size + sum(x.size for x in snaps),
                    snapshots=0 if t.no_snapshots else len(snaps))
        v.project_id = ctx.project_id
        v.user_id = ctx.user_id
        v.status = "available"
        for sn in snaps:
            sn.project_id = ctx.project_id
        s.delete(t)
        s.flush()
    return t


def delete_transfer(ctx: Any, transfer_id: str) -> None:
    with db.write() as s:
        t = get_transfer(s, ctx, transfer_id)
        v = s.get(m.Volume, t.volume_id)
        if v is not None and v.status == "awaiting-transfer":
            v.status = "available"
        s.delete(t)


def sweep_orphans() -> int:
    """Remove backend files that belong to no volume/snapshot (after a crash)."""
    with db.read() as s:
        vols = set(s.scalars(select(m.Volume.id)))
        snaps = set(s.scalars(select(m.Snapshot.id)))
    removed = 0
    for drv in drivers.all_backends().values():
        for p in drv.orphans(vols, snaps):
            drv._remove(p)
            removed += 1
    return removed


def now() -> dt.datetime:
    return utcnow()


# ------------------------------------------------------------------ listings
def list_rows(ctx: Any, model: Any, filters: dict[str, Any], sort: list[tuple[str, str]],
              limit: int | None, marker: str | None, all_tenants: bool,
              not_found: Any) -> list[Any]:
    """Rows of ``model`` visible to ctx, filtered, sorted, after ``marker``, up to ``limit``."""
    from onestack.api.pagination import apply_marker_sort
    with db.read() as s:
        stmt = select(model)
        if not (all_tenants and _is_admin(ctx)):
            stmt = stmt.where(model.project_id == ctx.project_id)
        elif "project_id" in filters:
            stmt = stmt.where(model.project_id == filters.pop("project_id"))
        meta = filters.pop("metadata", None)
        like = filters.pop("_like", {})
        for key, value in filters.items():
            stmt = stmt.where(getattr(model, key) == value)
        for key, value in like.items():
            stmt = stmt.where(getattr(model, key).contains(value))
        marker_row = None
        if marker:
            marker_row = s.get(model, marker)
            if marker_row is None:
                raise not_found
        stmt = apply_marker_sort(stmt, model, sort, marker_row)
        rows = list(s.scalars(stmt))
        if meta:
            rows = [r for r in rows if all((r.metadata_ or {}).get(k) == val for k, val in meta.items())]
        return rows[:limit] if limit is not None else rows


def attachments_of(volume_ids: list[str]) -> dict[str, list[m.Attachment]]:
    out: dict[str, list[m.Attachment]] = {}
    if not volume_ids:
        return out
    with db.read() as s:
        for a in s.scalars(select(m.Attachment).where(m.Attachment.volume_id.in_(volume_ids))):
            out.setdefault(a.volume_id, []).append(a)
    return out


def type_names() -> dict[str, str]:
    with db.read() as s:
        return {t.id: t.name for t in s.scalars(select(m.VolumeType))}
