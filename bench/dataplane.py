"""Data plane: how fast a real server becomes reachable, what an idle one costs, 50 on one host.

    .venv/bin/python bench/dataplane.py [--drivers container,qemu] [--many 50] [--no-report]

For each compute driver, a fresh cloud (linux network driver, a free 172.24.X.0/24 public
network) is started; through openstacksdk (no CLI start-up in the timings):
  1. server create -> ping-able and -> ssh-able through a floating IP: the port and its
     floating IP exist before the create call, the clock starts at the create request;
     ping = first ICMP echo answered from the host, ssh = `ssh -i key cirros@FIP true` ok;
     (3 servers for container, 1 for qemu TCG);
  2. idle cost: memory (cgroup memory.usage_in_bytes for a container, qemu's RSS for a VM)
     and CPU (% of one core over 20 s) of the instances from 1., 30 s after boot;
  3. `--many` servers on one host (container only; a 64 MiB flavor, CPU allocation ratio
     raised): time from the first create to all ACTIVE, to all guests "up" on their
     console, and the host's used memory before/after.
iperf3 through a floating IP is not measured: iperf3 is not installed on this machine
and the tiny guest has no iperf3. Appends a dated section to docs/benchmarks.md; the
machine is shared, so numbers are noisy (load average recorded).
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import common  # noqa: E402

from onestack.dataplane import names, qemu, runc  # noqa: E402
from tests.dataplane.test_cloud_e2e import e2e_env, pings, ssh  # noqa: E402
from tests.dataplane.test_virt_container import sweep_cloud, wait_for_tiny  # noqa: E402
from tests.harness import RunningCloud  # noqa: E402


def until(pred: Any, timeout: float, step: float = 0.05) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def used_mib() -> float:
    info = {ln.split(":")[0]: int(ln.split()[1]) for ln in open("/proc/meminfo")}
    return (info["MemTotal"] - info["MemAvailable"]) / 1024


def instance_cost(dp: str, driver: str, sid: str) -> tuple[float, float]:
    """(MiB resident, CPU seconds so far) of one instance."""
    if driver == "container":
        cg = Path("/sys/fs/cgroup/memory") / names.cgroup(sid).lstrip("/")
        mem = int((cg / "memory.usage_in_bytes").read_text()) / 2**20 if cg.exists() else float("nan")
        acct = Path("/sys/fs/cgroup/cpuacct") / names.cgroup(sid).lstrip("/") / "cpuacct.usage"
        if not acct.exists():
            acct = Path("/sys/fs/cgroup/cpu,cpuacct") / names.cgroup(sid).lstrip("/") / "cpuacct.usage"
        cpu = int(acct.read_text()) / 1e9 if acct.exists() else float("nan")
        return mem, cpu
    pid = qemu.pid(dp, sid)
    st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return common.rss_mib(pid), (int(st[11]) + int(st[12])) / common.TCK


def reachability(c: RunningCloud, driver: str, n: int, key: Path) -> dict[str, Any]:
    conn = c.sdk("onestack")
    kp = conn.compute.create_keypair(name=f"bench-{driver}", public_key=Path(f"{key}.pub").read_text())
    sg = conn.network.create_security_group(name=f"bench-{driver}")
    for proto, port in (("icmp", None), ("tcp", 22)):
        conn.network.create_security_group_rule(security_group_id=sg.id, direction="ingress", protocol=proto,
                                                port_range_min=port, port_range_max=port, ethertype="IPv4")
    net = conn.network.find_network("private")
    ext = conn.network.find_network("public")
    image = conn.image.find_image("onestack-tiny")
    flavor = conn.compute.find_flavor("m1.tiny")
    out: dict[str, Any] = {"ping": [], "ssh": [], "servers": []}
    for i in range(n):
        port = conn.network.create_port(network_id=net.id, security_group_ids=[sg.id])
        fip = conn.network.create_ip(floating_network_id=ext.id, port_id=port.id)
        addr = fip.floating_ip_address
        t0 = time.monotonic()
        srv = conn.compute.create_server(name=f"bench-{driver}-{i}", image_id=image.id, flavor_id=flavor.id,
                                         networks=[{"port": port.id}], key_name=kp.name)
        t_ping = until(lambda: pings(addr), 600, 0.02)
        t_ssh = until(lambda: ssh(key, "cirros", addr, "true", timeout=10).returncode == 0, 600, 0.1)
        out["ping"].append(t_ping and t_ping + 0)
        out["ssh"].append(t_ssh and (t_ping or 0) + t_ssh)
        out["servers"].append(srv.id)
        print(f"{driver} #{i}: ping {out['ping'][-1]} s, ssh {out['ssh'][-1]} s", flush=True)
    time.sleep(30)
    dp = str(c.state_dir / "dp")
    before = {s: instance_cost(dp, driver, s) for s in out["servers"]}
    time.sleep(20)
    after = {s: instance_cost(dp, driver, s) for s in out["servers"]}
    out["mem"] = statistics.mean(after[s][0] for s in after)
    out["cpu_pct"] = statistics.mean((after[s][1] - before[s][1]) / 20 * 100 for s in after)
    for s in out["servers"]:
        conn.compute.delete_server(s)
    until(lambda: not [s for s in conn.compute.servers() if s.id in out["servers"]], 300, 0.5)
    return out


def many(c: RunningCloud, n: int) -> dict[str, Any]:
    admin = c.sdk()
    flavor = admin.compute.create_flavor(name="bench.nano", ram=64, vcpus=1, disk=0)
    demo_project = admin.identity.find_project("demo")
    admin.set_compute_quotas(demo_project.id, instances=n + 5, cores=n + 5, ram=(n + 5) * 512)
    admin.set_network_quotas(demo_project.id, port=n + 20)
    conn = c.sdk("onestack")
    net = conn.network.find_network("private")
    if len(list(conn.network.subnets(network_id=net.id))) and n > 50:
        print("note: the private subnet is a /26; more than ~55 servers need another network")
    image = conn.image.find_image("onestack-tiny")
    mem0 = used_mib()
    t0 = time.monotonic()
    ids = [conn.compute.create_server(name=f"many-{i}", image_id=image.id, flavor_id=flavor.id,
                                      networks=[{"uuid": net.id}]).id for i in range(n)]
    t_api = time.monotonic() - t0

    def states() -> list[str]:
        return [s.status for s in conn.compute.servers() if s.id in ids]
    t_active = until(lambda: all(s in ("ACTIVE", "ERROR") for s in states()), 1800, 1.0)
    errors = sum(1 for s in states() if s == "ERROR")
    dp = str(c.state_dir / "dp")
    t_up = until(lambda: all("onestack-init: up" in runc.console_output(dp, i) for i in ids), 1800, 1.0)
    mem1 = used_mib()
    for i in ids:
        conn.compute.delete_server(i)
    t_del0 = time.monotonic()
    until(lambda: not [s for s in conn.compute.servers() if s.id in ids], 1800, 1.0)
    return {"n": n, "api": t_api, "active": t_active and t_active + t_api, "up": t_up and t_up + (t_active or 0)
            + t_api, "errors": errors, "mem_delta": mem1 - mem0, "delete": time.monotonic() - t_del0}


def fmt(x: float | None) -> str:
    return "timeout" if x is None else f"{x:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drivers", default="container,qemu")
    ap.add_argument("--many", type=int, default=50)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    load0 = common.loadavg()
    key = Path(tempfile.mkdtemp(prefix="os-bench-key-")) / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    rows, many_row = [], None
    for driver in args.drivers.split(","):
        env = e2e_env(driver)
        if driver == "container":
            env["ONESTACK_COMPUTE__CPU_ALLOCATION_RATIO"] = "64"
        c = RunningCloud.start(Path(tempfile.mkdtemp(prefix=f"os-bench-{driver}-")) / "state", env=env)
        try:
            wait_for_tiny(c)
            r = reachability(c, driver, 3 if driver == "container" else 1, key)
            rows.append((driver, r))
            if driver == "container" and args.many:
                many_row = many(c, args.many)
                print(many_row, flush=True)
        finally:
            c.stop()
            sweep_cloud(c.state_dir)
            c.destroy()
    load1 = common.loadavg()
    accel = "KVM" if qemu.kvm_usable() else "TCG"
    lines = [f"\n## Data plane (real servers) — {common.now()}\n",
             f"Machine: {common.machine()}; host {socket.gethostname()}. Load average {load0} at start, {load1} "
             "at end (a 2-core machine shared with 6 other engineers' tests: noisy).\n",
             "`bench/dataplane.py`: linux network driver, openstacksdk; the port and its floating IP exist "
             "before the create request; ping/ssh from the host to the floating IP. qemu runs "
             f"{accel} (this host's /dev/kvm cannot run stock guests).\n",
             "| driver | create -> ping (s) | create -> ssh (s) | idle memory / instance (MiB) | idle CPU / instance |",
             "|---|---|---|---|---|"]
    for driver, r in rows:
        lines.append(f"| {driver} | {' / '.join(fmt(x) for x in r['ping'])} | {' / '.join(fmt(x) for x in r['ssh'])} "
                     f"| {r['mem']:.1f} | {r['cpu_pct']:.2f} % |")
    if many_row:
        m = many_row
        lines += ["", f"{m['n']} container servers on one host (64 MiB flavor): create calls {m['api']:.1f} s; "
                      f"all ACTIVE {fmt(m['active'])} s ({m['errors']} ERROR); all guests `up` on their console "
                      f"{fmt(m['up'])} s; host memory used +{m['mem_delta']:.0f} MiB; delete all {m['delete']:.1f} s."]
    lines += ["", "Idle memory is the container's cgroup usage (page cache of its files included) or the "
                  "qemu process RSS; iperf3 throughput through a floating IP is not measured (no iperf3 "
                  "here nor in the tiny guest)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_report:
        with open(common.DOC, "a") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
