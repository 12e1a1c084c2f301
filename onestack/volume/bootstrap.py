"""Start-up: backends ready, default type present, orphaned files from a crash removed."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from onestack.volume import drivers, groups, messages, service

log = logging.getLogger(__name__)


def run(cloud: Any) -> None:
    c = cloud.settings.volume
    root = Path(c.volumes_dir) if c.volumes_dir else cloud.settings.state_dir / "volumes"
    names = [n.strip() for n in c.enabled_backends.split(",") if n.strip()]
    enabled = drivers.setup(names, root)
    missing = set(names) - set(enabled)
    if missing:
        log.warning("volume backends not available on this host: %s", ", ".join(sorted(missing)))
    if c.backup_driver not in ("posix", "object"):
        raise ValueError(f"[volume] backup_driver must be 'posix' or 'object', not {c.backup_driver!r}")
    service.ensure_default_type()
    groups.ensure_default_group_type()
    purged = messages.purge_expired()
    if purged:
        log.info("volume: purged %d expired user messages", purged)
    removed = service.sweep_orphans()
    if removed:
        log.info("volume: removed %d orphaned backend files", removed)
