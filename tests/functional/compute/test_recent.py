"""Microversions 2.97-2.104 and behaviours Tempest checks that the older tests did not:
version documents, extensions, access IPs, console tail, tenant_id without all_tenants,
x509 key generation, backup rotation, disk config on resize, block device checks, rescued
servers keeping their volumes."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.compute.conftest import wait_until



@pytest.fixture(scope="module")
def server(nova, image_id):
    srv = nova.create(f"recent-{uuid.uuid4().hex[:6]}", image_id)
    nova.wait(srv["id"])
    yield srv["id"]
    nova("DELETE", f"/servers/{srv['id']}")
    nova.gone(srv["id"])


def test_version_documents(cloud):
    listed = cloud.request("GET", "/compute/").json()["versions"]
    for v in listed:
        self_link = [x for x in v["links"] if x["rel"] == "self"]
        path = self_link[0]["href"].split(f":{cloud.port}", 1)[1]
        doc = cloud.request("GET", path)
        assert doc.status == 200, (path, doc)
        assert [x for x in doc.json()["version"]["links"] if x["rel"] == "self"] == self_link
    assert cloud.request("GET", "/compute/v2.1").json()["version"]["version"] == "2.104"


def test_extensions(nova):
    names = [e["name"] for e in nova("GET", "/extensions").json()["extensions"]]
    assert "Hosts" in names and "SecurityGroups" in names
    assert nova("GET", "/extensions/os-consoles").json()["extension"]["alias"] == "os-consoles"
    assert nova("GET", "/extensions/os-nothing").status == 404


def test_access_ip_is_canonical_and_hints_show_from_2_100(nova, image_id):
    srv = nova("POST", "/servers", {"server": {"name": "hints", "imageRef": image_id, "flavorRef": "1",
                                               "networks": "none",
                                               "accessIPv6": "0000:0000:0000:0000:0000:babe:220.12.22.2"},
                                    "os:scheduler_hints": {"different_host": []}}).json()["server"]
    try:
        nova.wait(srv["id"])
        body = nova("GET", f"/servers/{srv['id']}").json()["server"]
        assert body["accessIPv6"] == "::babe:dc0c:1602"
        assert body["scheduler_hints"] == {"different_host": []}
        assert "properties" in body["image"]                               # 2.98
        older = nova("GET", f"/servers/{srv['id']}", version="2.99").json()["server"]
        assert "scheduler_hints" not in older and "properties" in older["image"]
        assert "properties" not in nova("GET", f"/servers/{srv['id']}", version="2.97").json()["server"]["image"]
    finally:
        nova("DELETE", f"/servers/{srv['id']}")


def test_pinned_availability_zone_update_2_104(nova, image_id):
    srv = nova.create("pin", image_id, availability_zone="nova")
    nova.wait(srv["id"])
    try:
        path = f"/servers/{srv['id']}"
        assert nova("GET", path).json()["server"]["pinned_availability_zone"] == "nova"
        assert nova("PUT", path, {"server": {"pinned_availability_zone": None}}, version="2.103").status == 400
        assert nova("PUT", path, {"server": {"pinned_availability_zone": "other"}}).status == 409
        r = nova("PUT", path, {"server": {"pinned_availability_zone": None}})
        assert r.status == 200 and r.json()["server"]["pinned_availability_zone"] is None
        assert nova("PUT", path, {"server": {"pinned_availability_zone": None}}).status == 200     # no-op
        assert nova("PUT", path, {"server": {"pinned_availability_zone": "elsewhere"}}).status == 409
        r = nova("PUT", path, {"server": {"pinned_availability_zone": "nova"}})
        assert r.json()["server"]["pinned_availability_zone"] == "nova"
        assert nova("GET", path).json()["server"]["pinned_availability_zone"] == "nova"
    finally:
        nova("DELETE", f"/servers/{srv['id']}")


def test_flavors_2_102(nova):
    old = nova("GET", "/flavors/detail", version="2.101").json()["flavors"][0]
    assert "rxtx_factor" in old and "OS-FLV-DISABLED:disabled" in old
    new = nova("GET", "/flavors/detail").json()["flavors"]
    assert all("rxtx_factor" not in f and "OS-FLV-DISABLED:disabled" not in f for f in new)
    named = nova("GET", "/flavors?name=m1.tiny").json()["flavors"]
    assert [f["name"] for f in named] == ["m1.tiny"]
    assert nova("GET", "/flavors?bogus=1").status == 400
    assert nova("GET", "/flavors?bogus=1", version="2.101").status == 200
    assert nova("GET", "/servers?bogus=1").status == 400
    assert nova("GET", "/servers?bogus=1", version="2.101").status == 200


def test_os_volumes_boot_until_2_102(nova, image_id):
    body = {"server": {"name": "vb", "imageRef": image_id, "flavorRef": "1", "networks": "none"}}
    assert nova("POST", "/os-volumes_boot", body).status == 404
    r = nova("POST", "/os-volumes_boot", body, version="2.102")
    assert r.status == 202, r
    nova("DELETE", f"/servers/{r.json()['server']['id']}")


def test_console_output_tail(nova, server):
    out = nova("POST", f"/servers/{server}/action", {"os-getConsoleOutput": {"length": 3}}).json()["output"]
    assert len(out.split("\n")) == 3


def test_admin_tenant_id_needs_all_tenants(nova, nova_demo, image_id, cloud):
    srv = nova_demo.create(f"tid-{uuid.uuid4().hex[:6]}", image_id)
    try:
        demo_pid = nova_demo("GET", f"/servers/{srv['id']}").json()["server"]["tenant_id"]
        ids = [s["id"] for s in nova("GET", f"/servers?tenant_id={demo_pid}").json()["servers"]]
        assert srv["id"] not in ids
        ids = [s["id"] for s in nova("GET", f"/servers?all_tenants=1&tenant_id={demo_pid}").json()["servers"]]
        assert srv["id"] in ids
    finally:
        nova_demo("DELETE", f"/servers/{srv['id']}")


def test_x509_keypair_generation(nova):
    name = f"x509-{uuid.uuid4().hex[:6]}"
    r = nova("POST", "/os-keypairs", {"keypair": {"name": name, "type": "x509"}}, version="2.91")
    assert r.status == 201, r
    kp = r.json()["keypair"]
    assert kp["type"] == "x509" and "BEGIN CERTIFICATE" in kp["public_key"] and kp["private_key"]
    assert len(kp["fingerprint"].split(":")) == 20
    assert nova("GET", f"/os-keypairs/{name}").json()["keypair"]["type"] == "x509"
    nova("DELETE", f"/os-keypairs/{name}")


def test_backup_rotation(nova, cloud, server):
    token = nova.token
    names = []
    for i in range(3):
        name = f"bk-{uuid.uuid4().hex[:6]}-{i}"
        names.append(name)
        r = nova("POST", f"/servers/{server}/action",
                 {"createBackup": {"name": name, "backup_type": "daily", "rotation": 2}})
        assert r.status == 202, r
        image_id = r.json()["image_id"]
        wait_until(lambda: cloud.request("GET", f"/image/v2/images/{image_id}", token).json().get("status"), "active")
        nova.wait(server)
    q = f"/image/v2/images?instance_uuid={server}&image_type=backup&backup_type=daily&sort_key=created_at&sort_dir=asc"
    left = [i["name"] for i in cloud.request("GET", q, token).json()["images"]]
    assert left == names[1:]
    for i in cloud.request("GET", q, token).json()["images"]:
        cloud.request("DELETE", f"/image/v2/images/{i['id']}", token)


def test_resize_keeps_the_requested_disk_config(nova, image_id):
    srv = nova.create(f"dc-{uuid.uuid4().hex[:6]}", image_id, **{"OS-DCF:diskConfig": "MANUAL"})
    nova.wait(srv["id"])
    try:
        r = nova("POST", f"/servers/{srv['id']}/action", {"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "AUTO"}})
        assert r.status == 202, r
        body = nova.wait(srv["id"], ("VERIFY_RESIZE",))
        assert body["OS-DCF:diskConfig"] == "AUTO"
        nova("POST", f"/servers/{srv['id']}/action", {"confirmResize": None})
        nova.wait(srv["id"])
    finally:
        nova("DELETE", f"/servers/{srv['id']}")


def test_block_device_checks_and_rescued_detach(nova, cloud, image_id):
    token = nova.token
    vol = cloud.request("POST", "/volume/v3/volumes", token, {"volume": {"size": 1, "name": "nb"}}).json()["volume"]
    wait_until(lambda: cloud.request("GET", f"/volume/v3/volumes/{vol['id']}", token).json()["volume"]["status"],
          "available")
    bdm = [{"boot_index": 0, "uuid": vol["id"], "source_type": "volume", "destination_type": "volume"}]
    r = nova("POST", "/servers", {"server": {"name": "nb", "flavorRef": "1", "networks": "none",
                                             "block_device_mapping_v2": bdm}})
    assert r.status == 400 and "not bootable" in r.json()["badRequest"]["message"], r
    bdm[0]["uuid"] = str(uuid.uuid4())
    r = nova("POST", "/servers", {"server": {"name": "nb", "flavorRef": "1", "networks": "none",
                                             "block_device_mapping_v2": bdm}})
    assert r.status == 400, r
    # a rescued server keeps its volumes: detach is a 409
    srv = nova.create(f"rsc-{uuid.uuid4().hex[:6]}", image_id)
    nova.wait(srv["id"])
    try:
        r = nova("POST", f"/servers/{srv['id']}/os-volume_attachments", {"volumeAttachment": {"volumeId": vol["id"]}})
        assert r.status == 202, r
        wait_until(lambda: cloud.request("GET", f"/volume/v3/volumes/{vol['id']}", token).json()["volume"]["status"],
              "in-use")
        assert nova("POST", f"/servers/{srv['id']}/action", {"rescue": None}).status == 200
        nova.wait(srv["id"], ("RESCUE",))
        assert nova("DELETE", f"/servers/{srv['id']}/os-volume_attachments/{vol['id']}").status == 409
        nova("POST", f"/servers/{srv['id']}/action", {"unrescue": None})
        nova.wait(srv["id"])
        assert nova("DELETE", f"/servers/{srv['id']}/os-volume_attachments/{vol['id']}").status == 202
        wait_until(lambda: cloud.request("GET", f"/volume/v3/volumes/{vol['id']}", token).json()["volume"]["status"],
              "available")
    finally:
        nova("DELETE", f"/servers/{srv['id']}")
        nova.gone(srv["id"])
        cloud.request("DELETE", f"/volume/v3/volumes/{vol['id']}", token)


def test_simple_tenant_usage_needs_an_id_after_the_slash(nova):
    assert nova("GET", "/os-simple-tenant-usage").status == 200
    assert nova("GET", "/os-simple-tenant-usage/").status == 404
