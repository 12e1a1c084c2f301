"""Scheduling under contention: quota races, anti-affinity exhaustion, no leaked allocations."""
from __future__ import annotations

import concurrent.futures
import json
import time
import uuid

from tests.functional.compute.conftest import Nova


def _allocations(cloud, token, consumer):
    r = cloud.request("GET", f"/placement/allocations/{consumer}", token,
                      headers={"OpenStack-API-Version": "placement 1.28"})
    assert r.status == 200, r
    return r.json()["allocations"]


def _new_member_token(cloud, uniq):
    """A fresh project + member user (so the quota race is not disturbed by other tests)."""
    project = f"race-{uniq}"
    cloud.cli("project", "create", project)
    cloud.cli("user", "create", "--password", "pw-race-123", "--project", project, f"u-{uniq}")
    cloud.cli("role", "add", "--user", f"u-{uniq}", "--project", project, "member", json_out=False)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": f"u-{uniq}", "domain": {"id": "default"}, "password": "pw-race-123"}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    r = cloud.request("POST", "/identity/v3/auth/tokens", body=body)
    assert r.status == 201, r
    return r.headers["x-subject-token"], r.json()["token"]["project"]["id"]


def test_parallel_creates_respect_quota_exactly(cloud, nova, image_id, uniq):
    token, pid = _new_member_token(cloud, uniq)
    r = nova("PUT", f"/os-quota-sets/{pid}", {"quota_set": {"instances": 20, "cores": 100, "ram": 100000}})
    assert r.status == 200, r
    user = Nova(cloud)
    user.token = token

    def create(i):
        return user("POST", "/servers", {"server": {"name": f"race-{i}", "imageRef": image_id, "flavorRef": "42",
                                                    "networks": "none"}})
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(create, range(50)))
    accepted = [r.json()["server"]["id"] for r in results if r.status == 202]
    refused = [r for r in results if r.status != 202]
    assert len(accepted) == 20, [r.status for r in results]
    assert len(refused) == 30
    for r in refused:
        assert r.status == 403, r
        assert "Quota exceeded for instances" in r.json()["forbidden"]["message"]
    for sid in accepted:
        user.wait(sid)
    admin_tok = nova.token
    for sid in accepted:
        allocs = _allocations(cloud, admin_tok, sid)
        assert len(allocs) == 1
        res = next(iter(allocs.values()))["resources"]
        assert res == {"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1}
    usage = cloud.request("GET", f"/placement/usages?project_id={pid}", admin_tok,
                          headers={"OpenStack-API-Version": "placement 1.9"}).json()["usages"]
    assert usage == {"VCPU": 20, "MEMORY_MB": 20 * 128, "DISK_GB": 20}
    for sid in accepted:
        assert user("DELETE", f"/servers/{sid}").status == 204
    for sid in accepted:
        user.gone(sid)
    for sid in accepted:
        assert _allocations(cloud, admin_tok, sid) == {}
    usage = cloud.request("GET", f"/placement/usages?project_id={pid}", admin_tok,
                          headers={"OpenStack-API-Version": "placement 1.9"}).json()["usages"]
    assert usage == {}


def test_anti_affinity_group_of_three_on_two_hosts(nova, image_id, uniq):
    g = nova("POST", "/os-server-groups", {"server_group": {"name": f"aa-{uniq}", "policy": "anti-affinity"}})
    gid = g.json()["server_group"]["id"]
    ids = []
    for i in range(3):
        r = nova("POST", "/servers", {"server": {"name": f"aa-{uniq}-{i}", "imageRef": image_id, "flavorRef": "42",
                                                 "networks": "none"}, "os:scheduler_hints": {"group": gid}})
        assert r.status == 202, r
        ids.append(r.json()["server"]["id"])
        if i < 2:
            nova.wait(ids[-1])
    third = nova.wait(ids[2], ("ERROR",))
    assert third["fault"]["code"] == 500
    assert "No valid host was found" in third["fault"]["message"]
    first_two = [nova("GET", f"/servers/{i}").json()["server"] for i in ids[:2]]
    assert first_two[0]["OS-EXT-SRV-ATTR:host"] != first_two[1]["OS-EXT-SRV-ATTR:host"]
    assert _allocations(nova.cloud, nova.token, ids[2]) == {}
    members = nova("GET", f"/os-server-groups/{gid}").json()["server_group"]["members"]
    assert set(members) == set(ids)
    for i in ids:
        nova("DELETE", f"/servers/{i}")
    for i in ids:
        nova.gone(i)
    nova("DELETE", f"/os-server-groups/{gid}")


def test_affinity_and_forced_host_and_az(nova, image_id, uniq):
    g = nova("POST", "/os-server-groups", {"server_group": {"name": f"af-{uniq}", "policy": "affinity"}})
    gid = g.json()["server_group"]["id"]
    a = nova("POST", "/servers", {"server": {"name": f"af-{uniq}-0", "imageRef": image_id, "flavorRef": "42",
                                             "networks": "none", "availability_zone": "nova:fake-2"},
                                  "os:scheduler_hints": {"group": gid}}).json()["server"]["id"]
    first = nova.wait(a)
    assert first["OS-EXT-SRV-ATTR:host"] == "fake-2"
    b = nova("POST", "/servers", {"server": {"name": f"af-{uniq}-1", "imageRef": image_id, "flavorRef": "42",
                                             "networks": "none"},
                                  "os:scheduler_hints": {"group": gid}}).json()["server"]["id"]
    assert nova.wait(b)["OS-EXT-SRV-ATTR:host"] == "fake-2"
    for i in (a, b):
        nova("DELETE", f"/servers/{i}")
    for i in (a, b):
        nova.gone(i)
    nova("DELETE", f"/os-server-groups/{gid}")


def test_oversized_flavor_goes_to_error_no_valid_host_in_cell0(nova, image_id, uniq):
    fid = f"huge-{uniq}"
    assert nova("POST", "/flavors", {"flavor": {"name": fid, "id": fid, "ram": 10_000_000, "vcpus": 1,
                                                 "disk": 1}}).status == 200
    nova("PUT", f"/os-quota-sets/{nova.cloud.sdk().current_project_id}",
         {"quota_set": {"ram": -1}})
    sid = nova.create(f"huge-{uniq}", image_id, flavor=fid)["id"]
    srv = nova.wait(sid, ("ERROR",))
    assert "No valid host" in srv["fault"]["message"] and srv["OS-EXT-SRV-ATTR:host"] is None
    acts = nova("GET", f"/servers/{sid}/os-instance-actions").json()["instanceActions"]
    assert acts[-1]["action"] == "create"
    assert nova("DELETE", f"/servers/{sid}").status == 204
    nova.gone(sid)
    nova("DELETE", f"/flavors/{fid}")


def test_scheduling_follows_service_and_inventory_changes_at_once(nova, cloud_token, image_id, uniq):
    """The scheduler answers from in-memory copies of the hosts and of placement's providers:
    a compute service disabled through the API, or a provider's inventory changed through the
    placement API, counts for the very next boot."""
    cloud, token = cloud_token
    pv = {"OpenStack-API-Version": "placement 1.28"}
    svcs = {s["host"]: s for s in nova("GET", "/os-services?binary=nova-compute").json()["services"]}
    assert {"fake-1", "fake-2"} <= set(svcs)

    def boot(tag):
        sid = nova.create(f"follow-{uniq}-{tag}", image_id, flavor="42")["id"]
        return sid, nova.wait(sid)["OS-EXT-SRV-ATTR:host"]
    made = []
    # 1. fake-1 disabled: every boot goes to fake-2
    assert nova("PUT", f"/os-services/{svcs['fake-1']['id']}", {"status": "disabled"}).status == 200
    try:
        for i in range(3):
            sid, host = boot(f"d{i}")
            made.append(sid)
            assert host == "fake-2"
    finally:
        assert nova("PUT", f"/os-services/{svcs['fake-1']['id']}", {"status": "enabled"}).status == 200
    # 2. fake-2's VCPUs all reserved through placement: the next boots go to fake-1
    rps = cloud.request("GET", "/placement/resource_providers?name=fake-2", token, headers=pv).json()
    rp = rps["resource_providers"][0]
    inv_url = f"/placement/resource_providers/{rp['uuid']}/inventories/VCPU"
    inv = cloud.request("GET", inv_url, token, headers=pv).json()
    full = dict(inv, reserved=inv["total"])
    r = cloud.request("PUT", inv_url, token, body=full, headers=pv)
    assert r.status == 200, r
    try:
        for i in range(3):
            sid, host = boot(f"r{i}")
            made.append(sid)
            assert host == "fake-1"
    finally:
        now = cloud.request("GET", inv_url, token, headers=pv).json()
        back = dict(inv, resource_provider_generation=now["resource_provider_generation"])
        assert cloud.request("PUT", inv_url, token, body=back, headers=pv).status == 200
    for sid in made:
        nova("DELETE", f"/servers/{sid}")
    for sid in made:
        nova.gone(sid)
