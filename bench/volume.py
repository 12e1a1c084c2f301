"""Block storage: volume create -> available (blank, p50/p99 over N), create-from-image
time (POST /volumes with imageRef -> available: the image's bytes read from the image store
and written into a new volume) for a 1 GiB raw image and the same data as qcow2 (converted
by qemu-img), each --from-image-runs times, vs copying the same file with cp in the same run.

    .venv/bin/python bench/volume.py [--n 1000] [--image-mib 1024] [--from-image-runs 3]

There is no upstream Cinder anchor on this workplace (LVM/iSCSI, Cinder's reference
backends, cannot run here: no device-mapper), so the peer is the disk itself.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
import common  # noqa: E402
from tests.harness import RunningCloud  # noqa: E402


def wait_available(cloud: RunningCloud, tok: str, vid: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = cloud.request("GET", f"/volume/v3/volumes/{vid}", token=tok).json()["volume"]["status"]
        if st == "available":
            return
        if st.startswith("error"):
            raise RuntimeError(f"volume {vid} went to {st}")
        time.sleep(0.02)
    raise TimeoutError(vid)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200, help="blank volumes to create")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--image-mib", type=int, default=1024)
    ap.add_argument("--from-image-runs", type=int, default=3)
    args = ap.parse_args()
    load_before = common.loadavg()
    work = Path(tempfile.mkdtemp(prefix="os-bench-volume-"))
    cloud = RunningCloud.start(work / "state")
    try:
        tok = cloud.token()
        project = cloud.sdk().current_project_id
        cloud.request("PUT", f"/volume/v3/os-quota-sets/{project}", token=tok,
                      body={"quota_set": {"volumes": args.n + 10, "gigabytes": 10 * args.n + 100}})

        def one(i: int) -> float:
            t0 = time.perf_counter()
            r = cloud.request("POST", "/volume/v3/volumes", token=tok,
                              body={"volume": {"size": 1, "name": f"b{i}"}})
            wait_available(cloud, tok, r.json()["volume"]["id"])
            return time.perf_counter() - t0
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            lat = list(pool.map(one, range(args.n)))
        wall = time.perf_counter() - t0

        # create-from-image: an image with real (random) data, then the same bytes copied by cp
        src = work / "img.raw"
        with open(src, "wb") as f:
            for _ in range(args.image_mib):
                f.write(os.urandom(1 << 20))
        qcow = work / "img.qcow2"
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(src), str(qcow)],
                       check=True)
        size_gb = -(-args.image_mib // 1024)
        from_image: dict[str, list[float]] = {}
        for fmt, path in (("raw", src), ("qcow2", qcow)):
            img = cloud.cli("image", "create", "--disk-format", fmt, "--container-format", "bare",
                            "--file", str(path), f"bench-img-{fmt}")
            times = from_image[fmt] = []
            for _ in range(args.from_image_runs):
                t0 = time.perf_counter()
                r = cloud.request("POST", "/volume/v3/volumes", token=tok,
                                  body={"volume": {"size": size_gb, "imageRef": img["id"]}})
                vid = r.json()["volume"]["id"]
                wait_available(cloud, tok, vid)
                times.append(time.perf_counter() - t0)
                # delete it again so every run writes a new file on an equally full disk
                cloud.request("DELETE", f"/volume/v3/volumes/{vid}", token=tok)
        qcow_mib = qcow.stat().st_size / (1 << 20)
        t0 = time.perf_counter()
        subprocess.run(["cp", "--sparse=always", str(src), str(work / "copy.raw")], check=True)
        os.sync()
        cp_time = time.perf_counter() - t0
        rss = common.rss_mib(cloud.proc.pid)
    finally:
        cloud.destroy()
    report = f"""## Block storage (Cinder API) — {common.now()}

Machine: {common.machine()}; load average before the run {load_before} (shared and noisy:
treat as indicative).

| measure | result |
|---|---|
| {args.n} blank 1 GiB volumes, {args.concurrency} clients, create → available | wall {wall:.1f} s ({args.n / wall:.1f} volumes/s), p50 {statistics.median(lat) * 1000:.0f} ms, p99 {pct(lat, 99) * 1000:.0f} ms |
| volume create-from-image: {args.image_mib} MiB raw image (random data) → available, {args.from_image_runs} runs | median {statistics.median(from_image["raw"]):.2f} s ({args.image_mib / statistics.median(from_image["raw"]):.0f} MiB/s); runs {", ".join(f"{t:.2f}" for t in from_image["raw"])} s |
| volume create-from-image: the same data as a {qcow_mib:.0f} MiB qcow2 image (qemu-img convert to raw) → available, {args.from_image_runs} runs | median {statistics.median(from_image["qcow2"]):.2f} s ({args.image_mib / statistics.median(from_image["qcow2"]):.0f} MiB/s); runs {", ".join(f"{t:.2f}" for t in from_image["qcow2"])} s |
| the disk's own figure: `cp` of the same file + sync | {cp_time:.2f} s ({args.image_mib / cp_time:.0f} MiB/s) |
| server RSS after the run | {rss:.0f} MiB |

No upstream Cinder side by side: its reference backend (LVM + iSCSI) needs device-mapper,
which these machines lack; the disk's own copy speed is the peer.
"""
    print(report)
    common.append_report(report)


if __name__ == "__main__":
    main()
