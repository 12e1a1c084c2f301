"""The unchanged `openstack image ...` CLI against the cloud."""
from __future__ import annotations

import hashlib
import os


def test_cli_create_file_save_roundtrip(cloud, gl_demo, tmp_path, uniq):
    data = os.urandom(2 * 1024 * 1024 + 3)
    src = tmp_path / "in.img"
    src.write_bytes(data)
    img = cloud.cli("image", "create", "--file", str(src), "--disk-format", "raw",
                    "--container-format", "bare", "--public", "--property", "os_distro=cirros",
                    "--property", "hw_rng_model=virtio", "--min-ram", "32", f"cli-{uniq}")
    assert img["status"] == "active" and img["visibility"] == "public"
    assert img["checksum"] == hashlib.md5(data).hexdigest()
    assert img["size"] == len(data) and img["min_ram"] == 32
    shown = cloud.cli("image", "show", img["id"])
    props = shown["properties"]
    assert props["os_distro"] == "cirros" and props["hw_rng_model"] == "virtio"
    assert props["os_hash_algo"] == "sha512"
    assert props["os_hash_value"] == hashlib.sha512(data).hexdigest()
    out = tmp_path / "out.img"
    cloud.cli("image", "save", "--file", str(out), img["id"], json_out=False)
    assert out.read_bytes() == data
    rows = cloud.cli("image", "list", "--name", f"cli-{uniq}")
    assert [r["ID"] for r in rows] == [img["id"]]
    # the demo project sees the public image
    assert gl_demo.show(img["id"])["name"] == f"cli-{uniq}"
    cloud.cli("image", "delete", img["id"], json_out=False)
    assert gl_demo.req("GET", f"/v2/images/{img['id']}").status == 404


def test_cli_set_unset_tags_protected(cloud, gl_admin, uniq):
    img = cloud.cli("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                    f"cli-set-{uniq}")
    # (the CLI uploads stdin when it is not a terminal: an empty image is accepted as-is)
    assert img["status"] in ("queued", "active")
    cloud.cli("image", "set", "--name", f"cli-set2-{uniq}", "--property", "a=1", "--property", "b=2",
              "--tag", "red", "--tag", "blue", "--min-disk", "4", "--protected", img["id"],
              json_out=False)
    shown = gl_admin.show(img["id"])
    assert shown["name"] == f"cli-set2-{uniq}" and shown["min_disk"] == 4 and shown["protected"]
    assert sorted(shown["tags"]) == ["blue", "red"]
    assert shown["a"] == "1" and shown["b"] == "2"
    cloud.cli("image", "unset", "--property", "a", "--tag", "red", img["id"], json_out=False)
    shown = gl_admin.show(img["id"])
    assert "a" not in shown and shown["tags"] == ["blue"]
    r = cloud.cli("image", "delete", img["id"], json_out=False, check=False)
    assert r.returncode != 0                     # protected
    cloud.cli("image", "set", "--unprotected", img["id"], json_out=False)
    cloud.cli("image", "delete", img["id"], json_out=False)


def test_cli_share_with_project(cloud, gl_demo, uniq, tmp_path):
    src = tmp_path / "s.img"
    src.write_bytes(b"shared data" * 100)
    img = cloud.cli("image", "create", "--file", str(src), "--disk-format", "raw",
                    "--container-format", "bare", "--shared", f"cli-share-{uniq}")
    assert img["visibility"] == "shared"
    demo_ids = lambda: {r["id"] for r in gl_demo.list()}  # noqa: E731
    assert img["id"] not in demo_ids()
    member = cloud.cli("image", "add", "project", img["id"], "demo")
    assert member["status"] == "pending"
    cloud.cli("image", "set", "--accept", img["id"], cloud="onestack", json_out=False)
    assert img["id"] in demo_ids()
    members = cloud.cli("image", "member", "list", img["id"])
    assert [m["Status"] for m in members] == ["accepted"]
    assert gl_demo.req("GET", f"/v2/images/{img['id']}/file").body == src.read_bytes()
    cloud.cli("image", "remove", "project", img["id"], "demo", json_out=False)
    assert img["id"] not in demo_ids()
    cloud.cli("image", "delete", img["id"], json_out=False)


def test_tiny_image_is_registered(cloud, gl_demo):
    rows = cloud.cli("image", "list", "--public", cloud="onestack")
    tiny = [r for r in rows if r["Name"] == "onestack-tiny"]
    assert len(tiny) == 1 and tiny[0]["Status"] == "active"
    shown = gl_demo.show(tiny[0]["ID"])
    assert shown["disk_format"] == "raw" and shown["size"] > 0 and shown["visibility"] == "public"
    assert shown["virtual_size"] == shown["size"]


def test_cli_import_glance_direct(cloud, gl_admin, tmp_path, uniq):
    import time
    data = os.urandom(300000)
    src = tmp_path / "imp.img"
    src.write_bytes(data)
    img = cloud.cli("image", "create", "--import", "--file", str(src), "--disk-format", "raw",
                    "--container-format", "bare", f"cli-imp-{uniq}")
    assert img["status"] in ("importing", "active")
    deadline = time.monotonic() + 90
    while gl_admin.show(img["id"])["status"] != "active" and time.monotonic() < deadline:
        time.sleep(0.2)
    shown = gl_admin.show(img["id"])
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()
    assert gl_admin.req("GET", f"/v2/images/{img['id']}/file").body == data
