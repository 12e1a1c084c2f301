"""kill -9 during 100 parallel PUTs: every acknowledged object survives byte-identical,
nothing partial is listed or served, and listings and stats agree with the objects."""
from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time

from tests.functional.object.conftest import SwiftUser


def puts_then_kill9(cloud, user, container, uploads, enough):
    """PUT every (name, data) in parallel, dribbling the bodies so some are mid-body, and
    kill -9 the cloud once ``enough`` are acknowledged: [(name, response headers, data)]
    of the acknowledged ones."""
    acked = []
    lock = threading.Lock()
    start = threading.Event()

    def upload(name, data):
        start.wait()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", cloud.port, timeout=30)
            conn.putrequest("PUT", f"{user.path}/{container}/{name}")
            conn.putheader("X-Auth-Token", user.token)
            conn.putheader("Content-Length", str(len(data)))
            conn.endheaders()
            for i in range(0, len(data), 8192):
                conn.send(data[i:i + 8192])
                if i % (32 * 1024) == 0:
                    time.sleep(0.002)
            r = conn.getresponse()
            r.read()
            if r.status == 201:
                with lock:
                    acked.append((name, {k.lower(): v for k, v in r.getheaders()}, data))
        except OSError:
            pass

    threads = [threading.Thread(target=upload, args=item) for item in uploads]
    for t in threads:
        t.start()
    start.set()
    deadline = time.time() + 30
    while time.time() < deadline and len(acked) < enough:
        time.sleep(0.01)
    cloud.kill9()
    for t in threads:
        t.join(timeout=60)
    with lock:
        return list(acked)


def test_kill9_during_parallel_puts(fresh_cloud):
    user = SwiftUser(fresh_cloud, "onestack")
    c = "durable"
    assert user.req("PUT", f"/{c}").status == 201
    payloads = {f"obj-{i:03d}": os.urandom(64 * 1024 + i * 1021) for i in range(100)}
    acked = puts_then_kill9(fresh_cloud, user, c, payloads.items(), enough=20)
    snapshot = {name: h["etag"] for name, h, _ in acked}
    assert snapshot, "no PUT completed before the kill"

    fresh_cloud.launch()
    user = SwiftUser(fresh_cloud, "onestack")
    listing = user.req("GET", f"/{c}?format=json").json()
    listed = {r["name"]: r for r in listing}
    # every acknowledged object is listed and reads back identical
    for name, etag in snapshot.items():
        assert name in listed, name
        body = user.req("GET", f"/{c}/{name}").body
        assert body == payloads[name]
        assert hashlib.md5(body).hexdigest() == etag
    # nothing partial: every listed object is complete and served
    for name, row in listed.items():
        body = user.req("GET", f"/{c}/{name}").body
        assert body == payloads[name], name
        assert row["bytes"] == len(payloads[name]) and row["hash"] == hashlib.md5(body).hexdigest()
    # stats agree with the objects
    head = user.req("HEAD", f"/{c}")
    assert int(head.headers["x-container-object-count"]) == len(listed)
    assert int(head.headers["x-container-bytes-used"]) == sum(len(payloads[n]) for n in listed)
    acct = user.req("HEAD")
    assert int(acct.headers["x-account-object-count"]) == len(listed)
    assert int(acct.headers["x-account-bytes-used"]) == sum(len(payloads[n]) for n in listed)
    # unlisted names are not served either
    for name in set(payloads) - set(listed):
        assert user.req("GET", f"/{c}/{name}").status == 404
    # no temp file survives the restart
    tmp = fresh_cloud.state_dir / "object" / "devices" / "d1" / "tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


def test_kill9_during_versioned_puts_keeps_every_acknowledged_version(fresh_cloud):
    """Versions share the promise: each acknowledged version id reads back byte-identical
    after a kill -9, and ?versions lists exactly what reads back."""
    user = SwiftUser(fresh_cloud, "onestack")
    c = "versioned"
    assert user.req("PUT", f"/{c}", headers={"X-Versions-Enabled": "true"}).status == 201
    uploads = [(f"doc-{i % 5}", os.urandom(32 * 1024 + i * 517)) for i in range(60)]
    acked = puts_then_kill9(fresh_cloud, user, c, uploads, enough=15)
    snapshot = {h["x-object-version-id"]: (name, data) for name, h, data in acked}
    assert snapshot, "no PUT completed before the kill"

    fresh_cloud.launch()
    user = SwiftUser(fresh_cloud, "onestack")
    for vid, (name, data) in snapshot.items():
        r = user.req("GET", f"/{c}/{name}?version-id={vid}")
        assert r.status == 200 and r.body == data, (name, vid)
    rows = user.req("GET", f"/{c}?versions&format=json").json()
    listed = {(r["name"], r["version_id"]) for r in rows}
    assert {(name, vid) for vid, (name, _) in snapshot.items()} <= listed
    for name, vid in listed:       # nothing listed that does not read back whole
        r = user.req("GET", f"/{c}/{name}?version-id={vid}")
        assert r.status == 200 and hashlib.md5(r.body).hexdigest() == next(
            x["hash"] for x in rows if (x["name"], x["version_id"]) == (name, vid))
    # the current object of each name is its newest listed version
    for name in {n for n, _ in listed}:
        newest = max((float(v), v) for n, v in listed if n == name)[1]
        assert user.req("HEAD", f"/{c}/{name}").headers["x-object-version-id"] == newest
