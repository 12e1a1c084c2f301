"""The storage layer on its own: listings, atomic files, corruption, ranges."""
from __future__ import annotations

import hashlib
import os

import pytest

from onestack import errors
from onestack.object import listing
from onestack.object.api.large import parse_range
from onestack.object.drivers.files import CorruptObject, FileStore, Handle, Ring


@pytest.fixture
def cdb(tmp_path):
    db = listing.ContainerDB(tmp_path / "c.db")
    db.create("0000000001.00000", "Policy-0", {})
    names = ["a/1", "a/2", "a/b/3", "b", "c/x", "d", "é"]
    for i, n in enumerate(names):
        db.put_object({"name": n, "ts": f"{i + 2:010d}.00000", "size": i, "content_type": "t",
                       "etag": "e", "last_modified": "x"})
    yield db
    listing.close_all()


def names(rows):
    return [r.get("name") or r.get("subdir") for r in rows]


def test_listing_semantics(cdb):
    assert names(cdb.list()) == ["a/1", "a/2", "a/b/3", "b", "c/x", "d", "é"]
    assert names(cdb.list(delimiter="/")) == ["a/", "b", "c/", "d", "é"]
    assert names(cdb.list(prefix="a/", delimiter="/")) == ["a/1", "a/2", "a/b/"]
    assert names(cdb.list(marker="b", limit=2)) == ["c/x", "d"]
    assert names(cdb.list(end_marker="b")) == ["a/1", "a/2", "a/b/3"]
    assert names(cdb.list(reverse=True, limit=3)) == ["é", "d", "c/x"]
    assert names(cdb.list(reverse=True, delimiter="/")) == ["é", "d", "c/", "b", "a/"]
    assert names(cdb.list(reverse=True, marker="c/x", end_marker="a/1")) == ["b", "a/b/3", "a/2"]
    assert names(cdb.list(delimiter="/", limit=2)) == ["a/", "b"]


def test_stats_follow_puts_and_deletes(cdb):
    info = cdb.info()
    assert info["object_count"] == 7 and info["bytes_used"] == sum(range(7))
    # an older write does not replace a newer one
    old, totals = cdb.put_object({"name": "b", "ts": "0000000000.50000", "size": 100,
                                  "content_type": "t", "etag": "e", "last_modified": "x"})
    assert old["superseded"] and totals == (7, sum(range(7))) and cdb.get_object("b")["size"] == 3
    cdb.delete_object("b")
    assert cdb.info()["object_count"] == 6 and cdb.info()["bytes_used"] == sum(range(7)) - 3
    assert cdb.recount() == (6, sum(range(7)) - 3)


def test_atomic_write_verified_read_and_quarantine(tmp_path):
    ring = Ring(tmp_path, ["d1", "d2"], part_power=4, replicas=2, secret=b"s")
    store = FileStore(ring, fsync=True)
    w = store.writer("AUTH_a", "c", "../../etc/passwd")
    data = os.urandom(300_000)
    w.write(data[:1000])
    w.write(data[1000:])
    w.commit("0000000001.00000", {"headers": {"content-type": "x"}})
    dirs = store.dirs("AUTH_a", "c", "../../etc/passwd")
    assert len(dirs) == 2 and all(str(d).startswith(str(tmp_path / "devices")) for d in dirs)
    h = store.open("AUTH_a", "c", "../../etc/passwd", "0000000001.00000")
    assert h.meta["etag"] == hashlib.md5(data).hexdigest()
    assert b"".join(h.read_verified()) == data
    h.close()
    # flip a byte in the first replica: the whole read fails and the copy is quarantined
    p = dirs[0] / "0000000001.00000.data"
    raw = bytearray(p.read_bytes())
    raw[10] ^= 0xFF
    p.write_bytes(bytes(raw))
    h = Handle(p)
    with pytest.raises(CorruptObject):
        b"".join(h.read_verified())
    assert not p.exists() and (dirs[0].parents[3] / "quarantined").exists()
    # the other replica still serves
    h = store.open("AUTH_a", "c", "../../etc/passwd", "0000000001.00000")
    assert b"".join(h.read_verified()) == data
    h.close()
    # a truncated file is never opened
    (dirs[1] / "0000000001.00000.data").write_bytes(data[:10])
    assert store.open("AUTH_a", "c", "../../etc/passwd", "0000000001.00000") is None
    # an aborted write leaves nothing behind
    w = store.writer("AUTH_a", "c", "o")
    w.write(b"partial")
    w.abort()
    assert not any(any((tmp_path / "devices" / d / "tmp").iterdir()) for d in ("d1", "d2")
                   if (tmp_path / "devices" / d / "tmp").exists())


def test_parse_range():
    assert parse_range("bytes=0-9", 100) == [(0, 10)]
    assert parse_range("bytes=-10", 100) == [(90, 100)]
    assert parse_range("bytes=95-", 100) == [(95, 100)]
    assert parse_range("bytes=0-1,5-6", 100) == [(0, 2), (5, 7)]
    assert parse_range("bytes=5-1", 100) is None
    assert parse_range("items=0-1", 100) is None
    with pytest.raises(errors.RangeNotSatisfiable):
        parse_range("bytes=100-200", 100)


def test_group_commit_keeps_each_change_and_isolates_failures(tmp_path):
    """Concurrent writers share commits; every caller gets its own result, and one failing
    change neither undoes nor blocks the others in its batch."""
    import threading

    db = listing.ContainerDB(tmp_path / "g.db")
    db.create("0000000001.00000", "Policy-0", {})
    c = db._conn()
    results, failures = {}, []
    start = threading.Barrier(16)

    def put(i):
        start.wait()
        results[i] = db.put_object({"name": f"o{i:02d}", "ts": f"{i + 2:010d}.00000", "size": i,
                                    "content_type": "t", "etag": "e", "last_modified": "x"})

    def bad():
        start.wait()
        try:
            c.write(lambda conn: conn.execute("INSERT INTO nosuchtable VALUES (1)"))
        except Exception as e:      # noqa: BLE001 - the error is the point
            failures.append(e)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(15)]
    threads.append(threading.Thread(target=bad))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(failures) == 1 and "nosuchtable" in str(failures[0])
    assert sorted(results) == list(range(15)) and all(prev is None for prev, _ in results.values())
    assert max(totals[0] for _, totals in results.values()) == 15
    assert db.info()["object_count"] == 15 and db.info()["bytes_used"] == sum(range(15))
    assert [r["name"] for r in db.list()] == [f"o{i:02d}" for i in range(15)]
    listing.close_all()


def test_cache_eviction_leaves_a_connection_in_use_working(tmp_path, monkeypatch):
    monkeypatch.setattr(listing, "_CACHE_SIZE", 2)
    held = listing.ContainerDB(tmp_path / "held.db")
    held.create("0000000001.00000", "Policy-0", {})
    conn = held._conn()                      # a request in flight holds this one
    for i in range(5):                       # other containers push it out of the cache
        listing.ContainerDB(tmp_path / f"o{i}.db").create("0000000001.00000", "Policy-0", {})
    assert conn.write(lambda c: c.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")) is not None
    assert held.info()["meta"] == {"k": "v"}
    # a dropped database refuses writes with FileNotFoundError (the service answers 404)
    held.drop()
    with pytest.raises(FileNotFoundError):
        conn.write(lambda c: c.execute("INSERT INTO meta (key, value) VALUES ('k2', 'v')"))
    listing.close_all()
