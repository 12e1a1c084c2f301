"""Glance v2 over raw HTTP: discovery, schemas, CRUD, JSON patch, status machine, data, lists."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time

import pytest

from tests.functional.image.conftest import OCTET, PATCH, qcow2_header


def test_version_discovery(cloud):
    r = cloud.request("GET", "/image/")
    assert r.status == 300
    versions = r.json()["versions"]
    current = [v for v in versions if v["status"] == "CURRENT"]
    assert len(current) == 1 and current[0]["id"].startswith("v2.")
    assert current[0]["links"][0]["href"] == f"{cloud.url}/image/v2/"
    assert {"v2.0", "v2.1"} <= {v["id"] for v in versions}
    assert cloud.request("GET", "/image/versions").status == 200


def test_catalog_has_image_endpoint(cloud):
    rows = cloud.cli("catalog", "list")
    image = next(row for row in rows if row["Type"] == "image")
    assert f"{cloud.url}/image" in str(image["Endpoints"])


@pytest.mark.parametrize("name,key", [("image", "properties"), ("images", "properties"),
                                      ("member", "properties"), ("members", "properties")])
def test_schemas(gl_admin, name, key):
    r = gl_admin.req("GET", f"/v2/schemas/{name}")
    assert r.status == 200
    body = r.json()
    assert body["name"] == name and key in body
    if name == "image":
        props = body["properties"]
        assert props["checksum"]["readOnly"] is True
        assert "qcow2" in props["disk_format"]["enum"] and "bare" in props["container_format"]["enum"]
        assert body["additionalProperties"] == {"type": "string"}


def test_create_show_defaults(gl_admin):
    img = gl_admin.create(name="defaults", min_ram=64, hw_disk_bus="scsi", tags=["a", "b", "a"])
    assert img["status"] == "queued"
    assert img["visibility"] == "shared"       # upstream default since Pike
    assert img["protected"] is False and img["os_hidden"] is False
    assert img["size"] is None and img["checksum"] is None and img["virtual_size"] is None
    assert img["min_ram"] == 64 and img["min_disk"] == 0
    assert img["hw_disk_bus"] == "scsi"
    assert sorted(img["tags"]) == ["a", "b"]
    assert img["self"] == f"/v2/images/{img['id']}" and img["file"].endswith("/file")
    assert img["schema"] == "/v2/schemas/image"
    assert img["created_at"].endswith("Z")
    assert gl_admin.show(img["id"]) == img


def test_create_with_id_and_duplicate_id(gl_admin):
    import uuid
    image_id = str(uuid.uuid4())
    assert gl_admin.create(id=image_id)["id"] == image_id
    gl_admin.create(id=image_id, expect=409)
    gl_admin.req("DELETE", f"/v2/images/{image_id}")
    gl_admin.create(id=image_id, expect=409)       # ids of deleted images are never reused


@pytest.mark.parametrize("body,status", [
    ({"status": "active"}, 403),
    ({"checksum": "x"}, 403),
    ({"size": 5}, 403),
    ({"self": "/x"}, 403),
    ({"location": "file:///etc/passwd"}, 403),
    ({"deleted": "true"}, 403),
    ({"os_glance_import_task": "x"}, 403),
    ({"visibility": "everyone"}, 400),
    ({"disk_format": "exe"}, 400),
    ({"container_format": "zip"}, 400),
    ({"min_disk": -1}, 400),
    ({"min_ram": "lots"}, 400),
    ({"min_ram": 2 ** 40}, 400),
    ({"protected": "yes"}, 400),
    ({"name": "x" * 256}, 400),
    ({"custom": 5}, 400),
    ({"x" * 256: "v"}, 400),
    ({"id": "not-a-uuid"}, 400),
    ({"tags": "notalist"}, 400),
    ({"tags": ["x" * 256]}, 400),
    ({"kernel_id": "nope"}, 400),
])
def test_create_rejects_bad_bodies(gl_admin, body, status):
    before = len(gl_admin.list("limit=1000"))
    r = gl_admin.req("POST", "/v2/images", body=body)
    assert r.status == status, r
    assert r.headers["content-type"].startswith("text/plain")
    assert str(status) in r.body.decode()
    assert len(gl_admin.list("limit=1000")) == before     # nothing half-created


def test_create_non_json_and_wrong_shapes(gl_admin):
    for raw in (b"{bad", b"[]", b'"x"', b"null"):
        r = gl_admin.req("POST", "/v2/images", raw=raw, headers={"Content-Type": "application/json"})
        assert r.status == 400, (raw, r)


def test_demo_cannot_publicize_but_can_communitize(gl_demo):
    gl_demo.create(visibility="public", expect=403)
    img = gl_demo.create(visibility="community")
    assert img["visibility"] == "community"


def test_demo_cannot_create_for_another_owner(gl_demo):
    gl_demo.create(owner="someoneelse", expect=403)


def test_patch_add_replace_remove(gl_admin):
    img = gl_admin.create(name="p1")
    out = gl_admin.patch(img["id"], [
        {"op": "replace", "path": "/name", "value": "p2"},
        {"op": "add", "path": "/os_distro", "value": "cirros"},
        {"op": "add", "path": "/hw_qemu_guest_agent", "value": "yes"},
        {"op": "replace", "path": "/min_disk", "value": 3},
        {"op": "add", "path": "/tags", "value": ["x", "y"]},
        {"op": "replace", "path": "/protected", "value": True},
    ])
    assert out["name"] == "p2" and out["os_distro"] == "cirros" and out["min_disk"] == 3
    assert sorted(out["tags"]) == ["x", "y"] and out["protected"] is True
    out = gl_admin.patch(img["id"], [{"op": "remove", "path": "/os_distro"},
                                     {"op": "replace", "path": "/hw_qemu_guest_agent", "value": "no"},
                                     {"op": "replace", "path": "/protected", "value": False}])
    assert "os_distro" not in out and out["hw_qemu_guest_agent"] == "no"
    assert gl_admin.show(img["id"]) == out
    # property names with '/' and '~' via JSON pointer escapes
    out = gl_admin.patch(img["id"], [{"op": "add", "path": "/a~1b~0c", "value": "v"}])
    assert out["a/b~c"] == "v"


@pytest.mark.parametrize("ops,status", [
    ([{"op": "replace", "path": "/status", "value": "active"}], 403),
    ([{"op": "replace", "path": "/checksum", "value": "x"}], 403),
    ([{"op": "add", "path": "/size", "value": 1}], 403),
    ([{"op": "replace", "path": "/id", "value": "x"}], 403),
    ([{"op": "add", "path": "/deleted", "value": "x"}], 403),
    ([{"op": "add", "path": "/os_glance_foo", "value": "x"}], 403),
    ([{"op": "remove", "path": "/name"}], 403),
    ([{"op": "remove", "path": "/nonexistent"}], 409),
    ([{"op": "replace", "path": "/nonexistent", "value": "v"}], 409),
    ([{"op": "move", "path": "/name", "value": "v"}], 400),
    ([{"op": "add", "path": "name", "value": "v"}], 400),
    ([{"op": "add", "path": "/a/b", "value": "v"}], 400),
    ([{"op": "add", "path": "/name"}], 400),
    ([{"op": "add", "path": "/min_ram", "value": -5}], 400),
    ([{"op": "add", "path": "/prop", "value": 7}], 400),
    ([{"op": "replace", "path": "/visibility", "value": "nope"}], 400),
    ({"op": "add"}, 400),
    (["x"], 400),
])
def test_patch_rejections(gl_admin, ops, status):
    img = gl_admin.create()
    gl_admin.patch(img["id"], ops, expect=status)
    assert gl_admin.show(img["id"]) == img          # unchanged


def test_patch_needs_patch_content_type(gl_admin):
    img = gl_admin.create()
    r = gl_admin.req("PATCH", f"/v2/images/{img['id']}", body=[{"op": "replace", "path": "/name",
                                                                  "value": "n"}])
    assert r.status == 415
    assert "application/openstack-images-v2.1-json-patch" in r.headers["accept-patch"]
    # the draft-4 (v2.0) flavour is accepted too
    r = gl_admin.req("PATCH", f"/v2/images/{img['id']}",
                     raw=json.dumps([{"replace": "/name", "value": "old-style"}]).encode(),
                     headers={"Content-Type": "application/openstack-images-v2.0-json-patch"})
    assert r.status == 200 and r.json()["name"] == "old-style"


def test_upload_download_checksums_and_ranges(gl_admin):
    data = os.urandom(3 * 1024 * 1024 + 17)
    img = gl_admin.create(disk_format="raw")
    gl_admin.upload(img["id"], data)
    got = gl_admin.show(img["id"])
    assert got["status"] == "active" and got["size"] == len(data)
    assert got["checksum"] == hashlib.md5(data).hexdigest()
    assert got["os_hash_algo"] == "sha512"
    assert got["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert got["virtual_size"] == len(data)
    r = gl_admin.req("GET", f"/v2/images/{img['id']}/file")
    assert r.status == 200 and r.body == data
    assert r.headers["content-md5"] == got["checksum"]
    assert r.headers["content-type"] == OCTET
    r = gl_admin.req("GET", f"/v2/images/{img['id']}/file", headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    r = gl_admin.req("GET", f"/v2/images/{img['id']}/file", headers={"Range": "bytes=-5"})
    assert r.status == 206 and r.body == data[-5:]
    r = gl_admin.req("GET", f"/v2/images/{img['id']}/file", headers={"Range": "bytes=100-"})
    assert r.status == 206 and r.body == data[100:]
    r = gl_admin.req("GET", f"/v2/images/{img['id']}/file",
                     headers={"Range": f"bytes={len(data) + 5}-"})
    assert r.status == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    r = gl_admin.req("GET", f"/v2/images/{img['id']}/file", headers={"Range": "pages=1-2"})
    assert r.status == 400


def test_status_machine(gl_admin):
    img = gl_admin.create()
    r = gl_admin.req("GET", f"/v2/images/{img['id']}/file")
    assert r.status == 204                           # no data yet
    gl_admin.upload(img["id"], b"abc")
    gl_admin.upload(img["id"], b"again", expect=409)  # active images take no more data
    # disk_format of a non-queued image is fixed
    gl_admin.patch(img["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}],
                   expect=403)
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/actions/deactivate")
    assert r.status == 204
    assert gl_admin.show(img["id"])["status"] == "deactivated"
    assert gl_admin.req("POST", f"/v2/images/{img['id']}/actions/deactivate").status == 204
    assert gl_admin.req("GET", f"/v2/images/{img['id']}/file").status == 200   # admin may
    assert gl_admin.req("POST", f"/v2/images/{img['id']}/actions/reactivate").status == 204
    assert gl_admin.show(img["id"])["status"] == "active"
    queued = gl_admin.create()
    r = gl_admin.req("POST", f"/v2/images/{queued['id']}/actions/deactivate")
    assert r.status == 403
    r = gl_admin.req("DELETE", f"/v2/images/{img['id']}")
    assert r.status == 204
    assert gl_admin.req("GET", f"/v2/images/{img['id']}").status == 404
    assert gl_admin.req("DELETE", f"/v2/images/{img['id']}").status == 404


def test_upload_needs_formats_and_octet_stream(gl_admin):
    r = gl_admin.req("POST", "/v2/images", body={"name": "noformat"})
    img = r.json()
    gl_admin.upload(img["id"], b"abc", expect=400)
    assert gl_admin.show(img["id"])["status"] == "queued"
    img = gl_admin.create()
    r = gl_admin.req("PUT", f"/v2/images/{img['id']}/file", raw=b"abc",
                     headers={"Content-Type": "text/plain"})
    assert r.status == 415
    assert gl_admin.show(img["id"])["status"] == "queued"


def test_deactivated_download_forbidden_for_non_admin(gl_admin, gl_demo):
    img = gl_admin.create(visibility="public")
    gl_admin.upload(img["id"], b"secret-ish")
    assert gl_demo.req("GET", f"/v2/images/{img['id']}/file").status == 200
    gl_admin.req("POST", f"/v2/images/{img['id']}/actions/deactivate")
    assert gl_demo.req("GET", f"/v2/images/{img['id']}/file").status == 403
    assert gl_demo.req("POST", f"/v2/images/{img['id']}/actions/reactivate").status == 403
    gl_admin.req("DELETE", f"/v2/images/{img['id']}")


def test_protected_image_cannot_be_deleted(gl_admin):
    img = gl_admin.create(protected=True)
    r = gl_admin.req("DELETE", f"/v2/images/{img['id']}")
    assert r.status == 403 and b"protected" in r.body
    gl_admin.patch(img["id"], [{"op": "replace", "path": "/protected", "value": False}])
    assert gl_admin.req("DELETE", f"/v2/images/{img['id']}").status == 204


def test_tags_api(gl_admin):
    img = gl_admin.create()
    assert gl_admin.req("PUT", f"/v2/images/{img['id']}/tags/alpha").status == 204
    assert gl_admin.req("PUT", f"/v2/images/{img['id']}/tags/alpha").status == 204  # idempotent
    assert gl_admin.req("PUT", f"/v2/images/{img['id']}/tags/beta").status == 204
    assert sorted(gl_admin.show(img["id"])["tags"]) == ["alpha", "beta"]
    assert gl_admin.req("DELETE", f"/v2/images/{img['id']}/tags/alpha").status == 204
    assert gl_admin.req("DELETE", f"/v2/images/{img['id']}/tags/alpha").status == 404
    assert gl_admin.show(img["id"])["tags"] == ["beta"]
    assert gl_admin.req("PUT", f"/v2/images/{img['id']}/tags/{'x' * 256}").status == 400


def test_list_filters_sort_and_pages(gl_admin):
    tag = f"flt-{time.time_ns()}"
    made = []
    for i, size in enumerate((10, 2000, 50000)):
        img = gl_admin.create(name=f"{tag}-{i}", tags=[tag], disk_format=("raw", "iso", "raw")[i])
        if i != 1:
            gl_admin.upload(img["id"], os.urandom(size))
        made.append(img)
    ids = {m["id"] for m in made}
    got = gl_admin.list(f"tag={tag}")
    assert {i["id"] for i in got} == ids
    assert [i["id"] for i in got] == [m["id"] for m in reversed(made)]   # created_at desc
    assert [i["name"] for i in gl_admin.list(f"tag={tag}&sort=name:asc")] == \
        [f"{tag}-0", f"{tag}-1", f"{tag}-2"]
    assert [i["name"] for i in gl_admin.list(f"tag={tag}&sort_key=name&sort_dir=desc")] == \
        [f"{tag}-2", f"{tag}-1", f"{tag}-0"]
    assert {i["id"] for i in gl_admin.list(f"tag={tag}&size_min=1000")} == {made[2]["id"]}
    assert {i["id"] for i in gl_admin.list(f"tag={tag}&size_max=1000")} == {made[0]["id"]}
    assert {i["id"] for i in gl_admin.list(f"tag={tag}&status=queued")} == {made[1]["id"]}
    assert {i["id"] for i in gl_admin.list(f"tag={tag}&disk_format=iso")} == {made[1]["id"]}
    assert {i["id"] for i in gl_admin.list(f"name={tag}-1")} == {made[1]["id"]}
    assert {i["id"] for i in gl_admin.list(f"name=in:{tag}-0,{tag}-2")} == {made[0]["id"], made[2]["id"]}
    assert {i["id"] for i in gl_admin.list(f"id=in:{made[0]['id']},{made[1]['id']}")} == \
        {made[0]["id"], made[1]["id"]}
    past = (dt.datetime.utcnow() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (dt.datetime.utcnow() + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {i["id"] for i in gl_admin.list(f"tag={tag}&created_at=gte:{past}")} == ids
    assert gl_admin.list(f"tag={tag}&created_at=gt:{future}") == []
    assert {i["id"] for i in gl_admin.list(f"tag={tag}&updated_at=lt:{future}")} == ids
    # pagination: limit + next link until exhausted
    r = gl_admin.req("GET", f"/v2/images?tag={tag}&limit=2")
    body = r.json()
    assert len(body["images"]) == 2 and body["first"] == "/v2/images"
    assert "marker=" in body["next"] and body["next"].startswith("/v2/images?")
    page2 = gl_admin.req("GET", body["next"]).json()
    assert len(page2["images"]) == 1 and "next" not in page2
    assert {i["id"] for i in body["images"] + page2["images"]} == ids


@pytest.mark.parametrize("query", ["sort_key=bogus", "sort_dir=sideways", "limit=-1", "limit=x",
                                   "visibility=everyone", "member_status=maybe",
                                   "created_at=gte:notadate", "size_min=big",
                                   "sort=name:asc&sort_key=name", "marker=nosuchimage",
                                   "os_hidden=perhaps", "changes-since=2020-01-01"])
def test_list_bad_queries(gl_admin, query):
    assert gl_admin.req("GET", f"/v2/images?{query}").status == 400


def test_os_hidden_and_property_filter(gl_admin):
    marker = f"hid-{time.time_ns()}"
    hidden = gl_admin.create(name=marker, os_hidden=True, flavour=marker)
    assert hidden["id"] not in {i["id"] for i in gl_admin.list(f"name={marker}")}
    assert hidden["id"] in {i["id"] for i in gl_admin.list(f"name={marker}&os_hidden=true")}
    assert {i["id"] for i in gl_admin.list(f"flavour={marker}&os_hidden=true")} == {hidden["id"]}


def test_info_endpoints(gl_admin, gl_demo):
    stores = gl_admin.req("GET", "/v2/info/stores").json()["stores"]
    assert stores == [{"id": "local", "description": "Local filesystem store", "default": True}]
    assert gl_admin.req("GET", "/v2/info/stores/detail").status == 200
    assert gl_demo.req("GET", "/v2/info/stores/detail").status == 403
    methods = gl_admin.req("GET", "/v2/info/import").json()["import-methods"]["value"]
    assert "glance-direct" in methods
    usage = gl_demo.req("GET", "/v2/info/usage").json()["usage"]
    assert set(usage) >= {"image_count_total", "image_size_total", "image_stage_total",
                          "image_count_uploading"}


def test_unknown_paths_are_glance_shaped_404(gl_admin):
    r = gl_admin.req("GET", "/v2/nothing-here")
    assert r.status == 404 and r.headers["content-type"].startswith("text/plain")
    r = gl_admin.req("DELETE", "/v2/schemas/image")
    assert r.status == 405


def test_requires_token(cloud):
    assert cloud.request("GET", "/image/v2/images").status == 401


def test_empty_image_id_is_404(gl_admin):
    for method in ("GET", "DELETE"):
        assert gl_admin.req(method, "/v2/images/").status == 404
