"""Image data in onestack's object service: the default store of a cloud that offers
"local" and "object", uploads to a named store, copy-image between them, volumes from an
object-stored image — through the unchanged CLI."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

from tests.harness import RunningCloud


@pytest.fixture(scope="module")
def ocloud(tmp_path_factory):
    c = RunningCloud.start(tmp_path_factory.mktemp("image-object") / "state",
                           env={"ONESTACK_IMAGE__ENABLED_STORES": "local,object",
                                "ONESTACK_IMAGE__DEFAULT_STORE": "object"})
    yield c
    c.destroy()


def _stores(c, image_id):
    r = c.request("GET", f"/image/v2/images/{image_id}", token=c.token())
    assert r.status == 200, r
    return r.json().get("stores")


def _wait(fn, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        out = fn()
        if out:
            return out
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_stores_list_and_object_default(ocloud, tmp_path):
    stores = {s["ID"]: s for s in ocloud.cli("image", "stores", "list")}
    assert set(stores) == {"local", "object"} and stores["object"]["Default"] is True
    data = os.urandom(3 * (1 << 20) + 17)
    src = tmp_path / "img.raw"
    src.write_bytes(data)
    img = ocloud.cli("image", "create", "--file", str(src), "--disk-format", "raw",
                     "--container-format", "bare", "obj-img")
    shown = ocloud.cli("image", "show", img["id"])
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert _stores(ocloud, img["id"]) == "object"
    # the bytes are not a file of the local store; they come back whole from the object store
    assert not (ocloud.state_dir / "images" / img["id"]).exists()
    out = tmp_path / "back.raw"
    ocloud.cli("image", "save", "--file", str(out), img["id"], json_out=False)
    assert out.read_bytes() == data
    # a ranged download (Glance Range) from the object store
    tok = ocloud.token()
    r = ocloud.request("GET", f"/image/v2/images/{img['id']}/file", token=tok,
                       headers={"Range": "bytes=1048570-1048590"})
    assert r.status == 206 and r.body == data[1048570:1048591]
    # copy-image to the local store: the image is then in both
    ocloud.cli("image", "import", img["id"], "--method", "copy-image", "--store", "local", json_out=False)
    _wait(lambda: _stores(ocloud, img["id"]) == "object,local")
    assert (ocloud.state_dir / "images" / img["id"]).read_bytes() == data
    # a volume from the object-stored image holds its bytes
    v = ocloud.cli("volume", "create", "--image", img["id"], "--size", "1", "from-obj")
    _wait(lambda: ocloud.cli("volume", "show", v["id"])["status"] == "available")
    with open(ocloud.state_dir / "volumes" / "file" / f"volume-{v['id']}", "rb") as f:
        assert f.read(len(data)) == data
    # one store's copy can go (never the last one)
    r = ocloud.request("DELETE", f"/image/v2/stores/local/{img['id']}", token=tok)
    assert r.status == 204, r
    assert _stores(ocloud, img["id"]) == "object"
    assert not (ocloud.state_dir / "images" / img["id"]).exists()
    assert ocloud.request("DELETE", f"/image/v2/stores/local/{img['id']}", token=tok).status == 404
    assert ocloud.request("DELETE", f"/image/v2/stores/object/{img['id']}", token=tok).status == 409
    assert ocloud.request("DELETE", f"/image/v2/stores/nowhere/{img['id']}", token=tok).status == 404
    demo = ocloud.token("onestack")
    assert ocloud.request("DELETE", f"/image/v2/stores/object/{img['id']}", token=demo).status in (403, 404)
    # delete removes it from every store
    ocloud.cli("volume", "delete", v["id"], json_out=False)
    ocloud.cli("image", "delete", img["id"], json_out=False)
    assert not (ocloud.state_dir / "images" / img["id"]).exists()


def test_upload_to_a_named_store_and_bad_store(ocloud, tmp_path):
    tok = ocloud.token()
    r = ocloud.request("POST", "/image/v2/images", token=tok,
                       body={"name": "to-local", "disk_format": "raw", "container_format": "bare"})
    image_id = r.json()["id"]
    assert "object" in r.headers.get("openstack-image-store-ids", "")
    data = os.urandom(70_000)
    r = ocloud.request("PUT", f"/image/v2/images/{image_id}/file", token=tok, raw=data,
                       headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "nowhere"})
    assert r.status == 400
    r = ocloud.request("PUT", f"/image/v2/images/{image_id}/file", token=tok, raw=data,
                       headers={"Content-Type": "application/octet-stream", "X-Image-Meta-Store": "local"})
    assert r.status == 204, r
    assert _stores(ocloud, image_id) == "local"
    assert (ocloud.state_dir / "images" / image_id).read_bytes() == data
    r = ocloud.request("POST", f"/image/v2/images/{image_id}/import", token=tok,
                       body={"method": {"name": "copy-image"}, "stores": ["elsewhere"]})
    assert r.status == 409
