"""What other services (compute) may call on block storage. Nobody else touches its tables.

    vol = volume.interface.get_volume(ctx, volume_id)              # dict; NotFound if not visible
    att = volume.interface.attach(ctx, volume_id, server_id, host, "/dev/vdb")
    att["connection_info"]  # {"driver_volume_type": "file", "data": {"path", "format", ...}}
    volume.interface.detach(ctx, volume_id, att["id"])
    vol = volume.interface.create_volume(ctx, size=1, image_id=..., name=...)   # status creating
    volume.interface.wait_for(volume_id, {"available"})            # boot-from-volume
    volume.interface.delete_volume(ctx, volume_id)
"""
from __future__ import annotations

import time
from typing import Any

from onestack import db, errors
from onestack.volume import service


def _dict(v: Any) -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "status": v.status, "size": v.size, "project_id": v.project_id,
            "multiattach": v.multiattach, "bootable": v.bootable, "attach_status": v.attach_status,
            "availability_zone": v.availability_zone, "image_metadata": dict(v.image_metadata or {}),
            "backend": v.backend}


def get_volume(ctx: Any, volume_id: str) -> dict[str, Any]:
    with db.read() as s:
        return _dict(service.get_volume(s, ctx, volume_id))


def attach(ctx: Any, volume_id: str, server_id: str, host: str, mountpoint: str,
           connector: dict[str, Any] | None = None) -> dict[str, Any]:
    """Reserve, connect and complete an attachment; returns {id, connection_info, ...}."""
    a = service.create_attachment(ctx, volume_id, server_id, {"host": host, **(connector or {})})
    service.complete_attachment(ctx, a.id, mountpoint)
    return {"id": a.id, "volume_id": volume_id, "server_id": server_id, "mountpoint": mountpoint,
            "connection_info": a.connection_info, "attach_mode": a.attach_mode}


def detach(ctx: Any, volume_id: str, attachment_id: str | None = None, server_id: str | None = None) -> None:
    from sqlalchemy import select
    from onestack.volume import models as m
    with db.read() as s:
        service.get_volume(s, ctx, volume_id)
        stmt = select(m.Attachment.id).where(m.Attachment.volume_id == volume_id)
        if attachment_id:
            stmt = stmt.where(m.Attachment.id == attachment_id)
        if server_id:
            stmt = stmt.where(m.Attachment.instance_uuid == server_id)
        ids = list(s.scalars(stmt))
    if not ids:
        raise errors.NotFound(f"Volume {volume_id} is not attached (attachment {attachment_id}).")
    for aid in ids:
        service.delete_attachment(ctx, aid)


def create_volume(ctx: Any, size: int | None = None, image_id: str | None = None,
                  snapshot_id: str | None = None, source_volid: str | None = None,
                  name: str | None = None, volume_type: str | None = None,
                  availability_zone: str | None = None, description: str | None = None,
                  metadata: dict[str, str] | None = None) -> dict[str, Any]:
    v = service.create_volume(ctx, {"size": size, "imageRef": image_id, "snapshot_id": snapshot_id,
                                    "source_volid": source_volid, "name": name,
                                    "volume_type": volume_type, "availability_zone": availability_zone,
                                    "description": description, "metadata": metadata or {}})
    return _dict(v)


def wait_for(volume_id: str, statuses: set[str], timeout: float = 600.0) -> dict[str, Any]:
    """Poll until the volume reaches one of ``statuses`` (or error -> errors.Conflict)."""
    from onestack.context import RequestContext
    deadline = time.monotonic() + timeout
    while True:
        v = get_volume(RequestContext.internal(), volume_id)
        if v["status"] in statuses:
            return v
        if v["status"].startswith("error"):
            raise errors.Conflict(f"Volume {volume_id} went to status {v['status']}.")
        if time.monotonic() > deadline:
            raise TimeoutError(f"volume {volume_id} still {v['status']} after {timeout}s")
        time.sleep(0.1)


def delete_volume(ctx: Any, volume_id: str) -> None:
    service.delete_volume(ctx, volume_id, cascade=True)


def connection_info(volume_id: str) -> dict[str, Any]:
    from onestack.context import RequestContext
    return service.initialize_connection(RequestContext.internal(), volume_id, {})


# ------------------------------------------------------------------ for compute's deprecated proxies
# (os-volumes, os-snapshots: Nova < 2.36 proxies them to Cinder)
def list_volumes(ctx: Any, volume_id: str | None = None) -> list[dict[str, Any]]:
    """ctx's volumes, newest first (or just ``volume_id``: NotFound when not visible), each with
    description, created_at, volume_type (name), snapshot_id, metadata, host and attachments
    [{id, server_id, mountpoint}]."""
    from sqlalchemy import select
    from onestack.volume import models as m
    with db.read() as s:
        if volume_id is not None:
            rows = [service.get_volume(s, ctx, volume_id)]
        else:
            rows = list(s.scalars(select(m.Volume).where(m.Volume.project_id == ctx.project_id)
                                  .order_by(m.Volume.created_at.desc())))
    atts = service.attachments_of([v.id for v in rows])
    types = service.type_names()
    return [{**_dict(v), "description": v.description, "created_at": v.created_at,
             "volume_type": types.get(v.volume_type_id), "snapshot_id": v.snapshot_id,
             "metadata": dict(v.metadata_ or {}), "host": v.host,
             "attachments": [{"id": a.id, "server_id": a.instance_uuid, "mountpoint": a.mountpoint}
                             for a in atts.get(v.id, [])]} for v in rows]


def _snap_dict(sn: Any) -> dict[str, Any]:
    return {"id": sn.id, "volume_id": sn.volume_id, "status": sn.status, "size": sn.size, "name": sn.name,
            "description": sn.description, "created_at": sn.created_at, "project_id": sn.project_id}


def create_snapshot(ctx: Any, volume_id: str, name: str | None = None, description: str | None = None,
                    force: bool = False) -> dict[str, Any]:
    return _snap_dict(service.create_snapshot(ctx, volume_id, name, description, force, {}))


def list_snapshots(ctx: Any, snapshot_id: str | None = None) -> list[dict[str, Any]]:
    """ctx's snapshots, newest first (or just ``snapshot_id``: NotFound when not visible)."""
    from sqlalchemy import select
    from onestack.volume import models as m
    with db.read() as s:
        if snapshot_id is not None:
            return [_snap_dict(service.get_snapshot(s, ctx, snapshot_id))]
        return [_snap_dict(sn) for sn in s.scalars(select(m.Snapshot).where(m.Snapshot.project_id == ctx.project_id)
                                                    .order_by(m.Snapshot.created_at.desc()))]


def delete_snapshot(ctx: Any, snapshot_id: str) -> None:
    service.delete_snapshot(ctx, snapshot_id)
