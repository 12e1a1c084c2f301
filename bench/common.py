"""Shared benchmark plumbing: machine facts, process trees, RSS, `hey` phases, report files.

Every benchmark runs onestack and its upstream peer side by side in one run on this
machine, with the same load generator (`hey`, Go, from Debian), and appends a dated
section with the machine's description to docs/benchmarks.md.
"""
from __future__ import annotations

import datetime as dt
import glob
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def compile_sources() -> None:
    """What `make up` does first (`make pyc`): byte-compile onestack, so the clouds a bench
    starts load .pyc files as a user's would, also under PYTHONDONTWRITEBYTECODE."""
    subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "compileall", "-q", "-j", "0",
                    str(REPO / "onestack")], check=True)


compile_sources()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{NCPU} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def loadavg() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    out = [pid]
    for f in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            kids = open(f).read().split()
        except OSError:
            continue
        for k in kids:
            out += tree(int(k))
    return out


def rss_mib(pid: int) -> float:
    """Resident set size of a process and its descendants (MiB)."""
    total = 0
    for p in tree(pid):
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    t = 0.0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            t += (int(f[11]) + int(f[12])) / TCK
        except OSError:
            pass
    return t


def machine_busy() -> float:
    v = list(map(int, open("/proc/stat").readline().split()[1:9]))
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / TCK


def wait_http(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> float:
    """Poll ``url`` until it answers 200; returns the moment (time.monotonic) it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


def need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise SystemExit(f"{tool} is needed (Debian package '{tool}')")
    return path


def hey(name: str, pid: int, url: str, n: int, c: int, *args: str, keepalive: bool = False,
        timeout: int = 1200) -> dict[str, Any]:
    """One bounded `hey` phase with CPU accounting (server, load generator, everything else)."""
    cmd = [need("hey"), "-n", str(n), "-c", str(c), "-t", "30"]
    if not keepalive:
        cmd.append("-disable-keepalive")
    cmd += [*args, url]
    pids = tree(pid)
    s0, m0, t0 = cpu_seconds(pids), machine_busy(), time.monotonic()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1, m1, t1 = cpu_seconds(pids), machine_busy(), time.monotonic()
    out = p.stdout

    def g(rx: str) -> float:
        m = re.search(rx, out)
        return float(m.group(1)) if m else float("nan")
    codes = {k: int(v) for k, v in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    errors = sum(int(x) for x in re.findall(r"^\s+\[(\d+)\]\s+(?:Get|Post|Put|Delete|Head)", out, re.M))
    elapsed = t1 - t0
    gen = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    srv = s1 - s0
    other = max(0.0, (m1 - m0) - srv - gen)
    res = {"name": name, "rps": g(r"Requests/sec:\s+([\d.]+)"),
           "p50": g(r"\s50% in ([\d.]+) secs") * 1000, "p90": g(r"\s90% in ([\d.]+) secs") * 1000,
           "p99": g(r"\s99% in ([\d.]+) secs") * 1000, "codes": codes, "errors": errors,
           "ok": ok, "srv_ms": 1000 * srv / ok if ok else float("nan"),
           "loadgen_pct": 100 * gen / elapsed / NCPU, "other_pct": 100 * other / elapsed / NCPU}
    print(f"  {name:34s} {res['rps']:8.1f} rps  p50 {res['p50']:8.1f} ms  p99 {res['p99']:8.1f} ms  "
          f"codes {codes} errors {errors}  srv {res['srv_ms']:.2f} ms/req  "
          f"other load {res['other_pct']:.0f}%", flush=True)
    return res


def append_report(markdown: str) -> None:
    DOC.parent.mkdir(parents=True, exist_ok=True)
    if not DOC.exists():
        DOC.write_text("# Benchmarks\n\nResults appended by the scripts in `bench/` (newest last). "
                       "Each section is one run: onestack and its upstream peer side by side on "
                       "the same machine, same load generator.\n")
    with open(DOC, "a") as f:
        f.write("\n" + markdown.rstrip() + "\n")
