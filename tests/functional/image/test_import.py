"""Interoperable import: stage + glance-direct, web-download (allow-listed, local HTTP server),
copy-image, tasks; quotas."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time

import pytest

from tests.functional.image.conftest import OCTET, Glance, qcow2_header
from tests.harness import RunningCloud


def _wait_status(gl, image_id: str, want: set[str], timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        img = gl.show(image_id)
        if img["status"] in want or time.monotonic() > deadline:
            return img
        time.sleep(0.1)


def test_stage_then_glance_direct_import(gl_admin):
    data = os.urandom(1024 * 1024 + 5)
    img = gl_admin.create(name="staged")
    r = gl_admin.req("PUT", f"/v2/images/{img['id']}/stage", raw=data,
                     headers={"Content-Type": OCTET})
    assert r.status == 204, r
    assert gl_admin.show(img["id"])["status"] == "uploading"
    # staging twice is a conflict
    r = gl_admin.req("PUT", f"/v2/images/{img['id']}/stage", raw=data, headers={"Content-Type": OCTET})
    assert r.status == 409
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/import",
                     body={"method": {"name": "glance-direct"}})
    assert r.status == 202, r
    done = _wait_status(gl_admin, img["id"], {"active", "queued"})
    assert done["status"] == "active"
    assert done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert gl_admin.req("GET", f"/v2/images/{img['id']}/file").body == data
    assert done["os_glance_importing_to_stores"] == "" and done["os_glance_failed_import"] == ""
    assert done["os_glance_import_task"]
    tasks = gl_admin.req("GET", f"/v2/images/{img['id']}/tasks").json()["tasks"]
    assert tasks and tasks[0]["status"] == "success" and tasks[0]["type"] == "api_image_import"
    t = gl_admin.req("GET", f"/v2/tasks/{tasks[0]['id']}").json()
    assert t["image_id"] == img["id"]


def test_glance_direct_without_stage_is_conflict(gl_admin):
    img = gl_admin.create()
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/import",
                     body={"method": {"name": "glance-direct"}})
    assert r.status == 409
    assert gl_admin.show(img["id"])["status"] == "queued"


def test_import_of_bad_format_goes_back_to_queued(gl_admin):
    img = gl_admin.create(disk_format="qcow2")
    gl_admin.req("PUT", f"/v2/images/{img['id']}/stage", raw=qcow2_header(backing=True),
                 headers={"Content-Type": OCTET})
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/import",
                     body={"method": {"name": "glance-direct"}})
    assert r.status == 202
    done = _wait_status(gl_admin, img["id"], {"active", "queued"})
    assert done["status"] == "queued" and done["checksum"] is None
    task = gl_admin.req("GET", f"/v2/images/{img['id']}/tasks").json()["tasks"][0]
    assert task["status"] == "failure" and "backing file" in task["message"]


@pytest.mark.parametrize("body", [
    {}, {"method": "glance-direct"}, {"method": {"name": "teleport"}},
    {"method": {"name": "web-download", "uri": "http://example.com/x"}},   # disabled by default
    {"method": {"name": "glance-direct"}, "all_stores": "yes"},
])
def test_import_bad_bodies(gl_admin, body):
    img = gl_admin.create()
    assert gl_admin.req("POST", f"/v2/images/{img['id']}/import", body=body).status == 400


def test_import_unknown_store_and_copy_image(gl_admin):
    img = gl_admin.create()
    gl_admin.upload(img["id"], b"abc")
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/import",
                     body={"method": {"name": "copy-image"}, "stores": ["elsewhere"]})
    assert r.status == 409
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/import",
                     body={"method": {"name": "copy-image"}, "stores": ["local"]})
    assert r.status == 409                         # already in the only store
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/import",
                     body={"method": {"name": "copy-image"}, "all_stores": True,
                           "all_stores_must_succeed": False})
    assert r.status == 202                         # nothing left to copy: done at once
    shown = gl_admin.show(img["id"])
    assert shown["os_glance_importing_to_stores"] == "" and shown["os_glance_failed_import"] == ""
    r = gl_admin.req("PUT", f"/v2/images/{gl_admin.create()['id']}/file", raw=b"x",
                     headers={"Content-Type": OCTET, "X-Image-Meta-Store": "elsewhere"})
    assert r.status == 400


class _Handler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self):  # noqa: N802
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *a):
        pass


@pytest.fixture
def web_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()


@pytest.mark.slow
def test_web_download_with_allow_list(tmp_path, web_server):
    port = web_server.server_address[1]
    _Handler.payload = os.urandom(300000)
    cloud = RunningCloud.start(tmp_path / "state", env={
        "ONESTACK_IMAGE__WEB_DOWNLOAD_ENABLED": "true",
        "ONESTACK_IMAGE__WEB_DOWNLOAD_ALLOWED_HOSTS": f"127.0.0.1:{port}",
        "ONESTACK_IMAGE__TINY_IMAGE": "false"})
    try:
        gl = Glance(cloud, cloud.token())
        methods = gl.req("GET", "/v2/info/import").json()["import-methods"]["value"]
        assert "web-download" in methods
        img = gl.create(name="web")
        r = gl.req("POST", f"/v2/images/{img['id']}/import",
                   body={"method": {"name": "web-download", "uri": f"http://127.0.0.1:{port}/x.img"}})
        assert r.status == 202, r
        done = _wait_status(gl, img["id"], {"active", "queued"})
        assert done["status"] == "active"
        assert done["checksum"] == hashlib.md5(_Handler.payload).hexdigest()
        # hosts outside the list are refused up front; redirects are not followed
        img2 = gl.create(name="web2")
        r = gl.req("POST", f"/v2/images/{img2['id']}/import",
                   body={"method": {"name": "web-download", "uri": "http://10.0.0.1/x.img"}})
        assert r.status == 400
        r = gl.req("POST", f"/v2/images/{img2['id']}/import",
                   body={"method": {"name": "web-download", "uri": "file:///etc/passwd"}})
        assert r.status == 400
        r = gl.req("POST", f"/v2/images/{img2['id']}/import",
                   body={"method": {"name": "web-download",
                                    "uri": f"http://127.0.0.1:{port}/redirect"}})
        assert r.status == 202
        assert _wait_status(gl, img2["id"], {"active", "queued"})["status"] == "queued"
        # quotas from the [image] section: count
    finally:
        cloud.destroy()


@pytest.mark.slow
def test_quotas(tmp_path):
    cloud = RunningCloud.start(tmp_path / "state", env={
        "ONESTACK_IMAGE__IMAGE_COUNT_TOTAL": "3", "ONESTACK_IMAGE__IMAGE_SIZE_TOTAL": "1",
        "ONESTACK_IMAGE__TINY_IMAGE": "false"})
    try:
        gl = Glance(cloud, cloud.token("onestack"))
        a = gl.create()
        gl.upload(a["id"], os.urandom(700 * 1024))
        b = gl.create()
        r = gl.upload(b["id"], os.urandom(700 * 1024), expect=413)    # over 1 MiB total
        assert gl.show(b["id"])["status"] == "queued"
        gl.upload(b["id"], os.urandom(100 * 1024))
        gl.create()
        gl.create(expect=413)                                           # 4th image
        usage = gl.req("GET", "/v2/info/usage").json()["usage"]
        assert usage["image_count_total"] == {"limit": 3, "usage": 3}
        assert usage["image_size_total"]["limit"] == 1
    finally:
        cloud.destroy()


def test_legacy_task_create(gl_admin, gl_demo):
    body = {"type": "import", "input": {"import_from": "http://nowhere.invalid/x.qcow2",
                                        "import_from_format": "qcow2",
                                        "image_properties": {"disk_format": "qcow2",
                                                             "container_format": "bare"}}}
    assert gl_admin.req("POST", "/v2/tasks", body=body).status == 400      # not allow-listed
    assert gl_admin.req("POST", "/v2/tasks", body={"type": "nope", "input": {}}).status == 400
    assert gl_demo.req("POST", "/v2/tasks", body=body).status == 403
    assert gl_demo.req("GET", "/v2/tasks").status == 403
    assert gl_admin.req("GET", "/v2/tasks").status == 200
    assert gl_admin.req("GET", "/v2/tasks/nope").status == 404


def test_unified_limits_from_identity(cloud, gl_admin, gl_demo, demo_project):
    """A Keystone unified limit (image_count_total) for the demo project is enforced."""
    admin = gl_admin.token
    svc = cloud.request("GET", "/v3/services?type=image", token=admin).json()["services"][0]["id"]
    r = cloud.request("POST", "/v3/registered_limits", token=admin, body={"registered_limits": [
        {"service_id": svc, "resource_name": "image_count_total", "default_limit": -1}]})
    assert r.status in (201, 409), r
    used = gl_demo.req("GET", "/v2/info/usage").json()["usage"]["image_count_total"]["usage"]
    r = cloud.request("POST", "/v3/limits", token=admin, body={"limits": [
        {"service_id": svc, "project_id": demo_project, "resource_name": "image_count_total",
         "resource_limit": used + 1}]})
    assert r.status == 201, r
    limit_id = r.json()["limits"][0]["id"]
    try:
        gl_demo.create()
        gl_demo.create(expect=413)
        usage = gl_demo.req("GET", "/v2/info/usage").json()["usage"]["image_count_total"]
        assert usage == {"limit": used + 1, "usage": used + 1}
    finally:
        assert cloud.request("DELETE", f"/v3/limits/{limit_id}", token=admin).status == 204
    gl_demo.create()
