"""Image start-up: crash sweep, then the default tiny image (idempotent, cheap).

The default image ``onestack-tiny`` depends on the compute driver:
- fake driver (control-plane tests): a 1 MiB placeholder disk, registered at once;
- real drivers (container, qemu): the bootable guest of ``dataplane.image_build`` (busybox
  + the Debian kernel + dropbear; built offline, cached machine-wide by package versions),
  registered by a background thread so start-up does not wait: ``onestack-tiny`` (raw
  ext4 root filesystem, property ``onestack_guest=<digest>``) with ``kernel_id`` and
  ``ramdisk_id`` pointing at the hidden ``onestack-tiny-kernel`` (aki) and
  ``onestack-tiny-initramfs`` (ari) images. A placeholder left by an earlier fake-driver
  start is replaced.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from typing import Any

from sqlalchemy import select

from onestack import db
from onestack.context import RequestContext
from onestack.image import models as m
from onestack.image import service

log = logging.getLogger(__name__)
TINY_NAME = "onestack-tiny"
KERNEL_NAME, RAMDISK_NAME = "onestack-tiny-kernel", "onestack-tiny-initramfs"
GUEST_PROP = "onestack_guest"


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


def _active(name: str) -> list[dict[str, Any]]:
    ctx = RequestContext.internal()
    with db.read() as s:
        ids = s.scalars(select(m.Image.id).where(m.Image.name == name, m.Image.deleted.is_(False))).all()
    return [img for img in (service.get_image(ctx, i) for i in ids)]


def _register(ctx: Any, name: str, path: str, disk_format: str, container_format: str, **extra: Any) -> str:
    values = service.parse_create({"name": name, "disk_format": disk_format, "container_format": container_format,
                                   "visibility": "public", **extra})
    img = service.create_image(ctx, values)
    service.upload_from_path(ctx, img["id"], path)
    return img["id"]


def ensure_bootable_tiny_image(cache_dir: str) -> str | None:
    """Register the bootable guest as onestack-tiny (once per guest build; idempotent)."""
    from onestack.dataplane import image_build
    man = image_build.build_image(cache_dir)
    digest = man["digest"]
    current = [i for i in _active(TINY_NAME)
               if i["status"] == "active" and (i.get("properties") or {}).get(GUEST_PROP) == digest]
    if current:
        return current[0]["id"]
    ctx = RequestContext.internal(project_id=_admin_project())
    for name in (KERNEL_NAME, RAMDISK_NAME):     # half-made ones from an interrupted start
        for img in _active(name):
            if (img.get("properties") or {}).get(GUEST_PROP) != digest or img["status"] != "active":
                service.delete_image(ctx, img["id"])
    kernel = next((i["id"] for i in _active(KERNEL_NAME) if i["status"] == "active"), None) or \
        _register(ctx, KERNEL_NAME, man["bzimage"], "aki", "aki", os_hidden=True, **{GUEST_PROP: digest})
    ramdisk = next((i["id"] for i in _active(RAMDISK_NAME) if i["status"] == "active"), None) or \
        _register(ctx, RAMDISK_NAME, man["initramfs"], "ari", "ari", os_hidden=True, **{GUEST_PROP: digest})
    stale = [i["id"] for i in _active(TINY_NAME)]
    image_id = _register(ctx, TINY_NAME, man["disk"], "raw", "bare", min_disk=1, os_distro="onestack-tiny",
                         kernel_id=kernel, ramdisk_id=ramdisk, hw_disk_bus="virtio",
                         description=f"Tiny bootable guest (busybox, Debian kernel {man['key']['kernel']}, "
                                     f"dropbear; login {man['login_user']}) registered by onestack",
                         **{GUEST_PROP: digest})
    for old in stale:
        service.delete_image(ctx, old)
    log.info("bootable image %s registered (%s)", TINY_NAME, image_id)
    return image_id


def guest_cache_dir(settings: Any) -> str:
    cfg = settings.image
    if cfg.guest_cache_dir:
        return cfg.guest_cache_dir
    if os.geteuid() == 0:
        return "/var/cache/onestack/guest"
    return os.path.join(os.path.expanduser("~/.cache"), "onestack", "guest")


def _real_compute(settings: Any) -> bool:
    compute = getattr(settings, "compute", None)
    if compute is None:
        return False
    from onestack.compute import conf as cconf   # the [compute] driver decides what can boot
    return cconf.resolved_driver(compute.driver) != "fake"


def run(cloud: Any) -> None:
    service.store()
    service.staging()
    swept = service.sweep()
    if any(swept.values()):
        log.warning("image start-up sweep: %s", swept)
    cfg = cloud.settings.image
    if not cfg.tiny_image:
        return
    if cfg.bootable_tiny_image and _real_compute(cloud.settings):
        cache = guest_cache_dir(cloud.settings)

        def build() -> None:
            try:
                ensure_bootable_tiny_image(cache)
            except Exception:
                log.exception("the bootable %s image could not be built; keeping the placeholder", TINY_NAME)
                ensure_tiny_image(cfg.tiny_image_size)
        threading.Thread(target=build, name="image-tiny", daemon=True).start()
        return
    ensure_tiny_image(cfg.tiny_image_size)
