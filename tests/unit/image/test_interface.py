"""image/interface.py as compute and volume call it (in-process, real DB and store on disk)."""
from __future__ import annotations

import hashlib
import os

import pytest

from onestack import conf, db, errors
from onestack.context import RequestContext


@pytest.fixture(scope="module")
def image_api(tmp_path_factory):
    import onestack.image  # noqa: F401  (registers [image], models, tasks)
    from onestack.db import migrate
    state = tmp_path_factory.mktemp("imgstate")
    previous = conf._current
    settings = conf.load({"state_dir": str(state)}, env={})
    conf.set_current(settings)
    db.init(f"sqlite:///{state / 'onestack.db'}")
    migrate.upgrade()
    from onestack.image import interface, service
    service._store = service._staging = None
    yield interface
    service._store = service._staging = None
    conf._current = previous


def _ctx(project: str) -> RequestContext:
    return RequestContext(user_id="u-" + project, project_id=project, roles=["member", "reader"])


def test_snapshot_flow(image_api, tmp_path):
    ctx = _ctx("p1")
    img = image_api.create_image(ctx, "snap", "raw", "bare",
                                 {"instance_uuid": "abc", "hw_disk_bus": "virtio", "n": 5},
                                 min_disk=1, min_ram=64)
    assert img["status"] == "queued" and img["owner"] == "p1" and img["visibility"] == "private"
    assert img["properties"] == {"instance_uuid": "abc", "hw_disk_bus": "virtio", "n": "5"}
    assert image_api.image_path(img["id"]) is None
    data = os.urandom(3 * 1024 * 1024)
    src = tmp_path / "disk.raw"
    src.write_bytes(data)
    done = image_api.upload_from_file(ctx, img["id"], str(src))
    assert done["status"] == "active" and done["size"] == len(data)
    assert done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert done["virtual_size"] == len(data)
    path = image_api.image_path(img["id"])
    assert path and open(path, "rb").read() == data
    assert b"".join(image_api.open_image(img["id"])) == data
    got = image_api.get_image(ctx, img["id"])
    assert got["min_disk"] == 1 and got["min_ram"] == 64
    assert got["properties"]["hw_disk_bus"] == "virtio"
    # another project does not see a private image
    with pytest.raises(errors.NotFound):
        image_api.get_image(_ctx("p2"), img["id"])
    image_api.delete_image(ctx, img["id"])
    assert image_api.image_path(img["id"]) is None
    with pytest.raises(errors.NotFound):
        image_api.get_image(ctx, img["id"])
    with pytest.raises(errors.NotFound):
        image_api.open_image(img["id"])


def test_upload_from_file_rejects_unsafe_qcow2(image_api, tmp_path):
    import struct
    ctx = _ctx("p1")
    img = image_api.create_image(ctx, "bad", "qcow2", "bare")
    h = bytearray(4096)
    h[0:4] = b"QFI\xfb"
    struct.pack_into(">IQ", h, 4, 3, 512)          # version 3, backing file at 512
    struct.pack_into(">I", h, 20, 16)
    src = tmp_path / "bad.qcow2"
    src.write_bytes(bytes(h))
    with pytest.raises(errors.BadRequest, match="backing file"):
        image_api.upload_from_file(ctx, img["id"], str(src))
    again = image_api.get_image(ctx, img["id"])
    assert again["status"] == "queued" and again["size"] is None
    assert image_api.image_path(img["id"]) is None


def test_bad_arguments(image_api):
    with pytest.raises(errors.BadRequest):
        image_api.create_image(_ctx("p1"), "x", "exe", "bare")
    with pytest.raises(errors.NotFound):
        image_api.get_image(_ctx("p1"), "no-such-image")
