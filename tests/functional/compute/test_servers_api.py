"""Servers over raw HTTP: shapes per microversion, filters, pagination, metadata/tags, actions
and their state machine, instance actions, faults, bad input and tenant isolation."""
from __future__ import annotations

import base64
import uuid

import pytest

from tests.functional.compute.conftest import Nova


@pytest.fixture(scope="module")
def server(nova, image_id):
    srv = nova.create(f"api-{uuid.uuid4().hex[:6]}", image_id, metadata={"a": "1"}, tags=["t1", "t2"],
                      description="first")
    nova.wait(srv["id"])
    yield srv["id"]
    nova("DELETE", f"/servers/{srv['id']}")


def test_version_documents_need_no_token(cloud):
    r = cloud.request("GET", "/compute/")
    assert r.status == 200
    ids = [v["id"] for v in r.json()["versions"]]
    assert "v2.1" in ids
    v = cloud.request("GET", "/compute/v2.1").json()["version"]
    assert v["min_version"] == "2.1" and v["version"] == "2.104"


def test_create_response_and_show_shape(nova, image_id, server):
    body = nova("GET", f"/servers/{server}").json()["server"]
    for key in ("id", "name", "status", "tenant_id", "user_id", "metadata", "hostId", "image", "flavor",
                "created", "updated", "addresses", "links", "OS-EXT-STS:vm_state", "OS-EXT-STS:power_state",
                "OS-EXT-AZ:availability_zone", "locked", "description", "tags", "locked_reason",
                "pinned_availability_zone", "server_groups", "host_status", "OS-EXT-SRV-ATTR:host"):
        assert key in body, key
    assert body["status"] == "ACTIVE" and body["OS-EXT-STS:power_state"] == 1
    assert body["flavor"]["original_name"] == "m1.tiny" and body["flavor"]["vcpus"] == 1
    assert body["image"]["id"] == image_id
    assert body["metadata"] == {"a": "1"} and sorted(body["tags"]) == ["t1", "t2"]
    # an old microversion has the old flavor shape and none of the newer keys
    old = nova("GET", f"/servers/{server}", version="2.1").json()["server"]
    assert set(old["flavor"]) == {"id", "links"}
    assert "locked" not in old and "tags" not in old and "description" not in old
    r = nova("GET", f"/servers/{server}", version="2.1")
    assert r.headers["openstack-api-version"] == "compute 2.1"
    assert r.headers["x-openstack-nova-api-version"] == "2.1"


def test_list_filters_sort_and_pagination(nova, image_id):
    tag = f"tag{uuid.uuid4().hex[:6]}"
    ids = [nova.create(f"page-{tag}-{i}", image_id, tags=[tag])["id"] for i in range(3)]
    for i in ids:
        nova.wait(i)
    r = nova("GET", f"/servers/detail?tags={tag}&sort_key=display_name&sort_dir=asc")
    names = [s["name"] for s in r.json()["servers"]]
    assert names == [f"page-{tag}-{i}" for i in range(3)]
    r = nova("GET", f"/servers?tags={tag}&limit=2&sort_key=display_name&sort_dir=asc")
    body = r.json()
    assert len(body["servers"]) == 2 and body["servers_links"][0]["rel"] == "next"
    marker = body["servers"][-1]["id"]
    r = nova("GET", f"/servers?tags={tag}&limit=2&marker={marker}&sort_key=display_name&sort_dir=asc")
    assert [s["name"] for s in r.json()["servers"]] == [f"page-{tag}-2"]
    assert nova("GET", f"/servers?name=page-{tag}-1").json()["servers"][0]["id"] == ids[1]
    assert nova("GET", f"/servers?status=SHUTOFF&tags={tag}").json()["servers"] == []
    assert nova("GET", "/servers?marker=does-not-exist").status == 400
    assert nova("GET", "/servers?sort_key=bogus").status == 400
    for i in ids:
        assert nova("DELETE", f"/servers/{i}").status == 204
    for i in ids:
        nova.gone(i)


def test_update_metadata_and_tags(nova, server):
    r = nova("PUT", f"/servers/{server}", {"server": {"name": "renamed", "description": "d2"}})
    assert r.status == 200 and r.json()["server"]["name"] == "renamed"
    assert nova("POST", f"/servers/{server}/metadata", {"metadata": {"b": "2"}}).json()["metadata"] == \
        {"a": "1", "b": "2"}
    assert nova("PUT", f"/servers/{server}/metadata/c", {"meta": {"c": "3"}}).json() == {"meta": {"c": "3"}}
    assert nova("GET", f"/servers/{server}/metadata/c").json() == {"meta": {"c": "3"}}
    assert nova("DELETE", f"/servers/{server}/metadata/c").status == 204
    assert nova("GET", f"/servers/{server}/metadata/c").status == 404
    assert nova("PUT", f"/servers/{server}/tags/t3").status == 201
    assert nova("PUT", f"/servers/{server}/tags/t3").status == 204
    assert sorted(nova("GET", f"/servers/{server}/tags").json()["tags"]) == ["t1", "t2", "t3"]
    assert nova("DELETE", f"/servers/{server}/tags/t1").status == 204
    assert nova("GET", f"/servers/{server}/tags/t1").status == 404


def test_actions_state_machine_and_instance_actions(nova, server):
    assert nova("POST", f"/servers/{server}/action", {"os-start": None}).status == 409  # already active
    assert nova("POST", f"/servers/{server}/action", {"pause": None}).status == 202
    assert nova.wait(server, ("PAUSED",))["OS-EXT-STS:power_state"] == 3
    assert nova("POST", f"/servers/{server}/action", {"unpause": None}).status == 202
    nova.wait(server)
    assert nova("POST", f"/servers/{server}/action", {"suspend": None}).status == 202
    nova.wait(server, ("SUSPENDED",))
    assert nova("POST", f"/servers/{server}/action", {"resume": None}).status == 202
    nova.wait(server)
    r = nova("POST", f"/servers/{server}/action", {"rescue": {}})
    assert r.status == 200 and r.json()["adminPass"]
    nova.wait(server, ("RESCUE",))
    assert nova("POST", f"/servers/{server}/action", {"unrescue": None}).status == 202
    nova.wait(server)
    acts = nova("GET", f"/servers/{server}/os-instance-actions").json()["instanceActions"]
    names = [a["action"] for a in acts]
    assert names[0] == "unrescue" and "create" in names and "pause" in names
    rid = acts[0]["request_id"]
    detail = nova("GET", f"/servers/{server}/os-instance-actions/{rid}").json()["instanceAction"]
    assert detail["events"][0]["result"] == "Success"
    out = nova("POST", f"/servers/{server}/action", {"os-getConsoleOutput": {"length": 2}}).json()["output"]
    assert len(out.split("\n")) == 2       # upstream's tail: the last n pieces of the log split on "\n"
    r = nova("POST", f"/servers/{server}/remote-consoles",
             {"remote_console": {"protocol": "vnc", "type": "novnc"}})
    assert r.status == 400 and "console" in r.json()["badRequest"]["message"]


def test_lock_blocks_owner_actions(cloud, nova, nova_demo, image_id):
    srv = nova_demo.create(f"lock-{uuid.uuid4().hex[:6]}", image_id)
    nova_demo.wait(srv["id"])
    sid = srv["id"]
    assert nova_demo("POST", f"/servers/{sid}/action", {"lock": {"locked_reason": "maint"}}).status == 202
    shown = nova_demo("GET", f"/servers/{sid}").json()["server"]
    assert shown["locked"] is True and shown["locked_reason"] == "maint"
    assert nova_demo("POST", f"/servers/{sid}/action", {"os-stop": None}).status == 409
    assert nova_demo("DELETE", f"/servers/{sid}").status == 409
    assert nova_demo("POST", f"/servers/{sid}/action", {"unlock": None}).status == 202
    assert nova_demo("DELETE", f"/servers/{sid}").status == 204
    nova_demo.gone(sid)


def test_isolation_matrix(cloud, nova, nova_demo, server):
    """Another project's server, keypair and server group are a 404 for every verb."""
    g = nova("POST", "/os-server-groups", {"server_group": {"name": "iso", "policy": "affinity"}}).json()
    gid = g["server_group"]["id"]
    kp = nova("POST", "/os-keypairs", {"keypair": {"name": f"iso-{uuid.uuid4().hex[:6]}",
                                                    "public_key": _pubkey()}}).json()["keypair"]["name"]
    checks = [
        ("GET", f"/servers/{server}", None), ("PUT", f"/servers/{server}", {"server": {"name": "x"}}),
        ("DELETE", f"/servers/{server}", None), ("POST", f"/servers/{server}/action", {"os-stop": None}),
        ("POST", f"/servers/{server}/action", {"reboot": {"type": "HARD"}}),
        ("GET", f"/servers/{server}/metadata", None),
        ("PUT", f"/servers/{server}/metadata/k", {"meta": {"k": "v"}}),
        ("GET", f"/servers/{server}/tags", None), ("GET", f"/servers/{server}/os-instance-actions", None),
        ("GET", f"/servers/{server}/ips", None), ("GET", f"/servers/{server}/os-volume_attachments", None),
        ("GET", f"/servers/{server}/os-interface", None),
        ("GET", f"/os-server-groups/{gid}", None), ("DELETE", f"/os-server-groups/{gid}", None),
        ("GET", f"/os-keypairs/{kp}", None), ("DELETE", f"/os-keypairs/{kp}", None),
    ]
    for method, path, body in checks:
        r = nova_demo(method, path, body)
        assert r.status == 404, (method, path, r)
        assert r.json()["itemNotFound"]["code"] == 404
    assert server not in [s["id"] for s in nova_demo("GET", "/servers").json()["servers"]]
    assert server not in [s["id"] for s in nova_demo("GET", "/servers?all_tenants=1").json().get("servers", [])] \
        or nova_demo("GET", "/servers?all_tenants=1").status == 403
    assert nova("GET", f"/servers/{server}").status == 200  # untouched
    nova("DELETE", f"/os-server-groups/{gid}")
    nova("DELETE", f"/os-keypairs/{kp}")


def _pubkey() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    k = ed25519.Ed25519PrivateKey.generate().public_key()
    return k.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def test_keypairs_import_generate_and_types(nova):
    name = f"kp-{uuid.uuid4().hex[:6]}"
    r = nova("POST", "/os-keypairs", {"keypair": {"name": name, "public_key": _pubkey()}})
    assert r.status == 201 and r.json()["keypair"]["type"] == "ssh"
    assert nova("POST", "/os-keypairs", {"keypair": {"name": name, "public_key": _pubkey()}}).status == 409
    r = nova("POST", "/os-keypairs", {"keypair": {"name": name + "g"}}, version="2.10")
    assert r.status == 201 and "PRIVATE KEY" in r.json()["keypair"]["private_key"]
    assert "private_key" not in nova("GET", f"/os-keypairs/{name}g").json()["keypair"]
    assert nova("POST", "/os-keypairs", {"keypair": {"name": "x", "public_key": "ssh-rsa garbage"}}).status == 400
    assert nova("POST", "/os-keypairs", {"keypair": {"name": name + "n"}}).status == 400  # 2.92: key required
    for n in (name, name + "g"):
        assert nova("DELETE", f"/os-keypairs/{n}").status == 204


def test_flavors_extra_specs_and_private_access(cloud, nova, nova_demo):
    fid = f"f-{uuid.uuid4().hex[:6]}"
    r = nova("POST", "/flavors", {"flavor": {"name": fid, "id": fid, "ram": 256, "vcpus": 1, "disk": 1,
                                              "os-flavor-access:is_public": False, "description": "priv"}})
    assert r.status == 200, r
    assert r.json()["flavor"]["os-flavor-access:is_public"] is False
    assert nova_demo("GET", f"/flavors/{fid}").status == 404
    demo_project = nova_demo("GET", "/limits")  # any call; the demo project id comes from a server list
    del demo_project
    demo_pid = cloud.sdk("onestack").current_project_id
    r = nova("POST", f"/flavors/{fid}/action", {"addTenantAccess": {"tenant": demo_pid}})
    assert r.status == 200 and r.json()["flavor_access"][0]["tenant_id"] == demo_pid
    assert nova_demo("GET", f"/flavors/{fid}").status == 200
    assert nova("POST", f"/flavors/{fid}/os-extra_specs", {"extra_specs": {"hw:cpu_policy": "shared"}}).status == 200
    assert nova("GET", f"/flavors/{fid}").json()["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared"}
    assert nova_demo("POST", "/flavors", {"flavor": {"name": "no", "ram": 1, "vcpus": 1, "disk": 1}}).status == 403
    assert nova("DELETE", f"/flavors/{fid}").status == 202
    assert nova("GET", f"/flavors/{fid}").status == 404


def test_quota_and_limits(cloud, nova):
    pid = cloud.sdk().current_project_id
    q = nova("GET", f"/os-quota-sets/{pid}/detail").json()["quota_set"]
    assert q["instances"]["limit"] >= 1 and "in_use" in q["cores"]
    lim = nova("GET", "/limits").json()["limits"]["absolute"]
    assert lim["maxTotalInstances"] == q["instances"]["limit"]
    assert nova("GET", f"/os-quota-sets/{pid}/defaults").json()["quota_set"]["instances"] == 10


@pytest.mark.parametrize("body,status", [
    ({"server": {"name": "x", "flavorRef": "1", "networks": "none"}}, 400),              # no image
    ({"server": {"name": "", "imageRef": "IMG", "flavorRef": "1", "networks": "none"}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "nope", "networks": "none"}}, 400),
    ({"server": {"name": "x", "imageRef": str(uuid.uuid4()), "flavorRef": "1", "networks": "none"}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1"}}, 400),               # 2.37 networks
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1", "networks": "none", "bogus": 1}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1", "networks": "none",
                 "user_data": "not base64!!"}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1", "networks": "none",
                 "key_name": "missing-key"}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1", "networks": "none",
                 "availability_zone": "nowhere"}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1", "networks": "none",
                 "min_count": 3, "max_count": 2}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1", "networks": "none",
                 "metadata": {"k": 1}}}, 400),
    ({"server": {"name": "x", "imageRef": "IMG", "flavorRef": "1", "networks": "none",
                 "tags": ["a/b"]}}, 400),
    ({"nope": {}}, 400),
])
def test_bad_server_create_is_400_and_creates_nothing(nova, image_id, body, status):
    import json
    raw = json.dumps(body).replace('"IMG"', json.dumps(image_id)).encode()
    before = len(nova("GET", "/servers?all_tenants=1").json()["servers"])
    r = nova("POST", "/servers", raw=raw)
    assert r.status == status, r
    assert r.json()["badRequest"]["code"] == 400 and r.json()["badRequest"]["message"]
    assert len(nova("GET", "/servers?all_tenants=1").json()["servers"]) == before


def test_min_disk_and_user_data(nova, cloud, image_id):
    r = nova("POST", "/servers", {"server": {"name": "ud", "imageRef": image_id, "flavorRef": "42",
                                             "networks": "none",
                                             "user_data": base64.b64encode(b"#!/bin/sh\necho hi").decode()}})
    assert r.status == 202
    sid = r.json()["server"]["id"]
    shown = nova.wait(sid)
    assert shown["OS-EXT-SRV-ATTR:user_data"]
    assert nova("DELETE", f"/servers/{sid}").status == 204
    nova.gone(sid)


def test_malformed_json_and_unknown_action(nova, server):
    r = nova("POST", "/servers", raw=b"{not json")
    assert r.status == 400 and "badRequest" in r.json()
    r = nova("POST", f"/servers/{server}/action", {"fly": {}})
    assert r.status == 400
    r = nova("GET", f"/servers/{uuid.uuid4()}")
    assert r.status == 404 and r.json()["itemNotFound"]["code"] == 404
    assert nova("GET", "/servers", version="2.999").status == 406
