"""Identity side by side: onestack vs upstream Keystone, one run, same machine, same `hey`.

    .venv/bin/python bench/identity.py            # appends a section to docs/benchmarks.md

Upstream is Keystone from PyPI in its own venv, set up by the shared anchor script
(../shared/reference/anchors/keystone.sh: SQLite, fernet, uwsgi with 2 workers,
127.0.0.1); this script runs it once with tiny loads if its venv is missing, then starts
uwsgi itself with the same command line. Both clouds check passwords with bcrypt at
cost 12 (upstream's default). Measured, for each:

- cold start: exec -> first 200 on the version document (onestack: the whole cloud,
  every service, on an already bootstrapped state dir; also the very first boot);
- idle RSS of the whole process tree;
- token validate (GET /v3/auth/tokens, X-Subject-Token = X-Auth-Token, with catalog);
- token issue (POST /v3/auth/tokens, password, project-scoped, bcrypt cost 12), next to
  the ceiling bcrypt itself allows here: bcrypt.checkpw at cost 12 on 2 threads.

The servers run one at a time (the other one stopped) so they do not share the CPU.
"""
from __future__ import annotations

import argparse
import json
import os
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
ANCHOR = REPO.parent / "shared" / "reference" / "anchors" / "keystone.sh"
PASSWORD = "secret"


def body(user: str = "admin", password: str = PASSWORD) -> str:
    return json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})


def get_token(url: str) -> str:
    req = urllib.request.Request(url + "/auth/tokens", data=body().encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.headers["X-Subject-Token"]


def bcrypt_ceiling(seconds: float = 5.0, threads: int = 2, cost: int = 12) -> float:
    """checkpw per second at ``cost`` on ``threads`` threads (bcrypt releases the GIL)."""
    import bcrypt
    h = bcrypt.hashpw(b"secret", bcrypt.gensalt(cost))
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        while time.monotonic() < stop:
            bcrypt.checkpw(b"secret", h)
            counts[i] += 1
    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


# ---------------------------------------------------------------- keystone
def keystone_paths(work: Path) -> tuple[Path, Path]:
    return work / "venv-ks", work / "ks"


def ensure_keystone(work: Path) -> None:
    venv, ks = keystone_paths(work)
    if (venv / "bin" / "uwsgi").exists() and (ks / "keystone.db").exists():
        return
    if not ANCHOR.exists():
        raise SystemExit(f"upstream Keystone is not set up and {ANCHOR} is missing")
    print("setting up upstream Keystone (pip install, db_sync, bootstrap) ...", flush=True)
    env = {**os.environ, "ANCHORS_WORK": str(work), "N_ISSUE": "4", "N_ISSUE12": "4",
           "N_VALIDATE": "10", "OUT": str(work / "setup.txt")}
    subprocess.run(["bash", str(ANCHOR)], env=env, check=True, stdout=subprocess.DEVNULL)


def start_keystone(work: Path, port: int) -> tuple[subprocess.Popen, float]:
    venv, ks = keystone_paths(work)
    env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(ks / "keystone.conf")}
    cmd = [str(venv / "bin" / "uwsgi"), "--http-socket", f"127.0.0.1:{port}",
           "--module", "keystone.wsgi.api:application", "--master", "--processes", "2",
           "--threads", "1", "--lazy-apps", "--enable-threads", "--die-on-term",
           "--buffer-size", "65535", "--thunder-lock", "--need-app",
           "--logto", str(ks / "uwsgi-bench.log"), "--disable-logging"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    t1 = common.wait_http(f"http://127.0.0.1:{port}/v3", proc=proc)
    startup_cpu[proc.pid] = common.cpu_seconds(common.tree(proc.pid))
    return proc, t1 - t0


# ---------------------------------------------------------------- onestack
def onestack_env(state: Path) -> dict[str, str]:
    env = {**os.environ, "ONESTACK_LOG_LEVEL": "WARNING",
           "ONESTACK_IDENTITY__PASSWORD_HASH_ROUNDS": "12"}
    env.pop("OS_CLOUD", None)
    return env


def start_onestack(state: Path, port: int) -> tuple[subprocess.Popen, float]:
    cmd = [str(REPO / ".venv" / "bin" / "onestack"), "up", "--state-dir", str(state),
           "--port", str(port), "--admin-password", PASSWORD]
    log = open(state.parent / "onestack-bench.log", "ab")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=onestack_env(state), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    t1 = common.wait_http(f"http://127.0.0.1:{port}/identity/v3", proc=proc)
    startup_cpu[proc.pid] = common.cpu_seconds(common.tree(proc.pid))
    # the staged start answers identity first and loads the other services behind it:
    # also time until every service's own version document answers
    t2 = max(common.wait_http(f"http://127.0.0.1:{port}{path}", proc=proc)
             for path in ALL_SERVICES)
    all_ready[proc.pid] = t2 - t0
    # ...and until the status file says ready (agents started, data plane swept)
    status = state / "onestack.json"
    while True:
        try:
            if json.loads(status.read_text()).get("ready"):
                break
        except (OSError, ValueError):
            pass
        if proc.poll() is not None or time.monotonic() - t0 > 120:
            raise RuntimeError("onestack never became ready")
        time.sleep(0.01)
    agents_ready[proc.pid] = time.monotonic() - t0
    return proc, t1 - t0


# one unauthenticated URL per service: all of them answer once the whole cloud is up
ALL_SERVICES = ("/compute/", "/networking/", "/image/versions", "/volume/v3", "/placement/",
                "/object/info")
all_ready: dict[int, float] = {}
agents_ready: dict[int, float] = {}


# CPU seconds a server had used when it first answered (robust to other load on the box)
startup_cpu: dict[int, float] = {}


# ---------------------------------------------------------------- phases
def phases(name: str, pid: int, v3: str, n_validate: int, n_issue: int, conc: int,
           keepalive_too: bool) -> dict[str, dict]:
    token = get_token(v3)
    tok_url = v3 + "/auth/tokens"
    hdr = ["-H", f"X-Auth-Token: {token}", "-H", f"X-Subject-Token: {token}"]
    # warm-up (imports, caches, connection pools)
    common.hey(f"{name} warmup", pid, tok_url, min(50, n_validate), 2, *hdr)
    out = {}
    out["version"] = common.hey(f"{name} GET /v3", pid, v3, 2000, conc)
    out["validate"] = common.hey(f"{name} validate", pid, tok_url, n_validate, conc, *hdr)
    if keepalive_too:
        out["validate_ka"] = common.hey(f"{name} validate keep-alive", pid, tok_url, n_validate,
                                        conc * 2, *hdr, keepalive=True)
    out["issue"] = common.hey(f"{name} issue bcrypt-12", pid, tok_url, n_issue, conc,
                              "-m", "POST", "-T", "application/json", "-d", body())
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.environ.get("ANCHORS_WORK", "/tmp/onestack-anchors"),
                    help="where upstream Keystone's venv and state live")
    ap.add_argument("--conc", type=int, default=4)
    ap.add_argument("--validate-onestack", type=int, default=20000)
    ap.add_argument("--validate-keystone", type=int, default=400)
    ap.add_argument("--issue-onestack", type=int, default=120)
    ap.add_argument("--issue-keystone", type=int, default=60)
    ap.add_argument("--no-keystone", action="store_true", help="onestack only")
    ap.add_argument("--no-report", action="store_true", help="do not append to docs/benchmarks.md")
    args = ap.parse_args()
    common.need("hey")
    work = Path(args.work)
    results: dict[str, dict] = {}
    load_start = common.loadavg()

    print(f"bcrypt ceiling (checkpw, cost 12, 2 threads) ...", flush=True)
    ceiling = bcrypt_ceiling()
    print(f"  {ceiling:.2f} checks/s", flush=True)

    # ---- upstream Keystone
    if not args.no_keystone:
        ensure_keystone(work)
        port = common.free_port()
        proc, cold = start_keystone(work, port)
        try:
            time.sleep(3)   # let both lazy-app workers load before measuring memory
            rss = common.rss_mib(proc.pid)
            print(f"keystone: cold start {cold:.2f} s, idle RSS {rss:.0f} MiB", flush=True)
            r = phases("keystone", proc.pid, f"http://127.0.0.1:{port}/v3", args.validate_keystone,
                       args.issue_keystone, args.conc, keepalive_too=False)
            r["cold"], r["rss"], r["rss_after"] = cold, rss, common.rss_mib(proc.pid)
            r["startup_cpu"] = startup_cpu.get(proc.pid, float("nan"))
            results["keystone"] = r
        finally:
            common.stop(proc, __import__("signal").SIGINT)

    # ---- onestack
    state = Path(tempfile.mkdtemp(prefix="onestack-bench-")) / "state"
    state.mkdir()
    port = common.free_port()
    proc, first_boot = start_onestack(state, port)      # empty state: migrations + bootstrap
    common.stop(proc)
    colds, alls, readies = [], [], []
    for _ in range(3):
        proc, cold = start_onestack(state, port)
        colds.append(cold)
        alls.append(all_ready[proc.pid])
        readies.append(agents_ready[proc.pid])
        common.stop(proc)
    proc, cold = start_onestack(state, port)
    colds.append(cold)
    alls.append(all_ready[proc.pid])
    readies.append(agents_ready[proc.pid])
    cpu_at_ready = startup_cpu.get(proc.pid, float("nan"))
    try:
        time.sleep(2)
        rss = common.rss_mib(proc.pid)
        services = json.loads((state / "onestack.json").read_text())["services"]
        print(f"onestack: first boot {first_boot:.2f} s, cold start {sorted(colds)} s, "
              f"idle RSS {rss:.0f} MiB, services {services}", flush=True)
        r = phases("onestack", proc.pid, f"http://127.0.0.1:{port}/identity/v3",
                   args.validate_onestack, args.issue_onestack, args.conc, keepalive_too=True)
        r["cold"], r["cold_all"], r["first_boot"] = sorted(colds)[len(colds) // 2], colds, first_boot
        r["rss"], r["rss_after"], r["services"] = rss, common.rss_mib(proc.pid), services
        r["startup_cpu"] = cpu_at_ready
        r["all_ready"] = alls
        r["agents_ready"] = readies
        results["onestack"] = r
    finally:
        common.stop(proc)
        # as root the cloud runs the real data-plane drivers (the default): its host namespace
        # and bridges go with `onestack reset`, not with a bare rmtree
        subprocess.run([str(REPO / ".venv" / "bin" / "onestack"), "reset", "--state-dir", str(state),
                        "--yes"], env=onestack_env(state), check=False, stdout=subprocess.DEVNULL)
        shutil.rmtree(state.parent, ignore_errors=True)

    if not args.no_report:
        report(results, ceiling, load_start, args)
    return 0


def _fmt(res: dict | None, key: str) -> str:
    if not res or key not in res:
        return "—"
    x = res[key]
    return (f"{x['rps']:.1f} rps (p50 {x['p50']:.1f} ms, p99 {x['p99']:.1f} ms)"
            + (f", {x['errors']} errors" if x["errors"] else "")
            + (f", other load {x['other_pct']:.0f}%" if x["other_pct"] >= 15 else ""))


def report(results: dict, ceiling: float, load_start: str, args: argparse.Namespace) -> None:
    ks, os_ = results.get("keystone"), results.get("onestack")
    issue = os_["issue"]["rps"] if os_ else float("nan")
    lines = [
        f"## Identity — {common.now()}",
        "",
        f"Machine: {common.machine()}. Load average at start: {load_start}; other engineers'",
        "work shares these 2 cores, so numbers are noisy (\"other load\" = CPU used by",
        "unrelated processes during a phase, shown when >= 15%).",
        f"Load: `hey` (Go), concurrency {args.conc}, a new connection per request unless marked",
        "keep-alive (uwsgi's http-socket closes connections, so that is the fair comparison).",
        "Upstream: Keystone 30.0.0, SQLite, fernet, uwsgi 2 workers x 1 thread, `[cache]` off",
        "(upstream default). onestack: one process, every service it has"
        + (f" ({', '.join(os_['services'])})" if os_ else "") + ", SQLite.",
        "Both: bcrypt cost 12 for the password checks. `bench/identity.py`.",
        "",
        "| | onestack | Keystone |",
        "|---|---|---|",
        f"| token validate (GET /v3/auth/tokens, with catalog) | {_fmt(os_, 'validate')} | {_fmt(ks, 'validate')} |",
        f"| token validate, keep-alive, concurrency {args.conc * 2} | {_fmt(os_, 'validate_ka')} | — |",
        f"| token issue (password, project scope, bcrypt 12) | {_fmt(os_, 'issue')} | {_fmt(ks, 'issue')} |",
        f"| bcrypt ceiling (checkpw cost 12, 2 threads, same run) | {ceiling:.2f}/s; onestack issue is {100 * issue / ceiling:.0f}% of it | |",
        f"| GET /v3 version document | {_fmt(os_, 'version')} | {_fmt(ks, 'version')} |",
        f"| cold start to first 200 (state exists) | {os_['cold']:.2f} s (runs: {', '.join(f'{c:.2f}' for c in os_['cold_all'])}) | {ks['cold']:.2f} s |" if os_ and ks else
        f"| cold start to first 200 (state exists) | {os_['cold']:.2f} s | — |" if os_ else "",
        f"| cold start until every service's API answers (identity first, the others mounted behind it) | {sorted(os_['all_ready'])[len(os_['all_ready']) // 2]:.2f} s (runs: {', '.join(f'{c:.2f}' for c in os_['all_ready'])}) | — |" if os_ else "",
        f"| cold start until `ready` (agents started, data plane swept; `onestack status`) | {sorted(os_['agents_ready'])[len(os_['agents_ready']) // 2]:.2f} s (runs: {', '.join(f'{c:.2f}' for c in os_['agents_ready'])}) | — |" if os_ else "",
        f"| CPU seconds used until the first 200 (robust to other load) | {os_['startup_cpu']:.2f} s | "
        + (f"{ks['startup_cpu']:.2f} s (master + workers) |" if ks and "startup_cpu" in ks else "— |") if os_ else "",
        f"| first boot on an empty state dir (migrations + bootstrap) | {os_['first_boot']:.2f} s | (db_sync + bootstrap are separate commands) |" if os_ else "",
        f"| RSS idle / after the run | {os_['rss']:.0f} / {os_['rss_after']:.0f} MiB | {ks['rss']:.0f} / {ks['rss_after']:.0f} MiB (master + 2 workers) |" if os_ and ks else "",
        f"| server CPU per validate | {os_['validate']['srv_ms']:.2f} ms | {ks['validate']['srv_ms']:.1f} ms |" if os_ and ks else "",
    ]
    common.append_report("\n".join(l for l in lines if l is not None))
    print(f"appended to {common.DOC}")


if __name__ == "__main__":
    sys.exit(main())
