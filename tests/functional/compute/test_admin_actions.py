"""Issue 3 leftovers through the CLI/SDK: trusted image certificates (2.63, recorded and shown,
not verified), remote consoles where the driver has none, trigger_crash_dump (2.17),
injectNetworkInfo, evacuate (source compute must be down), os-server-external-events and the
server topology (2.78) -- each with bad input and another project's server."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.compute.conftest import wait_until


@pytest.fixture(scope="module")
def server(nova_demo, image_id):
    srv = nova_demo.create(f"adm-{uuid.uuid4().hex[:6]}", image_id)
    nova_demo.wait(srv["id"])
    yield srv["id"]
    nova_demo("DELETE", f"/servers/{srv['id']}")
    nova_demo.gone(srv["id"])


@pytest.fixture(scope="module")
def outsider(cloud):
    """A member of a third project: every server above is another project's to it."""
    admin = cloud.sdk()
    name = f"adm-other-{uuid.uuid4().hex[:6]}"
    proj = admin.identity.create_project(name=name, domain_id="default")
    user = admin.identity.create_user(name=name, password="pw-adm-1", domain_id="default",
                                      default_project_id=proj.id)
    admin.identity.assign_project_role_to_user(proj, user, admin.identity.find_role("member"))
    return cloud.sdk_as(name, "pw-adm-1", project=name)


def test_trusted_certs_recorded_not_verified(cloud, nova_demo, image_id):
    out = cloud.cli("--os-compute-api-version", "2.63", "server", "create", "--image", image_id,
                    "--flavor", "1", "--nic", "none", "--trusted-image-cert", "cert-a",
                    "--trusted-image-cert", "cert-b", "--wait", f"tic-{uuid.uuid4().hex[:6]}", cloud="onestack")
    sid = out["id"]
    try:
        shown = nova_demo("GET", f"/servers/{sid}").json()["server"]
        assert shown["status"] == "ACTIVE"
        assert shown["trusted_image_certificates"] == ["cert-a", "cert-b"]
        assert "trusted_image_certificates" not in nova_demo("GET", f"/servers/{sid}", version="2.62").json()[
            "server"]
        # rebuild replaces / clears them; bad shapes are 400
        for bad in ([], ["x"] * 51, ["a", "a"], [""], "cert"):
            r = nova_demo("POST", f"/servers/{sid}/action",
                          {"rebuild": {"imageRef": image_id, "trusted_image_certificates": bad}})
            assert r.status == 400, (bad, r)
        r = nova_demo("POST", f"/servers/{sid}/action",
                      {"rebuild": {"imageRef": image_id, "trusted_image_certificates": ["cert-c"]}})
        assert r.status == 202, r
        assert r.json()["server"]["trusted_image_certificates"] == ["cert-c"]
        nova_demo.wait(sid)
        r = nova_demo("POST", f"/servers/{sid}/action",
                      {"rebuild": {"imageRef": image_id, "trusted_image_certificates": None}})
        assert r.status == 202 and r.json()["server"]["trusted_image_certificates"] is None
        nova_demo.wait(sid)
        # before 2.63 the key is an unknown property
        r = nova_demo("POST", "/servers", {"server": {"name": "x", "imageRef": image_id, "flavorRef": "1",
                                                      "networks": "none", "trusted_image_certificates": ["a"]}},
                      version="2.62")
        assert r.status == 400, r
        # boot from volume with certificates: 400, and nothing half-created
        before = len(nova_demo("GET", "/servers").json()["servers"])
        r = nova_demo("POST", "/servers", {"server": {
            "name": "tic-bfv", "flavorRef": "1", "networks": "none", "trusted_image_certificates": ["a"],
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": image_id, "source_type": "image",
                                         "destination_type": "volume", "volume_size": 1}]}})
        assert r.status == 400 and "booting from volume" in r.json()["badRequest"]["message"], r
        assert len(nova_demo("GET", "/servers").json()["servers"]) == before
    finally:
        nova_demo("DELETE", f"/servers/{sid}")
        nova_demo.gone(sid)


def test_remote_console_none_on_fake_driver(cloud, nova_demo, server, outsider):
    r = cloud.cli("console", "url", "show", "--serial", server, cloud="onestack", check=False)
    assert r.returncode != 0 and "400" in r.stderr and "no remote consoles" in r.stderr, r.stderr
    r = nova_demo("POST", f"/servers/{server}/remote-consoles", {"remote_console": {"protocol": "vnc",
                                                                                  "type": "novnc"}})
    assert r.status == 400 and "console" in r.json()["badRequest"]["message"].lower(), r
    r = nova_demo("POST", f"/servers/{server}/remote-consoles", {"remote_console": {"protocol": "bogus",
                                                                                  "type": "novnc"}})
    assert r.status == 400, r
    r = nova_demo("POST", f"/servers/{server}/action", {"os-getSerialConsole": {"type": "serial"}},
                  version="2.5")
    assert r.status == 400, r
    from openstack import exceptions
    with pytest.raises(exceptions.NotFoundException):
        outsider.compute.create_console(server, console_type="novnc")


def test_trigger_crash_dump(cloud, nova_demo, server, outsider):
    conn = cloud.sdk("onestack")
    conn.compute.trigger_server_crash_dump(server)
    wait_until(lambda: [a["action"] for a in nova_demo("GET", f"/servers/{server}/os-instance-actions").json()[
        "instanceActions"]].count("trigger_crash_dump"), 1)
    nova_demo.wait(server)
    assert nova_demo("POST", f"/servers/{server}/action", {"trigger_crash_dump": None},
                     version="2.16").status == 400
    from openstack import exceptions
    with pytest.raises(exceptions.NotFoundException):
        outsider.compute.trigger_server_crash_dump(server)
    # not running -> 409
    assert nova_demo("POST", f"/servers/{server}/action", {"os-stop": None}).status == 202
    nova_demo.wait(server, ("SHUTOFF",))
    assert nova_demo("POST", f"/servers/{server}/action", {"trigger_crash_dump": None}).status == 409
    assert nova_demo("POST", f"/servers/{server}/action", {"os-start": None}).status == 202
    nova_demo.wait(server)


def test_inject_network_info_admin_only(nova, nova_demo, server):
    assert nova_demo("POST", f"/servers/{server}/action", {"injectNetworkInfo": None}).status == 403
    assert nova("POST", f"/servers/{server}/action", {"injectNetworkInfo": None}).status == 202
    acts = nova("GET", f"/servers/{server}/os-instance-actions").json()["instanceActions"]
    assert "injectNetworkInfo" in [a["action"] for a in acts]
    assert nova("POST", f"/servers/{uuid.uuid4()}/action", {"injectNetworkInfo": None}).status == 404


def test_evacuate_refused_while_source_up(nova, nova_demo, server):
    r = nova("POST", f"/servers/{server}/action", {"evacuate": {}})
    assert r.status == 400 and "still in use" in r.json()["badRequest"]["message"], r
    r = nova("POST", f"/servers/{server}/action", {"evacuate": {"host": "no-such-host"}})
    assert r.status == 404, r
    r = nova("POST", f"/servers/{server}/action", {"evacuate": {"bogus": 1}})
    assert r.status == 400, r
    assert nova_demo("POST", f"/servers/{server}/action", {"evacuate": {}}).status == 403


def test_external_events_and_topology(nova, nova_demo, server, outsider):
    r = nova("POST", "/os-server-external-events", {"events": [
        {"name": "network-changed", "server_uuid": server},
        {"name": "network-vif-plugged", "server_uuid": str(uuid.uuid4()), "tag": "x"}]})
    assert r.status == 207, r
    codes = sorted(e["code"] for e in r.json()["events"])
    assert codes == [200, 404], r.json()
    r = nova("POST", "/os-server-external-events", {"events": [{"name": "bogus", "server_uuid": server}]})
    assert r.status == 400, r
    assert nova_demo("POST", "/os-server-external-events",
                     {"events": [{"name": "network-changed", "server_uuid": server}]}).status == 403
    topo = nova_demo("GET", f"/servers/{server}/topology").json()
    assert topo["nodes"] == [] or isinstance(topo["nodes"], list)
    assert "pagesize_kb" in topo
    assert nova_demo("GET", f"/servers/{server}/topology", version="2.77").status == 404
    r = outsider.compute.get(f"/servers/{server}/topology", microversion="2.78")
    assert r.status_code == 404


def test_unknown_query_parameters_rejected_from_2_102(cloud, nova, nova_demo, server):
    for path in (f"/servers/{server}?foo=1", f"/servers/{server}/os-instance-actions?bogus=1",
                 "/os-keypairs?bogus=1", "/limits?bogus=1", "/os-availability-zone?x=1",
                 f"/servers/{server}/os-volume_attachments?marker=1", "/os-server-groups?foo=bar"):
        r = nova_demo("GET", path)
        assert r.status == 400 and "was unexpected" in r.json()["badRequest"]["message"], (path, r)
        assert nova_demo("GET", path, version="2.101").status == 200, path     # ignored before
    for path in (f"/servers/{server}/os-instance-actions?limit=1", "/os-keypairs?limit=5",
                 f"/servers/{server}/os-volume_attachments?limit=1&offset=0", "/os-server-groups?limit=2",
                 "/os-hypervisors?with_servers=true", "/os-migrations?status=done&hidden=0",
                 "/os-services?binary=nova-compute", f"/limits?tenant_id={cloud.sdk().current_project_id}"):
        assert nova("GET", path).status == 200, path
    assert nova("GET", "/os-hypervisors/statistics?x=1").status == 400
    # the unchanged CLI still works at its negotiated version
    assert isinstance(cloud.cli("--os-compute-api-version", "2.102", "keypair", "list", cloud="onestack"), list)
    assert cloud.cli("--os-compute-api-version", "2.104", "server", "event", "list", server,
                     cloud="onestack")
