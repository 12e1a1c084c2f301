"""A large image streams through with flat server memory; a kill -9 mid-upload leaves no
partial data and the image back in 'queued' after restart."""
from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time

import pytest

from tests.functional.image.conftest import OCTET, Glance

MiB = 1 << 20


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _generated(total: int, md5: "hashlib._Hash"):
    block = bytearray(os.urandom(MiB))
    sent = 0
    n = 0
    while sent < total:
        block[:8] = n.to_bytes(8, "little")
        chunk = bytes(block[:min(MiB, total - sent)])
        md5.update(chunk)
        sent += len(chunk)
        n += 1
        yield chunk


class _Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _rss_kib(self.pid))
            time.sleep(0.05)


@pytest.mark.slow
def test_large_upload_download_keeps_server_rss_flat(cloud, gl_admin):
    size = 512 * MiB
    pid = cloud.proc.pid
    # warm up the code paths, then take the baseline
    warm = gl_admin.create(name="warm")
    gl_admin.upload(warm["id"], os.urandom(4 * MiB))
    gl_admin.req("GET", f"/v2/images/{warm['id']}/file")
    baseline = _rss_kib(pid)
    img = gl_admin.create(name="large", disk_format="raw")
    md5 = hashlib.md5()
    sampler = _Sampler(pid)
    sampler.start()
    conn = http.client.HTTPConnection("127.0.0.1", cloud.port, timeout=600)
    conn.request("PUT", f"/image/v2/images/{img['id']}/file", body=_generated(size, md5),
                 headers={"X-Auth-Token": gl_admin.token, "Content-Type": OCTET},
                 encode_chunked=True)
    r = conn.getresponse()
    r.read()
    assert r.status == 204
    up_peak = sampler.peak
    shown = gl_admin.show(img["id"])
    assert shown["size"] == size and shown["checksum"] == md5.hexdigest()
    # streamed download
    conn.request("GET", f"/image/v2/images/{img['id']}/file", headers={"X-Auth-Token": gl_admin.token})
    r = conn.getresponse()
    assert r.status == 200 and int(r.getheader("Content-Length")) == size
    down = hashlib.md5()
    got = 0
    while True:
        chunk = r.read(4 * MiB)
        if not chunk:
            break
        down.update(chunk)
        got += len(chunk)
    conn.close()
    sampler.stop.set()
    sampler.join()
    assert got == size and down.hexdigest() == md5.hexdigest() == r.getheader("Content-MD5")
    growth_mib = (sampler.peak - baseline) / 1024
    print(f"server RSS baseline {baseline // 1024} MiB, peak during upload {up_peak // 1024} MiB, "
          f"peak overall {sampler.peak // 1024} MiB (growth {growth_mib:.0f} MiB for a "
          f"{size // MiB} MiB image)")
    assert growth_mib < size / MiB / 4, "server memory grew with the image size"
    gl_admin.req("DELETE", f"/v2/images/{img['id']}")
    gl_admin.req("DELETE", f"/v2/images/{warm['id']}")


@pytest.mark.slow
def test_kill9_mid_upload_leaves_queued_image_and_no_partial_file(fresh_cloud):
    gl = Glance(fresh_cloud, fresh_cloud.token())
    img = gl.create(name="crashy")
    conn = http.client.HTTPConnection("127.0.0.1", fresh_cloud.port, timeout=60)
    conn.putrequest("PUT", f"/image/v2/images/{img['id']}/file")
    conn.putheader("X-Auth-Token", gl.token)
    conn.putheader("Content-Type", OCTET)
    conn.putheader("Content-Length", str(256 * MiB))
    conn.endheaders()
    block = os.urandom(MiB)
    for _ in range(24):
        conn.send(block)
    deadline = time.monotonic() + 30
    while gl.show(img["id"])["status"] != "saving" and time.monotonic() < deadline:
        conn.send(block)
        time.sleep(0.05)
    assert gl.show(img["id"])["status"] == "saving"
    tmp_dir = fresh_cloud.state_dir / "images" / ".tmp"
    assert any(tmp_dir.iterdir()), "the partial upload should be in the temp area"
    fresh_cloud.kill9()
    conn.close()
    fresh_cloud.launch()
    gl = Glance(fresh_cloud, fresh_cloud.token())
    after = gl.show(img["id"])
    assert after["status"] == "queued"
    assert after["size"] is None and after["checksum"] is None
    assert list(tmp_dir.iterdir()) == []
    assert not (fresh_cloud.state_dir / "images" / img["id"]).exists()
    # and the image takes a complete upload afterwards
    gl.upload(img["id"], b"complete data")
    assert gl.show(img["id"])["status"] == "active"


def _raw_put(cloud, token: str, image_id: str, length: str, body: bytes, close: bool = False):
    import socket
    s = socket.create_connection(("127.0.0.1", cloud.port), timeout=30)
    head = (f"PUT /image/v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\n"
            f"X-Auth-Token: {token}\r\nContent-Type: {OCTET}\r\nContent-Length: {length}\r\n\r\n")
    s.sendall(head.encode() + body)
    if close:
        s.close()
        return None
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return int(data.split(b" ", 2)[1]) if data else None


@pytest.mark.parametrize("length,status", [("99999999999999999", 413), ("-5", 400), ("abc", 400)])
def test_absurd_or_negative_sizes(cloud, gl_admin, length, status):
    img = gl_admin.create()
    assert _raw_put(cloud, gl_admin.token, img["id"], length, b"x" * 10) == status
    after = gl_admin.show(img["id"])
    assert after["status"] == "queued" and after["size"] is None


def test_client_disconnect_mid_upload_restores_queued(cloud, gl_admin):
    img = gl_admin.create()
    seen = []
    _raw_put(cloud, gl_admin.token, img["id"], str(64 * MiB), os.urandom(3 * MiB), close=True)
    start = time.monotonic()
    while time.monotonic() < start + 60:
        st = gl_admin.show(img["id"])["status"]
        seen.append(st)
        # restored (possibly before we could even see 'saving')
        if st == "queued" and ("saving" in seen or time.monotonic() > start + 5):
            break
        time.sleep(0.05)
    after = gl_admin.show(img["id"])
    assert after["status"] == "queued" and after["size"] is None
    assert gl_admin.req("GET", f"/v2/images/{img['id']}/file").status == 204
    gl_admin.upload(img["id"], b"then a full upload")
    assert gl_admin.show(img["id"])["status"] == "active"
