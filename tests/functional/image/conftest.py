"""Helpers for image tests: tokens for both tenants and raw Glance calls."""
from __future__ import annotations

import json
import struct
import uuid
from typing import Any

import pytest

PATCH = "application/openstack-images-v2.1-json-patch"
OCTET = "application/octet-stream"


class Glance:
    """Raw HTTP against /image/v2 as one user (what glanceclient/curl would send)."""

    def __init__(self, cloud: Any, token: str):
        self.cloud = cloud
        self.token = token

    def req(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
            headers: dict[str, str] | None = None):
        return self.cloud.request(method, "/image" + path, token=self.token, body=body, raw=raw,
                                  headers=headers)

    def create(self, expect: int = 201, **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", f"t-{uuid.uuid4().hex[:8]}")
        fields.setdefault("disk_format", "raw")
        fields.setdefault("container_format", "bare")
        r = self.req("POST", "/v2/images", body=fields)
        assert r.status == expect, r
        return r.json() if expect == 201 else {}

    def upload(self, image_id: str, data: bytes, expect: int = 204) -> Any:
        r = self.req("PUT", f"/v2/images/{image_id}/file", raw=data,
                     headers={"Content-Type": OCTET})
        assert r.status == expect, r
        return r

    def patch(self, image_id: str, ops: list[dict[str, Any]], expect: int = 200) -> Any:
        r = self.req("PATCH", f"/v2/images/{image_id}", raw=json.dumps(ops).encode(),
                     headers={"Content-Type": PATCH})
        assert r.status == expect, r
        return r.json() if expect == 200 else r

    def show(self, image_id: str) -> dict[str, Any]:
        r = self.req("GET", f"/v2/images/{image_id}")
        assert r.status == 200, r
        return r.json()

    def list(self, query: str = "") -> list[dict[str, Any]]:
        r = self.req("GET", "/v2/images" + (("?" + query) if query else ""))
        assert r.status == 200, r
        return r.json()["images"]


@pytest.fixture(scope="session")
def gl_admin(cloud) -> Glance:
    return Glance(cloud, cloud.token("onestack-admin"))


@pytest.fixture(scope="session")
def gl_demo(cloud) -> Glance:
    return Glance(cloud, cloud.token("onestack"))


@pytest.fixture(scope="session")
def demo_project(cloud) -> str:
    return cloud.sdk("onestack").current_project_id


def qcow2_header(size: int = 1 << 30, backing: bool = False, data_file: bool = False,
                 total: int = 256 * 1024) -> bytes:
    """A qcow2 v3 header (+ zero padding) as qemu-img would write it, optionally malicious."""
    h = bytearray(total)
    h[0:4] = b"QFI\xfb"
    struct.pack_into(">I", h, 4, 3)
    if backing:
        name = b"/etc/passwd"
        struct.pack_into(">QI", h, 8, 0x200, len(name))
        h[0x200:0x200 + len(name)] = name
    struct.pack_into(">I", h, 20, 16)
    struct.pack_into(">Q", h, 24, size)
    struct.pack_into(">Q", h, 72, 0x04 if data_file else 0)
    struct.pack_into(">I", h, 96, 4)
    struct.pack_into(">I", h, 100, 112)
    return bytes(h)
