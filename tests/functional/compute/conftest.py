"""Helpers for compute tests: raw Nova requests, waiting for a status, the bootstrap image."""
from __future__ import annotations

import time
from typing import Any

import pytest

LATEST = "2.104"


class Nova:
    def __init__(self, cloud: Any, cloud_name: str = "onestack-admin", version: str = LATEST):
        self.cloud = cloud
        self.token = cloud.token(cloud_name)
        self.version = version

    def __call__(self, method: str, path: str, body: Any = None, version: str | None = None,
                 headers: dict[str, str] | None = None, raw: bytes | None = None) -> Any:
        h = {"OpenStack-API-Version": f"compute {version or self.version}", **(headers or {})}
        if raw is not None:
            h.setdefault("Content-Type", "application/json")
        return self.cloud.request(method, f"/compute/v2.1{path}", self.token, body, h, raw=raw)

    def create(self, name: str, image: str, flavor: str = "1", networks: Any = "none", **extra: Any) -> dict:
        r = self("POST", "/servers", {"server": {"name": name, "imageRef": image, "flavorRef": flavor,
                                                 "networks": networks, **extra}})
        assert r.status == 202, r
        return r.json()["server"]

    def wait(self, server_id: str, statuses: tuple[str, ...] = ("ACTIVE",), timeout: float = 60,
             task_state_clear: bool = True) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            r = self("GET", f"/servers/{server_id}")
            if r.status == 404 and "DELETED" in statuses:
                return {"status": "DELETED"}
            assert r.status == 200, r
            last = r.json()["server"]
            if last["status"] in statuses and (not task_state_clear or last["OS-EXT-STS:task_state"] is None):
                return last
            if last["status"] == "ERROR" and "ERROR" not in statuses:
                raise AssertionError(f"server went to ERROR: {last.get('fault')}")
            time.sleep(0.1)
        raise AssertionError(f"server {server_id} stuck: {last and (last['status'], last['OS-EXT-STS:task_state'])}")

    def gone(self, server_id: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self("GET", f"/servers/{server_id}").status == 404:
                return
            time.sleep(0.1)
        raise AssertionError(f"server {server_id} not deleted")


def wait_until(fn: Any, wanted: Any, timeout: float = 30.0) -> None:
    """Poll ``fn()`` until it returns ``wanted``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"stuck at {last!r}, wanted {wanted!r}")


@pytest.fixture(scope="session")
def nova(cloud):
    return Nova(cloud)


@pytest.fixture(scope="session")
def nova_demo(cloud):
    return Nova(cloud, "onestack")


@pytest.fixture(scope="session")
def image_id(cloud):
    r = cloud.request("GET", "/image/v2/images", cloud.token())
    assert r.status == 200, r
    imgs = [i for i in r.json()["images"] if i["status"] == "active"]
    assert imgs, "the image service bootstraps an image"
    return imgs[0]["id"]


@pytest.fixture(scope="session")
def cloud_token(cloud):
    return cloud, cloud.token()
