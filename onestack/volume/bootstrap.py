"""Start-up: backends ready, default type present, orphaned files from a crash removed."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from onestack.volume import drivers, service

log = logging.getLogger(__name__)


def run(cloud: Any) -> None:
    c = cloud.settings.volume
    root = Path(c.volumes_dir) if c.volumes_dir else cloud.settings.state_dir / "volumes"
    names = [n.strip() for n in c.enabled_backends.split(",") if n.strip()]
    enabled = drivers.setup(names, root)
    missing = set(names) - set(enabled)
    if missing:
        log.warning("volume backends not available on this host: %s", ", ".join(sorted(missing)))
    service.ensure_default_type()
    removed = service.sweep_orphans()
    if removed:
        log.info("volume: removed %d orphaned backend files", removed)
