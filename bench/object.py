"""Object storage throughput and listing latency: onestack's Swift API beside upstream Swift.

    .venv/bin/python bench/object.py [--upstream] [--quick] [--listing N] [--no-report]

Starts `onestack up` in a scratch state dir, takes an admin token, and runs
../shared/reference/anchors/swiftbench.py (the same client the upstream Swift anchor uses)
against onestack's storage URL: 1 MiB and 64 MiB PUT/GET (MiB/s) and 4 KiB PUT/GET with 8
clients (ops/s). Measures the disk itself in the same run (dd with fdatasync, fsync'd 4 KiB
writes per second with 1 and 8 threads) so the numbers can be read against what the device
allows. With --upstream it also runs anchors/swift.sh (upstream Swift all-in-one, 1 replica,
its own disk figures skipped: ours are the same disk) right after, in the same run.

--listing N: a container of N objects whose listing rows are bulk-inserted into its listing
database (creating N objects through the API would take hours here; a listing reads only
that database), then GET pages of 10,000 over HTTP: the first page, a page from the middle
(marker), a prefix page and a delimiter page; the median of 5 of each.

Appends a dated section to docs/benchmarks.md unless --no-report.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = common.REPO
ANCHORS = Path(os.environ.get("ONESTACK_ANCHORS", REPO.parent / "shared" / "reference" / "anchors"))
BIN = Path(sys.executable).parent


def disk_figures(where: Path) -> list[str]:
    out = []
    target = where / "ddtest"
    r = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=512", "conv=fdatasync"],
                       capture_output=True, text=True)
    line = (r.stderr.strip().splitlines() or ["dd failed"])[-1]
    out.append(f"dd 512 MiB write + fdatasync: {line}")
    target.unlink(missing_ok=True)

    def fsyncs(n: int, tag: str) -> None:
        for i in range(n):
            p = where / f"f{tag}-{i}"
            fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            os.close(fd)

    for threads in (1, 8):
        n = 200
        t0 = time.perf_counter()
        ts = [threading.Thread(target=fsyncs, args=(n, f"{threads}-{k}")) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        dt = time.perf_counter() - t0
        for p in where.glob("f*"):
            p.unlink()
        out.append(f"4 KiB file create+write+fsync, {threads} thread(s): {n * threads / dt:.0f} ops/s")
    return out


def token(port: int) -> tuple[str, str]:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": "benchpw"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/identity/v3/auth/tokens",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        tok = r.headers["X-Subject-Token"]
        cat = json.loads(r.read())["token"]["catalog"]
    surl = next(e["url"] for s in cat if s["type"] == "object-store" for e in s["endpoints"]
                if e["interface"] == "public")
    return surl, tok


def http(method: str, url: str, tok: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, headers={"X-Auth-Token": tok})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def listing_bench(state: Path, surl: str, tok: str, n: int) -> list[str]:
    """Bulk-insert ``n`` listing rows into one container's database, then time pages."""
    c = "listing"
    assert http("PUT", f"{surl}/{c}", tok)[0] in (201, 202)
    sys.path.insert(0, str(REPO))
    from onestack.object.drivers.files import Ring
    root = state / "object"
    secret = (root / ".hash-secret").read_text().strip().encode()
    ring = Ring(root, ["d1"], 10, 1, secret)
    account = urllib.parse.urlsplit(surl).path.rstrip("/").rsplit("/", 1)[1]
    db = ring.locate("containers", account, c)[0] / "container.db"
    t0 = time.perf_counter()
    conn = sqlite3.connect(db, timeout=60)
    conn.execute("PRAGMA busy_timeout=60000")
    conn.execute("BEGIN IMMEDIATE")
    batch = 50000
    for start in range(0, n, batch):
        rows = [(f"dir{i % 100:02d}/obj-{i:08d}", "0000001700000.00000", 4096, "application/octet-stream",
                 "d41d8cd98f00b204e9800998ecf8427e", "2026-11-23T00:00:00.000000")
                for i in range(start, min(n, start + batch))]
        conn.executemany("INSERT OR REPLACE INTO object (name, ts, size, content_type, etag, "
                         "last_modified) VALUES (?, ?, ?, ?, ?, ?)", rows)
    conn.execute("UPDATE stat SET object_count = ?, bytes_used = ?", (n, n * 4096))
    conn.execute("COMMIT")
    conn.close()
    fill = time.perf_counter() - t0
    out = [f"container of {n:,} listing rows (bulk-inserted into its listing DB in {fill:.1f} s; "
           f"no object files), pages over HTTP, median of 5:"]
    mid = f"dir50/obj-{n // 2:08d}"
    cases = [("first page, limit 10000", "?format=json&limit=10000"),
             ("middle page (marker), limit 10000", f"?format=json&limit=10000&marker={mid}"),
             ("prefix page (prefix=dir77/), limit 10000", "?format=json&limit=10000&prefix=dir77/"),
             ("delimiter=/ (100 subdirs)", "?format=json&delimiter=/"),
             ("HEAD (stats)", "")]
    for label, q in cases:
        times, count = [], 0
        for _ in range(5):
            t = time.perf_counter()
            status, body = http("HEAD" if not q else "GET", f"{surl}/{c}{q}", tok)
            times.append((time.perf_counter() - t) * 1000)
            assert status in (200, 204), (label, status)
            count = len(json.loads(body)) if q else 0
        out.append(f"  {label:42s} {statistics.median(times):8.1f} ms  ({count} entries)")
    return out


def run_onestack(quick: bool, listing: int) -> tuple[list[str], float, list[str]]:
    state = Path(tempfile.mkdtemp(prefix="onestack-objbench-"))
    port = common.free_port()
    env = {**os.environ, "ONESTACK_LOG_LEVEL": "WARNING", "ONESTACK_COMPUTE__DRIVER": "fake",
           "ONESTACK_NETWORK__DRIVER": "fake"}
    proc = subprocess.Popen([str(BIN / "onestack"), "up", "--state-dir", str(state), "--port", str(port),
                             "--admin-password", "benchpw"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        common.wait_http(f"http://127.0.0.1:{port}/identity/v3", proc=proc)
        surl, tok = token(port)
        args = [sys.executable, str(ANCHORS / "swiftbench.py"), "--storage-url", surl, "--token", tok,
                "--server-pids", str(proc.pid)]
        if quick:
            args += ["--large", "1M:50:1,64M:3:1", "--small-n", "400"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=3600)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        if r.returncode != 0:
            lines.append(f"(swiftbench exited {r.returncode}: {r.stderr[-300:]})")
        rss = common.rss_mib(proc.pid)
        lst = listing_bench(state, surl, tok, listing) if listing else []
        return lines, rss, lst
    finally:
        common.stop(proc)
        subprocess.run(["rm", "-rf", str(state)])


def run_upstream(quick: bool) -> list[str]:
    env = {**os.environ, "REPLICAS": "1", "SKIP_DISK": "1"}
    if quick:
        env["BENCH_ARGS"] = "--large 1M:50:1,64M:3:1 --small-n 400"
    r = subprocess.run(["bash", str(ANCHORS / "swift.sh")], capture_output=True, text=True,
                       env=env, timeout=7200)
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    if r.returncode != 0:
        lines.append(f"(swift.sh exited {r.returncode}: {r.stderr[-500:]})")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", action="store_true", help="also run anchors/swift.sh (slow)")
    ap.add_argument("--quick", action="store_true", help="fewer objects per phase")
    ap.add_argument("--listing", type=int, default=0, help="objects in the listing benchmark")
    ap.add_argument("--no-report", action="store_true", help="print only")
    a = ap.parse_args()
    when, mach, load0 = common.now(), common.machine(), common.loadavg()
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        disk = disk_figures(Path(d))
    ours, rss, lst = run_onestack(a.quick, a.listing)
    load1 = common.loadavg()
    upstream = run_upstream(a.quick) if a.upstream else []
    load2 = common.loadavg()
    text = [f"\n## Object storage (Swift API) — {when}\n",
            f"Machine: {mach}; load average before the run {load0}, after onestack {load1}, after "
            f"upstream {load2} (a shared, noisy machine: other engineers' builds and tests run "
            f"beside it, so treat the figures as indicative). Filesystem: ext4 on /dev/vda (/tmp).\n",
            "Client: `../shared/reference/anchors/swiftbench.py` (the upstream anchor's own load "
            "generator) against each storage URL; one replica on one device, fsync on.\n",
            "Disk, measured in the same run:\n", "```", *disk, "```\n",
            f"onestack (`bench/object.py{' --quick' if a.quick else ''}`), RSS after the run {rss:.0f} MiB:\n",
            "```", *ours, "```\n"]
    if lst:
        text += ["onestack container listing:\n", "```", *lst, "```\n"]
    if upstream:
        text += ["Upstream Swift (anchors/swift.sh, REPLICAS=1, SKIP_DISK=1), same run, right after:\n",
                 "```", *upstream, "```\n"]
    else:
        text += ["Upstream Swift 2.38 all-in-one, 1 replica, from the anchors README (not re-run here): "
                 "64 MiB PUT 345 / GET 241 MiB/s; 4 KiB PUT 167 / GET 408 ops/s; 571 MiB RSS.\n"]
    report = "\n".join(text)
    print(report)
    if not a.no_report:
        with open(common.DOC, "a") as f:
            f.write(report + "\n")


if __name__ == "__main__":
    main()
