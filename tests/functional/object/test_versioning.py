"""Object versioning, new style (X-Versions-Enabled, as upstream's object_versioning):
every PUT is a version with an id, DELETE writes a delete marker, ?versions lists them all,
?version-id reads, copies and deletes one; the legacy modes cannot be mixed in."""
from __future__ import annotations

import hashlib

import pytest
import swiftclient

from tests.functional.object.test_swift_api import put

MARKER_TYPE = "application/x-deleted;swift_versions_deleted=1"


@pytest.fixture
def vcont(demo, uniq):
    name = f"v-{uniq}"
    assert demo.req("PUT", f"/{name}", headers={"X-Versions-Enabled": "true"}).status == 201
    yield name


def versions(user, cont, query=""):
    return user.req("GET", f"/{cont}?versions&format=json{query}").json()


def test_versions_enabled_put_get_delete_cycle(demo, vcont):
    head = demo.req("HEAD", f"/{vcont}")
    assert head.headers["x-versions-enabled"] == "True"
    ids = []
    for body in (b"one", b"two", b"three"):
        r = put(demo, f"/{vcont}/doc", body)
        assert r.status == 201
        ids.append(r.headers["x-object-version-id"])
    assert len(set(ids)) == 3
    # the current object is the newest version and says which one it is
    r = demo.req("GET", f"/{vcont}/doc")
    assert r.body == b"three" and r.headers["x-object-version-id"] == ids[2]
    # each older version reads back by id
    for vid, body in zip(ids, (b"one", b"two", b"three")):
        r = demo.req("GET", f"/{vcont}/doc?version-id={vid}")
        assert r.status == 200 and r.body == body and r.headers["x-object-version-id"] == vid
        h = demo.req("HEAD", f"/{vcont}/doc?version-id={vid}")
        assert h.status == 200 and h.headers["content-length"] == str(len(body))
    # the plain listing shows the name once; ?versions shows all, newest first
    assert [o["name"] for o in demo.req("GET", f"/{vcont}?format=json").json()] == ["doc"]
    rows = versions(demo, vcont)
    assert [r["version_id"] for r in rows] == ids[::-1]
    assert [r["is_latest"] for r in rows] == [True, False, False]
    assert rows[2]["hash"] == hashlib.md5(b"one").hexdigest() and rows[2]["bytes"] == 3

    # DELETE writes a delete marker: the name 404s, every version stays
    r = demo.req("DELETE", f"/{vcont}/doc")
    assert r.status == 204
    marker = r.headers["x-object-version-id"]
    assert demo.req("GET", f"/{vcont}/doc").status == 404
    assert demo.req("GET", f"/{vcont}?format=json").json() == []
    rows = versions(demo, vcont)
    assert rows[0]["version_id"] == marker and rows[0]["content_type"] == MARKER_TYPE
    assert rows[0]["is_latest"] is True and rows[0]["bytes"] == 0
    assert [r["version_id"] for r in rows[1:]] == ids[::-1]
    assert demo.req("GET", f"/{vcont}/doc?version-id={marker}").status == 404
    assert demo.req("GET", f"/{vcont}/doc?version-id={ids[1]}").body == b"two"
    # container stats count current objects; a versioned container with versions is not empty
    assert demo.req("HEAD", f"/{vcont}").headers["x-container-object-count"] == "0"
    assert demo.req("DELETE", f"/{vcont}").status == 409

    # restore an old version by COPY ?version-id
    r = demo.req("COPY", f"/{vcont}/doc?version-id={ids[0]}",
                 headers={"Destination": f"{vcont}/doc"})
    assert r.status == 201
    assert demo.req("GET", f"/{vcont}/doc").body == b"one"

    # DELETE ?version-id removes exactly that version (no marker written)
    n = len(versions(demo, vcont))
    assert demo.req("DELETE", f"/{vcont}/doc?version-id={ids[1]}").status == 204
    assert demo.req("GET", f"/{vcont}/doc?version-id={ids[1]}").status == 404
    assert len(versions(demo, vcont)) == n - 1
    assert demo.req("DELETE", f"/{vcont}/doc?version-id={ids[1]}").status == 404
    # deleting the current version by id takes the object away (as upstream)
    cur = demo.req("HEAD", f"/{vcont}/doc").headers["x-object-version-id"]
    assert demo.req("DELETE", f"/{vcont}/doc?version-id={cur}").status == 204
    assert demo.req("GET", f"/{vcont}/doc").status == 404

    # emptied of every version (and markers), the container can go
    for r in versions(demo, vcont):
        assert demo.req("DELETE", f"/{vcont}/doc?version-id={r['version_id']}").status == 204
    assert versions(demo, vcont) == []
    assert demo.req("DELETE", f"/{vcont}").status == 204


def test_disable_keeps_versions_and_null_version(demo, vcont):
    v1 = put(demo, f"/{vcont}/o", b"v1").headers["x-object-version-id"]
    assert demo.req("POST", f"/{vcont}", headers={"X-Versions-Enabled": "false"}).status == 204
    assert demo.req("HEAD", f"/{vcont}").headers["x-versions-enabled"] == "False"
    # with versioning off, writes get the "null" id and overwrite each other
    r = put(demo, f"/{vcont}/o", b"n1")
    assert r.headers["x-object-version-id"] == "null"
    put(demo, f"/{vcont}/o", b"n2")
    rows = versions(demo, vcont)
    assert [(r["version_id"], r["is_latest"]) for r in rows] == [("null", True), (v1, False)]
    assert demo.req("GET", f"/{vcont}/o?version-id=null").body == b"n2"
    assert demo.req("GET", f"/{vcont}/o?version-id={v1}").body == b"v1"
    # re-enabled: the null version is kept when overwritten
    demo.req("POST", f"/{vcont}", headers={"X-Versions-Enabled": "true"})
    v3 = put(demo, f"/{vcont}/o", b"v3").headers["x-object-version-id"]
    assert [r["version_id"] for r in versions(demo, vcont)] == [v3, "null", v1]
    assert demo.req("GET", f"/{vcont}/o?version-id=null").body == b"n2"


def test_versions_listing_pages_and_prefix(demo, vcont):
    ids = {}
    for name in ("a", "b"):
        ids[name] = [put(demo, f"/{vcont}/{name}", f"{name}{i}".encode()).headers["x-object-version-id"]
                     for i in range(3)]
    rows = versions(demo, vcont)
    assert [(r["name"], r["version_id"]) for r in rows] == \
        [("a", v) for v in ids["a"][::-1]] + [("b", v) for v in ids["b"][::-1]]
    page = versions(demo, vcont, "&limit=2")
    assert [r["version_id"] for r in page] == ids["a"][::-1][:2]
    nxt = versions(demo, vcont, f"&limit=2&marker=a&version_marker={page[-1]['version_id']}")
    assert [(r["name"], r["version_id"]) for r in nxt] == [("a", ids["a"][0]), ("b", ids["b"][2])]
    assert {r["name"] for r in versions(demo, vcont, "&prefix=b")} == {"b"}
    xml = demo.req("GET", f"/{vcont}?versions&format=xml").body.decode()
    assert f"<version_id>{ids['b'][2]}</version_id><is_latest>true</is_latest>" in xml


def test_versioning_bad_input_and_legacy_exclusion(demo, vcont, uniq):
    put(demo, f"/{vcont}/x", b"x")
    for bad in ("abc", "-1", "nan", "1e400"):
        assert demo.req("GET", f"/{vcont}/x?version-id={bad}").status == 400
    assert demo.req("GET", f"/{vcont}/x?version-id=1234.5").status == 404
    assert put(demo, f"/{vcont}/x?version-id=null", b"y").status == 400
    assert demo.req("POST", f"/{vcont}/x?version-id=null").status == 400
    assert demo.req("GET", f"/{vcont}?versions&version_marker=1234.5").status == 400
    # the new mode and the legacy ones exclude each other
    r = demo.req("POST", f"/{vcont}", headers={"X-Versions-Location": f"arch-{uniq}"})
    assert r.status == 400
    legacy = f"legacy-{uniq}"
    demo.req("PUT", f"/{legacy}", headers={"X-History-Location": f"arch-{uniq}"})
    assert demo.req("POST", f"/{legacy}", headers={"X-Versions-Enabled": "true"}).status == 400
    assert demo.req("PUT", f"/{legacy}-2", headers={"X-Versions-Enabled": "true",
                                                    "X-Versions-Location": "z"}).status == 400
    demo.req("DELETE", f"/{legacy}")


def test_versions_with_swiftclient_and_isolation(cloud, demo, sadmin, vcont):
    conn = swiftclient.Connection(preauthurl=demo.url, preauthtoken=demo.token)
    first = conn.put_object(vcont, "sc", b"first", response_dict=(rd := {}))
    v1 = rd["headers"]["x-object-version-id"]
    conn.put_object(vcont, "sc", b"second")
    headers, body = conn.get_object(vcont, "sc", query_string=f"version-id={v1}")
    assert body == b"first" and headers["x-object-version-id"] == v1 and first
    _, listing = conn.get_container(vcont, query_string="versions")
    assert [r["version_id"] for r in listing][-1] == v1
    # another project sees none of it, by name or by version id
    for path in (f"/{vcont}/sc?version-id={v1}", f"/{vcont}?versions"):
        other = cloud.request("GET", f"{demo.path}{path}", token=sadmin.token)
        assert other.status == 403, path
