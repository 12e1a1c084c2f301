from __future__ import annotations

import time
from typing import Any

import pytest


def wait_status(cloud: Any, token: str, kind: str, rid: str, want: set[str], timeout: float = 60,
                version: str = "3.0") -> dict[str, Any]:
    """Poll GET /volume/v3/<kind>/<id> until its status is in ``want``."""
    deadline = time.monotonic() + timeout
    while True:
        r = cloud.request("GET", f"/volume/v3/{kind}s/{rid}", token=token,
                          headers={"OpenStack-API-Version": f"volume {version}"})
        if r.status == 404 and "deleted" in want:
            return {"status": "deleted"}
        assert r.status == 200, r
        body = r.json()[kind]
        if body["status"] in want:
            return body
        assert not body["status"].startswith("error") or "error" in want, body
        if time.monotonic() > deadline:
            raise AssertionError(f"{kind} {rid} still {body['status']} after {timeout}s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def admin_token(cloud):
    return cloud.token()


@pytest.fixture(scope="module")
def demo_token(cloud):
    return cloud.token("onestack")


@pytest.fixture(scope="module", autouse=True)
def roomy_admin_quota(cloud):
    """These tests make many volumes in the admin project: give it room, as an operator would."""
    tok = cloud.token()
    project = cloud.sdk().current_project_id
    r = cloud.request("PUT", f"/volume/v3/os-quota-sets/{project}", token=tok,
                      body={"quota_set": {"volumes": 500, "gigabytes": 50000, "snapshots": 500,
                                          "backups": 500, "backup_gigabytes": 50000}})
    assert r.status == 200, r
    yield
    cloud.request("DELETE", f"/volume/v3/os-quota-sets/{project}", token=tok)
