"""kill -9 while 20 servers build: after restart every server ends ACTIVE or ERROR and the
placement allocations match the servers exactly."""
from __future__ import annotations

import time

import pytest

from tests.functional.compute.conftest import Nova
from tests.harness import RunningCloud


@pytest.mark.slow
def test_kill9_during_builds_recovers(tmp_path):
    cloud = RunningCloud.start(tmp_path / "state", env={"ONESTACK_COMPUTE__FAKE_DELAY": "0.6"})
    try:
        nova = Nova(cloud)
        pid = cloud.sdk().current_project_id
        assert nova("PUT", f"/os-quota-sets/{pid}", {"quota_set": {"instances": 40, "cores": 80}}).status == 200
        image = cloud.request("GET", "/image/v2/images", nova.token).json()["images"][0]["id"]
        r = nova("POST", "/servers", {"server": {"name": "crash", "imageRef": image, "flavorRef": "42",
                                                 "networks": "none", "min_count": 20, "max_count": 20}})
        assert r.status == 202, r
        time.sleep(1.0)
        listed = nova("GET", "/servers/detail").json()["servers"]
        assert len(listed) == 20
        assert any(s["status"] == "BUILD" for s in listed)
        cloud.kill9()
        cloud.launch()
        nova = Nova(cloud)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            servers = nova("GET", "/servers/detail").json()["servers"]
            if all(s["status"] in ("ACTIVE", "ERROR") and s["OS-EXT-STS:task_state"] is None for s in servers):
                break
            time.sleep(0.5)
        assert len(servers) == 20
        assert all(s["status"] in ("ACTIVE", "ERROR") for s in servers), [s["status"] for s in servers]
        active = {s["id"] for s in servers if s["status"] == "ACTIVE"}
        consumers = set()
        for s in servers:
            a = cloud.request("GET", f"/placement/allocations/{s['id']}", nova.token,
                              headers={"OpenStack-API-Version": "placement 1.28"}).json()["allocations"]
            if a:
                consumers.add(s["id"])
                assert next(iter(a.values()))["resources"] == {"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1}
        assert consumers == active
        total = 0
        for rp in cloud.request("GET", "/placement/resource_providers", nova.token).json()["resource_providers"]:
            u = cloud.request("GET", f"/placement/resource_providers/{rp['uuid']}/usages", nova.token).json()
            total += u["usages"].get("VCPU", 0)
        assert total == len(active)
    finally:
        cloud.destroy()
