"""Helpers shared by the Cinder handlers: query parsing, admin check, pagination links."""
from __future__ import annotations

from typing import Any, Callable

from onestack import db, errors
from onestack.api import pagination
from onestack.api.routing import Req

# Upstream's bool_from_string word sets (oslo_utils.strutils).
TRUE = ("1", "t", "true", "on", "y", "yes")
FALSE = ("0", "f", "false", "off", "n", "no")


def parse_bool(value: Any, name: str) -> bool:
    """A boolean from JSON true/false or one of upstream's words (any case, spaces
    stripped); anything else is a 400 naming the field. Used for query filters and for
    every boolean in request bodies."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
    raise errors.BadRequest(f"Invalid value '{value}' for {name}: must be a boolean "
                            f"(one of {', '.join(TRUE + FALSE)}).")


def need(req: Req, version: str) -> None:
    """Resources that appear in microversion ``version``: 404 below it, as upstream."""
    if not req.ctx.microversion.matches(version):
        raise errors.NotFound(f"The resource could not be found (it needs microversion {version} "
                              "or later).")


def admin(req: Req) -> bool:
    return "admin" in req.ctx.roles


def target(req: Req, project_id: str | None = None) -> dict[str, Any]:
    return {"project_id": project_id or req.ctx.project_id}


def load(req: Req, getter: Callable[..., Any], param: str, rule: str) -> Any:
    """The row named by path parameter ``param`` (``getter(session, ctx, id)``: 404 when the
    caller may not see it), after ``rule`` is checked against its project."""
    with db.read() as s:
        row = getter(s, req.ctx, req.params[param])
    req.ctx.can(rule, target(req, row.project_id))
    return row


def flag(req: Req, name: str) -> bool:
    """A lenient switch in the query (all_tenants, detail, cascade): true words on, else off."""
    return (req.query.get(name) or "").strip().lower() in TRUE


# Upstream accepts the v1 names as sort keys.
SORT_ALIASES = {"display_name": "name", "display_description": "description"}


def page(req: Req, allowed_sort: list[str], default_sort: str = "created_at",
         with_offset: bool = False) -> tuple[Any, ...]:
    limit = pagination.parse_limit(req.query.get("limit"), None, maximum=1000)
    sort = pagination.parse_sort(req, allowed_sort + list(SORT_ALIASES), [(default_sort, "desc")])
    sort = [(SORT_ALIASES.get(k, k), d) for k, d in sort]
    if not with_offset:
        return limit, req.query.get("marker"), sort
    offset = as_int(req.query.get("offset") or 0, "offset", minimum=0)
    return limit, req.query.get("marker"), sort, offset


def links(req: Req, key: str, rows: list[Any], limit: int | None) -> dict[str, Any]:
    out = pagination.paginate(rows, limit, f"{req.service_url}/v3/{req.ctx.project_id}/{key}",
                              req.query_items, lambda r: r.id)
    return {f"{key.split('/')[0]}_links": out} if out else {}


def body_object(req: Req, key: str) -> dict[str, Any]:
    return req.json_object(key)


def as_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value}. "
                                f"{value} is not of type 'integer'.")
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {value!r}. "
                                f"{value!r} is not of type 'integer'.") from None
    if isinstance(value, float) and value != n:
        raise errors.BadRequest(f"Invalid input for field/attribute {name}: must be an integer.")
    if n < minimum:
        raise errors.BadRequest(f"Invalid input for field/attribute {name}. Value: {n}. {n} is less "
                                f"than the minimum of {minimum}.")
    return n
