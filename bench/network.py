"""Network control plane: port create latency, IP allocation throughput, listing 10k ports.

    .venv/bin/python bench/network.py [--ports 10000] [--clients 16] [--no-report]

Starts onestack on a fresh state dir (SQLite), creates a network with a /16 subnet and
measures, over raw HTTP with keep-alive (the SDK's calls, without its overhead):
  1. port create latency, one client, 200 sequential creates (p50/p99);
  2. IP allocation throughput: `--clients` concurrent clients making `--measured` single
     creates (ports/s); the network is then filled to `--ports` with bulk creates;
  3. listing: the full 10k-port list in one page (limit=10000), a 1000-port page from a
     marker in the middle, and a filtered list (fixed_ips=ip_address=...).
Upstream Neutron is not run here (no DevStack on this machine); appends a dated section
to docs/benchmarks.md. The machine is shared with other engineers' builds and tests, so
absolute numbers are noisy; the load average at start and end is recorded.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = common.REPO
PASSWORD = "bench-network-pw"


class Client:
    def __init__(self, port: int, token: str):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token = token

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"X-Auth-Token": self.token, "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                self.conn.request(method, "/networking/v2.0" + path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                return r.status, (json.loads(payload) if payload else None)
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # the server closed an idle keep-alive connection: reconnect once
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def token(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    conn.request("POST", "/identity/v3/auth/tokens", body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.getheader("X-Subject-Token")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=10000, help="ports in the network for the listing")
    ap.add_argument("--measured", type=int, default=1500, help="creates timed by the throughput phase")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args()
    load0 = common.loadavg()
    with tempfile.TemporaryDirectory(prefix="bench-net-") as tmp:
        work = Path(tmp)
        port = common.free_port()
        env = {**os.environ, "ONESTACK_LOG_LEVEL": "WARNING", "ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS": "4",
               "ONESTACK_ADMIN_PASSWORD": PASSWORD, "ONESTACK_NETWORK__QUOTA_PORT": "-1"}
        log = open(work / "onestack.log", "ab")
        proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "onestack"), "up", "--state-dir",
                                 str(work / "state"), "--port", str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            common.wait_http(f"http://127.0.0.1:{port}/identity/v3", proc=proc)
            tok = token(port)
            c = Client(port, tok)
            _, net = c.call("POST", "/networks", {"network": {"name": "bench"}})
            net_id = net["network"]["id"]
            st, _ = c.call("POST", "/subnets", {"subnet": {"network_id": net_id, "ip_version": 4,
                                                           "cidr": "10.128.0.0/16"}})
            assert st == 201
            # 1. latency
            lat = []
            for i in range(200):
                t0 = time.perf_counter()
                st, _ = c.call("POST", "/ports", {"port": {"network_id": net_id, "name": f"lat{i}"}})
                lat.append((time.perf_counter() - t0) * 1000)
                assert st == 201, st
            p50, p99 = statistics.median(lat), pct(lat, 99)
            print(f"port create (1 client): p50 {p50:.1f} ms  p99 {p99:.1f} ms", flush=True)
            # 2. throughput
            todo = max(0, min(args.measured, args.ports - 200))
            counter = iter(range(todo))
            lock = threading.Lock()
            lats: list[float] = []
            fails = [0]

            def worker() -> None:
                cl = Client(port, tok)
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    t0 = time.perf_counter()
                    st, body = cl.call("POST", "/ports", {"port": {"network_id": net_id, "name": f"t{i}"}})
                    dt = (time.perf_counter() - t0) * 1000
                    with lock:
                        lats.append(dt)
                        if st != 201:
                            fails[0] += 1
                            print(f"create failed: {st} {str(body)[:300]}", flush=True)
            pids = common.tree(proc.pid)
            cpu0, t0 = common.cpu_seconds(pids), time.monotonic()
            with cf.ThreadPoolExecutor(args.clients) as ex:
                for f in [ex.submit(worker) for _ in range(args.clients)]:
                    f.result()
            elapsed = time.monotonic() - t0
            cpu = common.cpu_seconds(pids) - cpu0
            rate = todo / elapsed if elapsed else float("nan")
            print(f"IP allocation, {args.clients} clients: {rate:.1f} ports/s over {todo} creates, "
                  f"p50 {statistics.median(lats):.1f} ms p99 {pct(lats, 99):.1f} ms, failures {fails[0]}, "
                  f"server CPU {1000 * cpu / max(todo, 1):.1f} ms/port", flush=True)
            # the rest of the 10k through the bulk API (one request per 250 ports)
            have = 200 + todo
            while have < args.ports:
                n = min(250, args.ports - have)
                st, _ = c.call("POST", "/ports", {"ports": [{"network_id": net_id, "name": f"b{have + i}"}
                                                            for i in range(n)]})
                assert st == 201, st
                have += n
            # 3. listing
            timings = {}
            for name, path in (("list 10k ports (one page, limit=10000)", "/ports?limit=10000"),
                               ("list 1000-port page from a marker", None),
                               ("filter by fixed_ips=ip_address", "/ports?fixed_ips=ip_address%3D10.128.10.10")):
                if path is None:
                    _, body = c.call("GET", "/ports?limit=5000&fields=id")
                    path = f"/ports?limit=1000&marker={body['ports'][-1]['id']}"
                runs = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    st, body = c.call("GET", path)
                    runs.append((time.perf_counter() - t0) * 1000)
                    assert st == 200
                timings[name] = (min(runs), statistics.median(runs), len(body["ports"]))
                print(f"{name}: median {timings[name][1]:.0f} ms ({timings[name][2]} ports)", flush=True)
            _, body = c.call("GET", "/ports?limit=10000&fields=fixed_ips")
            ips = [p["fixed_ips"][0]["ip_address"] for p in body["ports"]]
            unique = len(ips) == len(set(ips))
            print(f"{len(ips)} ports, addresses unique: {unique}")
            rss = common.rss_mib(proc.pid)
        finally:
            common.stop(proc)
            errs = [ln for ln in (work / "onestack.log").read_text(errors="replace").splitlines()
                    if '"ERROR"' in ln]
            for ln in errs[:5]:
                print("server error:", ln[:600])
    load1 = common.loadavg()
    if not args.no_report:
        rows = "\n".join(f"| {k} | {v[1]:.0f} | {v[0]:.0f} | {v[2]} |" for k, v in timings.items())
        common.append_report(f"""## Network control plane — {common.now()}

Machine: {common.machine()}. **Shared and noisy**: other engineers' builds and test suites ran at the
same time (load average {load0} at start, {load1} at end), so treat the figures as upper bounds.
onestack on SQLite (WAL), one process, raw HTTP with keep-alive from `bench/network.py`. Upstream
Neutron was not run (no DevStack on this machine). Server RSS at the end: {rss:.0f} MiB.

| measurement | result |
|---|---|
| port create, 1 client, 200 sequential | p50 {p50:.1f} ms, p99 {p99:.1f} ms |
| IP allocation throughput, {args.clients} concurrent clients, {todo} ports on a /16 | {rate:.1f} ports/s (p50 {statistics.median(lats):.1f} ms, p99 {pct(lats, 99):.1f} ms; {fails[0]} failures; server CPU {1000 * cpu / max(todo, 1):.1f} ms/port) |
| addresses unique after the run | {unique} ({len(ips)} ports) |

| listing | median ms | best ms | ports returned |
|---|---|---|---|
{rows}
""")
    return 0 if unique and not fails[0] else 1


if __name__ == "__main__":
    sys.exit(main())
