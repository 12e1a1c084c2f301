"""Cinder v3 through the unchanged CLI, openstacksdk and raw HTTP, with real files behind."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.functional.volume.conftest import wait_status


def backend_file(cloud, volume_id: str, backend: str = "file") -> Path:
    return cloud.state_dir / "volumes" / backend / f"volume-{volume_id}"


def create(cloud, token, version="3.0", **body):
    r = cloud.request("POST", "/volume/v3/volumes", token=token, body={"volume": body},
                      headers={"OpenStack-API-Version": f"volume {version}"})
    assert r.status == 202, r
    return r.json()["volume"]


def test_cli_volume_lifecycle(cloud, uniq):
    v = cloud.cli("volume", "create", "--size", "1", f"vol-{uniq}")
    assert v["size"] == 1 and v["status"] in ("creating", "available")
    tok = cloud.token()
    wait_status(cloud, tok, "volume", v["id"], {"available"})
    path = backend_file(cloud, v["id"])
    assert path.stat().st_size == 1 << 30
    assert path.stat().st_blocks == 0, "a new volume is a sparse file"
    # extend (volume set --size)
    cloud.cli("volume", "set", "--size", "2", v["id"], json_out=False)
    body = wait_status(cloud, tok, "volume", v["id"], {"available"})
    assert body["size"] == 2 and path.stat().st_size == 2 << 30
    # snapshot, volume from snapshot and from volume
    snap = cloud.cli("volume", "snapshot", "create", "--volume", v["id"], f"snap-{uniq}")
    wait_status(cloud, tok, "snapshot", snap["id"], {"available"})
    from_snap = cloud.cli("volume", "create", "--snapshot", snap["id"], f"fs-{uniq}")
    from_vol = cloud.cli("volume", "create", "--source", v["id"], "--size", "3", f"fv-{uniq}")
    for x in (from_snap, from_vol):
        wait_status(cloud, tok, "volume", x["id"], {"available"})
    assert backend_file(cloud, from_vol["id"]).stat().st_size == 3 << 30
    listed = {row["ID"] for row in cloud.cli("volume", "list")}
    assert {v["id"], from_snap["id"], from_vol["id"]} <= listed
    # a volume with snapshots cannot be deleted without cascade
    r = cloud.request("DELETE", f"/volume/v3/volumes/{v['id']}", token=tok)
    assert r.status == 400 and "snapshot" in r.json()["badRequest"]["message"]
    r = cloud.request("DELETE", f"/volume/v3/volumes/{v['id']}?cascade=true", token=tok)
    assert r.status == 202
    wait_status(cloud, tok, "volume", v["id"], {"deleted"})
    assert not path.exists()
    cloud.cli("volume", "delete", from_snap["id"], from_vol["id"], json_out=False)
    for x in (from_snap, from_vol):
        wait_status(cloud, tok, "volume", x["id"], {"deleted"})
        assert not backend_file(cloud, x["id"]).exists()


def test_type_selects_qcow2_backend_with_backing_chains(cloud, uniq):
    t = cloud.cli("volume", "type", "create", "--property", "volume_backend_name=qcow2", f"q-{uniq}")
    assert t["properties"] == {"volume_backend_name": "qcow2"} or \
        "volume_backend_name" in str(t.get("properties"))
    tok = cloud.token()
    v = create(cloud, tok, size=1, name=f"qv-{uniq}", volume_type=t["name"])
    wait_status(cloud, tok, "volume", v["id"], {"available"})
    assert backend_file(cloud, v["id"], "qcow2").read_bytes()[:4] == b"QFI\xfb"
    r = cloud.request("POST", "/volume/v3/snapshots", token=tok,
                      body={"snapshot": {"volume_id": v["id"], "name": f"qs-{uniq}"}})
    assert r.status == 202, r
    snap = r.json()["snapshot"]
    wait_status(cloud, tok, "snapshot", snap["id"], {"available"})
    child = create(cloud, tok, snapshot_id=snap["id"], name=f"qc-{uniq}")
    wait_status(cloud, tok, "volume", child["id"], {"available"})
    import subprocess
    info = subprocess.run(["qemu-img", "info", "-U", str(backend_file(cloud, child["id"], "qcow2"))],
                          capture_output=True, text=True).stdout
    assert f"snapshot-{snap['id']}" in info, info
    # deleting the snapshot rebases its dependents first: both volumes stay readable
    assert cloud.request("DELETE", f"/volume/v3/snapshots/{snap['id']}", token=tok).status == 202
    wait_status(cloud, tok, "snapshot", snap["id"], {"deleted"})
    for vid in (v["id"], child["id"]):
        r = subprocess.run(["qemu-img", "check", str(backend_file(cloud, vid, "qcow2"))],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    # the type is in use: it cannot be deleted
    r = cloud.request("DELETE", f"/volume/v3/types/{t['id']}", token=tok)
    assert r.status == 400


def test_volume_from_image_and_upload_to_image(cloud, uniq, tmp_path):
    tok = cloud.token()
    data = os.urandom(1 << 20) + b"\0" * (1 << 20)
    src = tmp_path / "disk.raw"
    src.write_bytes(data)
    img = cloud.cli("image", "create", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(src), f"img-{uniq}")
    v = create(cloud, tok, size=1, imageRef=img["id"], name=f"fi-{uniq}")
    body = wait_status(cloud, tok, "volume", v["id"], {"available"})
    assert body["bootable"] == "true"
    assert body["volume_image_metadata"]["image_id"] == img["id"]
    with open(backend_file(cloud, v["id"]), "rb") as f:
        assert f.read(len(data)) == data
    # upload the volume back into the image service (qcow2: only the data travels)
    r = cloud.request("POST", f"/volume/v3/volumes/{v['id']}/action", token=tok,
                      body={"os-volume_upload_image": {"image_name": f"up-{uniq}", "disk_format": "qcow2"}})
    assert r.status == 202, r
    image_id = r.json()["os-volume_upload_image"]["image_id"]
    wait_status(cloud, tok, "volume", v["id"], {"available"})
    out = tmp_path / "saved.qcow2"
    cloud.cli("image", "save", "--file", str(out), image_id, json_out=False)
    assert out.read_bytes()[:4] == b"QFI\xfb" and out.stat().st_size < 16 << 20
    import subprocess
    raw = tmp_path / "saved.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(out), str(raw)], check=True)
    with open(raw, "rb") as f:
        assert f.read(len(data)) == data


def test_backup_and_restore_keep_the_bytes(cloud, uniq):
    tok = cloud.token()
    v = create(cloud, tok, size=1, name=f"bk-{uniq}")
    wait_status(cloud, tok, "volume", v["id"], {"available"})
    payload = os.urandom(300_000)
    with open(backend_file(cloud, v["id"]), "r+b") as f:   # what a guest would have written
        f.seek(5 << 20)
        f.write(payload)
    b = cloud.cli("volume", "backup", "create", "--name", f"b-{uniq}", v["id"])
    wait_status(cloud, tok, "backup", b["id"], {"available"})
    # an incremental backup stores only changed chunks
    r = cloud.request("POST", "/volume/v3/backups", token=tok,
                      body={"backup": {"volume_id": v["id"], "incremental": True}})
    assert r.status == 202, r
    inc = wait_status(cloud, tok, "backup", r.json()["backup"]["id"], {"available"})
    assert inc["is_incremental"] is True
    # restore into a new volume
    r = cloud.request("POST", f"/volume/v3/backups/{b['id']}/restore", token=tok,
                      body={"restore": {"name": f"rs-{uniq}"}})
    assert r.status == 202, r
    new_id = r.json()["restore"]["volume_id"]
    wait_status(cloud, tok, "volume", new_id, {"available"})
    with open(backend_file(cloud, new_id), "rb") as f:
        f.seek(5 << 20)
        assert f.read(len(payload)) == payload
    r = cloud.request("DELETE", f"/volume/v3/backups/{b['id']}", token=tok)
    assert r.status == 400, "a backup with incremental children cannot be deleted"


def test_transfer_between_projects(cloud, uniq, demo_token):
    v = create(cloud, demo_token, size=1, name=f"tr-{uniq}")
    wait_status(cloud, demo_token, "volume", v["id"], {"available"})
    req = cloud.cli("volume", "transfer", "request", "create", v["id"], cloud="onestack")
    assert req["auth_key"]
    r = cloud.request("POST", f"/volume/v3/os-volume-transfer/{req['id']}/accept", token=cloud.token(),
                      body={"accept": {"auth_key": "wrong"}})
    assert r.status == 400
    cloud.cli("volume", "transfer", "request", "accept", "--auth-key", req["auth_key"], req["id"])
    admin_tok = cloud.token()
    assert wait_status(cloud, admin_tok, "volume", v["id"], {"available"})["os-vol-tenant-attr:tenant_id"] \
        == cloud.sdk().current_project_id
    assert cloud.request("GET", f"/volume/v3/volumes/{v['id']}", token=demo_token).status == 404


def test_attachments_api_and_legacy_actions(cloud, uniq):
    tok = cloud.token()
    hdr = {"OpenStack-API-Version": "volume 3.44"}
    v = create(cloud, tok, size=1, name=f"at-{uniq}")
    wait_status(cloud, tok, "volume", v["id"], {"available"})
    server = "00000000-0000-4000-8000-" + uniq.rjust(12, "0")
    r = cloud.request("POST", "/volume/v3/attachments", token=tok, headers=hdr, body={"attachment": {
        "volume_uuid": v["id"], "instance_uuid": server, "connector": {"host": "h1"}}})
    assert r.status == 200, r
    att = r.json()["attachment"]
    assert att["connection_info"]["data"]["path"] == str(backend_file(cloud, v["id"]))
    assert cloud.request("POST", f"/volume/v3/attachments/{att['id']}/action", token=tok, headers=hdr,
                         body={"os-complete": {}}).status == 204
    body = wait_status(cloud, tok, "volume", v["id"], {"in-use"})
    assert body["attachments"][0]["server_id"] == server
    # an attached volume cannot be deleted, and can't be attached twice (not multiattach)
    assert cloud.request("DELETE", f"/volume/v3/volumes/{v['id']}", token=tok).status == 400
    r = cloud.request("POST", "/volume/v3/attachments", token=tok, headers=hdr, body={"attachment": {
        "volume_uuid": v["id"], "instance_uuid": server}})
    assert r.status == 400
    assert cloud.request("DELETE", f"/volume/v3/attachments/{att['id']}", token=tok, headers=hdr).status == 200
    wait_status(cloud, tok, "volume", v["id"], {"available"})
    # legacy: os-reserve -> os-attach -> os-detach
    act = f"/volume/v3/volumes/{v['id']}/action"
    assert cloud.request("POST", act, token=tok, body={"os-reserve": {}}).status == 202
    assert cloud.request("POST", act, token=tok, body={"os-attach": {
        "instance_uuid": server, "mountpoint": "/dev/vdb"}}).status == 202
    assert wait_status(cloud, tok, "volume", v["id"], {"in-use"})["attachments"][0]["device"] == "/dev/vdb"
    assert cloud.request("POST", act, token=tok, body={"os-detach": {}}).status == 202
    wait_status(cloud, tok, "volume", v["id"], {"available"})


def test_quota_is_enforced(cloud, uniq, demo_token):
    demo_project = cloud.sdk("onestack").current_project_id
    cloud.cli("quota", "set", "--volumes", "2", demo_project, json_out=False)
    try:
        shown = cloud.request("GET", f"/volume/v3/os-quota-sets/{demo_project}?usage=true",
                              token=cloud.token()).json()["quota_set"]
        used = shown["volumes"]["in_use"]
        made = []
        for i in range(max(0, 2 - used)):
            made.append(create(cloud, demo_token, size=1, name=f"q{i}-{uniq}")["id"])
        r = cloud.request("POST", "/volume/v3/volumes", token=demo_token, body={"volume": {"size": 1}})
        assert r.status == 413, r
        assert "volumes" in r.json()["overLimit"]["message"]
        for vid in made:
            wait_status(cloud, demo_token, "volume", vid, {"available"})
            cloud.request("DELETE", f"/volume/v3/volumes/{vid}", token=demo_token)
    finally:
        cloud.request("DELETE", f"/volume/v3/os-quota-sets/{demo_project}", token=cloud.token())


def test_isolation_between_projects(cloud, uniq, demo_token):
    tok = cloud.token()
    v = create(cloud, tok, size=1, name=f"iso-{uniq}")
    wait_status(cloud, tok, "volume", v["id"], {"available"})
    base = f"/volume/v3/volumes/{v['id']}"
    for method, path, body in [("GET", base, None), ("PUT", base, {"volume": {"name": "x"}}),
                               ("DELETE", base, None), ("POST", base + "/action", {"os-extend": {"new_size": 2}}),
                               ("GET", base + "/metadata", None),
                               ("POST", "/volume/v3/snapshots", {"snapshot": {"volume_id": v["id"]}}),
                               ("POST", "/volume/v3/backups", {"backup": {"volume_id": v["id"]}})]:
        r = cloud.request(method, path, token=demo_token, body=body)
        assert r.status == 404, (method, path, r)
    listed = cloud.request("GET", "/volume/v3/volumes?all_tenants=1", token=demo_token).json()["volumes"]
    assert v["id"] not in {x["id"] for x in listed}
    # members can't use admin actions even on their own volumes
    own = create(cloud, demo_token, size=1, name=f"own-{uniq}")
    r = cloud.request("POST", f"/volume/v3/volumes/{own['id']}/action", token=demo_token,
                      body={"os-reset_status": {"status": "error"}})
    assert r.status == 403
    wait_status(cloud, demo_token, "volume", own["id"], {"available"})
    cloud.request("DELETE", f"/volume/v3/volumes/{own['id']}", token=demo_token)


@pytest.mark.parametrize("body,status", [
    ({"volume": {"size": -1}}, 400), ({"volume": {"size": 0}}, 400), ({"volume": {"size": "abc"}}, 400),
    ({"volume": {"size": 10 ** 9}}, 400), ({"volume": {"size": 1, "bogus": 1}}, 400),
    ({"volume": {}}, 400), ({"vol": {"size": 1}}, 400), ([], 400),
    ({"volume": {"size": 1, "volume_type": "no-such-type"}}, 404),
    ({"volume": {"size": 1, "snapshot_id": "no-such-snap"}}, 404),
    ({"volume": {"size": 1, "imageRef": "no-such-image"}}, 404),
    ({"volume": {"size": 1, "availability_zone": "elsewhere"}}, 400),
    ({"volume": {"size": 1, "metadata": {"k": 5}}}, 400),
])
def test_bad_create_requests(cloud, admin_token, body, status):
    r = cloud.request("POST", "/volume/v3/volumes", token=admin_token, body=body)
    assert r.status == status, r
    err = next(iter(r.json().values()))
    assert err["code"] == status and err["message"]


def test_bad_actions_and_ids(cloud, admin_token, uniq):
    v = create(cloud, admin_token, size=2, name=f"bad-{uniq}")
    wait_status(cloud, admin_token, "volume", v["id"], {"available"})
    act = f"/volume/v3/volumes/{v['id']}/action"
    for body, status in [({"os-extend": {"new_size": 1}}, 400), ({"os-extend": {}}, 400),
                         ({"os-extend": {"new_size": "x"}}, 400), ({"os-bogus": {}}, 400),
                         ({"os-set_bootable": {"bootable": "maybe"}}, 400), ({}, 400)]:
        r = cloud.request("POST", act, token=admin_token, body=body)
        assert r.status == status, (body, r)
    r = cloud.request("POST", act, token=admin_token, raw=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert cloud.request("GET", "/volume/v3/volumes/nope", token=admin_token).status == 404
    assert cloud.request("GET", "/volume/v3/snapshots/nope", token=admin_token).status == 404
    assert cloud.request("GET", "/volume/v3/backups/nope", token=admin_token).status == 404
    assert cloud.request("GET", "/volume/v3/types/nope", token=admin_token).status == 404
    assert cloud.request("GET", "/volume/v3/volumes?limit=x", token=admin_token).status == 400
    assert cloud.request("GET", "/volume/v3/volumes?sort=bogus:asc", token=admin_token).status == 400


def test_microversions_and_versions(cloud, admin_token, uniq):
    r = cloud.request("GET", "/volume/")
    assert r.status == 300 and r.json()["versions"][0]["min_version"] == "3.0"
    v = create(cloud, admin_token, size=1, name=f"mv-{uniq}")
    old = cloud.request("GET", f"/volume/v3/volumes/{v['id']}", token=admin_token).json()["volume"]
    new = cloud.request("GET", f"/volume/v3/volumes/{v['id']}", token=admin_token,
                        headers={"OpenStack-API-Version": "volume 3.65"})
    assert "volume_type_id" not in old
    assert new.headers["openstack-api-version"] == "volume 3.65"
    assert new.json()["volume"]["volume_type_id"] and new.json()["volume"]["consumes_quota"] is True
    r = cloud.request("GET", "/volume/v3/volumes", token=admin_token,
                      headers={"OpenStack-API-Version": "volume 3.999"})
    assert r.status == 406
    # both URL forms work, and pagination links carry the marker
    project = cloud.sdk().current_project_id
    for i in range(2):
        create(cloud, admin_token, size=1, name=f"pg{i}-{uniq}")
    r = cloud.request("GET", f"/volume/v3/{project}/volumes?limit=1", token=admin_token)
    assert r.status == 200 and len(r.json()["volumes"]) == 1
    assert "marker=" in r.json()["volumes_links"][0]["href"]


def test_sdk_block_storage(cloud, uniq):
    conn = cloud.sdk()
    vol = conn.block_storage.create_volume(size=1, name=f"sdk-{uniq}")
    vol = conn.block_storage.wait_for_status(vol, "available", wait=60)
    assert vol.size == 1
    assert any(x.id == vol.id for x in conn.block_storage.volumes())
    assert any(t.name == "__DEFAULT__" for t in conn.block_storage.types())
    assert conn.block_storage.get_limits().absolute.max_total_volumes >= 1
    conn.block_storage.delete_volume(vol)
    conn.block_storage.wait_for_delete(vol, wait=60)
