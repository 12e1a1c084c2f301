"""Groups, group types and group snapshots; QoS specs; encryption types; services, hosts
and user messages; backup export/import; one boolean parser — through the unchanged CLI
and raw HTTP."""
from __future__ import annotations

import base64
import json
import os
import uuid

import pytest

from tests.functional.volume.conftest import wait_status
from tests.functional.volume.test_volumes import backend_file, create

V = {"OpenStack-API-Version": "volume 3.20"}


def vreq(cloud, method, path, token, body=None, version="3.20"):
    return cloud.request(method, f"/volume/v3{path}", token=token, body=body,
                         headers={"OpenStack-API-Version": f"volume {version}"})


def test_groups_snapshots_and_group_from_snapshot(cloud, uniq, admin_token):
    gv = ["--os-volume-api-version", "3.20"]
    gt = cloud.cli(*gv, "volume", "group", "type", "create", f"gt-{uniq}")
    vt = cloud.cli("volume", "type", "create", f"gvt-{uniq}")
    g = cloud.cli(*gv, "volume", "group", "create", "--volume-group-type", gt["ID"], "--volume-type",
                  vt["id"], "--name", f"g-{uniq}")
    assert g["Status"] == "available" and g["Volume Types"] == [vt["id"]]
    project = cloud.sdk().current_project_id
    usage = vreq(cloud, "GET", f"/os-quota-sets/{project}?usage=true", admin_token).json()["quota_set"]
    assert usage["groups"]["in_use"] >= 1
    # a volume created in the group; a volume of another type is refused
    vol = create(cloud, admin_token, "3.13", size=1, volume_type=vt["id"], group_id=g["ID"])
    assert vol["group_id"] == g["ID"]
    r = vreq(cloud, "POST", "/volumes", admin_token, {"volume": {"size": 1, "group_id": g["ID"]}})
    assert r.status == 400 and "does not support this volume type" in r.json()["badRequest"]["message"]
    wait_status(cloud, admin_token, "volume", vol["id"], {"available"})
    payload = os.urandom(100_000)
    with open(backend_file(cloud, vol["id"]), "r+b") as f:
        f.write(payload)
    # remove and add back
    assert vreq(cloud, "PUT", f"/groups/{g['ID']}", admin_token,
                {"group": {"remove_volumes": vol["id"]}}).status == 202
    assert vreq(cloud, "GET", f"/volumes/{vol['id']}", admin_token).json()["volume"]["group_id"] is None
    assert vreq(cloud, "PUT", f"/groups/{g['ID']}", admin_token,
                {"group": {"add_volumes": vol["id"], "name": f"g2-{uniq}"}}).status == 202
    shown = vreq(cloud, "GET", f"/groups/{g['ID']}?list_volume=True", admin_token, version="3.25").json()
    assert shown["group"]["volumes"] == [vol["id"]] and shown["group"]["name"] == f"g2-{uniq}"
    # group snapshot: one snapshot per member, available when they all are
    gs = cloud.cli(*gv, "volume", "group", "snapshot", "create", "--name", f"gs-{uniq}", g["ID"])
    gs_body = wait_status(cloud, admin_token, "group_snapshot", gs["ID"], {"available"}, version="3.14")
    assert gs_body["group_id"] == g["ID"]
    snaps = vreq(cloud, "GET", "/snapshots/detail", admin_token, version="3.14").json()["snapshots"]
    members = [s for s in snaps if s["group_snapshot_id"] == gs["ID"]]
    assert [s["volume_id"] for s in members] == [vol["id"]] and members[0]["status"] == "available"
    # a group from the group snapshot: new volumes with the snapshot's bytes
    r = vreq(cloud, "POST", "/groups/action", admin_token,
             {"create-from-src": {"name": f"gfs-{uniq}", "group_snapshot_id": gs["ID"]}})
    assert r.status == 202, r
    g2 = r.json()["group"]["id"]
    vols = vreq(cloud, "GET", "/volumes/detail", admin_token, version="3.13").json()["volumes"]
    new = [v for v in vols if v["group_id"] == g2]
    assert len(new) == 1
    wait_status(cloud, admin_token, "volume", new[0]["id"], {"available"})
    with open(backend_file(cloud, new[0]["id"]), "rb") as f:
        assert f.read(len(payload)) == payload
    # a group with volumes needs delete-volumes; a group with a group snapshot cannot go
    r = vreq(cloud, "POST", f"/groups/{g2}/action", admin_token, {"delete": {"delete-volumes": False}})
    assert r.status == 400
    r = vreq(cloud, "POST", f"/groups/{g['ID']}/action", admin_token, {"delete": {"delete-volumes": True}})
    assert r.status == 400 and "group snapshots" in r.json()["badRequest"]["message"]
    # reset status (3.20 / 3.19), then clean up
    assert vreq(cloud, "POST", f"/group_snapshots/{gs['ID']}/action", admin_token,
                {"reset_status": {"status": "error"}}).status == 202
    assert wait_status(cloud, admin_token, "group_snapshot", gs["ID"], {"error"}, version="3.19")
    cloud.cli(*gv, "volume", "group", "snapshot", "delete", gs["ID"], json_out=False)
    wait_status(cloud, admin_token, "group_snapshot", gs["ID"], {"deleted"}, version="3.14")
    for gid, vid in ((g["ID"], vol["id"]), (g2, new[0]["id"])):
        assert vreq(cloud, "POST", f"/groups/{gid}/action", admin_token,
                    {"delete": {"delete-volumes": True}}).status == 202
        wait_status(cloud, admin_token, "volume", vid, {"deleted"})
        assert vreq(cloud, "GET", f"/groups/{gid}", admin_token).status == 404
    cloud.cli(*gv, "volume", "group", "type", "delete", gt["ID"], json_out=False)


def test_group_apis_need_their_microversion_and_valid_input(cloud, admin_token, uniq):
    assert vreq(cloud, "GET", "/groups", admin_token, version="3.12").status == 404
    assert vreq(cloud, "GET", "/group_types", admin_token, version="3.10").status == 404
    assert vreq(cloud, "GET", "/group_types/default", admin_token).json()["group_type"]["name"] == \
        "default_group_type"
    for body in ({"group": {"group_type": "default"}}, {"group": {"group_type": "nope", "volume_types": ["x"]}},
                 {"group": {"group_type": "default", "volume_types": "x"}}, {"grp": {}}, []):
        r = vreq(cloud, "POST", "/groups", admin_token, body)
        assert r.status in (400, 404), (body, r)
    r = vreq(cloud, "POST", "/groups/action", admin_token, {"create-from-src": {"name": "x"}})
    assert r.status == 400
    r = vreq(cloud, "POST", "/group_types", admin_token, {"group_type": {"name": f"dup-{uniq}"}})
    assert r.status == 202
    assert vreq(cloud, "POST", "/group_types", admin_token, {"group_type": {"name": f"dup-{uniq}"}}).status == 409
    demo = cloud.token("onestack")
    assert vreq(cloud, "POST", "/group_types", demo, {"group_type": {"name": f"x-{uniq}"}}).status == 403


def test_qos_specs_with_types(cloud, uniq, admin_token):
    q = cloud.cli("volume", "qos", "create", "--consumer", "front-end", "--property", "total_iops_sec=500",
                  f"qos-{uniq}")
    assert q["consumer"] == "front-end" and q["properties"] == {"total_iops_sec": "500"}
    t = cloud.cli("volume", "type", "create", f"qt-{uniq}")
    cloud.cli("volume", "qos", "associate", q["id"], t["id"], json_out=False)
    cloud.cli("volume", "qos", "set", "--property", "read_iops_sec=100", q["id"], json_out=False)
    cloud.cli("volume", "qos", "unset", "--property", "total_iops_sec", q["id"], json_out=False)
    shown = cloud.cli("volume", "qos", "show", q["id"])
    assert shown["associations"] == [t["name"]] and shown["properties"] == {"read_iops_sec": "100"}
    assert vreq(cloud, "GET", f"/types/{t['id']}", admin_token).json()["volume_type"]["qos_specs_id"] == q["id"]
    # still associated: a plain delete is refused, force disassociates
    assert vreq(cloud, "DELETE", f"/qos-specs/{q['id']}", admin_token).status == 400
    assert vreq(cloud, "DELETE", f"/qos-specs/{q['id']}?force=True", admin_token).status == 202
    assert vreq(cloud, "GET", f"/types/{t['id']}", admin_token).json()["volume_type"]["qos_specs_id"] is None
    for body in ({"qos_specs": {"consumer": "front-end"}}, {"qos_specs": {"name": "x", "consumer": "middle"}},
                 {"qos_specs": {"name": "x", "k": 5}}):
        assert vreq(cloud, "POST", "/qos-specs", admin_token, body).status == 400, body
    assert vreq(cloud, "GET", f"/qos-specs/{q['id']}", admin_token).status == 404


def test_encryption_types(cloud, uniq, admin_token):
    t = cloud.cli("volume", "type", "create", "--encryption-provider", "luks", "--encryption-cipher",
                  "aes-xts-plain64", "--encryption-key-size", "256", "--encryption-control-location",
                  "front-end", f"enc-{uniq}")
    shown = cloud.cli("volume", "type", "show", "--encryption-type", t["id"])
    enc = shown["encryption"]
    assert enc["provider"] == "luks" and enc["key_size"] == 256 and enc["cipher"] == "aes-xts-plain64"
    cloud.cli("volume", "type", "set", "--encryption-key-size", "512", t["id"], json_out=False)
    r = vreq(cloud, "GET", f"/types/{t['id']}/encryption/key_size", admin_token)
    assert r.json() == {"key_size": 512}
    # no backend here encrypts: a volume of that type is refused, not silently plain
    r = vreq(cloud, "POST", "/volumes", admin_token, {"volume": {"size": 1, "volume_type": t["id"]}})
    assert r.status == 400 and "encryption" in r.json()["badRequest"]["message"]
    r = vreq(cloud, "POST", f"/types/{t['id']}/encryption", admin_token,
             {"encryption": {"provider": "luks", "control_location": "sideways"}})
    assert r.status == 400
    cloud.cli("volume", "type", "unset", "--encryption-type", t["id"], json_out=False)
    assert vreq(cloud, "GET", f"/types/{t['id']}/encryption", admin_token).json() == {}


def test_services_hosts_and_user_messages(cloud, uniq, admin_token, demo_token):
    services = cloud.cli("volume", "service", "list")
    hosts = sorted(s["Host"] for s in services if s["Binary"] == "cinder-volume")
    assert hosts == ["onestack@file", "onestack@qcow2"]
    listed = vreq(cloud, "GET", "/os-hosts", admin_token).json()["hosts"]
    assert {h["host_name"] for h in listed} >= set(hosts)
    usage = vreq(cloud, "GET", "/os-hosts/onestack@file", admin_token).json()["host"]
    assert usage[0]["resource"]["project"] == "(total)"
    try:
        cloud.cli("volume", "service", "set", "--disable", "--disable-reason", f"maint-{uniq}",
                  "onestack@qcow2", "cinder-volume", json_out=False)
        cloud.cli("volume", "host", "set", "--disable", "onestack@file", json_out=False)   # freeze
        rows = {s["Host"]: s for s in cloud.cli("volume", "service", "list", "--long")}
        assert rows["onestack@qcow2"]["Status"] == "disabled"
        assert rows["onestack@qcow2"]["Disabled Reason"] == f"maint-{uniq}"
        # nowhere to put a volume: it exists, in error, and a user message says why
        v = create(cloud, demo_token, size=1, name=f"nohost-{uniq}")
        assert wait_status(cloud, demo_token, "volume", v["id"], {"error"})["status"] == "error"
        msgs = cloud.cli("--os-volume-api-version", "3.3", "volume", "message", "list", cloud="onestack")
        mine = [x for x in msgs if x["Resource UUID"] == v["id"]]
        assert mine and mine[0]["Event ID"] == "VOLUME_000002"
        assert "No storage could be allocated" in mine[0]["User Message"]
        # other projects do not see it; the owner deletes it
        r = vreq(cloud, "GET", f"/messages/{mine[0]['ID']}", demo_token, version="3.3")
        assert r.status == 200 and r.json()["message"]["resource_uuid"] == v["id"]
        assert vreq(cloud, "GET", "/messages", demo_token, version="3.2").status == 404
        cloud.cli("--os-volume-api-version", "3.3", "volume", "message", "delete", mine[0]["ID"],
                  cloud="onestack", json_out=False)
        assert vreq(cloud, "GET", f"/messages/{mine[0]['ID']}", demo_token, version="3.3").status == 404
        # bad requests
        assert vreq(cloud, "PUT", "/os-services/freeze", admin_token, {"host": "nowhere"}).status == 400
        assert vreq(cloud, "PUT", "/os-services/disable-log-reason", admin_token,
                    {"host": "onestack@file", "binary": "cinder-volume", "disabled_reason": None}).status == 400
        assert vreq(cloud, "PUT", "/os-services/enable", admin_token,
                    {"host": "nowhere", "binary": "cinder-volume"}).status == 404
        assert vreq(cloud, "PUT", "/os-services/disable", demo_token,
                    {"host": "onestack@file", "binary": "cinder-volume"}).status == 403
    finally:
        cloud.cli("volume", "host", "set", "--enable", "onestack@file", json_out=False)
        cloud.cli("volume", "service", "set", "--enable", "onestack@qcow2", "cinder-volume", json_out=False)
    v = create(cloud, demo_token, size=1, name=f"back-{uniq}")
    wait_status(cloud, demo_token, "volume", v["id"], {"available"})
    # capability extra specs pick backends: an unknown vendor has nowhere to go
    t = cloud.cli("volume", "type", "create", "--property", "vendor_name=Nobody", f"nv-{uniq}")
    v = create(cloud, admin_token, size=1, volume_type=t["id"])
    wait_status(cloud, admin_token, "volume", v["id"], {"error"})


def test_backup_export_import_restores_the_bytes(cloud, uniq, admin_token):
    v = create(cloud, admin_token, size=1, name=f"ex-{uniq}")
    wait_status(cloud, admin_token, "volume", v["id"], {"available"})
    payload = os.urandom(200_000)
    with open(backend_file(cloud, v["id"]), "r+b") as f:
        f.seek(9 << 20)
        f.write(payload)
    b = cloud.cli("volume", "backup", "create", v["id"])
    wait_status(cloud, admin_token, "backup", b["id"], {"available"})
    rec = cloud.cli("volume", "backup", "record", "export", b["id"])
    assert rec["backup_service"] == "cinder.backup.drivers.posix"
    # import the record under a new id (as after a database loss), then delete the original:
    # the chunks the imported manifest shares stay
    record = json.loads(base64.b64decode(rec["backup_url"]))
    new_backup = str(uuid.uuid4())
    url = base64.b64encode(json.dumps({**record, "id": new_backup}).encode()).decode()
    # (by HTTP: openstacksdk's Backup.import_record posts to .../export_record with its own
    # URL as the record, so `openstack volume backup record import` cannot work anywhere)
    r = vreq(cloud, "POST", "/backups/import_record", admin_token,
             {"backup-record": {"backup_service": rec["backup_service"], "backup_url": url}})
    assert r.status == 201 and r.json()["backup"]["id"] == new_backup, r
    cloud.cli("volume", "backup", "delete", b["id"], json_out=False)
    wait_status(cloud, admin_token, "backup", b["id"], {"deleted"})
    assert cloud.cli("volume", "backup", "show", new_backup)["status"] == "available"
    r = vreq(cloud, "POST", f"/backups/{new_backup}/restore", admin_token, {"restore": {"name": f"im-{uniq}"}})
    new_id = r.json()["restore"]["volume_id"]
    wait_status(cloud, admin_token, "volume", new_id, {"available"})
    with open(backend_file(cloud, new_id), "rb") as f:
        f.seek(9 << 20)
        assert f.read(len(payload)) == payload
    # importing twice, garbage and foreign services are 400s
    for service, url in ((rec["backup_service"], url), ("cinder.backup.drivers.posix", "!!"),
                         ("cinder.backup.drivers.nfs", rec["backup_url"])):
        r = vreq(cloud, "POST", "/backups/import_record", admin_token,
                 {"backup-record": {"backup_service": service, "backup_url": url}})
        assert r.status == 400, r


@pytest.mark.parametrize("word,value", [("on", True), ("Off", False), ("y", True), ("0", False),
                                        ("TRUE", True), ("no", False)])
def test_one_boolean_parser_for_bodies_and_filters(cloud, uniq, admin_token, word, value):
    v = create(cloud, admin_token, size=1, name=f"b-{uniq}")
    wait_status(cloud, admin_token, "volume", v["id"], {"available"})
    r = vreq(cloud, "POST", f"/volumes/{v['id']}/action", admin_token, {"os-set_bootable": {"bootable": word}})
    assert r.status == 200, r
    r = vreq(cloud, "GET", f"/volumes?bootable={word}&name=b-{uniq}", admin_token)
    assert [x["id"] for x in r.json()["volumes"]] == [v["id"]]
    assert vreq(cloud, "GET", f"/volumes/{v['id']}", admin_token).json()["volume"]["bootable"] == \
        str(value).lower()
    r = vreq(cloud, "POST", "/types", admin_token,
             {"volume_type": {"name": f"bt-{uniq}", "os-volume-type-access:is_public": word}})
    assert r.status == 200 and r.json()["volume_type"]["is_public"] is value
    for bad in ("maybe", "2", ""):
        assert vreq(cloud, "POST", f"/volumes/{v['id']}/action", admin_token,
                    {"os-set_bootable": {"bootable": bad}}).status == 400
        assert vreq(cloud, "GET", f"/volumes?bootable={bad or 'x'}", admin_token).status == 400
