"""Handler helpers: bodies, query parsing, server lookup + policy."""
from __future__ import annotations

import datetime as dt
from typing import Any

from onestack import db, errors
from onestack.api import schema
from onestack.api.routing import Req
from onestack.compute import models as m
from onestack.compute import service as svc


def body(req: Req, sch: dict[str, Any]) -> dict[str, Any]:
    data = req.json()
    schema.validate(data, sch)
    return data


def target(srv: m.Server) -> dict[str, Any]:
    return {"project_id": srv.project_id, "user_id": srv.user_id}


def own() -> dict[str, Any]:
    return {}


def load(s: Any, req: Req, rule: str | None = None, server_id: str | None = None) -> m.Server:
    """The server (404 when not visible), with ``rule`` checked against it."""
    sid = server_id or req.params["server_id"]
    srv = svc.get_server(s, req.ctx, sid)
    if rule:
        req.ctx.can(rule, target(srv))
    return srv


def need_capability(srv: m.Server, capability: str, action: str) -> None:
    """A 409 naming the reason when the compute driver of the server's host cannot do
    ``action`` (its ``capabilities`` say no), before anything is changed."""
    if not srv.host:
        return
    from onestack import bus
    try:
        caps = bus.get().call(f"compute.{srv.host}", "capabilities", timeout=10)
    except Exception:     # the host's agent does not answer: the action itself will say so
        return
    if not caps.get(capability):
        raise errors.Conflict(f"Cannot '{action}' instance {srv.uuid}: the {caps.get('hypervisor_type')} compute "
                              f"driver of host {srv.host} does not support {action.replace('_', ' ')}.")


def parse_time(value: str, name: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise errors.BadRequest(f"Invalid filter field: {name}. Invalid input for field/attribute {name}. "
                                f"Value: {value}. '{value}' is not a 'date-time'") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


def parse_bool(value: str, name: str) -> bool:
    v = value.lower()
    if v in ("true", "1", "yes", "on", "t", "y"):
        return True
    if v in ("false", "0", "no", "off", "f", "n"):
        return False
    raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. "
                            f"Unrecognized value '{value}', acceptable values are: '0', '1', 'f', 'false', "
                            f"'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'")


def int_param(value: Any, name: str, minimum: int = 0) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. "
                                f"'{value}' is not of type 'integer'") from None
    if n < minimum:
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. "
                                f"{value} is less than the minimum of {minimum}")
    return n


def readonly(fn):
    """Run ``fn(s)`` in a read unit of work."""
    with db.read() as s:
        return fn(s)
