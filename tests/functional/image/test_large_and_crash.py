"""A 2 GiB image streams through with flat server memory; a kill -9 mid-upload leaves no
partial data and the image back in 'queued' after restart."""
from __future__ import annotations

import hashlib
import http.client
import io
import os
import shutil
import time

import pytest

from tests.functional.image.conftest import OCTET, Glance
from tests.harness import RunningCloud

MiB = 1 << 20


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _reset_peak(pid: int) -> None:
    """Reset the process's VmHWM (peak RSS) to its current RSS (Linux >= 4.0)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def _generated(total: int, md5: "hashlib._Hash"):
    """``total`` bytes of incompressible data, 1 MiB at a time, never held whole."""
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


class _Md5Sink(io.RawIOBase):
    """What openstacksdk's download_image writes into: counts and hashes, keeps nothing."""

    def __init__(self) -> None:
        self.md5, self.size = hashlib.md5(), 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        self.md5.update(b)
        self.size += len(b)
        return len(b)


# A fixed bound on the server's memory growth while a 2 GiB image passes through it, both
# ways: buffers and hashing state, never anything proportional to the image.
RSS_BOUND_MIB = 128


@pytest.fixture(params=["local", "object"])
def store_cloud(request, tmp_path):
    """The shared cloud (image store "local", files) or a cloud of its own whose images go
    to the object service (``[image] default_store = object``)."""
    if request.param == "local":
        yield request.getfixturevalue("cloud")
        return
    c = RunningCloud.start(tmp_path / "state", env={"ONESTACK_IMAGE__ENABLED_STORES": "local,object",
                                                     "ONESTACK_IMAGE__DEFAULT_STORE": "object"})
    yield c
    c.destroy()


@pytest.mark.slow
def test_2gib_upload_download_keeps_server_rss_flat(store_cloud):
    """openstacksdk uploads a 2 GiB image from a generator (chunked, nothing on disk on the
    client side) and downloads it; the server's peak RSS (VmHWM, reset at the baseline)
    stays within RSS_BOUND_MIB of the baseline and the download's md5 is the upload's."""
    cloud = store_cloud
    size = 2048 * MiB
    pid = cloud.proc.pid
    conn = cloud.sdk()
    free = shutil.disk_usage(cloud.state_dir).free
    if free < size + 2048 * MiB:
        pytest.skip(f"needs {size // MiB + 2048} MiB free under the state dir, {free // MiB} MiB free")
    # warm up the upload and download paths, then take the baseline
    warm = conn.image.create_image("warm", data=os.urandom(4 * MiB), disk_format="raw",
                                   container_format="bare", allow_duplicates=True)
    conn.image.download_image(warm, output=_Md5Sink())
    baseline = _status_kib(pid, "VmRSS")
    _reset_peak(pid)
    up_md5 = hashlib.md5()
    t0 = time.monotonic()
    img = conn.image.create_image("large-2g", data=_generated(size, up_md5), disk_format="raw",
                                  container_format="bare", allow_duplicates=True)
    t_up = time.monotonic() - t0
    up_peak = _status_kib(pid, "VmHWM")
    img = conn.image.get_image(img.id)
    assert img.status == "active" and img.size == size
    assert img.checksum == up_md5.hexdigest()
    stores = img.properties.get("stores")
    assert stores == ("local" if cloud.env.get("ONESTACK_IMAGE__DEFAULT_STORE") is None else "object")
    _reset_peak(pid)
    sink = _Md5Sink()
    t0 = time.monotonic()
    # streams, and the SDK itself checks the data against the image's multihash
    conn.image.download_image(img, output=sink, chunk_size=4 * MiB)
    t_down = time.monotonic() - t0
    down_peak = _status_kib(pid, "VmHWM")
    assert sink.size == size and sink.md5.hexdigest() == up_md5.hexdigest()
    up_growth, down_growth = (up_peak - baseline) / 1024, (down_peak - baseline) / 1024
    print(f"2 GiB image ({stores} store): server RSS baseline {baseline // 1024} MiB, "
          f"peak +{up_growth:.0f} MiB "
          f"during upload ({t_up:.1f} s), +{down_growth:.0f} MiB during download ({t_down:.1f} s)")
    conn.image.delete_image(img)
    conn.image.delete_image(warm)
    assert up_growth < RSS_BOUND_MIB, f"server RSS grew {up_growth:.0f} MiB during the upload"
    assert down_growth < RSS_BOUND_MIB, f"server RSS grew {down_growth:.0f} MiB during the download"


STORE_ENV = {"local": {}, "object": {"ONESTACK_IMAGE__ENABLED_STORES": "local,object",
                                     "ONESTACK_IMAGE__DEFAULT_STORE": "object"}}


@pytest.fixture(params=["local", "object"])
def crash_cloud(request, tmp_path):
    c = RunningCloud.start(tmp_path / "state", env=STORE_ENV[request.param])
    c.store = request.param  # type: ignore[attr-defined]
    yield c
    c.destroy()


@pytest.mark.slow
def test_kill9_mid_upload_leaves_queued_image_and_no_partial_file(crash_cloud):
    """kill -9 while an image's data streams in (file store, or the object store, which
    stages through the same temp area): after restart the image is queued again with no
    size/checksum, no temp file and no data is left, and a full upload then works."""
    fresh_cloud = crash_cloud
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
    # and the image takes a complete upload afterwards, into the store it was meant for
    gl.upload(img["id"], b"complete data")
    shown = gl.show(img["id"])
    assert shown["status"] == "active" and shown["stores"] == fresh_cloud.store
    r = gl.req("GET", f"/v2/images/{img['id']}/file")
    assert r.status == 200 and r.body == b"complete data"


@pytest.mark.slow
def test_kill9_mid_stage_leaves_queued_image_and_no_staged_file(fresh_cloud):
    """kill -9 while an image's data streams into the staging area (interoperable import,
    PUT /stage): after restart the image is queued, nothing is left in the staging area
    or the store, and stage + glance-direct import then work."""
    gl = Glance(fresh_cloud, fresh_cloud.token())
    img = gl.create(name="crashy-stage")
    conn = http.client.HTTPConnection("127.0.0.1", fresh_cloud.port, timeout=60)
    conn.putrequest("PUT", f"/image/v2/images/{img['id']}/stage")
    conn.putheader("X-Auth-Token", gl.token)
    conn.putheader("Content-Type", OCTET)
    conn.putheader("Content-Length", str(256 * MiB))
    conn.endheaders()
    block = os.urandom(MiB)
    staging = fresh_cloud.state_dir / "image-staging"
    deadline = time.monotonic() + 30
    while not (staging / ".tmp").is_dir() or not any((staging / ".tmp").iterdir()):
        assert time.monotonic() < deadline, "nothing reached the staging area within 30 s"
        conn.send(block)
        time.sleep(0.02)
    for _ in range(8):
        conn.send(block)
    assert gl.show(img["id"])["status"] == "uploading"
    fresh_cloud.kill9()
    conn.close()
    fresh_cloud.launch()
    gl = Glance(fresh_cloud, fresh_cloud.token())
    after = gl.show(img["id"])
    assert after["status"] == "queued" and after["size"] is None
    assert [p for p in staging.rglob("*") if p.is_file()] == []
    assert not (fresh_cloud.state_dir / "images" / img["id"]).exists()
    data = os.urandom(MiB + 3)
    r = gl.req("PUT", f"/v2/images/{img['id']}/stage", raw=data, headers={"Content-Type": OCTET})
    assert r.status == 204, r
    r = gl.req("POST", f"/v2/images/{img['id']}/import", body={"method": {"name": "glance-direct"}})
    assert r.status == 202, r
    deadline = time.monotonic() + 60
    while gl.show(img["id"])["status"] != "active":
        assert time.monotonic() < deadline, gl.show(img["id"])
        time.sleep(0.1)
    assert gl.req("GET", f"/v2/images/{img['id']}/file").body == data


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
