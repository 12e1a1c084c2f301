"""Object storage throughput: onestack's Swift API with the shared Swift load generator.

    .venv/bin/python bench/object.py [--upstream] [--quick]

Starts `onestack up` in a scratch state dir, takes an admin token, and runs
../shared/reference/anchors/swiftbench.py (the same client the upstream Swift anchor uses)
against onestack's storage URL: 1 MiB and 64 MiB PUT/GET (MiB/s) and 4 KiB PUT/GET with 8
clients (ops/s). Also measures the disk itself (dd with fdatasync, fsync'd 4 KiB writes per
second) so the numbers can be read against what the device allows. With --upstream it also
runs anchors/swift.sh (upstream Swift all-in-one, 1 replica) in the same run; otherwise the
anchor's published figures are quoted. Appends a dated section to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = common.REPO
ANCHORS = REPO.parent / "shared" / "reference" / "anchors"
BIN = Path(sys.executable).parent


def disk_figures(where: Path) -> list[str]:
    out = []
    target = where / "ddtest"
    r = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", "count=256", "conv=fdatasync"],
                       capture_output=True, text=True)
    line = (r.stderr.strip().splitlines() or ["dd failed"])[-1]
    out.append(f"dd 256 MiB write + fdatasync: {line}")
    r = subprocess.run(["dd", f"if={target}", "of=/dev/null", "bs=1M"], capture_output=True, text=True)
    out.append(f"dd 256 MiB read (page cache): {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    target.unlink(missing_ok=True)
    n, t0 = 200, time.perf_counter()
    for i in range(n):
        p = where / f"f{i}"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"x" * 4096)
        os.fsync(fd)
        os.close(fd)
    dt = time.perf_counter() - t0
    for i in range(n):
        (where / f"f{i}").unlink()
    out.append(f"4 KiB write+fsync, 1 thread: {n / dt:.0f} ops/s")
    return out


def run_onestack(quick: bool) -> tuple[list[str], float]:
    state = Path(tempfile.mkdtemp(prefix="onestack-objbench-"))
    port = common.free_port()
    env = {**os.environ, "ONESTACK_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([str(BIN / "onestack"), "up", "--state-dir", str(state), "--port", str(port),
                             "--admin-password", "benchpw"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        common.wait_http(f"http://127.0.0.1:{port}/identity/v3", proc=proc)
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "benchpw"}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/identity/v3/auth/tokens",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            token = r.headers["X-Subject-Token"]
            cat = json.loads(r.read())["token"]["catalog"]
        surl = next(e["url"] for s in cat if s["type"] == "object-store" for e in s["endpoints"]
                    if e["interface"] == "public")
        args = [sys.executable, str(ANCHORS / "swiftbench.py"), "--storage-url", surl, "--token", token,
                "--server-pids", str(proc.pid)]
        if quick:
            args += ["--large", "1M:50:1,64M:3:1", "--small-n", "400"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=3600)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        if r.returncode != 0:
            lines.append(f"(swiftbench exited {r.returncode}: {r.stderr[-300:]})")
        rss = common.rss_mib(proc.pid)
        return lines, rss
    finally:
        common.stop(proc)
        subprocess.run(["rm", "-rf", str(state)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", action="store_true", help="also run anchors/swift.sh (slow)")
    ap.add_argument("--quick", action="store_true", help="fewer objects per phase")
    a = ap.parse_args()
    when, mach, load0 = common.now(), common.machine(), common.loadavg()
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        disk = disk_figures(Path(d))
    ours, rss = run_onestack(a.quick)
    upstream = []
    if a.upstream:
        r = subprocess.run(["bash", str(ANCHORS / "swift.sh")], capture_output=True, text=True,
                           env={**os.environ, "REPLICAS": "1"}, timeout=7200)
        upstream = [ln for ln in r.stdout.splitlines() if ln.strip()]
    text = [f"\n## Object storage (Swift API) — {when}\n",
            f"Machine: {mach}; load average before the run {load0} (a shared, noisy machine: several "
            f"engineers' builds and tests run beside it, so treat the figures as indicative).\n",
            "Client: `../shared/reference/anchors/swiftbench.py` (the upstream anchor's own load "
            "generator) against onestack's storage URL; one replica on one device, fsync on.\n",
            "Disk, measured in the same run:\n", "```", *disk, "```\n",
            f"onestack (`bench/object.py{' --quick' if a.quick else ''}`), RSS after the run {rss:.0f} MiB:\n",
            "```", *ours, "```\n"]
    if upstream:
        text += ["Upstream Swift (anchors/swift.sh, REPLICAS=1), same run:\n", "```", *upstream, "```\n"]
    else:
        text += ["Upstream Swift 2.38 all-in-one, 1 replica, from the anchors README (not re-run here): "
                 "64 MiB PUT 345 / GET 241 MiB/s; 4 KiB PUT 167 / GET 408 ops/s; 571 MiB RSS.\n"]
    report = "\n".join(text)
    print(report)
    with open(common.DOC, "a") as f:
        f.write(report + "\n")


if __name__ == "__main__":
    main()
