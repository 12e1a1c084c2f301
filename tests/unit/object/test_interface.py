"""onestack.object.interface, as the image store and volume backups call it (no HTTP)."""
from __future__ import annotations

import asyncio
import hashlib

import pytest

from onestack import conf, errors
from onestack.object import interface, listing, service


@pytest.fixture
def store(tmp_path):
    import onestack.object.conf  # noqa: F401  (registers [object])
    service.setup(conf.load(flags={"state_dir": str(tmp_path)}, env={}))
    yield
    listing.close_all()


def test_put_get_delete_through_the_interface(store):
    interface.ensure_container("p1", "images")
    interface.ensure_container("p1", "images")          # idempotent

    async def chunks():
        for i in range(5):
            yield bytes([i]) * 100_000

    data = b"".join(bytes([i]) * 100_000 for i in range(5))
    out = asyncio.run(interface.put_object("p1", "images", "img-1", chunks(),
                                           content_type="application/x-qemu", metadata={"Kind": "raw"}))
    assert out["etag"] == hashlib.md5(data).hexdigest() and out["bytes"] == len(data)
    info, body = interface.get_object("p1", "images", "img-1")
    assert b"".join(body) == data
    assert info["content_type"] == "application/x-qemu" and info["metadata"] == {"kind": "raw"}
    assert service.container_info("AUTH_p1", "images")["object_count"] == 1
    # another project does not see it
    with pytest.raises(errors.NotFound):
        interface.get_object("p2", "images", "img-1")
    assert interface.delete_object("p1", "images", "img-1") is True
    assert interface.delete_object("p1", "images", "img-1") is False
    assert service.container_info("AUTH_p1", "images")["object_count"] == 0
