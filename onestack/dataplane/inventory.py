"""Every onestack-owned kernel object on this host, and exact cleanup of the orphans.

``inventory(state_dir)`` lists, as :class:`Obj` (kind, name, netns, detail):
- ``netns``: namespaces named ``os-*``;
- ``link``: ``os-*`` links of the root namespace and of every host namespace
  (``os-host*``; links inside instance/router/DHCP namespaces belong to that namespace);
- ``nft``: ``os-*`` nft tables in the same namespaces;
- ``mount``: mounts below ``state_dir`` (instance rootfs overlays);
- ``loop``: loop devices whose backing file is below ``state_dir`` (name = backing file);
- ``runc``: containers of the runc root ``<state_dir>/runc`` (name = container id);
- ``process``: qemu and dnsmasq processes whose command line names ``state_dir``
  (name = the ``-name``/pid-file stem, e.g. ``os-vm-<uuid>``, ``os-dhcp-<net>``);
- ``cgroup``: ``os-*`` cgroups (v1 controllers or v2) left by runc.

``cleanup(state_dir, keep)`` removes every listed object whose ``name`` is not in
``keep`` (build ``keep`` from live resources with the ``names.*_objects`` helpers), in an
order that never leaves a dangling reference (processes, mounts, loops, tables, links,
namespaces, cgroups).
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path
from typing import Iterable

from onestack.dataplane import names
from onestack.dataplane._util import LOG, cmdline, nft_json, pid_alive, run, which

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclasses.dataclass(frozen=True)
class Obj:
    kind: str
    name: str
    netns: str | None = None
    detail: str = ""


def _host_namespaces(all_ns: list[str]) -> list[str | None]:
    return [None] + [n for n in all_ns if n.startswith(names.HOST_NETNS_PREFIX)]


def _procs_under(state_dir: str) -> list[Obj]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        argv = cmdline(int(d))
        if not argv:
            continue
        exe = os.path.basename(argv[0])
        if not (exe.startswith("qemu-system") or exe == "dnsmasq"):
            continue
        if not any(state_dir in a for a in argv):
            continue
        name = ""
        for i, a in enumerate(argv):
            if a == "-name" and i + 1 < len(argv):
                name = argv[i + 1].split(",")[0].removeprefix("guest=")
            elif a.startswith("--pid-file="):
                name = Path(a.split("=", 1)[1]).parent.name
        out.append(Obj("process", name or f"pid-{d}", None, f"{d} {exe}"))
    return out


def _loops(state_dir: str) -> list[Obj]:
    out = []
    base = Path("/sys/block")
    for d in base.glob("loop*"):
        try:
            bf = (d / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
        clean = bf.removesuffix(" (deleted)")
        if clean.startswith(state_dir.rstrip("/") + "/"):
            out.append(Obj("loop", clean, None, f"/dev/{d.name}"))
    return out


def _mounts(state_dir: str) -> list[Obj]:
    out = []
    prefix = state_dir.rstrip("/") + "/"
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            mp = parts[1].replace("\\040", " ")
            if mp.startswith(prefix):
                out.append(Obj("mount", mp, None, parts[2]))
    return out


def _runc(state_dir: str) -> list[Obj]:
    root = os.path.join(state_dir, "runc")
    if not os.path.isdir(root) or not which("runc"):
        return []
    raw = run(["runc", "--root", root, "list", "-f", "json"], check=False).strip()
    items = json.loads(raw) if raw and raw != "null" else []
    return [Obj("runc", c["id"], None, c.get("status", "")) for c in items or []]


def _cgroups() -> list[Obj]:
    out = []
    seen = set()
    root = Path(CGROUP_ROOT)
    dirs = [root] + [p for p in root.iterdir() if p.is_dir()] if root.exists() else []
    for d in dirs:
        try:
            for c in d.iterdir():
                if c.is_dir() and c.name.startswith(names.PREFIX):
                    out.append(Obj("cgroup", c.name, None, str(c)))
                    seen.add(c.name)
        except OSError:
            continue
    return out


def inventory(state_dir: str | os.PathLike[str]) -> list[Obj]:
    from onestack.dataplane import net
    state_dir = str(Path(state_dir).resolve())
    objs: list[Obj] = []
    all_ns = [n for n in net.list_netns() if names.is_ours(n)]
    objs += [Obj("netns", n) for n in all_ns]
    for ns in _host_namespaces(all_ns):
        try:
            objs += [Obj("link", lk["ifname"], ns, lk["kind"] or "") for lk in net.list_links(ns)]
        except Exception as e:  # namespace vanished meanwhile
            LOG.debug("links of %s: %s", ns, e)
        for item in nft_json(["list", "tables"], ns):
            t = item.get("table")
            if t and names.is_ours(t["name"]):
                objs.append(Obj("nft", t["name"], ns, t["family"]))
    objs += _mounts(state_dir) + _loops(state_dir) + _runc(state_dir) + _procs_under(state_dir)
    objs += _cgroups()
    return objs


def _kill(pid: int, timeout: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


def remove(obj: Obj, state_dir: str) -> None:
    """Remove one inventoried object (idempotent)."""
    from onestack.dataplane import net
    k = obj.kind
    if k == "runc":
        root = os.path.join(state_dir, "runc")
        run(["runc", "--root", root, "delete", "--force", obj.name], check=False)
    elif k == "process":
        pid = int(obj.detail.split()[0])
        if any(state_dir in a for a in cmdline(pid)):   # re-check: never kill a recycled pid
            _kill(pid)
    elif k == "mount":
        run(["umount", "-l", obj.name], check=False)
    elif k == "loop":
        run(["losetup", "-d", obj.detail], check=False)
    elif k == "nft":
        run(["nft", "delete", "table", obj.detail, obj.name], obj.netns, check=False)
    elif k == "link":
        net.remove_link(obj.name, obj.netns)
    elif k == "netns":
        net.remove_netns(obj.name)
    elif k == "cgroup":
        p = Path(obj.detail)
        for sub in sorted((x for x in p.rglob("*") if x.is_dir()), key=lambda x: -len(x.parts)):
            try:
                sub.rmdir()
            except OSError:
                pass
        try:
            p.rmdir()
        except FileNotFoundError:
            pass
        except OSError as e:
            LOG.warning("cgroup %s not removed: %s", p, e)
    LOG.info("cleanup: removed %s %s (%s)", k, obj.name, obj.netns or "")


ORDER = ("runc", "process", "mount", "loop", "nft", "link", "netns", "cgroup")


def cleanup(state_dir: str | os.PathLike[str], keep: Iterable[str] = (), *,
            only: Iterable[str] | None = None) -> list[Obj]:
    """Remove every onestack object not named in ``keep``; returns what was removed.
    ``only``, when given, restricts the sweep to objects whose name contains one of
    these substrings (tests use it to stay out of each other's way)."""
    sd = str(Path(state_dir).resolve())
    keep = set(keep)
    flt = list(only) if only is not None else None
    objs = [o for o in inventory(sd) if o.name not in keep]
    if flt is not None:
        objs = [o for o in objs if any(f in o.name or f in (o.netns or "") for f in flt) or o.kind in
                ("mount", "loop", "runc", "process")]
    removed = []
    dead_ns = {o.name for o in objs if o.kind == "netns"}
    for kind in ORDER:
        for o in objs:
            if o.kind != kind:
                continue
            if o.netns and o.netns in dead_ns:
                continue        # goes with its namespace
            remove(o, sd)
            removed.append(o)
    return removed
