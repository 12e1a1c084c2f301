"""Durable, idempotent steps for block storage (see onestack/tasks/engine.py).

Each step re-checks what is already done (drivers are "ensure" calls), so a task
resumed after a crash finishes; on failure the resource goes to its error status and
partial files are removed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from onestack import db
from onestack.context import RequestContext
from onestack.db.base import utcnow
from onestack.tasks import TaskRun, TaskSpec
from onestack.volume import drivers, groups, messages, service
from onestack.volume import models as m
from onestack.volume.backups import ChunkStore, DirBlobs, ObjectBlobs


def _state() -> Path:
    from onestack import conf
    return conf.get().state_dir


def chunk_store(backup_id: str) -> ChunkStore:
    """The chunk store holding ``backup_id``'s data: the driver recorded on its row."""
    with db.read() as s:
        b = s.get(m.Backup, backup_id)
        service_name, project_id, container = (b.service, b.project_id, b.container) if b else (None, "", "")
    return store_for(service_name, project_id, container)


def store_for(service_name: str | None, project_id: str, container: str | None) -> ChunkStore:
    from onestack import conf
    c = conf.get().volume
    lock = _state() / "volume-backups.lock"
    if service_name == "object":
        return ChunkStore(ObjectBlobs(project_id, container or c.backup_container), lock)
    return ChunkStore(DirBlobs(Path(c.backups_dir) if c.backups_dir else _state() / "volume-backups"), lock)


def _update(model: Any, row_id: str, **values: Any) -> None:
    """Set ``values`` on one row, if it still exists (failure handlers, status changes)."""
    with db.write() as s:
        row = s.get(model, row_id)
        if row is not None:
            for key, value in values.items():
                setattr(row, key, value)


def _delete(model: Any, row_id: str) -> None:
    with db.write() as s:
        row = s.get(model, row_id)
        if row is not None:
            s.delete(row)


def _volume(volume_id: str) -> m.Volume | None:
    with db.read() as s:
        return s.get(m.Volume, volume_id)


# ------------------------------------------------------------------ volume.create
def fill_volume(run: TaskRun) -> None:
    v = _volume(run.resource_id)
    if v is None:
        return
    drv = drivers.get(v.backend)
    if drv.exists(v.id):
        return
    if v.snapshot_id:
        drv.create_from_snapshot(v.id, v.size, v.snapshot_id)
    elif v.source_volid:
        with db.read() as s:
            src = s.get(m.Volume, v.source_volid)
        if src is None:
            raise RuntimeError(f"source volume {v.source_volid} is gone")
        if src.backend == v.backend:
            drv.clone(v.id, v.size, src.id)
        else:
            _copy_across(src, v)
    elif v.image_id:
        from onestack.image import interface as image_if
        path = image_if.image_path(v.image_id)
        if path is None:
            raise RuntimeError(f"image {v.image_id} has no data")
        img = image_if.get_image(RequestContext.internal(), v.image_id)
        fmt = img.get("disk_format") or "raw"
        if fmt not in ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx"):
            fmt = "raw"  # iso/ami/aki/ari bytes are copied as they are
        drv.create_from_file(v.id, v.size, Path(path), {"vhd": "vpc"}.get(fmt, fmt))
    elif v.backup_id:
        _restore_into(v.backup_id, v)
    else:
        drv.create(v.id, v.size)


def _copy_across(src: m.Volume, dst: m.Volume) -> None:
    tmp = drivers.get(dst.backend).root / f".tmp-xfer-{dst.id}"
    drivers.get(dst.backend).setup()
    try:
        drivers.get(src.backend).export(src.id, tmp, "raw")
        drivers.get(dst.backend).create_from_file(dst.id, dst.size, tmp, "raw")
    finally:
        tmp.unlink(missing_ok=True)


def _restore_into(backup_id: str, v: m.Volume, new: bool = True) -> None:
    """Write the backup's bytes into volume ``v`` (``new``: its file does not exist yet),
    then give it the metadata the source volume had."""
    drv = drivers.get(v.backend)
    if drv.volume_format == "raw":
        if new:
            drv.create(v.id, v.size)
        man = chunk_store(backup_id).restore(backup_id, drv.path(v.id))
    else:
        tmp = drv.root / f".tmp-restore-{v.id}"
        drv.setup()
        try:
            with open(tmp, "wb") as f:
                f.truncate(v.size << 30)
            man = chunk_store(backup_id).restore(backup_id, tmp)
            drv.delete(v.id)
            drv.create_from_file(v.id, v.size, tmp, "raw")
        finally:
            tmp.unlink(missing_ok=True)
    if man.get("volume_metadata"):
        with db.write() as s:
            row = s.get(m.Volume, v.id)
            if row is not None:
                row.metadata_ = {**man["volume_metadata"], **(row.metadata_ or {})}


def finish_create(run: TaskRun) -> None:
    with db.write() as s:
        v = s.get(m.Volume, run.resource_id)
        if v is not None and v.status == "creating":
            v.status = "available"
            v.launched_at = utcnow()
        if v is not None and v.backup_id:
            b = s.get(m.Backup, v.backup_id)
            if b is not None and b.status == "restoring":
                b.status = "available"


def create_failed(run: TaskRun, error: str) -> None:
    v = _volume(run.resource_id)
    if v is None:
        return
    try:
        drivers.get(v.backend).delete(v.id)
    except LookupError:
        pass
    with db.write() as s:
        v = s.get(m.Volume, run.resource_id)
        if v is not None:
            v.status = "error"
            v.admin_metadata = {**(v.admin_metadata or {}), "fault": error[:250]}
            messages.add(s, v.project_id, "VOLUME", v.id, "create volume", messages.DRIVER_FAILED)


# ------------------------------------------------------------------ volume.delete
def remove_volume_data(run: TaskRun) -> None:
    v = _volume(run.resource_id)
    if v is None:
        return
    try:
        drv = drivers.get(v.backend)
    except LookupError:
        return
    for sid in run.payload.get("snapshots", []):
        drv.delete_snapshot(sid)
    drv.delete(v.id)


def remove_volume_rows(run: TaskRun) -> None:
    with db.write() as s:
        for sid in run.payload.get("snapshots", []):
            sn = s.get(m.Snapshot, sid)
            if sn is not None:
                s.delete(sn)
        v = s.get(m.Volume, run.resource_id)
        if v is not None:
            for a in s.scalars(select(m.Attachment).where(m.Attachment.volume_id == v.id)):
                s.delete(a)
            s.delete(v)


def delete_failed(run: TaskRun, error: str) -> None:
    _update(m.Volume, run.resource_id, status="error_deleting")


# ------------------------------------------------------------------ volume.extend
def extend_data(run: TaskRun) -> None:
    v = _volume(run.resource_id)
    if v is not None:
        drivers.get(v.backend).extend(v.id, run.payload["new_size"])


def finish_extend(run: TaskRun) -> None:
    with db.write() as s:
        v = s.get(m.Volume, run.resource_id)
        if v is not None and v.status == "extending":
            v.size = run.payload["new_size"]
            service.restore_status(v)


def extend_failed(run: TaskRun, error: str) -> None:
    _update(m.Volume, run.resource_id, status="error_extending")


# ------------------------------------------------------------------ volume.migrate (retype)
def migrate_data(run: TaskRun) -> None:
    v = _volume(run.resource_id)
    if v is None or v.backend == run.payload["backend"]:
        return
    target = drivers.get(run.payload["backend"])
    if not target.exists(v.id):
        dst = m.Volume(id=v.id, size=v.size, backend=run.payload["backend"])
        _copy_across(v, dst)
    with db.write() as s:
        row = s.get(m.Volume, v.id)
        old_backend = row.backend
        row.backend = run.payload["backend"]
        row.host = f"onestack@{row.backend}#{row.backend}"
    drivers.get(old_backend).delete(v.id)


def finish_migrate(run: TaskRun) -> None:
    with db.write() as s:
        v = s.get(m.Volume, run.resource_id)
        if v is not None:
            v.volume_type_id = run.payload["type_id"]
            v.status = "available"
            v.migration_status = "success"


def migrate_failed(run: TaskRun, error: str) -> None:
    _update(m.Volume, run.resource_id, status="available", migration_status="error")


# ------------------------------------------------------------------ volume.upload_image
def upload_image(run: TaskRun) -> None:
    from onestack.image import interface as image_if
    v = _volume(run.resource_id)
    if v is None:
        return
    drv = drivers.get(v.backend)
    drv.setup()
    tmp = drv.root / f".tmp-upload-{run.id}"
    try:
        drv.export(v.id, tmp, run.payload.get("disk_format") or "raw")
        ctx = RequestContext.internal(project_id=v.project_id)
        image_if.upload_from_file(ctx, run.payload["image_id"], str(tmp))
    finally:
        tmp.unlink(missing_ok=True)


def finish_upload(run: TaskRun) -> None:
    with db.write() as s:
        v = s.get(m.Volume, run.resource_id)
        if v is not None and v.status == "uploading":
            service.restore_status(v)


def upload_failed(run: TaskRun, error: str) -> None:
    finish_upload(run)
    try:
        from onestack.image import interface as image_if
        image_if.delete_image(RequestContext.internal(), run.payload["image_id"])
    except Exception:
        pass


# ------------------------------------------------------------------ snapshots
def snapshot_data(run: TaskRun) -> None:
    drivers.get(run.payload["backend"]).create_snapshot(run.resource_id, run.payload["volume_id"])


def finish_snapshot(run: TaskRun) -> None:
    with db.write() as s:
        sn = s.get(m.Snapshot, run.resource_id)
        if sn is not None and sn.status == "creating":
            sn.status = "available"
            sn.progress = "100%"
            s.flush()
            groups.member_snapshot_changed(s, sn.group_snapshot_id)


def snapshot_failed(run: TaskRun, error: str) -> None:
    try:
        drivers.get(run.payload["backend"]).delete_snapshot(run.resource_id)
    except Exception:
        pass
    with db.write() as s:
        sn = s.get(m.Snapshot, run.resource_id)
        if sn is not None:
            sn.status = "error"
            s.flush()
            groups.member_snapshot_changed(s, sn.group_snapshot_id)
            messages.add(s, sn.project_id, "SNAPSHOT", sn.id, "create snapshot", messages.SNAPSHOT_FAILED)


def snapshot_remove(run: TaskRun) -> None:
    if run.payload.get("backend"):
        drivers.get(run.payload["backend"]).delete_snapshot(run.resource_id)
    with db.write() as s:
        sn = s.get(m.Snapshot, run.resource_id)
        if sn is not None:
            s.delete(sn)
            s.flush()
            groups.member_snapshot_changed(s, sn.group_snapshot_id)


def snapshot_delete_failed(run: TaskRun, error: str) -> None:
    _update(m.Snapshot, run.resource_id, status="error_deleting")


# ------------------------------------------------------------------ backups
def backup_data(run: TaskRun) -> None:
    with db.read() as s:
        b = s.get(m.Backup, run.resource_id)
        v = s.get(m.Volume, run.payload["volume_id"])
    if b is None or v is None:
        return
    drv = drivers.get(v.backend)
    if drv.volume_format == "raw":
        man = chunk_store(b.id).backup(b.id, drv.path(v.id), b.parent_id, v.metadata_)
    else:
        tmp = drv.root / f".tmp-backup-{b.id}"
        try:
            drv.export(v.id, tmp, "raw")
            man = chunk_store(b.id).backup(b.id, tmp, b.parent_id, v.metadata_)
        finally:
            tmp.unlink(missing_ok=True)
    run.payload["object_count"] = len([c for c in man["chunks"] if c])


def finish_backup(run: TaskRun) -> None:
    with db.write() as s:
        b = s.get(m.Backup, run.resource_id)
        v = s.get(m.Volume, run.payload["volume_id"])
        if b is not None:
            b.status = "available"
            b.object_count = run.payload.get("object_count", 0)
        if v is not None and v.status == "backing-up":
            service.restore_status(v)


def backup_failed(run: TaskRun, error: str) -> None:
    chunk_store(run.resource_id).delete(run.resource_id)
    with db.write() as s:
        b = s.get(m.Backup, run.resource_id)
        v = s.get(m.Volume, run.payload.get("volume_id"))
        if b is not None:
            b.status = "error"
            b.fail_reason = error[:250]
            messages.add(s, b.project_id, "BACKUP", b.id, "create backup", messages.BACKUP_FAILED)
        if v is not None and v.status == "backing-up":
            service.restore_status(v)


def backup_remove(run: TaskRun) -> None:
    chunk_store(run.resource_id).delete(run.resource_id)
    _delete(m.Backup, run.resource_id)


def backup_delete_failed(run: TaskRun, error: str) -> None:
    _update(m.Backup, run.resource_id, status="error_deleting")


def restore_data(run: TaskRun) -> None:
    v = _volume(run.payload["volume_id"])
    if v is not None:
        _restore_into(run.resource_id, v, new=False)


def finish_restore(run: TaskRun) -> None:
    with db.write() as s:
        b = s.get(m.Backup, run.resource_id)
        v = s.get(m.Volume, run.payload["volume_id"])
        if b is not None:
            b.status = "available"
        if v is not None:
            v.status = "available"


def restore_failed(run: TaskRun, error: str) -> None:
    with db.write() as s:
        b = s.get(m.Backup, run.resource_id)
        v = s.get(m.Volume, run.payload["volume_id"])
        if b is not None:
            b.status = "available"
        if v is not None:
            v.status = "error_restoring"


TASKS: list[Any] = [
    TaskSpec("volume.create", [fill_volume, finish_create], on_failure=create_failed, max_attempts=3),
    TaskSpec("volume.delete", [remove_volume_data, remove_volume_rows], on_failure=delete_failed),
    TaskSpec("volume.extend", [extend_data, finish_extend], on_failure=extend_failed),
    TaskSpec("volume.migrate", [migrate_data, finish_migrate], on_failure=migrate_failed),
    TaskSpec("volume.upload_image", [upload_image, finish_upload], on_failure=upload_failed),
    TaskSpec("snapshot.create", [snapshot_data, finish_snapshot], on_failure=snapshot_failed),
    TaskSpec("snapshot.delete", [snapshot_remove], on_failure=snapshot_delete_failed),
    # not resumed after a crash (as upstream's backup service at start-up): the backup goes
    # to error and backup_failed removes its partial manifest and the chunks it wrote
    TaskSpec("backup.create", [backup_data, finish_backup], on_failure=backup_failed, resumable=False),
    TaskSpec("backup.delete", [backup_remove], on_failure=backup_delete_failed),
    TaskSpec("backup.restore", [restore_data, finish_restore], on_failure=restore_failed),
]
