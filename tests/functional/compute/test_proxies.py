"""Nova's deprecated proxy APIs over raw HTTP (no client uses them any more; Tempest does):
security groups, floating IPs, networks, /images, os-volumes, os-snapshots, os-hosts actions,
assisted volume snapshots, the usage audit log — and their microversion cut-offs."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.compute.conftest import Nova, wait_until

OLD = "2.35"


@pytest.fixture(scope="module")
def old_demo(cloud):
    return Nova(cloud, "onestack", version=OLD)


@pytest.fixture(scope="module")
def old_admin(cloud):
    return Nova(cloud, "onestack-admin", version=OLD)


@pytest.fixture(scope="module")
def demo_server(nova_demo, image_id):
    """A demo-project server on the auto-allocated network (routed to the public network)."""
    srv = nova_demo.create(f"proxy-{uuid.uuid4().hex[:6]}", image_id, networks="auto")
    nova_demo.wait(srv["id"])
    yield srv["id"]
    nova_demo("DELETE", f"/servers/{srv['id']}")
    nova_demo.gone(srv["id"])


def _ports(cloud, token, server_id):
    r = cloud.request("GET", f"/networking/v2.0/ports?device_id={server_id}", token)
    assert r.status == 200, r
    return r.json()["ports"]


@pytest.mark.parametrize("path", ["/os-security-groups", "/os-floating-ips", "/os-floating-ip-pools",
                                  "/os-networks", "/os-tenant-networks", "/images", "/images/detail",
                                  "/os-volumes", "/os-volumes/detail", "/os-snapshots"])
def test_proxies_answer_until_2_35_and_404_from_2_36(old_demo, path):
    assert old_demo("GET", path).status == 200
    r = old_demo("GET", path, version="2.36")
    assert r.status == 404 and r.json()["itemNotFound"]["code"] == 404


def test_image_metadata_lasts_until_2_38(old_demo, image_id):
    assert old_demo("GET", f"/images/{image_id}/metadata", version="2.38").status == 200
    assert old_demo("GET", f"/images/{image_id}/metadata", version="2.39").status == 404


def test_security_groups_and_rules(cloud, old_demo, demo_server):
    listed = old_demo("GET", "/os-security-groups").json()["security_groups"]
    assert "default" in [g["name"] for g in listed]
    default = next(g for g in listed if g["name"] == "default")
    assert old_demo("DELETE", f"/os-security-groups/{default['id']}").status == 400

    name = f"sg-{uuid.uuid4().hex[:6]}"
    r = old_demo("POST", "/os-security-groups", {"security_group": {"name": name, "description": "d"}})
    assert r.status == 200, r
    sg = r.json()["security_group"]
    assert sg["name"] == name and sg["rules"] == [] and sg["tenant_id"]
    assert old_demo("GET", f"/os-security-groups/{sg['id']}").json()["security_group"] == sg
    r = old_demo("PUT", f"/os-security-groups/{sg['id']}", {"security_group": {"name": name + "x",
                                                                               "description": "d2"}})
    assert r.status == 200 and r.json()["security_group"]["description"] == "d2"
    sg = r.json()["security_group"]

    rule = {"parent_group_id": sg["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 22,
            "cidr": "10.2.3.124/24"}
    r = old_demo("POST", "/os-security-group-rules", {"security_group_rule": rule})
    assert r.status == 200, r
    created = r.json()["security_group_rule"]
    assert created["ip_range"] == {"cidr": "10.2.3.124/24"} and created["group"] == {}
    assert (created["from_port"], created["to_port"], created["ip_protocol"]) == (22, 22, "tcp")
    dup = old_demo("POST", "/os-security-group-rules", {"security_group_rule": rule})
    assert dup.status == 400, dup
    r = old_demo("POST", "/os-security-group-rules", {"security_group_rule": {
        "parent_group_id": sg["id"], "ip_protocol": "icmp", "from_port": -1, "to_port": -1}})
    assert r.status == 200 and r.json()["security_group_rule"]["ip_range"] == {"cidr": "0.0.0.0/0"}
    r = old_demo("POST", "/os-security-group-rules", {"security_group_rule": {
        "parent_group_id": sg["id"], "ip_protocol": "udp", "group_id": default["id"]}})
    assert r.status == 200, r
    assert r.json()["security_group_rule"]["group"]["name"] == "default"
    assert (r.json()["security_group_rule"]["from_port"], r.json()["security_group_rule"]["to_port"]) == (1, 65535)
    for bad in ({"ip_protocol": "tcp", "from_port": 70000, "to_port": 22},
                {"ip_protocol": "tcp", "from_port": 22, "to_port": 21},
                {"ip_protocol": "bogus", "from_port": 22, "to_port": 22},
                {"ip_protocol": "tcp"}):
        r = old_demo("POST", "/os-security-group-rules", {"security_group_rule": {"parent_group_id": sg["id"], **bad}})
        assert r.status == 400, (bad, r)
    r = old_demo("POST", "/os-security-group-rules", {"security_group_rule": {
        "parent_group_id": "not-a-uuid", "ip_protocol": "tcp", "from_port": 22, "to_port": 22}})
    assert r.status == 400
    r = old_demo("POST", "/os-security-group-rules", {"security_group_rule": {
        "parent_group_id": str(uuid.uuid4()), "ip_protocol": "tcp", "from_port": 22, "to_port": 22}})
    assert r.status == 404
    rules = old_demo("GET", f"/os-security-groups/{sg['id']}").json()["security_group"]["rules"]
    assert created["id"] in [x["id"] for x in rules] and len(rules) == 3

    # on a server: the group lands on its ports, shows on the server, and cannot be deleted meanwhile
    token = old_demo.token
    r = old_demo("POST", f"/servers/{demo_server}/action", {"addSecurityGroup": {"name": sg["name"]}})
    assert r.status == 202, r
    assert all(sg["id"] in p["security_groups"] for p in _ports(cloud, token, demo_server))
    on_server = old_demo("GET", f"/servers/{demo_server}/os-security-groups").json()["security_groups"]
    assert sg["id"] in [g["id"] for g in on_server]
    assert sg["name"] in [g["name"] for g in old_demo("GET", f"/servers/{demo_server}").json()["server"]
                          ["security_groups"]]
    assert old_demo("DELETE", f"/os-security-groups/{sg['id']}").status == 400
    r = old_demo("POST", f"/servers/{demo_server}/action", {"removeSecurityGroup": {"name": sg["name"]}})
    assert r.status == 202, r
    assert not any(sg["id"] in p["security_groups"] for p in _ports(cloud, token, demo_server))
    r = old_demo("POST", f"/servers/{demo_server}/action", {"removeSecurityGroup": {"name": sg["name"]}})
    assert r.status == 400
    r = old_demo("POST", f"/servers/{demo_server}/action", {"addSecurityGroup": {"name": "no-such-group"}})
    assert r.status == 404

    assert old_demo("DELETE", f"/os-security-group-rules/{created['id']}").status == 202
    assert old_demo("DELETE", f"/os-security-group-rules/{uuid.uuid4()}").status == 404
    assert old_demo("DELETE", f"/os-security-groups/{sg['id']}").status == 202
    assert old_demo("GET", f"/os-security-groups/{sg['id']}").status == 404


def test_security_groups_of_another_project_are_not_found(old_admin, old_demo):
    r = old_admin("POST", "/os-security-groups", {"security_group": {"name": "admin-only", "description": ""}})
    sg = r.json()["security_group"]
    try:
        assert old_demo("GET", f"/os-security-groups/{sg['id']}").status == 404
        assert old_demo("DELETE", f"/os-security-groups/{sg['id']}").status == 404
        assert sg["id"] not in [g["id"] for g in old_demo("GET", "/os-security-groups?all_tenants=1")
                                .json()["security_groups"]]
        assert sg["id"] in [g["id"] for g in old_admin("GET", "/os-security-groups?all_tenants=1")
                            .json()["security_groups"]]
    finally:
        assert old_admin("DELETE", f"/os-security-groups/{sg['id']}").status == 202


def test_floating_ips(old_demo, demo_server):
    pools = old_demo("GET", "/os-floating-ip-pools").json()["floating_ip_pools"]
    assert {"name": "public"} in pools
    assert old_demo("POST", "/os-floating-ips", {"pool": "no-such-pool"}).status == 404
    r = old_demo("POST", "/os-floating-ips", {"pool": "public"})
    assert r.status == 200, r
    fip = r.json()["floating_ip"]
    assert fip["pool"] == "public" and fip["instance_id"] is None and fip["fixed_ip"] is None
    assert old_demo("GET", f"/os-floating-ips/{fip['id']}").json()["floating_ip"] == fip
    assert fip in old_demo("GET", "/os-floating-ips").json()["floating_ips"]
    second = old_demo("POST", "/os-floating-ips", {}).json()["floating_ip"]
    try:
        r = old_demo("POST", f"/servers/{demo_server}/action", {"addFloatingIp": {"address": fip["ip"]}})
        assert r.status == 202, r
        shown = old_demo("GET", f"/os-floating-ips/{fip['id']}").json()["floating_ip"]
        assert shown["instance_id"] == demo_server and shown["fixed_ip"]
        addrs = old_demo("GET", f"/servers/{demo_server}").json()["server"]["addresses"]
        assert fip["ip"] in [a["addr"] for net in addrs.values() for a in net]
        # a second floating IP on the same fixed address is refused
        r = old_demo("POST", f"/servers/{demo_server}/action", {"addFloatingIp": {"address": second["ip"]}})
        assert r.status == 400, r
        r = old_demo("POST", f"/servers/{demo_server}/action", {"addFloatingIp": {"address": "0.0.0.0"}})
        assert r.status == 404
        assert old_demo("POST", f"/servers/{demo_server}/action", {"addFloatingIp": {"address": fip["ip"]}},
                        version="2.44").status == 404
        r = old_demo("POST", f"/servers/{demo_server}/action", {"removeFloatingIp": {"address": fip["ip"]}})
        assert r.status == 202, r
        assert old_demo("GET", f"/os-floating-ips/{fip['id']}").json()["floating_ip"]["instance_id"] is None
        r = old_demo("POST", f"/servers/{demo_server}/action", {"removeFloatingIp": {"address": fip["ip"]}})
        assert r.status == 409
    finally:
        assert old_demo("DELETE", f"/os-floating-ips/{fip['id']}").status == 202
        assert old_demo("DELETE", f"/os-floating-ips/{second['id']}").status == 202
    assert old_demo("GET", f"/os-floating-ips/{fip['id']}").status == 404
    assert old_demo("DELETE", f"/os-floating-ips/{uuid.uuid4()}").status == 404


def test_networks(old_admin, old_demo, demo_server):
    nets = old_admin("GET", "/os-networks").json()["networks"]
    public = next(n for n in nets if n["label"] == "public")
    assert "project_id" in public and public["cidr"]
    shown = old_demo("GET", f"/os-networks/{public['id']}").json()["network"]
    assert shown["label"] == "public" and "project_id" not in shown
    assert old_demo("GET", f"/os-networks/{uuid.uuid4()}").status == 404
    mine = old_demo("GET", "/os-tenant-networks").json()["networks"]
    server_nets = old_demo("GET", f"/servers/{demo_server}").json()["server"]["addresses"]
    assert set(server_nets) <= {n["label"] for n in mine} and "public" not in {n["label"] for n in mine}
    one = mine[0]
    assert old_demo("GET", f"/os-tenant-networks/{one['id']}").json()["network"] == one


def test_images_and_image_metadata(cloud, old_demo, old_admin, image_id):
    listed = old_demo("GET", "/images").json()["images"]
    assert image_id in [i["id"] for i in listed]
    detail = old_demo("GET", f"/images/{image_id}").json()["image"]
    assert detail["status"] == "ACTIVE" and detail["progress"] == 100 and detail["minDisk"] >= 0
    assert [i for i in old_demo("GET", "/images/detail?status=ACTIVE").json()["images"] if i["id"] == image_id]
    assert old_demo("GET", "/images?limit=1").json()["images"].__len__() == 1
    assert old_demo("GET", f"/images/{uuid.uuid4()}").status == 404
    # metadata on an image of one's own
    r = cloud.request("POST", "/image/v2/images", old_demo.token,
                      {"name": "proxy-img", "disk_format": "raw", "container_format": "bare"})
    assert r.status == 201, r
    own = r.json()["id"]
    r = old_demo("POST", f"/images/{own}/metadata", {"metadata": {"k1": "v1", "k2": "v2"}})
    assert r.status == 200 and r.json()["metadata"] == {"k1": "v1", "k2": "v2"}
    assert old_demo("GET", f"/images/{own}/metadata/k1").json() == {"meta": {"k1": "v1"}}
    assert old_demo("PUT", f"/images/{own}/metadata/k1", {"meta": {"k1": "new"}}).json() == {"meta": {"k1": "new"}}
    assert old_demo("PUT", f"/images/{own}/metadata/k1", {"meta": {"other": "x"}}).status == 400
    assert old_demo("PUT", f"/images/{own}/metadata", {"metadata": {"k3": "v3"}}).json()["metadata"] == {"k3": "v3"}
    assert old_demo("DELETE", f"/images/{own}/metadata/k3").status == 204
    assert old_demo("GET", f"/images/{own}/metadata/k3").status == 404
    assert old_demo("GET", f"/images/{own}/metadata").json() == {"metadata": {}}
    # someone else's public image: visible, not modifiable, not deletable
    assert old_demo("POST", f"/images/{image_id}/metadata", {"metadata": {"x": "y"}}).status == 403
    assert old_demo("DELETE", f"/images/{image_id}").status == 403
    assert old_demo("DELETE", f"/images/{own}").status == 204
    assert old_demo("GET", f"/images/{own}").status == 404


def test_volumes_and_snapshots(old_demo):
    assert old_demo("POST", "/os-volumes", {"volume": {"size": 0}}).status == 400
    assert old_demo("POST", "/os-volumes", {"volume": {"display_name": "x"}}).status == 400
    r = old_demo("POST", "/os-volumes", {"volume": {"size": 1, "display_name": "pv", "display_description": "dd",
                                                    "metadata": {"a": "b"}}})
    assert r.status == 200, r
    vol = r.json()["volume"]
    assert vol["displayName"] == "pv" and vol["metadata"] == {"a": "b"} and vol["attachments"] == [{}]
    wait_until(lambda: old_demo("GET", f"/os-volumes/{vol['id']}").json()["volume"]["status"], "available")
    assert vol["id"] in [v["id"] for v in old_demo("GET", "/os-volumes").json()["volumes"]]
    assert vol["id"] in [v["id"] for v in old_demo("GET", "/os-volumes/detail").json()["volumes"]]
    r = old_demo("POST", "/os-snapshots", {"snapshot": {"volume_id": vol["id"], "display_name": "ps"}})
    assert r.status == 200, r
    snap = r.json()["snapshot"]
    assert snap["volumeId"] == vol["id"] and snap["displayName"] == "ps"
    wait_until(lambda: old_demo("GET", f"/os-snapshots/{snap['id']}").json()["snapshot"]["status"], "available")
    assert snap["id"] in [x["id"] for x in old_demo("GET", "/os-snapshots/detail").json()["snapshots"]]
    assert old_demo("POST", "/os-snapshots", {"snapshot": {"volume_id": str(uuid.uuid4())}}).status == 404
    assert old_demo("DELETE", f"/os-snapshots/{snap['id']}").status == 202
    wait_until(lambda: old_demo("GET", f"/os-snapshots/{snap['id']}").status, 404)
    assert old_demo("DELETE", f"/os-volumes/{vol['id']}").status == 202
    wait_until(lambda: old_demo("GET", f"/os-volumes/{vol['id']}").status, 404)
    assert old_demo("DELETE", f"/os-volumes/{uuid.uuid4()}").status == 404


def test_assisted_volume_snapshots(nova, old_admin, old_demo, image_id):
    vol = old_admin("POST", "/os-volumes", {"volume": {"size": 1}}).json()["volume"]
    wait_until(lambda: old_admin("GET", f"/os-volumes/{vol['id']}").json()["volume"]["status"], "available")
    body = {"snapshot": {"volume_id": vol["id"], "create_info": {"snapshot_id": str(uuid.uuid4()),
                                                                 "type": "qcow2", "new_file": "f"}}}
    assert old_admin("POST", "/os-assisted-volume-snapshots", body).status == 400      # not attached
    srv = nova.create(f"avs-{uuid.uuid4().hex[:6]}", image_id)
    nova.wait(srv["id"])
    try:
        r = nova("POST", f"/servers/{srv['id']}/os-volume_attachments", {"volumeAttachment": {"volumeId": vol["id"]}})
        assert r.status == 202 and not r.body, r       # 2.101: accepted, no body
        assert old_demo("POST", "/os-assisted-volume-snapshots", body).status == 403
        r = old_admin("POST", "/os-assisted-volume-snapshots", body)
        assert r.status == 200, r
        assert r.json() == {"snapshot": {"id": body["snapshot"]["create_info"]["snapshot_id"],
                                         "volumeId": vol["id"]}}
        sid = body["snapshot"]["create_info"]["snapshot_id"]
        info = '{"volume_id": "%s"}' % vol["id"]
        from urllib.parse import quote
        assert old_admin("DELETE", f"/os-assisted-volume-snapshots/{sid}?delete_info={quote(info)}").status == 204
        assert old_admin("DELETE", f"/os-assisted-volume-snapshots/{sid}").status == 400
    finally:
        nova("DELETE", f"/servers/{srv['id']}")
        nova.gone(srv["id"])
        wait_until(lambda: old_admin("GET", f"/os-volumes/{vol['id']}").json()["volume"]["status"], "available")
        old_admin("DELETE", f"/os-volumes/{vol['id']}")


def test_os_hosts_actions(old_admin, old_demo):
    computes = [h["host_name"] for h in old_admin("GET", "/os-hosts").json()["hosts"] if h["service"] == "compute"]
    host = computes[-1]
    r = old_admin("PUT", f"/os-hosts/{host}", {"status": "disable"})
    assert r.status == 200 and r.json() == {"host": host, "status": "disabled"}
    svc = [x for x in old_admin("GET", f"/os-services?host={host}").json()["services"] if x["binary"] == "nova-compute"]
    assert svc[0]["status"] == "disabled"
    r = old_admin("PUT", f"/os-hosts/{host}", {"status": "enable", "maintenance_mode": "disable"})
    assert r.json() == {"host": host, "status": "enabled", "maintenance_mode": "off_maintenance"}
    for bad in ({}, {"status": "bogus"}, {"maintenance_mode": "bogus"}, {"status": "enable", "x": 1}):
        assert old_admin("PUT", f"/os-hosts/{host}", bad).status == 400, bad
    assert old_admin("PUT", "/os-hosts/no-such-host", {"status": "enable"}).status == 404
    assert old_demo("PUT", f"/os-hosts/{host}", {"status": "enable"}).status == 403
    for action in ("reboot", "shutdown", "startup"):
        assert old_admin("GET", f"/os-hosts/{host}/{action}").json() == {"host": host, "power_action": action}
        assert old_admin("GET", f"/os-hosts/no-such-host/{action}").status == 404
        assert old_demo("GET", f"/os-hosts/{host}/{action}").status == 403
    assert old_admin("PUT", f"/os-hosts/{host}", {"status": "enable"}, version="2.43").status == 404


def test_instance_usage_audit_log(old_admin, old_demo):
    log = old_admin("GET", "/os-instance_usage_audit_log").json()["instance_usage_audit_logs"]
    assert log["num_hosts"] >= 1 and log["num_hosts_not_run"] == log["num_hosts"] and log["log"] == {}
    assert log["period_ending"].endswith("-01 00:00:00")
    r = old_admin("GET", "/os-instance_usage_audit_log/2020-03-15%2010:00:00")
    assert r.status == 200
    one = r.json()["instance_usage_audit_log"]
    assert (one["period_beginning"], one["period_ending"]) == ("2020-02-01 00:00:00", "2020-03-01 00:00:00")
    assert old_admin("GET", "/os-instance_usage_audit_log/not-a-date").status == 400
    assert old_demo("GET", "/os-instance_usage_audit_log").status == 403


@pytest.mark.parametrize("method,path", [("DELETE", "/images/"), ("DELETE", "/os-security-groups/"),
                                         ("DELETE", "/os-volumes/"), ("GET", "/os-volumes/")])
def test_blank_ids_are_not_found(old_demo, method, path):
    assert old_demo(method, path).status == 404


def test_unknown_security_group_at_create_is_a_400(nova_demo, image_id):
    r = nova_demo("POST", "/servers", {"server": {"name": "sg", "imageRef": image_id, "flavorRef": "1",
                                                  "networks": "auto", "security_groups": [{"name": "nope"}]}})
    assert r.status == 400 and "nope" in r.json()["badRequest"]["message"], r
