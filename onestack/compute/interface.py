"""What other services may call on compute. Nobody else touches compute tables."""
from __future__ import annotations

from typing import Any

from onestack import db
from onestack.compute import models as m


def get_server(server_id: str) -> dict[str, Any] | None:
    """{id, project_id, host, status, vm_state} of a live server, or None."""
    from onestack.compute import states
    with db.read() as s:
        srv = s.get(m.Server, server_id)
        if srv is None or srv.deleted:
            return None
        return {"id": srv.uuid, "project_id": srv.project_id, "host": srv.host, "name": srv.name,
                "vm_state": srv.vm_state, "status": states.status(srv.vm_state, srv.task_state)}


def metadata(instance_uuid: str, method: str, path: str, body: bytes = b"") -> tuple[int, str, bytes]:
    """The metadata service's answer (status, content type, body) for a request the
    network's metadata proxy attributed to ``instance_uuid``."""
    from onestack.compute import metadata as md
    return md.handle(instance_uuid, method, path, body)
