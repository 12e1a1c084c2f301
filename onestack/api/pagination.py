"""limit/marker pagination, ``links`` and sort/filter parsing shared by every service."""
from __future__ import annotations

from typing import Any, Callable, Sequence
from urllib.parse import urlencode

from sqlalchemy import Select, and_, or_

from onestack import errors


def parse_limit(value: str | None, default: int | None = None, maximum: int = 1000) -> int | None:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        raise errors.BadRequest(f"limit must be an integer, got {value!r}.") from None
    if limit < 0:
        raise errors.BadRequest("limit must be >= 0.")
    return min(limit, maximum)


def parse_sort(req: Any, allowed: Sequence[str], default: Sequence[tuple[str, str]],
               key_param: str = "sort_key", dir_param: str = "sort_dir") -> list[tuple[str, str]]:
    """Sort keys from ``sort_key``/``sort_dir`` pairs or ``sort=key:dir,key2``; validated."""
    keys = req.query_all(key_param)
    dirs = req.query_all(dir_param)
    pairs: list[tuple[str, str]] = []
    for s in req.query_all("sort"):
        for item in s.split(","):
            k, _, d = item.partition(":")
            pairs.append((k.strip(), (d or "asc").strip()))
    for i, k in enumerate(keys):
        pairs.append((k, dirs[i] if i < len(dirs) else (dirs[0] if dirs else "asc")))
    if not pairs:
        return list(default)
    for k, d in pairs:
        if k not in allowed:
            raise errors.BadRequest(f"Invalid sort key {k!r}; allowed: {', '.join(sorted(allowed))}.")
        if d not in ("asc", "desc"):
            raise errors.BadRequest(f"Invalid sort direction {d!r}; use asc or desc.")
    return pairs


def apply_marker_sort(stmt: Select, model: Any, sort: list[tuple[str, str]],
                      marker_row: Any | None, id_attr: str = "id") -> Select:
    """ORDER BY ``sort`` (+ id as tiebreaker) and keyset-seek past ``marker_row``."""
    cols = [(getattr(model, k), d) for k, d in sort]
    if id_attr not in [k for k, _ in sort]:
        cols.append((getattr(model, id_attr), sort[-1][1] if sort else "asc"))
    stmt = stmt.order_by(*[c.desc() if d == "desc" else c.asc() for c, d in cols])
    if marker_row is not None:
        clauses = []
        for i, (col, d) in enumerate(cols):
            value = getattr(marker_row, col.key)
            eqs = [c == getattr(marker_row, c.key) for c, _ in cols[:i]]
            if value is None:
                continue  # a NULL marker value cannot be seeked past on this column
            cmp = col < value if d == "desc" else col > value
            clauses.append(and_(*eqs, cmp) if eqs else cmp)
        stmt = stmt.where(or_(*clauses))
    return stmt


def next_link(url: str, query: list[tuple[str, str]], last_id: str, param: str = "marker") -> str:
    kept = [(k, v) for k, v in query if k != param]
    kept.append((param, last_id))
    return f"{url}?{urlencode(kept)}"


def paginate(items: list[Any], limit: int | None, url: str, query: list[tuple[str, str]],
             id_of: Callable[[Any], str]) -> list[dict[str, str]]:
    """The ``links`` list: a ``next`` link when the page is full."""
    if limit and len(items) >= limit and items:
        return [{"rel": "next", "href": next_link(url, query, id_of(items[-1]))}]
    return []
