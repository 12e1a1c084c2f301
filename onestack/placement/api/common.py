"""Helpers shared by placement handlers: microversion checks, bodies, headers."""
from __future__ import annotations

import email.utils
import uuid as uuidlib
from typing import Any

from onestack.api import schema
from onestack.api.routing import Reply, Req
from onestack.placement import errors as perr


def mv(req: Req, version: str) -> bool:
    return req.ctx.microversion.matches(version)


def require(req: Req, version: str) -> None:
    if not mv(req, version):
        raise perr.NotFound("The resource could not be found.")


def body(req: Req, sch: dict[str, Any]) -> dict[str, Any]:
    data = req.json()
    schema.validate(data, sch, prefix="JSON does not validate:", error=perr.BadRequest)
    return data


def reply(req: Req, data: Any, status: int = 200, headers: dict[str, str] | None = None,
          modified: Any = None) -> Reply:
    h = dict(headers or {})
    if mv(req, "1.15"):
        h["cache-control"] = "no-cache"
        ts = modified.timestamp() if modified is not None else None
        h["last-modified"] = email.utils.formatdate(ts, usegmt=True)
    return Reply(status, data, h)


def check_uuid(value: str, what: str = "uuid") -> str:
    try:
        return str(uuidlib.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise perr.BadRequest(f"Malformed {what}: {value!r}") from None


def link(req: Req, path: str, rel: str) -> dict[str, str]:
    return {"rel": rel, "href": f"/placement{path}"}


UUID = {"type": "string", "format": "uuid"}
GEN = {"type": "integer"}
