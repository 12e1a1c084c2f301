"""User messages (Cinder /messages, 3.3+): what went wrong in an asynchronous operation,
told to the project that owns the resource. Recorded by the scheduler and by task failure
handlers; they expire after [volume] message_ttl seconds."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete

from onestack import db
from onestack.db.base import utcnow
from onestack.volume import models as m

# Upstream's event ids and their user-facing texts (cinder/message/message_field.py).
UNKNOWN = ("VOLUME_000001", "An unknown error occurred.")
NO_BACKEND = ("VOLUME_000002", "No storage could be allocated for this volume request.")
DRIVER_FAILED = ("VOLUME_000003", "Driver failed to create the volume.")
BACKUP_FAILED = ("VOLUME_000004", "Backup failed.")
SNAPSHOT_FAILED = ("VOLUME_000005", "Snapshot failed.")


def add(s: Any, project_id: str, resource_type: str, resource_id: str, action: str,
        detail: tuple[str, str], request_id: str = "", ttl: int | None = None) -> None:
    """Record a message in the caller's unit of work ``s``."""
    from onestack import conf
    ttl = ttl if ttl is not None else conf.get().volume.message_ttl
    now = utcnow()
    event_id, text = detail
    s.add(m.Message(id=str(uuid.uuid4()), project_id=project_id, request_id=request_id or "",
                    resource_type=resource_type, resource_uuid=resource_id, event_id=event_id,
                    message_level="ERROR", user_message=f"{action}: {text}", created_at=now,
                    expires_at=now + dt.timedelta(seconds=ttl)))


def record(project_id: str, resource_type: str, resource_id: str, action: str,
           detail: tuple[str, str] = UNKNOWN) -> None:
    """Record a message in its own unit of work (task failure handlers)."""
    with db.write() as s:
        add(s, project_id, resource_type, resource_id, action, detail)


def purge_expired() -> int:
    with db.write() as s:
        return s.execute(delete(m.Message).where(m.Message.expires_at < utcnow())).rowcount or 0
