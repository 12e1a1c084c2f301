"""What other services (compute, volume) may call on image. Nobody else touches image tables.

    img = image.interface.get_image(ctx, image_id)       # errors.NotFound when not visible
    path = image.interface.image_path(image_id)          # local file of an active image, or None
                                                         # (object store: a verified cached copy)
    for chunk in image.interface.open_image(image_id): ...
    new = image.interface.create_image(ctx, "snap", "qcow2", "bare", {"instance_uuid": ...})
    image.interface.upload_from_file(ctx, new["id"], "/path/to/file")   # inspects, activates
    image.interface.delete_image(ctx, new["id"])

Contexts are the caller's RequestContext (visibility and ownership follow its project);
use RequestContext.internal() for onestack's own work.
"""
from __future__ import annotations

from typing import Any, Iterator

from onestack import errors
from onestack.image import service

_CORE = ("id", "name", "status", "disk_format", "container_format", "size", "virtual_size",
         "min_disk", "min_ram", "visibility", "owner", "protected", "checksum", "os_hash_algo",
         "os_hash_value", "created_at", "updated_at", "tags", "os_hidden")


def _public(img: dict[str, Any]) -> dict[str, Any]:
    out = {k: img.get(k) for k in _CORE}
    out["properties"] = dict(img.get("properties") or {})
    return out


def get_image(ctx: Any, image_id: str) -> dict[str, Any]:
    """The image as the API shows it (core attributes + ``properties``: every other property,
    e.g. kernel_id, ramdisk_id, hw_*). Raises errors.NotFound when ``ctx`` cannot see it."""
    return _public(service.get_image(ctx, image_id))


def image_path(image_id: str) -> str | None:
    """The local file holding an active (or deactivated) image's data, or None."""
    from onestack.context import RequestContext
    try:
        img = service.get_image(RequestContext.internal(), image_id)
    except errors.NotFound:
        return None
    if img["status"] not in ("active", "deactivated"):
        return None
    st = service.store_of(img)
    if not st.exists(image_id):
        return None
    return str(st.local_path(image_id, img.get("checksum")))  # object store: a verified cached copy


def open_image(image_id: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The bytes of an active image, streamed. Raises errors.NotFound when there are none."""
    from onestack.context import RequestContext
    try:
        img = service.get_image(RequestContext.internal(), image_id)
    except errors.NotFound:
        img = None
    if img is None or img["status"] not in ("active", "deactivated") or \
            not service.store_of(img).exists(image_id):
        raise errors.NotFound(f"Image {image_id} has no data.")
    return service.store_of(img).read(image_id, chunk_size=chunk_size)


def create_image(ctx: Any, name: str, disk_format: str, container_format: str,
                 properties: dict[str, Any] | None = None, visibility: str = "private",
                 min_disk: int = 0, min_ram: int = 0) -> dict[str, Any]:
    """A new ``queued`` image owned by ctx's project (server snapshots, volume upload-to-image).
    Property values are stored as strings."""
    values = service.parse_create({
        "name": name, "disk_format": disk_format, "container_format": container_format,
        "visibility": visibility, "min_disk": min_disk, "min_ram": min_ram,
        **{k: (v if isinstance(v, str) or v is None else str(v))
           for k, v in (properties or {}).items()}})
    return _public(service.create_image(ctx, values))


def upload_from_file(ctx: Any, image_id: str, path: str) -> dict[str, Any]:
    """Stream the file at ``path`` into the image: inspected (format must match disk_format,
    safety checks), md5 + sha512, size, virtual size; the image becomes ``active``. On failure
    the image is back to ``queued`` with no data and the error is raised."""
    return _public(service.upload_from_path(ctx, image_id, path))


def delete_image(ctx: Any, image_id: str) -> None:
    service.delete_image(ctx, image_id)


def list_images(ctx: Any, filters: dict[str, str] | None = None, limit: int | None = None,
                marker: str | None = None) -> list[dict[str, Any]]:
    """Images ctx can see, newest first, with Glance's list filters (name, status, ...; any other
    key filters on a property). Raises errors.BadRequest for an unknown marker."""
    return [_public(i) for i in service.list_images(ctx, list((filters or {}).items()), [], limit, marker)]


def set_properties(ctx: Any, image_id: str, values: dict[str, str], remove: tuple[str, ...] = (),
                   purge: bool = False) -> dict[str, Any]:
    """Set extra properties (and remove ``remove``; with ``purge`` every other extra property),
    under Glance's modify_image policy. Returns the image."""
    img = service.get_image(ctx, image_id)
    ctx.can("image:modify_image", service.policy_target(ctx, img))
    have = img.get("properties") or {}
    gone = [k for k in have if k not in values] if purge else [k for k in remove if k in have]
    if any(k not in have for k in remove):
        raise errors.NotFound(f"Image {image_id} has no property {[k for k in remove if k not in have][0]}.")
    changes = [{"name": k, "op": "remove", "draft": 10} for k in gone]
    changes += [{"name": k, "op": "replace" if k in have else "add", "value": str(v), "draft": 10}
                for k, v in values.items()]
    return _public(service.update_image(ctx, image_id, changes))


def delete_image_checked(ctx: Any, image_id: str) -> None:
    """delete_image under Glance's delete_image policy (for requests made on a user's behalf)."""
    img = service.get_image(ctx, image_id)
    ctx.can("image:delete_image", service.policy_target(ctx, img))
    service.delete_image(ctx, image_id)
