"""limit/marker/sort helpers over a real (SQLite) table."""
from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from onestack import errors
from onestack.api import pagination as pg
from onestack.api.routing import Req


class _B(DeclarativeBase):
    pass


class Thing(_B):
    __tablename__ = "things"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)


def req(query):
    return Req(None, "GET", "/things", {}, query, {}, None)


@pytest.fixture(scope="module")
def session():
    eng = create_engine("sqlite://")
    _B.metadata.create_all(eng)
    with Session(eng) as s:
        rows = [("a", "x", 3), ("b", "y", 1), ("c", "x", 2), ("d", "z", 2), ("e", "y", None)]
        s.add_all(Thing(id=i, name=n, size=z) for i, n, z in rows)
        s.commit()
        yield s


@pytest.mark.parametrize("value,expected", [(None, 50), ("", 50), ("0", 0), ("7", 7), ("5000", 1000)])
def test_parse_limit(value, expected):
    assert pg.parse_limit(value, default=50) == expected


@pytest.mark.parametrize("value", ["-1", "ten", "1.5"])
def test_parse_limit_rejects(value):
    with pytest.raises(errors.BadRequest):
        pg.parse_limit(value)


def test_parse_sort_forms():
    allowed = ["name", "size", "id"]
    assert pg.parse_sort(req([]), allowed, [("id", "asc")]) == [("id", "asc")]
    assert pg.parse_sort(req([("sort_key", "name"), ("sort_dir", "desc")]), allowed, []) == [("name", "desc")]
    # one direction applies to every key; missing direction is asc
    assert pg.parse_sort(req([("sort_key", "name"), ("sort_key", "size"), ("sort_dir", "desc")]),
                         allowed, []) == [("name", "desc"), ("size", "desc")]
    assert pg.parse_sort(req([("sort", "name:desc,size")]), allowed, []) == [("name", "desc"), ("size", "asc")]


@pytest.mark.parametrize("query,match", [
    ([("sort_key", "password")], "Invalid sort key"),
    ([("sort_key", "name"), ("sort_dir", "sideways")], "Invalid sort direction"),
    ([("sort", "name:up")], "Invalid sort direction"),
])
def test_parse_sort_rejects(query, match):
    with pytest.raises(errors.BadRequest, match=match):
        pg.parse_sort(req(query), ["name", "size", "id"], [])


def _page(s, sort, marker=None, limit=2):
    m = s.get(Thing, marker) if marker else None
    stmt = pg.apply_marker_sort(select(Thing), Thing, sort, m).limit(limit)
    return [t.id for t in s.scalars(stmt)]


def test_marker_walks_every_row_once(session):
    for sort in ([("name", "asc")], [("name", "desc")], [("size", "asc"), ("name", "desc")], []):
        seen, marker = [], None
        while True:
            page = _page(session, sort, marker)
            if not page:
                break
            seen += page
            marker = page[-1]
        full = [t.id for t in session.scalars(pg.apply_marker_sort(select(Thing), Thing, sort, None))]
        if not any(k == "size" for k, _ in sort):   # NULLs cannot be seeked past
            assert seen == full and sorted(seen) == ["a", "b", "c", "d", "e"]


def test_sort_with_id_tiebreak(session):
    assert _page(session, [("name", "asc")], limit=10) == ["a", "c", "b", "e", "d"]
    assert _page(session, [("name", "desc")], limit=10) == ["d", "e", "b", "c", "a"]
    assert _page(session, [("name", "asc")], marker="c", limit=10) == ["b", "e", "d"]


def test_links():
    url = "http://h/v3/things"
    q = [("limit", "2"), ("marker", "old"), ("name", "x")]
    assert pg.next_link(url, q, "b") == "http://h/v3/things?limit=2&name=x&marker=b"
    assert pg.paginate(["a", "b"], 2, url, q, lambda i: i) == [
        {"rel": "next", "href": "http://h/v3/things?limit=2&name=x&marker=b"}]
    assert pg.paginate(["a"], 2, url, q, lambda i: i) == []
    assert pg.paginate([], 2, url, q, lambda i: i) == []
    assert pg.paginate(["a", "b"], None, url, q, lambda i: i) == []
