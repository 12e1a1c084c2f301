"""Image data plane: upload/download MiB/s of a large image vs. the disk's own dd figures.

    .venv/bin/python bench/image.py [--size-mib 1024] [--reps 2] [--store local|object] [--no-report]

Starts onestack on a fresh state dir, measures `dd` write (fdatasync) and read (O_DIRECT)
on the same filesystem, then uploads/downloads a generated image with curl (the same client
and calls as ../shared/reference/anchors/glance.sh, the upstream Glance anchor), recording
server CPU seconds and RSS, and checks the downloaded md5 against the upload's. Appends a
dated section to docs/benchmarks.md. Upstream Glance is not re-run here (its install takes
minutes); the anchor's figure for this machine is quoted from the anchors README.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = common.REPO
PASSWORD = "bench-image-pw"
MiB = 1 << 20


def dd_figures(directory: Path, size_mib: int) -> tuple[float, float]:
    """(write MiB/s with fdatasync, read MiB/s with O_DIRECT) of a size_mib file in directory."""
    target = directory / "dd-probe"
    try:
        w = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={size_mib}",
                            "conv=fdatasync"], capture_output=True, text=True, check=True)
        r = subprocess.run(["dd", f"if={target}", "of=/dev/null", "bs=1M", "iflag=direct"],
                           capture_output=True, text=True, check=True)
    finally:
        target.unlink(missing_ok=True)

    def rate(stderr: str) -> float:
        m = re.search(r"copied, ([\d.]+) s", stderr)
        return size_mib / float(m.group(1)) if m else float("nan")
    return rate(w.stderr), rate(r.stderr)


def make_image(path: Path, size_mib: int) -> str:
    md5 = hashlib.md5()
    block = bytearray(os.urandom(MiB))
    with open(path, "wb") as f:
        for i in range(size_mib):
            block[:8] = i.to_bytes(8, "little")
            f.write(block)
            md5.update(block)
    return md5.hexdigest()


def token(base: str) -> str:
    body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}).encode()
    req = urllib.request.Request(base + "/identity/v3/auth/tokens", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.headers["X-Subject-Token"]


class Peak(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, common.rss_mib(self.pid))
            time.sleep(0.05)


def curl(*args: str) -> list[str]:
    out = subprocess.run(["curl", "-s", "--max-time", "900", *args], capture_output=True, text=True,
                         check=True).stdout
    return out.split()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=int(os.environ.get("SIZE_MIB", 1024)))
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--store", choices=["local", "object"], default="local",
                    help="the image store measured: files, or onestack's object service")
    args = ap.parse_args()
    common.need("curl")
    work = Path(tempfile.mkdtemp(prefix="bench-image-"))
    load_start = common.loadavg()
    try:
        state = work / "state"
        state.mkdir()
        dd_w, dd_r = dd_figures(work, args.size_mib)
        print(f"dd: write {dd_w:.0f} MiB/s (fdatasync), read {dd_r:.0f} MiB/s (O_DIRECT)", flush=True)
        img = work / "image.raw"
        md5 = make_image(img, args.size_mib)
        port = common.free_port()
        # fake compute/network drivers: this measures image data only, and the state dir is
        # removed at the end (real drivers would leave namespaces its ledger no longer names)
        env = {**os.environ, "ONESTACK_LOG_LEVEL": "WARNING", "ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS": "4",
               "ONESTACK_COMPUTE__DRIVER": "fake", "ONESTACK_NETWORK__DRIVER": "fake",
               "ONESTACK_IMAGE__ENABLED_STORES": f"local,{args.store}" if args.store != "local" else "local",
               "ONESTACK_IMAGE__DEFAULT_STORE": args.store}
        env.pop("OS_CLOUD", None)
        log = open(work / "onestack.log", "ab")
        proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "onestack"), "up", "--state-dir",
                                 str(state), "--port", str(port), "--admin-password", PASSWORD],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            common.wait_http(base + "/image/versions", proc=proc)
            tok = token(base)
            rss_idle = common.rss_mib(proc.pid)
            ups, downs, up_cpu, down_cpu = [], [], [], []
            peak = Peak(proc.pid)
            peak.start()
            for i in range(args.reps):
                req = urllib.request.Request(base + "/image/v2/images", data=json.dumps(
                    {"name": f"bench-{i}", "disk_format": "raw", "container_format": "bare"}).encode(),
                    headers={"Content-Type": "application/json", "X-Auth-Token": tok})
                with urllib.request.urlopen(req) as r:
                    image_id = json.load(r)["id"]
                c0 = common.cpu_seconds(common.tree(proc.pid))
                code, secs = curl("-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-X", "PUT",
                                  "-H", f"X-Auth-Token: {tok}", "-H",
                                  "Content-Type: application/octet-stream", "-T", str(img),
                                  f"{base}/image/v2/images/{image_id}/file")
                c1 = common.cpu_seconds(common.tree(proc.pid))
                assert code == "204", code
                ups.append(args.size_mib / float(secs))
                up_cpu.append(c1 - c0)
                c0 = common.cpu_seconds(common.tree(proc.pid))
                out = work / "down.raw"
                code, secs, size = curl("-o", str(out), "-w",
                                        "%{http_code} %{time_total} %{size_download}",
                                        "-H", f"X-Auth-Token: {tok}",
                                        f"{base}/image/v2/images/{image_id}/file")
                c1 = common.cpu_seconds(common.tree(proc.pid))
                assert code == "200" and int(size) == args.size_mib * MiB, (code, size)
                downs.append(args.size_mib / float(secs))
                down_cpu.append(c1 - c0)
                got = hashlib.md5()
                with open(out, "rb") as f:
                    for chunk in iter(lambda: f.read(4 * MiB), b""):
                        got.update(chunk)
                out.unlink()
                assert got.hexdigest() == md5, "download checksum differs from upload"
                print(f"rep {i}: upload {ups[-1]:.0f} MiB/s ({up_cpu[-1]:.1f} s CPU), "
                      f"download {downs[-1]:.0f} MiB/s ({down_cpu[-1]:.1f} s CPU), md5 ok", flush=True)
            peak.done.set()
            peak.join()
        finally:
            common.stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fmt = lambda xs: " / ".join(f"{x:.0f}" for x in xs)  # noqa: E731
    lines = [
        f"## Image data plane — {common.now()}",
        "",
        f"Machine: {common.machine()}. Load average at start: {load_start}; the machine is shared "
        "with other engineers' builds and tests, so figures are noisy (best of the runs is the "
        "meaningful one).",
        "",
        f"{args.size_mib} MiB generated raw image, curl `PUT/GET /image/v2/images/ID/file` "
        f"(the anchor's calls), {args.reps} runs, "
        + ("filesystem store on the same disk as dd." if args.store == "local" else
           "object store (onestack's object service on the same disk as dd; upload = temp file "
           "+ checks, then streamed into the object service)."),
        "",
        "| | MiB/s (each run) | server CPU s/run |",
        "|---|---|---|",
        f"| disk: dd write 1 MiB blocks + fdatasync | {dd_w:.0f} | |",
        f"| disk: dd read O_DIRECT | {dd_r:.0f} | |",
        f"| onestack upload (stream -> temp file, md5+sha512, format inspection, fsync, rename) "
        f"| {fmt(ups)} | {fmt(up_cpu)} |",
        f"| onestack download (streamed, Content-MD5) | {fmt(downs)} | {fmt(down_cpu)} |",
        "| upstream Glance 33 (anchors/glance.sh, 256 MiB, uwsgi 2 workers, no auth) upload | "
        "~95 (anchors README) | |",
        "| upstream Glance download | ~1100 (anchors README) | |",
        "",
        f"Server RSS: idle {rss_idle:.0f} MiB, peak during the runs {peak.peak:.0f} MiB "
        f"(the image is {args.size_mib} MiB: memory does not grow with it). Download md5 == upload md5.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        common.append_report(text)
        print(f"appended to {common.DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
