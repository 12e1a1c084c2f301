"""Cinder response bodies, per microversion."""
from __future__ import annotations

import datetime as dt
from typing import Any

from onestack.api.routing import Req


def ts(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None


def _v(req: Req, version: str) -> bool:
    return req.ctx.microversion is not None and req.ctx.microversion.matches(version)


def links(req: Req, collection: str, rid: str) -> list[dict[str, str]]:
    base = f"{req.service_url}/v3/{req.ctx.project_id}/{collection}/{rid}"
    return [{"rel": "self", "href": base},
            {"rel": "bookmark", "href": base.replace("/v3/", "/", 1)}]


def _metadata(v: Any) -> dict[str, str]:
    """User metadata plus the admin flags upstream shows there ("readonly")."""
    meta = dict(v.metadata_ or {})
    if "readonly" in (v.admin_metadata or {}):
        meta["readonly"] = "True" if v.readonly else "False"
    return meta


def attachment_summary(a: Any) -> dict[str, Any]:
    return {"server_id": a.instance_uuid, "attachment_id": a.id, "attached_at": ts(a.attach_time),
            "host_name": a.attached_host, "volume_id": a.volume_id, "device": a.mountpoint, "id": a.volume_id}


def volume(req: Req, v: Any, type_name: str | None, attachments: list[Any], admin: bool,
           extended: bool = True) -> dict[str, Any]:
    """The volume; ``extended`` adds the extension attributes that show/detail carry and
    create/update responses do not (os-vol-*, volume_image_metadata), as upstream."""
    out: dict[str, Any] = {
        "id": v.id, "name": v.name, "description": v.description, "status": v.status, "size": v.size,
        "availability_zone": v.availability_zone, "created_at": ts(v.created_at),
        "updated_at": ts(v.updated_at),
        "attachments": [attachment_summary(a) for a in attachments if a.attach_status == "attached"],
        "bootable": "true" if v.bootable else "false", "encrypted": False, "multiattach": v.multiattach,
        "metadata": _metadata(v), "volume_type": type_name, "snapshot_id": v.snapshot_id,
        "source_volid": v.source_volid, "consistencygroup_id": None, "user_id": v.user_id,
        "links": links(req, "volumes", v.id), "replication_status": None,
        "migration_status": v.migration_status,
    }
    if extended:
        out["os-vol-tenant-attr:tenant_id"] = v.project_id
        if v.image_metadata:
            out["volume_image_metadata"] = dict(v.image_metadata)
    if admin and extended:
        out["os-vol-host-attr:host"] = v.host
        out["os-vol-mig-status-attr:migstat"] = v.migration_status
        out["os-vol-mig-status-attr:name_id"] = None
    if _v(req, "3.13"):
        out["group_id"] = v.group_id
    if _v(req, "3.21") and admin:
        out["provider_id"] = None
    if _v(req, "3.48"):
        out["service_uuid"] = "onestack-volume"
        out["shared_targets"] = None if _v(req, "3.69") else False
    if _v(req, "3.61") and admin:
        out["cluster_name"] = None
    if _v(req, "3.63"):
        out["volume_type_id"] = v.volume_type_id
    if _v(req, "3.64"):
        out["encryption_key_id"] = None
    if _v(req, "3.65"):
        out["consumes_quota"] = True
    return out


def volume_summary(req: Req, v: Any) -> dict[str, Any]:
    return {"id": v.id, "name": v.name, "links": links(req, "volumes", v.id)}


def snapshot(req: Req, sn: Any, extended: bool = True) -> dict[str, Any]:
    out = {"id": sn.id, "created_at": ts(sn.created_at), "updated_at": ts(sn.updated_at),
           "name": sn.name, "description": sn.description, "volume_id": sn.volume_id,
           "status": sn.status, "size": sn.size, "metadata": dict(sn.metadata_ or {})}
    if extended:
        out["os-extended-snapshot-attributes:progress"] = sn.progress
        out["os-extended-snapshot-attributes:project_id"] = sn.project_id
    if _v(req, "3.14"):
        out["group_snapshot_id"] = sn.group_snapshot_id
    if _v(req, "3.41"):
        out["user_id"] = sn.user_id
    if _v(req, "3.65"):
        out["consumes_quota"] = True
    return out


def volume_type(req: Req, t: Any, admin: bool, extended: bool = True) -> dict[str, Any]:
    specs = dict(t.extra_specs or {})
    if not admin:
        specs = {k: val for k, val in specs.items() if k in ("multiattach", "RESKEY:availability_zones",
                                                             "replication_enabled")}
    out = {"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public,
           "os-volume-type-access:is_public": t.is_public, "extra_specs": specs}
    if admin and extended:  # show/list only: create/update responses have no qos_specs_id
        out["qos_specs_id"] = t.qos_specs_id
    return out


def attachment(a: Any, detail: bool = True) -> dict[str, Any]:
    out = {"id": a.id, "status": a.attach_status, "instance": a.instance_uuid, "volume_id": a.volume_id}
    if detail:
        out.update({"attached_at": ts(a.attach_time), "detached_at": ts(a.detach_time),
                    "attach_mode": a.attach_mode, "connection_info": a.connection_info})
    return out


def backup(req: Req, b: Any, has_dependents: bool, admin: bool) -> dict[str, Any]:
    out = {"id": b.id, "name": b.name, "description": b.description, "status": b.status,
           "availability_zone": b.availability_zone, "volume_id": b.volume_id, "size": b.size,
           "object_count": b.object_count, "container": b.container, "created_at": ts(b.created_at),
           "updated_at": ts(b.updated_at), "fail_reason": b.fail_reason,
           "is_incremental": b.is_incremental, "has_dependent_backups": has_dependents,
           "snapshot_id": b.snapshot_id, "data_timestamp": ts(b.data_timestamp),
           "links": links(req, "backups", b.id)}
    if _v(req, "3.18") and admin:
        out["os-backup-project-attr:project_id"] = b.project_id
    if _v(req, "3.43"):
        out["metadata"] = dict(b.metadata_ or {})
    if _v(req, "3.56"):
        out["user_id"] = b.user_id
    return out


def transfer(req: Req, t: Any, auth_key: str | None = None, detail: bool = True) -> dict[str, Any]:
    out = {"id": t.id, "name": t.name, "volume_id": t.volume_id,
           "links": links(req, "os-volume-transfer", t.id)}
    if not detail:
        return out
    out["created_at"] = ts(t.created_at)
    if auth_key:
        out["auth_key"] = auth_key
    if _v(req, "3.57"):
        out.update({"no_snapshots": t.no_snapshots, "source_project_id": t.project_id,
                    "destination_project_id": None, "accepted": False})
    return out


def group_type(t: Any, admin: bool) -> dict[str, Any]:
    out = {"id": t.id, "name": t.name, "description": t.description, "is_public": t.is_public}
    if admin:
        out["group_specs"] = dict(t.group_specs or {})
    return out


def group(req: Req, g: Any, volume_ids: list[str], list_volume: bool) -> dict[str, Any]:
    out = {"id": g.id, "name": g.name, "description": g.description, "status": g.status,
           "availability_zone": g.availability_zone, "created_at": ts(g.created_at),
           "group_type": g.group_type_id, "volume_types": list(g.volume_type_ids or [])}
    if _v(req, "3.14"):
        out["group_snapshot_id"] = g.group_snapshot_id
        out["source_group_id"] = g.source_group_id
    if _v(req, "3.25") and list_volume:
        out["volumes"] = volume_ids
    if _v(req, "3.38"):
        out["replication_status"] = "disabled"
    if _v(req, "3.58"):
        out["project_id"] = g.project_id
    return out


def group_snapshot(req: Req, gs: Any) -> dict[str, Any]:
    out = {"id": gs.id, "group_id": gs.group_id, "status": gs.status, "created_at": ts(gs.created_at),
           "name": gs.name, "description": gs.description, "group_type_id": gs.group_type_id}
    if _v(req, "3.58"):
        out["project_id"] = gs.project_id
    return out


def qos_specs(q: Any) -> dict[str, Any]:
    return {"id": q.id, "name": q.name, "consumer": q.consumer, "specs": dict(q.specs or {})}


def encryption(e: Any) -> dict[str, Any]:
    return {"volume_type_id": e.volume_type_id, "encryption_id": e.id, "provider": e.provider,
            "cipher": e.cipher, "key_size": e.key_size, "control_location": e.control_location}


def message(req: Req, msg: Any) -> dict[str, Any]:
    return {"id": msg.id, "request_id": msg.request_id, "message_level": msg.message_level,
            "event_id": msg.event_id, "user_message": msg.user_message, "resource_type": msg.resource_type,
            "resource_uuid": msg.resource_uuid, "created_at": ts(msg.created_at),
            "guaranteed_until": ts(msg.expires_at), "links": links(req, "messages", msg.id)}
