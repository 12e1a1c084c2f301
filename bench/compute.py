"""Compute: boots through the API with the fake driver, /servers/detail pages, scheduler throughput.

    .venv/bin/python bench/compute.py [--n 50] [--conc 4] [--n-seq 10] [--hosts 200] [--no-report]

1. Starts onestack on a fresh state dir (fake driver, zero delay, 2 fake hosts), then runs the
   upstream anchor's own boot client (../shared/reference/anchors/novabench.py: sequential
   POST->ACTIVE, a burst of N with CONC threads, deletes) against it with a real token, so the
   numbers are comparable with nova.sh's (Nova 34 + Placement + fake driver on this machine).
2. GET /servers/detail (page of 50 servers) with `hey`.
3. Scheduler throughput: an in-process onestack with --hosts fake hosts; times
   scheduler.select_and_claim (placement candidates -> filters -> weighers -> claim) per boot.
Records the server's RSS and appends a dated section to docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = common.REPO
ANCHORS = REPO.parent / "shared" / "reference" / "anchors"
if not ANCHORS.exists():
    ANCHORS = Path("/work/shared/reference/anchors")
PASSWORD = "bench-compute-pw"
UPSTREAM = {"create_p50_s": 0.78, "burst_per_min": 61, "rss_mib": 1352, "cold_start_s": 7.3}
# the control plane is measured on the fake drivers (no kernel objects, no guests)
FAKE = {"ONESTACK_COMPUTE__DRIVER": "fake", "ONESTACK_NETWORK__DRIVER": "fake"}


def _req(url: str, method: str = "GET", body: dict | None = None, token: str | None = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json", **(headers or {})}
    if token:
        h["X-Auth-Token"] = token
    r = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def token(base: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    status, headers, _ = _req(base + "/identity/v3/auth/tokens", "POST", body)
    assert status == 201, status
    return headers.get("X-Subject-Token") or headers.get("x-subject-token")


def start(state: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    e = {**os.environ, **FAKE, "ONESTACK_LOG_LEVEL": "WARNING", "ONESTACK_ADMIN_PASSWORD": PASSWORD, **env}
    e.pop("OS_CLOUD", None)
    return subprocess.Popen([sys.executable, "-m", "onestack.cli", "up", "--state-dir", str(state), "--port",
                             str(port)], env=e, cwd=REPO, stdout=open(state.parent / "server.log", "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def fine_seq(base: str, tok: str, image: str, headers: dict, n: int) -> dict:
    """Sequential create -> ACTIVE with GET /servers/{id} every 5 ms: the latency itself
    (novabench polls every 50 ms, so its figure cannot go below ~50-60 ms)."""
    lat = []
    for i in range(n):
        t0 = time.monotonic()
        status, _, body = _req(f"{base}/compute/v2.1/servers", "POST", {"server": {
            "name": f"fine-{i}", "imageRef": image, "flavorRef": "42", "networks": "none"}}, tok, headers)
        assert status == 202, (status, body[:300])
        sid = json.loads(body)["server"]["id"]
        while time.monotonic() - t0 < 60:
            st = json.loads(_req(f"{base}/compute/v2.1/servers/{sid}", token=tok, headers=headers)[2])["server"]
            if st["status"] in ("ACTIVE", "ERROR"):
                break
            time.sleep(0.005)
        lat.append(time.monotonic() - t0)
    lat.sort()
    return {"n": n, "p50_ms": round(1000 * lat[len(lat) // 2], 1), "max_ms": round(1000 * lat[-1], 1),
            "min_ms": round(1000 * lat[0], 1)}


def boot_phase(args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-compute-"))
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    # enough fake hosts for the burst (each offers 256 vCPUs at the default 4.0 ratio)
    proc = start(tmp / "state", port, {"ONESTACK_COMPUTE__FAKE_HOSTS": str(max(2, args.n // 200 + 2))})
    try:
        ready = common.wait_http(base + "/compute/", proc=proc)
        cold = ready - t0
        tok = token(base)
        nv = {"OpenStack-API-Version": "compute 2.37"}
        pid = json.loads(_req(base + "/identity/v3/auth/tokens", headers={"X-Subject-Token": tok},
                              token=tok)[2])["token"]["project"]["id"]
        _req(f"{base}/compute/v2.1/os-quota-sets/{pid}", "PUT",
             {"quota_set": {"instances": -1, "cores": -1, "ram": -1}}, tok, nv)
        images = json.loads(_req(base + "/image/v2/images", token=tok)[2])["images"]
        image = images[0]["id"]
        out = subprocess.run([sys.executable, str(ANCHORS / "novabench.py"), "--api", base + "/compute/v2.1",
                              "--image", image, "--flavor", "42", "--n", str(args.n), "--conc", str(args.conc),
                              "--n-seq", str(args.n_seq), "--token", tok,
                              "--server-pids", ",".join(map(str, common.tree(proc.pid))), "--time-cap", "900"],
                             capture_output=True, text=True, timeout=1500)
        text = out.stdout + out.stderr
        print(text, flush=True)
        fine = fine_seq(base, tok, image, nv, args.n_seq * 2)
        print(f"create -> ACTIVE, polled every 5 ms: {fine}", flush=True)
        rss_after_boots = common.rss_mib(proc.pid)
        # GET /servers/detail page of 50 (the burst's servers are still there)
        detail = common.hey("GET /servers/detail (50/page)", proc.pid,
                            f"{base}/compute/v2.1/servers/detail?limit=50", 200, 4,
                            "-H", f"X-Auth-Token: {tok}", "-H", "OpenStack-API-Version: compute 2.96")
        # delete everything (and check placement is empty afterwards)
        # (GET /servers answers 1000 at most: page until every server is asked to go)
        asked: set[str] = set()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            listed = json.loads(_req(f"{base}/compute/v2.1/servers?limit=1000", token=tok, headers=nv)[2])["servers"]
            if not listed:
                break
            for s in listed:
                if s["id"] not in asked:
                    asked.add(s["id"])
                    _req(f"{base}/compute/v2.1/servers/{s['id']}", "DELETE", token=tok, headers=nv)
            time.sleep(0.2)
        usage = json.loads(_req(f"{base}/placement/usages?project_id={pid}", token=tok,
                                headers={"OpenStack-API-Version": "placement 1.9"})[2])["usages"]

        def grab(rx: str) -> float:
            m = re.search(rx, text)
            return float(m.group(1)) if m else float("nan")
        return {"cold_start_s": cold, "seq_p50_s": grab(r"POST->ACTIVE p50=([\d.]+)s"),
                "seq_max_s": grab(r"POST->ACTIVE p50=[\d.]+s min=[\d.]+s max=([\d.]+)s"),
                "burst_p50_s": grab(r"burst .*?POST->ACTIVE p50=([\d.]+)s") if "burst" in text else float("nan"),
                "burst_p99_s": grab(r"burst .*?p99=([\d.]+)s\b(?!.*POST p99)") if "burst" in text else float("nan"),
                "burst_per_min": grab(r"=> ([\d.]+) servers/min"), "raw": text.strip(),
                "burst_all_s": grab(r"all ACTIVE after ([\d.]+)s"), "burst_posts_s": grab(r"POSTs done in ([\d.]+)s"),
                "burst_cpu_s": grab(r"burst .*?srv_cpu=([\d.]+)s/server"),
                "rss_mib": rss_after_boots, "detail": detail, "leftover_usage": usage, "fine": fine}
    finally:
        common.stop(proc)


def list_phase(args: argparse.Namespace) -> dict:
    """GET /servers/detail, a page of --page out of --list-servers servers. The servers are
    written to the database in bulk while the cloud is stopped (booting 10k through the API
    would take most of an hour here); the listing itself goes through the API as usual."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-list-"))
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp / "state", port, {})
    try:
        common.wait_http(base + "/compute/", proc=proc)
        tok = token(base)
        me = json.loads(_req(base + "/identity/v3/auth/tokens", headers={"X-Subject-Token": tok}, token=tok)[2])
        pid, uid = me["token"]["project"]["id"], me["token"]["user"]["id"]
    finally:
        common.stop(proc)
    code = f"""
import uuid, datetime as dt
from onestack import cli, db, roles
from onestack.compute import models as cm
from sqlalchemy import insert
class A: state_dir={str(tmp / "state")!r}; config=None; host=None; port=None; roles=None
cli.prepare(cli._settings(A, roles.service_names("all")), roles.service_names("all"), {PASSWORD!r})
flavor = {{"id": "42", "name": "m1.nano", "vcpus": 1, "ram": 128, "disk": 1, "ephemeral": 0, "swap": 0,
          "extra_specs": {{}}}}
t0 = dt.datetime(2026, 1, 1)
with db.write() as s:
    for start in range(0, {args.list_servers}, 2000):
        s.execute(insert(cm.Server), [{{"uuid": str(uuid.uuid4()), "project_id": {pid!r}, "user_id": {uid!r},
            "name": f"list-{{i}}", "hostname": f"list-{{i}}", "image_ref": "", "flavor": flavor, "flavor_id": "42",
            "vm_state": "active", "power_state": 1, "host": "fake-1", "node": "fake-1",
            "availability_zone": "nova", "reservation_id": "r-bench", "created_at": t0 + dt.timedelta(seconds=i),
            "updated_at": t0 + dt.timedelta(seconds=i), "launched_at": t0}}
            for i in range(start, min({args.list_servers}, start + 2000))])
"""
    env = {**os.environ, **FAKE, "ONESTACK_STATE_DIR": str(tmp / "state"), "ONESTACK_LOG_LEVEL": "WARNING",
           "ONESTACK_ADMIN_PASSWORD": PASSWORD}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=1800)
    if out.returncode:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-3000:])
    proc = start(tmp / "state", port, {})
    try:
        common.wait_http(base + "/compute/", proc=proc)
        tok = token(base)
        h = ["-H", f"X-Auth-Token: {tok}", "-H", "OpenStack-API-Version: compute 2.96"]
        status, _, body = _req(f"{base}/compute/v2.1/servers/detail?limit={args.page}", token=tok,
                               headers={"OpenStack-API-Version": "compute 2.96"})
        got = len(json.loads(body)["servers"])
        first = common.hey(f"GET /servers/detail ({args.page}/page)", proc.pid,
                           f"{base}/compute/v2.1/servers/detail?limit={args.page}", 20, 1, *h)
        return {"servers": args.list_servers, "page": args.page, "returned": got, "status": status,
                "detail": first, "rss_mib": common.rss_mib(proc.pid)}
    finally:
        common.stop(proc)


def scheduler_phase(args: argparse.Namespace) -> dict:
    """In-process: N fake hosts registered in placement; time select_and_claim per boot."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-sched-"))
    env = {**FAKE, "ONESTACK_STATE_DIR": str(tmp), "ONESTACK_COMPUTE__FAKE_HOSTS": "2",
           "ONESTACK_LOG_LEVEL": "WARNING", "ONESTACK_ADMIN_PASSWORD": PASSWORD}
    code = f"""
import json, time, uuid, sys
from onestack import cli, roles
from onestack.compute import scheduler
names = roles.service_names("all")
class A: state_dir={str(tmp)!r}; config=None; host=None; port=None; roles=None
t0 = time.perf_counter()
settings = cli._settings(A, names)
cloud = cli.prepare(settings, names, {PASSWORD!r})
setup = time.perf_counter() - t0
flavor = {{"id": "42", "vcpus": 1, "ram": 128, "disk": 1, "extra_specs": {{}}}}
res = {{"VCPU": 1, "MEMORY_MB": 128, "DISK_GB": 1}}
from onestack.compute import agent
from onestack import db
from onestack.compute import models as cm
from onestack.placement import models as pm
from onestack.db.base import utcnow
from sqlalchemy import insert, update
# the fake driver registered 2 hosts through the agent; the other hosts are written in bulk
# (registering 10k hosts one by one through the agent would take hours on this machine)
t1 = time.perf_counter()
extra = {args.hosts} - 2
now = utcnow()
with db.write() as s:
    for start in range(0, extra, 2000):
        chunk = range(start, min(extra, start + 2000))
        names = [f"bulk-{{i}}" for i in chunk]
        uuids = [str(uuid.uuid5(uuid.NAMESPACE_DNS, "bench-" + n)) for n in names]
        s.execute(insert(cm.Service), [{{"uuid": str(uuid.uuid4()), "host": n, "binary": "nova-compute",
                                         "topic": "compute", "last_seen_up": now}} for n in names])
        s.execute(insert(cm.ComputeNode), [{{"uuid": u, "host": n, "hypervisor_hostname": n,
                                             "hypervisor_type": "fake", "vcpus": 64, "memory_mb": 131072,
                                             "local_gb": 2048}} for n, u in zip(names, uuids)])
        s.execute(insert(pm.ResourceProvider), [{{"uuid": u, "name": n, "root_uuid": u}}
                                                for n, u in zip(names, uuids)])
        s.execute(insert(pm.Inventory), [{{"rp_uuid": u, "resource_class": rc, "total": tot, "reserved": rsv,
                                           "min_unit": 1, "max_unit": tot, "step_size": 1,
                                           "allocation_ratio": ratio}}
                                         for u in uuids for rc, tot, rsv, ratio in
                                         (("VCPU", 64, 0, 4.0), ("MEMORY_MB", 131072, 512, 1.0),
                                          ("DISK_GB", 2048, 0, 1.0))])
setup += time.perf_counter() - t1
times = []
for i in range({args.sched_n}):
    if i % 25 == 0:
        agent.heartbeat()  # no task engine here: keep the fake hosts' services "up"
        with db.write() as s:
            s.execute(update(cm.Service).values(last_seen_up=utcnow()))
    t = time.perf_counter()
    h, _ = scheduler.select_and_claim(str(uuid.uuid4()), {{"flavor": flavor, "project_id": "p"}}, res, "p", "u")
    times.append(time.perf_counter() - t)
first = times[0]   # the first placement also loads the scheduler's in-memory copies
times.sort()
print(json.dumps({{"hosts": {args.hosts}, "n": len(times), "setup_s": setup,
                  "p50_ms": 1000 * times[len(times) // 2], "p99_ms": 1000 * times[int(len(times) * 0.99) - 1],
                  "per_s": len(times) / sum(times), "first_ms": 1000 * first,
                  "warm_per_s": (len(times) - 1) / (sum(times) - first)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=REPO, capture_output=True,
                         text=True, timeout=1800)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not line:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-3000:])
    return json.loads(line[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--conc", type=int, default=4)
    ap.add_argument("--n-seq", type=int, default=10)
    ap.add_argument("--hosts", type=int, default=200)
    ap.add_argument("--sched-n", type=int, default=300)
    ap.add_argument("--list-servers", type=int, default=10000)
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--phases", default="boot,list,sched")
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    load = common.loadavg()
    phases = args.phases.split(",")
    if phases != ["boot", "list", "sched"]:
        # a single phase (the full report needs all three): print its numbers only
        out = {p: {"boot": boot_phase, "list": list_phase, "sched": scheduler_phase}[p](args) for p in phases}
        for v in out.values():
            v.pop("raw", None)
        print(json.dumps(out, indent=1, default=str))
        return
    boots = boot_phase(args)
    listing = list_phase(args)
    sched = scheduler_phase(args)
    print(json.dumps(sched), flush=True)
    d = boots["detail"]
    md = f"""## Compute (fake driver) — {common.now()}

Machine: {common.machine()}; load average at start {load} (other engineers share this machine).
Client: the upstream anchor's `novabench.py` (same client as `nova.sh`), `--n {args.n} --conc {args.conc}
--n-seq {args.n_seq}`, flavor 42 (1 vCPU/128 MiB/1 GiB), networks none, real Keystone token;
onestack `up` with every service (SQLite, in-process bus, {max(2, args.n // 200 + 2)} fake hosts, zero driver delay).

| metric | onestack | upstream Nova 34 anchor (nova.sh, same machine) |
|---|---|---|
| create -> ACTIVE p50 (sequential, novabench: polls a list every 50 ms) | {boots['seq_p50_s']:.2f} s (max {boots['seq_max_s']:.2f} s) | {UPSTREAM['create_p50_s']} s |
| create -> ACTIVE p50 (sequential, GET /servers/{{id}} every 5 ms) | {boots['fine']['p50_ms']:.0f} ms (min {boots['fine']['min_ms']:.0f}, max {boots['fine']['max_ms']:.0f}, n={boots['fine']['n']}) | |
| burst: servers/min | {boots['burst_per_min']:.0f} | {UPSTREAM['burst_per_min']} |
| {args.n} boots (burst, c={args.conc}): all ACTIVE after | {boots['burst_all_s']:.1f} s (POSTs done in {boots['burst_posts_s']:.1f} s; server CPU {boots['burst_cpu_s']:.2f} s/server) | |
| cold start (`up` -> API answers) | {boots['cold_start_s']:.1f} s (all services) | {UPSTREAM['cold_start_s']} s (nova+placement) |
| RSS after the boots | {boots['rss_mib']:.0f} MiB (whole cloud, one process) | {UPSTREAM['rss_mib']} MiB (nova+placement+rabbit+mariadb) |
| GET /servers/detail, 50 per page, c=4 | {d['rps']:.1f} rps, p50 {d['p50']:.0f} ms, p99 {d['p99']:.0f} ms | not measured by the anchor (needs Neutron) |
| GET /servers/detail, a page of {listing['page']} out of {listing['servers']}, c=1 | p50 {listing['detail']['p50']:.0f} ms, {listing['detail']['rps']:.1f} rps, server CPU {listing['detail']['srv_ms']:.0f} ms/request | |
| placement usage left after deleting all | {boots['leftover_usage'] or 'none'} | |

Scheduler alone (in-process, {sched['hosts']} fake hosts registered in placement, {sched['n']} boots one
after another, each = allocation candidates -> filters -> weighers -> atomic claim):
p50 {sched['p50_ms']:.1f} ms, p99 {sched['p99_ms']:.1f} ms, {sched['per_s']:.1f} placements/s over all of them;
the first one, which also reads every provider and host into the scheduler's in-memory copies, took
{sched['first_ms']:.0f} ms, the others ran at {sched['warm_per_s']:.1f} placements/s
(setup of {sched['hosts']} hosts: {sched['setup_s']:.1f} s).

<details><summary>novabench output</summary>

```
{boots['raw']}
```
</details>
"""
    print(md)
    if not args.no_report:
        common.append_report(md)


if __name__ == "__main__":
    main()
