"""Image start-up: crash sweep, then the default tiny image (idempotent, cheap)."""
from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from sqlalchemy import select

from onestack import db
from onestack.context import RequestContext
from onestack.image import models as m
from onestack.image import service

log = logging.getLogger(__name__)
TINY_NAME = "onestack-tiny"


def _admin_project() -> str | None:
    try:
        from onestack.identity import interface as ident
        return ident.project_id_by_name("admin")
    except Exception:
        return None


def ensure_tiny_image(size: int) -> str | None:
    """A small public raw image (an MBR-signed zero disk) named onestack-tiny, once."""
    with db.read() as s:
        have = s.scalar(select(m.Image.id).where(m.Image.name == TINY_NAME,
                                                 m.Image.deleted.is_(False),
                                                 m.Image.status == "active"))
    if have:
        return have
    ctx = RequestContext.internal(project_id=_admin_project())
    with db.read() as s:
        stale = s.scalars(select(m.Image.id).where(m.Image.name == TINY_NAME,
                                                   m.Image.deleted.is_(False))).all()
    for image_id in stale:                       # a half-made one from an interrupted start
        service.delete_image(ctx, image_id)
    values = service.parse_create({"name": TINY_NAME, "disk_format": "raw",
                                   "container_format": "bare", "visibility": "public",
                                   "min_disk": 1, "os_distro": "none",
                                   "description": "Tiny placeholder disk registered by onestack"})
    img = service.create_image(ctx, values)
    fd, path = tempfile.mkstemp(prefix="onestack-tiny-")
    try:
        with os.fdopen(fd, "wb") as f:
            block = bytearray(512)
            block[510:512] = b"\x55\xaa"
            f.write(block)
            f.truncate(max(size, 512))
        service.upload_from_path(ctx, img["id"], path)
    finally:
        os.unlink(path)
    return img["id"]


def run(cloud: Any) -> None:
    service.store()
    service.staging()
    swept = service.sweep()
    if any(swept.values()):
        log.warning("image start-up sweep: %s", swept)
    cfg = cloud.settings.image
    if cfg.tiny_image:
        ensure_tiny_image(cfg.tiny_image_size)
