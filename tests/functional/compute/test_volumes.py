"""Volumes and servers end to end with the unchanged `openstack` CLI (fake virt driver):
attach/detach, boot from volume (existing volume, image -> new volume, delete on termination),
multiattach, and the errors users hit (another project's volume, a volume already in use)."""
from __future__ import annotations

import time

import pytest

DEMO = "onestack"


def _vol(cloud, ref, who=DEMO):
    return cloud.cli("volume", "show", ref, cloud=who)


def _wait_vol(cloud, ref, status, who=DEMO, timeout=60.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        r = cloud.cli("volume", "show", ref, cloud=who, check=False)
        if isinstance(r, dict):
            last = r["status"]
            if last == status:
                return r
        elif status == "deleted":
            return None
        time.sleep(0.3)
    raise AssertionError(f"volume {ref} stuck in {last}, wanted {status}")


def _server(cloud, name, *extra, who=DEMO):
    return cloud.cli("server", "create", "--flavor", "m1.tiny", "--nic", "none", "--wait", *extra, name, cloud=who)


def _attached_server_ids(vol):
    return [a["server_id"] for a in vol["attachments"]]


@pytest.fixture()
def server(cloud, image_id, uniq):
    srv = _server(cloud, f"vs-{uniq}", "--image", image_id)
    yield srv
    cloud.cli("server", "delete", "--wait", srv["id"], cloud=DEMO, json_out=False, check=False)


def test_add_and_remove_volume(cloud, server, uniq):
    vol = cloud.cli("volume", "create", "--size", "1", f"data-{uniq}", cloud=DEMO)
    _wait_vol(cloud, vol["id"], "available")
    cloud.cli("server", "add", "volume", server["id"], vol["id"], cloud=DEMO, json_out=False)
    shown = _wait_vol(cloud, vol["id"], "in-use")
    assert _attached_server_ids(shown) == [server["id"]]
    listed = cloud.cli("server", "volume", "list", server["id"], cloud=DEMO)
    assert [r["Volume ID"] for r in listed] == [vol["id"]] and listed[0]["Device"].startswith("/dev/vd")
    srv = cloud.cli("server", "show", server["id"], cloud=DEMO)
    assert vol["id"] in str(srv["volumes_attached"])

    # attaching it again, or to another server, is refused (it is not multiattach)
    r = cloud.cli("server", "add", "volume", server["id"], vol["id"], cloud=DEMO, json_out=False, check=False)
    assert r.returncode != 0
    cloud.cli("server", "remove", "volume", server["id"], vol["id"], cloud=DEMO, json_out=False)
    shown = _wait_vol(cloud, vol["id"], "available")
    assert shown["attachments"] == []
    assert cloud.cli("server", "volume", "list", server["id"], cloud=DEMO) == []
    cloud.cli("volume", "delete", vol["id"], cloud=DEMO, json_out=False)


def test_volume_in_use_elsewhere_and_other_projects_volume_are_refused(cloud, server, image_id, uniq):
    mine = cloud.cli("volume", "create", "--size", "1", f"busy-{uniq}", cloud=DEMO)
    theirs = cloud.cli("volume", "create", "--size", "1", f"admins-{uniq}")
    _wait_vol(cloud, mine["id"], "available")
    _wait_vol(cloud, theirs["id"], "available", who="onestack-admin")
    other = _server(cloud, f"vs2-{uniq}", "--image", image_id)
    try:
        cloud.cli("server", "add", "volume", other["id"], mine["id"], cloud=DEMO, json_out=False)
        _wait_vol(cloud, mine["id"], "in-use")
        r = cloud.cli("server", "add", "volume", server["id"], mine["id"], cloud=DEMO, json_out=False, check=False)
        assert r.returncode != 0 and ("400" in r.stderr or "409" in r.stderr), r.stderr
        r = cloud.cli("server", "add", "volume", server["id"], theirs["id"], cloud=DEMO, json_out=False, check=False)
        assert r.returncode != 0
        # the raw API: another project's volume is a 404, not someone else's data
        token = cloud.token(DEMO)
        resp = cloud.request("POST", f"/compute/v2.1/servers/{server['id']}/os-volume_attachments", token,
                             {"volumeAttachment": {"volumeId": theirs["id"]}})
        assert resp.status == 404, resp
        resp = cloud.request("POST", f"/compute/v2.1/servers/{server['id']}/os-volume_attachments", token,
                             {"volumeAttachment": {"volumeId": mine["id"]}})
        assert resp.status in (400, 409), resp
        assert _attached_server_ids(_vol(cloud, mine["id"])) == [other["id"]]
        assert _vol(cloud, theirs["id"], who="onestack-admin")["status"] == "available"
    finally:
        cloud.cli("server", "delete", "--wait", other["id"], cloud=DEMO, json_out=False, check=False)
        _wait_vol(cloud, mine["id"], "available")
        cloud.cli("volume", "delete", mine["id"], cloud=DEMO, json_out=False)
        cloud.cli("volume", "delete", theirs["id"], json_out=False)


def test_boot_from_existing_volume(cloud, image_id, uniq):
    boot = cloud.cli("volume", "create", "--size", "1", "--image", image_id, "--bootable", f"boot-{uniq}", cloud=DEMO)
    _wait_vol(cloud, boot["id"], "available")
    srv = _server(cloud, f"bfv-{uniq}", "--volume", boot["id"])
    try:
        assert srv["status"] == "ACTIVE"
        shown = _wait_vol(cloud, boot["id"], "in-use")
        assert _attached_server_ids(shown) == [srv["id"]]
        assert shown["attachments"][0]["device"] == "/dev/vda"
        assert "booted from volume" in cloud.cli("server", "show", srv["id"], cloud=DEMO)["image"]
        # the root volume cannot be detached
        r = cloud.cli("server", "remove", "volume", srv["id"], boot["id"], cloud=DEMO, json_out=False, check=False)
        assert r.returncode != 0
    finally:
        cloud.cli("server", "delete", "--wait", srv["id"], cloud=DEMO, json_out=False)
    # not asked to delete it: the volume survives its server
    assert _wait_vol(cloud, boot["id"], "available")["attachments"] == []
    cloud.cli("volume", "delete", boot["id"], cloud=DEMO, json_out=False)


def test_boot_from_image_to_new_volume_deleted_with_server(cloud, image_id, uniq):
    bdm = f"uuid={image_id},source_type=image,destination_type=volume,volume_size=1,boot_index=0," \
          "delete_on_termination=true"
    srv = _server(cloud, f"bfi-{uniq}", "--block-device", bdm)
    assert srv["status"] == "ACTIVE"
    attached = cloud.cli("server", "volume", "list", srv["id"], cloud=DEMO)
    assert len(attached) == 1 and attached[0]["Device"] == "/dev/vda"
    vid = attached[0]["Volume ID"]
    vol = _vol(cloud, vid)
    assert vol["status"] == "in-use" and vol["bootable"] in ("true", True)
    assert _attached_server_ids(vol) == [srv["id"]]
    cloud.cli("server", "delete", "--wait", srv["id"], cloud=DEMO, json_out=False)
    _wait_vol(cloud, vid, "deleted")


def test_multiattach_volume_on_two_servers(cloud, image_id, uniq):
    vtype = f"multi-{uniq}"
    cloud.cli("volume", "type", "create", "--property", "multiattach=<is> True", vtype)
    vol = cloud.cli("volume", "create", "--size", "1", "--type", vtype, f"shared-{uniq}", cloud=DEMO)
    _wait_vol(cloud, vol["id"], "available")
    a = _server(cloud, f"ma-{uniq}", "--image", image_id)
    b = _server(cloud, f"mb-{uniq}", "--image", image_id)
    try:
        for srv in (a, b):
            cloud.cli("server", "add", "volume", srv["id"], vol["id"], cloud=DEMO, json_out=False)
        shown = _wait_vol(cloud, vol["id"], "in-use")
        assert sorted(_attached_server_ids(shown)) == sorted([a["id"], b["id"]])
        cloud.cli("server", "remove", "volume", a["id"], vol["id"], cloud=DEMO, json_out=False)
        shown = _wait_vol(cloud, vol["id"], "in-use")
        assert _attached_server_ids(shown) == [b["id"]]
    finally:
        for srv in (a, b):
            cloud.cli("server", "delete", "--wait", srv["id"], cloud=DEMO, json_out=False, check=False)
        _wait_vol(cloud, vol["id"], "available")
        cloud.cli("volume", "delete", vol["id"], cloud=DEMO, json_out=False)
        cloud.cli("volume", "type", "delete", vtype, json_out=False, check=False)
