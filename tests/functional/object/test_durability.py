"""kill -9 during 100 parallel PUTs: every acknowledged object survives byte-identical,
nothing partial is listed or served, and listings and stats agree with the objects."""
from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time

from tests.functional.object.conftest import SwiftUser


def test_kill9_during_parallel_puts(fresh_cloud):
    user = SwiftUser(fresh_cloud, "onestack")
    c = "durable"
    assert user.req("PUT", f"/{c}").status == 201
    payloads = {f"obj-{i:03d}": os.urandom(64 * 1024 + i * 1021) for i in range(100)}
    acked: dict[str, str] = {}
    lock = threading.Lock()
    start = threading.Event()

    def upload(name: str, data: bytes) -> None:
        start.wait()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", fresh_cloud.port, timeout=30)
            conn.putrequest("PUT", f"{user.path}/{c}/{name}")
            conn.putheader("X-Auth-Token", user.token)
            conn.putheader("Content-Length", str(len(data)))
            conn.endheaders()
            for i in range(0, len(data), 8192):      # dribble so some are mid-body at the kill
                conn.send(data[i:i + 8192])
                if i % (32 * 1024) == 0:
                    time.sleep(0.002)
            r = conn.getresponse()
            r.read()
            if r.status == 201:
                with lock:
                    acked[name] = r.getheader("etag")
        except OSError:
            pass

    threads = [threading.Thread(target=upload, args=item) for item in payloads.items()]
    for t in threads:
        t.start()
    start.set()
    # wait until some (not all) PUTs are acknowledged, then kill -9
    deadline = time.time() + 30
    while time.time() < deadline and len(acked) < 20:
        time.sleep(0.01)
    fresh_cloud.kill9()
    for t in threads:
        t.join(timeout=60)
    snapshot = dict(acked)
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
