"""Backups in onestack's object service ([volume] backup_driver = object): the container
shows in `openstack container list`, restores are byte-for-byte, deletes leave no chunk."""
from __future__ import annotations

import os

import pytest

from tests.functional.volume.conftest import wait_status
from tests.functional.volume.test_volumes import backend_file, create
from tests.harness import RunningCloud


@pytest.fixture(scope="module")
def bcloud(tmp_path_factory):
    c = RunningCloud.start(tmp_path_factory.mktemp("backup-object") / "state",
                           env={"ONESTACK_VOLUME__BACKUP_DRIVER": "object"})
    yield c
    c.destroy()


def test_backup_to_object_store_and_restore(bcloud):
    tok = bcloud.token("onestack")
    v = create(bcloud, tok, size=1, name="src")
    wait_status(bcloud, tok, "volume", v["id"], {"available"})
    payload = os.urandom(5 << 20)
    with open(backend_file(bcloud, v["id"]), "r+b") as f:
        f.seek(100 << 20)
        f.write(payload)
    b = bcloud.cli("volume", "backup", "create", "--container", "my-backups", v["id"], cloud="onestack")
    wait_status(bcloud, tok, "backup", b["id"], {"available"})
    containers = {c["Name"] for c in bcloud.cli("container", "list", cloud="onestack")}
    assert "my-backups" in containers
    objects = [o["Name"] for o in bcloud.cli("object", "list", "my-backups", cloud="onestack")]
    assert f"manifests/{b['id']}.json" in objects and sum(o.startswith("chunks/") for o in objects) == 2
    shown = bcloud.cli("volume", "backup", "show", b["id"], cloud="onestack")
    assert shown["container"] == "my-backups" and shown["object_count"] == 2
    # an incremental backup adds only the chunk that changed
    with open(backend_file(bcloud, v["id"]), "r+b") as f:
        f.seek(300 << 20)
        f.write(b"x" * 4096)
    r = bcloud.request("POST", "/volume/v3/backups", token=tok,
                       body={"backup": {"volume_id": v["id"], "incremental": True, "container": "my-backups"}})
    inc = wait_status(bcloud, tok, "backup", r.json()["backup"]["id"], {"available"})
    objects = [o["Name"] for o in bcloud.cli("object", "list", "my-backups", cloud="onestack")]
    assert sum(o.startswith("chunks/") for o in objects) == 3
    # restore the full backup into a new volume: byte for byte
    restored = bcloud.cli("volume", "backup", "restore", b["id"], "restored", cloud="onestack")
    new_id = restored.get("volume_id") or restored.get("id")
    wait_status(bcloud, tok, "volume", new_id, {"available"})
    with open(backend_file(bcloud, v["id"]), "rb") as f1, open(backend_file(bcloud, new_id), "rb") as f2:
        f1.seek(100 << 20)
        f2.seek(100 << 20)
        assert f2.read(len(payload)) == f1.read(len(payload)) == payload
        f2.seek(300 << 20)
        assert f2.read(4096) == bytes(4096), "the full backup predates the later write"
    # deleting both backups leaves no chunk behind
    for bid in (inc["id"], b["id"]):
        bcloud.cli("volume", "backup", "delete", bid, cloud="onestack", json_out=False)
        wait_status(bcloud, tok, "backup", bid, {"deleted"})
    assert bcloud.cli("object", "list", "my-backups", cloud="onestack") == []
