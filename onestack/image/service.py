"""Image business rules: visibility, the status machine, JSON-patch updates, members, tags,
quotas, uploads into the store. No HTTP here; errors are onestack.errors.*.

An image is handed around as a plain dict (:func:`as_dict`): the core attributes, ``tags``
(list) and ``properties`` (the extra, string-valued properties).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
import uuid
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import and_, delete, exists, func, or_, select, update

from onestack import conf, db, errors
from onestack.api import pagination
from onestack.db.base import utcnow
from onestack.image import errors as ierr
from onestack.image import inspector
from onestack.image import models as m
from onestack.image.stores import FilesystemStore, ObjectStore, Writer

log = logging.getLogger(__name__)

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
MEMBER_STATUSES = ("pending", "accepted", "rejected")
STATUSES = ("queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated",
            "uploading", "importing")
# Attributes the API owns (upstream's _disallowed/_readonly/_reserved/_base lists).
DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
READ_ONLY = ("created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url",
             "self", "file", "schema", "id", "os_hash_algo", "os_hash_value")
RESERVED = ("location", "deleted", "deleted_at")
RESERVED_PREFIX = "os_glance"
BASE = ("checksum", "created_at", "container_format", "disk_format", "id", "min_disk", "min_ram",
        "name", "size", "virtual_size", "status", "tags", "owner", "updated_at", "visibility",
        "protected", "os_hidden")
WRITABLE_CORE = ("name", "visibility", "protected", "os_hidden", "min_disk", "min_ram",
                 "disk_format", "container_format", "owner")
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at")
UUID_RE = re.compile(r"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-"
                     r"([0-9a-fA-F]){12}$")
MAX_INT = 2 ** 31 - 1
MiB = 1024 * 1024
HASH_ALGO = "sha512"
# Which process holds an upload: recorded on the image while it is saving/uploading.
PROCESS_TOKEN = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

_store: FilesystemStore | None = None
_staging: FilesystemStore | None = None
_lock = threading.Lock()


def settings() -> Any:
    return conf.get().image


def store() -> FilesystemStore:
    global _store
    with _lock:
        if _store is None:
            c = conf.get()
            _store = FilesystemStore(Path(c.image.filesystem_store_datadir or c.state_dir / "images"))
            _store.setup()
        return _store


_object_store: ObjectStore | None = None


def enabled_stores() -> list[str]:
    names = [x.strip() for x in settings().enabled_stores.split(",") if x.strip()]
    return names or ["local"]


def default_store_id() -> str:
    return settings().default_store if settings().default_store in enabled_stores() else enabled_stores()[0]


def data_store(store_id: str | None = None) -> Any:
    """The store named ``store_id`` (default: default_store); BadRequest when not offered."""
    global _object_store
    sid = store_id or default_store_id()
    if sid not in enabled_stores() or sid not in ("local", "object"):
        raise errors.BadRequest(f"Store for identifier {sid} not found")
    local = store()
    if sid == "local":
        return local
    with _lock:
        if _object_store is None:
            c = settings()
            _object_store = ObjectStore("object", c.object_store_project, c.object_store_container,
                                        local.tmp, local.root / ".object-cache")
        return _object_store


def store_of(image: dict[str, Any]) -> Any:
    """The store holding an image's data (the first of its stores still offered)."""
    for sid in image.get("stores") or []:
        if sid in enabled_stores():
            return data_store(sid)
    return store()


def staging() -> FilesystemStore:
    global _staging
    with _lock:
        if _staging is None:
            c = conf.get()
            _staging = FilesystemStore(Path(c.image.staging_dir or c.state_dir / "image-staging"))
            _staging.setup()
        return _staging


# ------------------------------------------------------------------ views of rows

def _ts(value: dt.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def as_dict(img: m.Image, props: dict[str, str], tags: list[str]) -> dict[str, Any]:
    return {
        "id": img.id, "name": img.name, "status": img.status, "visibility": img.visibility,
        "protected": bool(img.protected), "os_hidden": bool(img.os_hidden),
        "checksum": img.checksum, "os_hash_algo": img.os_hash_algo,
        "os_hash_value": img.os_hash_value, "owner": img.owner, "size": img.size,
        "virtual_size": img.virtual_size, "min_disk": img.min_disk, "min_ram": img.min_ram,
        "disk_format": img.disk_format, "container_format": img.container_format,
        "created_at": _ts(img.created_at), "updated_at": _ts(img.updated_at),
        "tags": sorted(tags), "properties": dict(props),
        "stores": [x for x in (img.stores or "").split(",") if x],
    }


def _load_extras(s: Any, ids: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    props: dict[str, dict[str, str]] = {i: {} for i in ids}
    tags: dict[str, list[str]] = {i: [] for i in ids}
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for p in s.scalars(select(m.ImageProperty).where(m.ImageProperty.image_id.in_(chunk))):
            props[p.image_id][p.name] = p.value
        for t in s.scalars(select(m.ImageTag).where(m.ImageTag.image_id.in_(chunk))):
            tags[t.image_id].append(t.value)
    return props, tags


def _dict(s: Any, img: m.Image) -> dict[str, Any]:
    props, tags = _load_extras(s, [img.id])
    return as_dict(img, props[img.id], tags[img.id])


def policy_target(ctx: Any, image: dict[str, Any], member_id: str | None = None) -> dict[str, Any]:
    """What Glance's ImageTarget exposes to check strings."""
    if member_id is None and image.get("visibility") == "shared" and ctx.project_id:
        with db.read() as s:
            if s.scalar(select(m.ImageMember.id).where(m.ImageMember.image_id == image["id"],
                                                       m.ImageMember.member == ctx.project_id)):
                member_id = ctx.project_id
    return {"project_id": image.get("owner"), "owner": image.get("owner"),
            "visibility": image.get("visibility"), "member_id": member_id,
            "id": image.get("id"), "image_id": image.get("id"), "status": image.get("status"),
            "protected": image.get("protected"), **{k: v for k, v in image.get("properties", {}).items()
                                                    if isinstance(v, str)}}


# ------------------------------------------------------------------ visibility

def _visible_clause(ctx: Any) -> Any:
    """Rows the caller may see by Glance's rules (admins see everything)."""
    if ctx.is_admin or ctx.is_internal:
        return True
    project = ctx.project_id
    member = exists().where(m.ImageMember.image_id == m.Image.id, m.ImageMember.member == project)
    clauses = [m.Image.visibility.in_(("public", "community"))]
    if project:
        clauses += [m.Image.owner == project, and_(m.Image.visibility == "shared", member)]
    return or_(*clauses)


def _get_row(s: Any, ctx: Any, image_id: str, for_update: bool = False) -> m.Image:
    img = s.get(m.Image, image_id) if isinstance(image_id, str) and len(image_id) <= 36 else None
    if img is None or img.deleted:
        raise ierr.ImageNotFound(image_id=image_id)
    if not (ctx.is_admin or ctx.is_internal):
        ok = (img.visibility in ("public", "community") or
              (ctx.project_id and img.owner == ctx.project_id))
        if not ok and img.visibility == "shared" and ctx.project_id:
            ok = s.scalar(select(m.ImageMember.id).where(
                m.ImageMember.image_id == img.id, m.ImageMember.member == ctx.project_id)) is not None
        if not ok:
            raise ierr.ImageNotFound(image_id=image_id)
    return img


def get_image(ctx: Any, image_id: str) -> dict[str, Any]:
    with db.read() as s:
        return _dict(s, _get_row(s, ctx, image_id))


# ------------------------------------------------------------------ validation

def _check_value(name: str, value: Any) -> Any:
    """Validate one attribute against the image schema (400 on a bad value)."""
    def bad(msg: str) -> errors.BadRequest:
        return errors.BadRequest(f"Invalid value for '{name}': {msg}")
    if name == "name":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise bad(f"{str(value)[:40]!r} is not valid under the schema (null or a string "
                      "of at most 255 characters)")
    elif name == "visibility":
        if value not in VISIBILITIES:
            raise bad(f"{value!r} is not one of {list(VISIBILITIES)}")
    elif name in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            raise bad(f"{value!r} is not of type 'boolean'")
    elif name in ("min_disk", "min_ram"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad(f"{value!r} is not of type 'integer'")
        if value < 0:
            raise bad(f"{value} is less than the minimum of 0")
        if value > MAX_INT:
            raise bad(f"{value} is greater than the maximum of {MAX_INT}")
    elif name == "disk_format":
        if value is not None and value not in DISK_FORMATS:
            raise bad(f"{value!r} is not one of {[None, *DISK_FORMATS]}")
    elif name == "container_format":
        if value is not None and value not in CONTAINER_FORMATS:
            raise bad(f"{value!r} is not one of {[None, *CONTAINER_FORMATS]}")
    elif name == "owner":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            raise bad("must be null or a string of at most 255 characters")
    elif name == "id":
        if not isinstance(value, str) or not UUID_RE.match(value):
            raise bad(f"{str(value)[:40]!r} does not match the UUID pattern")
    elif name == "tags":
        if not isinstance(value, list):
            raise bad(f"{value!r} is not of type 'array'")
        for t in value:
            _check_tag(t)
    elif name in ("kernel_id", "ramdisk_id"):
        if value is not None and (not isinstance(value, str) or not UUID_RE.match(value)):
            raise bad(f"{str(value)[:40]!r} does not match the UUID pattern")
    else:
        if len(name) > 255:
            raise errors.BadRequest("Custom property should not be greater than 255 characters.")
        if not isinstance(value, str):
            raise bad(f"{str(value)[:40]!r} is not of type 'string'")
        if len(value) > 65535:
            raise bad("is too long (maximum 65535 characters)")
    return value


def _check_tag(tag: Any) -> str:
    if not isinstance(tag, str):
        raise errors.BadRequest(f"Invalid tag {tag!r}: tags are strings.")
    if len(tag) > 255:
        raise errors.BadRequest("Tag is too long (maximum 255 characters).")
    if not tag.strip():
        raise errors.BadRequest("Tags must not be empty.")
    return tag


def _check_name_allowed(name: str) -> None:
    if name in DISALLOWED or name in READ_ONLY:
        raise ierr.ReadOnlyProperty(name=name)
    if name in RESERVED or name.startswith(RESERVED_PREFIX):
        raise ierr.ReservedProperty(name=name)


def parse_create(body: Any) -> dict[str, Any]:
    """A create body -> {core..., 'tags': [...], 'properties': {...}} (403/400 as upstream)."""
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    for key in body:
        if key in DISALLOWED:
            raise ierr.ReadOnlyProperty(name=key)
    out: dict[str, Any] = {"properties": {}}
    for key, value in body.items():
        if not isinstance(key, str):
            raise errors.BadRequest("Property names are strings.")
        if key in BASE:
            if key in READ_ONLY and key != "id":
                raise ierr.ReadOnlyProperty(name=key)
            if key in ("kernel_id", "ramdisk_id"):
                pass
            out[key] = _check_value(key, value)
        else:
            if len(key) > 255:
                raise errors.BadRequest("Custom property should not be greater than 255 characters.")
            if key in RESERVED or key.startswith(RESERVED_PREFIX):
                raise ierr.ReservedProperty(name=key)
            if key in ("kernel_id", "ramdisk_id") and value is None:
                continue
            out["properties"][key] = _check_value(key, value)
    return out


def _decode_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str):
        raise errors.BadRequest("The change path must be a string.")
    if not pointer.startswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` does not start with "/".')
    if re.search(r"/\s*?/", pointer[1:]):
        raise errors.BadRequest(f'Pointer `{pointer}` contains adjacent "/".')
    if len(pointer) > 1 and pointer.endswith("/"):
        raise errors.BadRequest(f'Pointer `{pointer}` end with "/".')
    if re.search("~[^01]", pointer) or pointer.endswith("~"):
        raise errors.BadRequest(f'Pointer `{pointer}` contains "~" not part of a recognized '
                                "escape sequence.")
    parts = [p.replace("~1", "/").replace("~0", "~").strip() for p in pointer.lstrip("/").split("/")]
    if not parts or parts == [""]:
        raise errors.BadRequest(f"Pointer `{pointer}` does not contains valid token.")
    return parts


def parse_patch(body: Any, draft: int) -> list[dict[str, Any]]:
    """A JSON-patch body (v2.1 = draft 10 'op'/'path'; v2.0 = draft 4 '{op: path}')."""
    ops = ("add", "remove", "replace")
    if not isinstance(body, list):
        raise errors.BadRequest("Request body must be a JSON array of operation objects.")
    changes = []
    for raw in body:
        if not isinstance(raw, dict):
            raise errors.BadRequest("Operations must be JSON objects.")
        if draft == 10:
            op = raw.get("op")
            if op not in ops:
                raise errors.BadRequest(f"Invalid operation: `{op}`. It must be one of the "
                                        f"following: {', '.join(ops)}.")
            if "path" not in raw:
                raise errors.BadRequest("Unable to find 'path' in JSON Schema change")
            path = raw["path"]
        else:
            present = [k for k in ops if k in raw]
            if len(present) != 1:
                raise errors.BadRequest('Operation objects must contain exactly one member named '
                                        '"add", "remove", or "replace".')
            op = present[0]
            path = raw[op]
        parts = _decode_pointer(path)
        if parts[0] == "locations":
            raise errors.Forbidden("It's not allowed to update locations if locations are invisible.")
        if len(parts) != 1:
            raise errors.BadRequest(f"Invalid JSON pointer for this resource: '/{'/'.join(parts)}'")
        name = parts[0]
        _check_name_allowed(name)
        change: dict[str, Any] = {"op": op, "name": name, "draft": draft}
        if op != "remove":
            if "value" not in raw:
                raise errors.BadRequest(f'Operation "{op}" requires a member named "value".')
            change["value"] = _check_value(name, raw["value"])
        changes.append(change)
    return changes


# ------------------------------------------------------------------ quotas

def limit_for(project_id: str | None, name: str) -> int:
    """A unified limit from identity when it offers one, else the [image] default (-1 = none)."""
    try:
        from onestack.identity import interface as ident
        fn = getattr(ident, "limit_for", None)
        if fn is not None and project_id:
            value = fn(project_id, "image", name)
            if value is not None:
                return int(value)
    except Exception:
        log.debug("limit lookup failed for %s", name, exc_info=True)
    return int(getattr(settings(), name))


def _usage(s: Any, owner: str | None) -> dict[str, int]:
    live = and_(m.Image.owner == owner, m.Image.deleted.is_(False),
                m.Image.status.notin_(("killed", "deleted", "pending_delete")))
    count = s.scalar(select(func.count()).select_from(m.Image).where(live)) or 0
    size = s.scalar(select(func.coalesce(func.sum(m.Image.size), 0)).where(live)) or 0
    staged = s.scalar(select(func.coalesce(func.sum(m.Image.staged_size), 0)).where(live)) or 0
    uploading = s.scalar(select(func.count()).select_from(m.Image).where(
        live, m.Image.status.in_(("saving", "uploading", "importing")))) or 0
    return {"image_count_total": count, "image_size_total": size, "image_stage_total": staged,
            "image_count_uploading": uploading}


def usage(ctx: Any) -> dict[str, dict[str, int]]:
    with db.read() as s:
        used = _usage(s, ctx.project_id)
    out = {}
    for name, value in used.items():
        lim = limit_for(ctx.project_id, name)
        if name in ("image_size_total", "image_stage_total"):
            value = value // MiB
        out[name] = {"limit": lim, "usage": value}
    return out


def _check_count_quota(s: Any, owner: str | None, name: str, adding: int = 1) -> None:
    lim = limit_for(owner, name)
    if lim < 0:
        return
    if _usage(s, owner)[name] + adding > lim:
        raise ierr.ImageQuotaExceeded(
            f"Maximum number of images exceeded: {name} limit is {lim} for this project.")


def _remaining_bytes(s: Any, owner: str | None, name: str = "image_size_total") -> int | None:
    """Bytes the owner may still add under ``name`` (None = unlimited)."""
    lim = limit_for(owner, name)
    used = _usage(s, owner)[name]
    caps = []
    if lim >= 0:
        caps.append(lim * MiB - used)
    legacy = settings().user_storage_quota
    if legacy and name == "image_size_total":
        caps.append(legacy - used)
    return max(min(caps), 0) if caps else None


# ------------------------------------------------------------------ create / update / delete

def create_image(ctx: Any, values: dict[str, Any]) -> dict[str, Any]:
    props = dict(values.get("properties") or {})
    tags = list(dict.fromkeys(values.get("tags") or []))
    cfg = settings()
    if len(props) > cfg.image_property_quota >= 0:
        raise ierr.ImageQuotaExceeded(f"Maximum number of properties ({cfg.image_property_quota}) "
                                      "exceeded.")
    if len(tags) > cfg.image_tag_quota >= 0:
        raise ierr.ImageQuotaExceeded(f"Maximum number of tags ({cfg.image_tag_quota}) exceeded.")
    owner = values.get("owner", ctx.project_id)
    with db.write() as s:
        image_id = values.get("id") or str(uuid.uuid4())
        if s.get(m.Image, image_id) is not None:
            raise errors.Conflict(f"Image with identifier {image_id} already exists!")
        _check_count_quota(s, owner, "image_count_total")
        now = utcnow()
        img = m.Image(id=image_id, name=values.get("name"), owner=owner, status="queued",
                      visibility=values.get("visibility", "shared"),
                      disk_format=values.get("disk_format"),
                      container_format=values.get("container_format"),
                      min_disk=values.get("min_disk", 0), min_ram=values.get("min_ram", 0),
                      protected=values.get("protected", False),
                      os_hidden=values.get("os_hidden", False), created_at=now, updated_at=now,
                      stores="")
        s.add(img)
        s.flush()
        for k, v in props.items():
            s.add(m.ImageProperty(image_id=image_id, name=k, value=v))
        for t in tags:
            s.add(m.ImageTag(image_id=image_id, value=t))
        s.flush()
        return as_dict(img, props, tags)


def update_image(ctx: Any, image_id: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply parsed JSON-patch changes (policy already checked by the caller)."""
    cfg = settings()
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        props, tags_map = _load_extras(s, [img.id])
        extra = props[img.id]
        tags = tags_map[img.id]
        new_tags = list(tags)
        for ch in changes:
            name, op = ch["name"], ch["op"]
            core = name in WRITABLE_CORE or name == "tags"
            if op == "remove":
                if core or name in BASE:
                    raise errors.Forbidden(f"Property {name} may not be removed.")
                if name not in extra:
                    raise errors.Conflict(f"Property {name} does not exist.")
                del extra[name]
                continue
            value = ch["value"]
            if op == "add" and ch["draft"] == 4 and (core or name in extra):
                raise errors.Conflict(f"Property {name} already present.")
            if name == "tags":
                new_tags = list(dict.fromkeys(value))
            elif name == "owner":
                if not (ctx.is_admin or ctx.is_internal):
                    raise errors.Forbidden("Owner can't be updated by non admin.")
                img.owner = value
            elif core:
                if name in ("disk_format", "container_format") and img.status != "queued" \
                        and value != getattr(img, name):
                    raise errors.Forbidden(f"Attribute {name} can be only replaced for a "
                                           "queued image.")
                setattr(img, name, value)
            else:
                if op == "replace" and name not in extra:
                    raise errors.Conflict(f"Property {name} does not exist.")
                if name in ("kernel_id", "ramdisk_id") and value is None:
                    extra.pop(name, None)
                    continue
                extra[name] = value
        if len(extra) > cfg.image_property_quota >= 0:
            raise ierr.ImageQuotaExceeded(
                f"Maximum number of properties ({cfg.image_property_quota}) exceeded.")
        if len(new_tags) > cfg.image_tag_quota >= 0:
            raise ierr.ImageQuotaExceeded(f"Maximum number of tags ({cfg.image_tag_quota}) exceeded.")
        s.execute(delete(m.ImageProperty).where(m.ImageProperty.image_id == img.id))
        for k, v in extra.items():
            s.add(m.ImageProperty(image_id=img.id, name=k, value=v))
        if new_tags != tags:
            s.execute(delete(m.ImageTag).where(m.ImageTag.image_id == img.id))
            for t in new_tags:
                s.add(m.ImageTag(image_id=img.id, value=t))
        img.updated_at = utcnow()
        s.flush()
        return as_dict(img, extra, new_tags)


def delete_image(ctx: Any, image_id: str) -> None:
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        if img.protected:
            raise errors.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
        img.status = "deleted"
        img.deleted = True
        img.deleted_at = img.updated_at = utcnow()
        img.upload_owner = None
        img.staged_size = None
        s.execute(delete(m.ImageMember).where(m.ImageMember.image_id == img.id))
    for sid in enabled_stores():
        data_store(sid).delete(image_id)
    staging().delete(image_id)


def delete_from_store(ctx: Any, image_id: str, store_id: str) -> None:
    """Remove an active image's data from one of its stores (never the last one)."""
    if store_id not in enabled_stores():
        raise errors.NotFound(f"Unknown store: {store_id}")
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        have = [x for x in (img.stores or "").split(",") if x]
        if img.status != "active":
            raise errors.Conflict(f"It's not allowed to remove image data from store if image "
                                  f"status is not 'active' (it is {img.status}).")
        if store_id not in have:
            raise errors.NotFound(f"Image {image_id} is not present in store {store_id}.")
        if len(have) == 1:
            raise errors.Conflict(f"Image {image_id} has data in store {store_id} only: it cannot be "
                                  "removed from its last store (delete the image instead).")
        img.stores = ",".join(x for x in have if x != store_id)
        img.location = data_store(img.stores.split(",")[0]).location(image_id)
        img.updated_at = utcnow()
    data_store(store_id).delete(image_id)


def set_active_state(ctx: Any, image_id: str, action: str) -> None:
    """deactivate: active -> deactivated; reactivate: deactivated -> active (idempotent)."""
    target, source = (("deactivated", "active") if action == "deactivate"
                      else ("active", "deactivated"))
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        if img.status == target:
            return
        if img.status != source:
            raise errors.Forbidden(f"Not allowed to {action} image in status '{img.status}'")
        img.status = target
        img.updated_at = utcnow()


# ------------------------------------------------------------------ listing

_OPS = {"eq", "neq", "gt", "gte", "lt", "lte", "in"}


def _split_op(value: str) -> tuple[str, str]:
    op, sep, rest = value.partition(":")
    if sep and op in _OPS:
        return op, rest
    return "eq", value


def _parse_time(value: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Unable to parse datetime {value!r}.") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def _cmp(col: Any, op: str, value: Any) -> Any:
    return {"eq": col == value, "neq": col != value, "gt": col > value, "gte": col >= value,
            "lt": col < value, "lte": col <= value}[op]


def _parse_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("true", "1", "yes", "on"):
        return True
    if v in ("false", "0", "no", "off"):
        return False
    raise errors.BadRequest(f"Invalid value {value!r} for boolean filter {name}.")


LIST_PARAMS = {"limit", "marker", "sort", "sort_key", "sort_dir", "member_status", "tag",
               "visibility", "os_hidden", "size_min", "size_max", "created_at", "updated_at",
               "name", "id", "status", "owner", "disk_format", "container_format", "protected",
               "checksum", "os_hash_value", "changes-since"}


def list_images(ctx: Any, query: list[tuple[str, str]], sort: list[tuple[str, str]],
                limit: int | None, marker: str | None) -> list[dict[str, Any]]:
    q: dict[str, str] = {}
    for k, v in query:
        if k != "tag":
            q[k] = v
    tags = [v.strip() for k, v in query if k == "tag"]
    visibility = q.get("visibility")
    if visibility is not None and visibility not in (*VISIBILITIES, "all"):
        raise errors.BadRequest(f"Invalid visibility value: {visibility}")
    if "changes-since" in q:
        raise errors.BadRequest('The "changes-since" filter is no longer available on v2.')
    member_status = q.get("member_status", "accepted")
    if member_status not in (*MEMBER_STATUSES, "all"):
        raise errors.BadRequest(f"Invalid status: {member_status}")
    conds: list[Any] = [m.Image.deleted.is_(False)]
    admin = ctx.is_admin or ctx.is_internal
    if not admin:
        project = ctx.project_id
        member_conds = [m.ImageMember.image_id == m.Image.id, m.ImageMember.member == project]
        if member_status != "all":
            member_conds.append(m.ImageMember.status == member_status)
        scope = [m.Image.visibility.in_(("public", "community"))]
        if project:
            scope += [m.Image.owner == project,
                      and_(m.Image.visibility == "shared", exists().where(*member_conds))]
        conds.append(or_(*scope))
    elif member_status != "accepted" and "member_status" in q and ctx.project_id:
        # an admin asking for member_status sees the images shared with their project in it
        member_conds = [m.ImageMember.image_id == m.Image.id, m.ImageMember.member == ctx.project_id]
        if member_status != "all":
            member_conds.append(m.ImageMember.status == member_status)
        conds.append(or_(m.Image.visibility != "shared", m.Image.owner == ctx.project_id,
                         exists().where(*member_conds)))
    if visibility is not None:
        if visibility != "all":
            conds.append(m.Image.visibility == visibility)
    elif ctx.project_id is None:
        conds.append(m.Image.visibility != "community")
    else:
        conds.append(or_(m.Image.owner == ctx.project_id, m.Image.visibility != "community"))
    conds.append(m.Image.os_hidden.is_(_parse_bool("os_hidden", q["os_hidden"])
                                       if "os_hidden" in q else False))
    for key in ("name", "id", "status", "owner", "disk_format", "container_format", "checksum",
                "os_hash_value"):
        if key in q:
            op, value = _split_op(q[key])
            col = getattr(m.Image, key)
            if op == "in":
                items = [x.strip().strip('"') for x in value.split(",")]
                conds.append(col.in_(items))
            elif op in ("eq", "neq"):
                conds.append(_cmp(col, op, value))
            else:
                raise errors.BadRequest(f"Unable to filter by {key} using operator {op}.")
    if "protected" in q:
        conds.append(m.Image.protected.is_(_parse_bool("protected", q["protected"])))
    for key, op in (("size_min", "gte"), ("size_max", "lte")):
        if key in q:
            try:
                n = int(q[key])
            except ValueError:
                raise errors.BadRequest(f"{key} must be an integer.") from None
            conds.append(_cmp(m.Image.size, op, n))
    for key in ("created_at", "updated_at"):
        if key in q:
            op, value = _split_op(q[key])
            if op == "in":
                raise errors.BadRequest(f"Unable to filter by {key} using operator in.")
            conds.append(_cmp(getattr(m.Image, key), op, _parse_time(value)))
    for t in tags:
        conds.append(exists().where(m.ImageTag.image_id == m.Image.id, m.ImageTag.value == t))
    for key, value in q.items():
        if key in LIST_PARAMS:
            continue
        conds.append(exists().where(m.ImageProperty.image_id == m.Image.id,
                                    m.ImageProperty.name == key, m.ImageProperty.value == value))
    with db.read() as s:
        marker_row = None
        if marker is not None:
            marker_row = s.get(m.Image, marker)
            if marker_row is None or marker_row.deleted:
                raise errors.BadRequest(f"Marker {marker} could not be found.")
            try:
                _get_row(s, ctx, marker)
            except errors.NotFound:
                raise errors.BadRequest(f"Marker {marker} could not be found.") from None
        keys = list(sort)
        default_dir = keys[-1][1] if keys else "desc"
        if "created_at" not in [k for k, _ in keys]:
            keys.append(("created_at", default_dir))
        stmt = pagination.apply_marker_sort(select(m.Image).where(*conds), m.Image, keys, marker_row)
        if limit is not None:
            stmt = stmt.limit(limit)
        rows = list(s.scalars(stmt))
        props, tag_map = _load_extras(s, [r.id for r in rows])
        return [as_dict(r, props[r.id], tag_map[r.id]) for r in rows]


# ------------------------------------------------------------------ tags

def add_tag(ctx: Any, image_id: str, tag: str) -> None:
    _check_tag(tag)
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        have = s.scalar(select(m.ImageTag.value).where(m.ImageTag.image_id == img.id,
                                                       m.ImageTag.value == tag))
        if have is not None:
            return
        count = s.scalar(select(func.count()).select_from(m.ImageTag).where(
            m.ImageTag.image_id == img.id)) or 0
        if count + 1 > settings().image_tag_quota >= 0:
            raise ierr.ImageQuotaExceeded(
                f"Maximum number of tags ({settings().image_tag_quota}) exceeded.")
        s.add(m.ImageTag(image_id=img.id, value=tag))
        img.updated_at = utcnow()


def delete_tag(ctx: Any, image_id: str, tag: str) -> None:
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        res = s.execute(delete(m.ImageTag).where(m.ImageTag.image_id == img.id, m.ImageTag.value == tag))
        if res.rowcount == 0:
            raise errors.NotFound(f"Tag {tag} not found.")
        img.updated_at = utcnow()


# ------------------------------------------------------------------ members

def member_dict(mem: m.ImageMember) -> dict[str, Any]:
    return {"image_id": mem.image_id, "member_id": mem.member, "status": mem.status,
            "created_at": _ts(mem.created_at), "updated_at": _ts(mem.updated_at)}


def _member_row(s: Any, ctx: Any, image: m.Image, member_id: str) -> m.ImageMember:
    mem = s.scalar(select(m.ImageMember).where(m.ImageMember.image_id == image.id,
                                               m.ImageMember.member == member_id))
    owner_view = ctx.is_admin or ctx.is_internal or image.owner == ctx.project_id
    if mem is None or not (owner_view or mem.member == ctx.project_id):
        raise errors.NotFound(f"{member_id} is not a member of image {image.id}.")
    return mem


def add_member(ctx: Any, image_id: str, member_id: str) -> dict[str, Any]:
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        if img.visibility != "shared":
            raise errors.Forbidden(f"Image {image_id} is not shared: only shared images "
                                   "have members.")
        if s.scalar(select(m.ImageMember.id).where(m.ImageMember.image_id == img.id,
                                                   m.ImageMember.member == member_id)):
            raise errors.Conflict(f"Member {member_id} already exists for image {image_id}.")
        count = s.scalar(select(func.count()).select_from(m.ImageMember).where(
            m.ImageMember.image_id == img.id)) or 0
        quota = settings().image_member_quota
        if count + 1 > quota >= 0:
            raise ierr.ImageQuotaExceeded(f"Maximum number of image members ({quota}) exceeded.")
        now = utcnow()
        mem = m.ImageMember(image_id=img.id, member=member_id, status="pending", created_at=now,
                            updated_at=now)
        s.add(mem)
        s.flush()
        return member_dict(mem)


def list_members(ctx: Any, image_id: str) -> list[dict[str, Any]]:
    with db.read() as s:
        img = _get_row(s, ctx, image_id)
        stmt = select(m.ImageMember).where(m.ImageMember.image_id == img.id)
        if not (ctx.is_admin or ctx.is_internal or img.owner == ctx.project_id):
            stmt = stmt.where(m.ImageMember.member == ctx.project_id)
        return [member_dict(x) for x in s.scalars(stmt.order_by(m.ImageMember.created_at,
                                                                 m.ImageMember.id))]


def get_member(ctx: Any, image_id: str, member_id: str) -> dict[str, Any]:
    with db.read() as s:
        img = _get_row(s, ctx, image_id)
        return member_dict(_member_row(s, ctx, img, member_id))


def update_member(ctx: Any, image_id: str, member_id: str, status: str) -> dict[str, Any]:
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        mem = _member_row(s, ctx, img, member_id)
        mem.status = status
        mem.updated_at = utcnow()
        s.flush()
        return member_dict(mem)


def delete_member(ctx: Any, image_id: str, member_id: str) -> None:
    with db.write() as s:
        img = _get_row(s, ctx, image_id)
        mem = _member_row(s, ctx, img, member_id)
        s.delete(mem)


# ------------------------------------------------------------------ uploads

class Upload:
    """One streamed upload of image data into the store (or the staging area).

    ``begin`` moves the image to ``saving`` (``uploading`` when staging) under this process'
    token; ``write`` streams; ``finish`` inspects, checksums and activates; ``fail`` puts the
    image back to ``queued`` and removes the partial data.
    """

    def __init__(self, ctx: Any, image_id: str, stage: bool = False,
                 content_length: int | None = None, store_id: str | None = None):
        self.ctx = ctx
        self.store_id = None if stage else (store_id or default_store_id())
        if self.store_id is not None:
            data_store(self.store_id)  # a store that is not offered is a 400 before anything
        self.image_id = image_id
        self.stage = stage
        self.content_length = content_length
        self.writer: Writer | None = None
        self.image: dict[str, Any] = {}
        self.prev_status = "queued"

    def begin(self) -> dict[str, Any]:
        cfg = settings()
        new_status = "uploading" if self.stage else "saving"
        with db.write() as s:
            img = _get_row(s, self.ctx, self.image_id)
            if img.status != "queued":
                if self.stage:
                    raise errors.Conflict(f"Image {self.image_id} is not in queued status; "
                                          f"it is {img.status}.")
                raise errors.Conflict(f"Image status transition from {img.status} to saving is "
                                      "not allowed")
            if not self.stage and (img.disk_format is None or img.container_format is None):
                raise errors.BadRequest("Properties disk_format, container_format must be set "
                                        "prior to saving data.")
            _check_count_quota(s, img.owner, "image_count_uploading")
            quota_name = "image_stage_total" if self.stage else "image_size_total"
            remaining = _remaining_bytes(s, img.owner, quota_name)
            max_size = cfg.image_size_cap if remaining is None else min(cfg.image_size_cap, remaining)
            if self.content_length is not None and self.content_length > max_size:
                raise ierr.ImageQuotaExceeded(
                    f"Image size {self.content_length} exceeds the remaining quota or the size "
                    f"cap ({max_size} bytes).")
            img.status = new_status
            img.upload_owner = PROCESS_TOKEN
            img.updated_at = utcnow()
            self.image = _dict(s, img)
        target = staging() if self.stage else data_store(self.store_id)
        inspect = not self.stage and self.image["container_format"] == "bare"
        self.writer = target.writer(self.image_id, self.image["disk_format"], max_size, inspect)
        return self.image

    def write(self, data: bytes) -> None:
        assert self.writer is not None
        try:
            self.writer.write(data)
        except OverflowError:
            raise ierr.ImageQuotaExceeded("Image exceeds the storage quota or the image size "
                                          "cap.") from None
        except inspector.ImageFormatError as e:
            raise ierr.InvalidImageData(str(e)) from None

    def finish(self) -> dict[str, Any]:
        w = self.writer
        assert w is not None
        if self.content_length is not None and w.size != self.content_length:
            raise errors.BadRequest(f"Image data ended after {w.size} of {self.content_length} "
                                    "bytes.")
        try:
            w.finish_stream()
        except inspector.ImageFormatError as e:
            raise ierr.InvalidImageData(str(e)) from None
        if self.stage:
            w.commit()
            with db.write() as s:
                img = s.get(m.Image, self.image_id)
                if img is None or img.deleted or img.upload_owner != PROCESS_TOKEN:
                    staging().delete(self.image_id)
                    raise errors.Gone(f"Image {self.image_id} could not be found after upload. "
                                      "The image may have been deleted during the upload.")
                img.staged_size = w.size
                img.upload_owner = None
                img.updated_at = utcnow()
                return _dict(s, img)
        result = inspect_and_check(str(w.tmp_path), self.image["disk_format"],
                                   self.image["container_format"])
        w.commit()
        return activate(self.image_id, w.size, w.md5.hexdigest(), w.sha512.hexdigest(),
                        result, expect_owner=PROCESS_TOKEN, store_id=self.store_id)

    def fail(self) -> None:
        if self.writer is not None:
            self.writer.abort()
        restore_queued(self.image_id, self.stage)


def inspect_and_check(path: str, disk_format: str | None, container_format: str | None
                      ) -> inspector.Result | None:
    if container_format != "bare":
        return None
    try:
        return inspector.inspect_file(path, disk_format)
    except inspector.ImageFormatError as e:
        if settings().require_image_format_match:
            raise ierr.InvalidImageData(str(e)) from None
        log.warning("image format check failed (not enforced): %s", e)
        return None


def activate(image_id: str, size: int, md5: str, sha512: str, result: inspector.Result | None,
             expect_owner: str | None, store_id: str | None = None) -> dict[str, Any]:
    target = data_store(store_id)
    with db.write() as s:
        img = s.get(m.Image, image_id)
        if img is None or img.deleted or (expect_owner and img.upload_owner != expect_owner):
            target.delete(image_id)
            raise errors.Gone(f"Image {image_id} could not be found after upload. The image may "
                              "have been deleted during the upload.")
        img.status = "active"
        img.size = size
        img.checksum = md5
        img.os_hash_algo = HASH_ALGO
        img.os_hash_value = sha512
        img.virtual_size = result.virtual_size if result is not None else None
        img.stores = store_id or default_store_id()
        img.location = target.location(image_id)
        img.upload_owner = None
        img.staged_size = None
        img.updated_at = utcnow()
        return _dict(s, img)


def restore_queued(image_id: str, staged: bool = False) -> None:
    with db.write() as s:
        img = s.get(m.Image, image_id)
        if img is None or img.deleted:
            return
        if img.status in ("saving", "uploading", "importing") and \
                img.upload_owner in (PROCESS_TOKEN, None):
            img.status = "queued"
            img.upload_owner = None
            img.staged_size = None
            img.updated_at = utcnow()
    if staged:
        staging().delete(image_id)


def upload_from_path(ctx: Any, image_id: str, path: str, chunk_size: int = 1 << 20) -> dict[str, Any]:
    """Upload a local file as the image's data (streamed; same checks as the API)."""
    up = Upload(ctx, image_id)
    up.begin()
    try:
        with open(path, "rb") as f:
            while True:
                data = f.read(chunk_size)
                if not data:
                    break
                up.write(data)
        return up.finish()
    except BaseException:
        up.fail()
        raise


def read_range(image: dict[str, Any], start: int = 0, end: int | None = None) -> Iterable[bytes]:
    return store_of(image).read(image["id"], start, end, settings().chunk_size)


# ------------------------------------------------------------------ start-up sweep

def sweep() -> dict[str, int]:
    """After a crash: remove temporary files and put images whose upload died back to queued."""
    removed = store().sweep_tmp() + staging().sweep_tmp()
    reset = 0
    with db.write() as s:
        rows = s.scalars(select(m.Image).where(
            m.Image.status.in_(("saving", "uploading", "importing")), m.Image.deleted.is_(False)))
        for img in rows:
            owner = img.upload_owner or ""
            if owner == PROCESS_TOKEN:
                continue
            if not owner and img.status == "uploading" and staging().exists(img.id):
                continue              # a completed stage waiting for its import
            host, _, rest = owner.partition(":")
            pid = rest.partition(":")[0]
            if host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid():
                try:
                    os.kill(int(pid), 0)
                    continue          # another live process on this host owns it
                except ProcessLookupError:
                    pass
                except PermissionError:
                    continue
            elif host and host != socket.gethostname():
                continue              # another host's upload; its own sweep handles it
            if img.status == "importing":
                continue              # the import task's recovery decides
            img.status = "queued"
            img.upload_owner = None
            img.staged_size = None
            img.updated_at = utcnow()
            staging().delete(img.id)
            reset += 1
    return {"temp_files_removed": removed, "images_reset": reset}
