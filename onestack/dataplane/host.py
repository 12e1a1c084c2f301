"""This host's data-plane context, shared by the network driver and the virt drivers.

One place decides where data-plane state lives (:func:`state_dir`), which namespace plays
"hypervisor" (:func:`host_ns`: bridges, port devices and the security-group tables), and
which kernel objects this cloud owns, so that a sweep never touches another cloud's objects
on a shared machine:

- objects below :func:`state_dir` (mounts, loops, runc containers, qemu/dnsmasq processes)
  and objects inside :func:`host_ns` are this cloud's by construction;
- every other object (instance/router/DHCP namespaces, links in the root namespace,
  cgroups) must be :func:`claim`-ed *before* it is created: the name goes into a ledger in
  the state dir (fsynced), so a crash between the claim and the creation leaves nothing the
  sweep cannot find.

Drivers register a callable returning the names their live resources own
(:func:`register_owner`, built with the ``names.*_objects`` helpers); :func:`sweep` runs
once every agent has started and removes exactly the claimed or scoped objects that no
owner keeps.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Callable

from onestack import conf
from onestack.dataplane import names

log = logging.getLogger(__name__)


@dataclasses.dataclass
class DataplaneConf:
    # Namespace holding bridges, port devices and the security-group tables. "" = one per
    # cloud, os-host-<8 hex of the state dir> (safe on a shared machine); "root" = the root
    # namespace (a dedicated hypervisor); anything else = os-host-<that tag>.
    host_netns: str = ""
    # Give the machine running onestack a leg on each external network (a veth in the root
    # namespace holding the external subnet's gateway address), so floating IPs answer
    # from its shell.
    external_access: bool = True
    # Port the metadata proxy listens on inside router and DHCP namespaces (the guest's
    # 169.254.169.254:80 is DNAT-ed there).
    metadata_proxy_port: int = 8775


conf.register_section("dataplane", DataplaneConf)

_LOCK = threading.Lock()
_OWNERS: dict[str, Callable[[], set[str]]] = {}
LEDGER = "claimed"


def settings() -> DataplaneConf:
    return conf.get().dataplane


def state_dir() -> Path:
    """Short on purpose: QMP socket paths below it must fit 107 bytes."""
    p = conf.get().state_dir / "dp"
    p.mkdir(parents=True, exist_ok=True)
    return p


def tag() -> str:
    return hashlib.sha1(str(conf.get().state_dir.resolve()).encode()).hexdigest()[:8]


def host_ns() -> str | None:
    v = settings().host_netns
    if v == "root":
        return None
    return names.host_netns(v or tag())


def _ledger() -> Path:
    return state_dir() / LEDGER


def claimed() -> set[str]:
    try:
        return {ln for ln in _ledger().read_text().splitlines() if ln}
    except FileNotFoundError:
        return set()


def claim(*object_names: str) -> None:
    """Record that this cloud is about to create these objects (durable before return)."""
    with _LOCK:
        have = claimed()
        new = [n for n in object_names if n and n not in have]
        if not new:
            return
        with open(_ledger(), "a") as f:
            f.write("".join(n + "\n" for n in new))
            f.flush()
            os.fsync(f.fileno())


def _rewrite(keep_names: set[str]) -> None:
    tmp = _ledger().with_suffix(".tmp")
    tmp.write_text("".join(n + "\n" for n in sorted(keep_names)))
    with open(tmp) as f:
        os.fsync(f.fileno())
    os.replace(tmp, _ledger())


def register_owner(name: str, fn: Callable[[], set[str]]) -> None:
    """``fn()`` returns the object names this owner's live resources need kept."""
    _OWNERS[name] = fn


def has_owners() -> bool:
    return bool(_OWNERS)


def base_objects() -> set[str]:
    ns = host_ns()
    base = {names.NFT_PORT_TABLE, names.NFT_SG_TABLE}
    if ns:
        base.add(ns)
    return base


def sweep() -> list:
    """Remove every object of this cloud that no registered owner keeps; returns them."""
    keep = base_objects()
    for name, fn in list(_OWNERS.items()):
        keep |= set(fn())
    return _sweep(keep)


def teardown() -> list:
    """Remove every kernel object of this cloud, live or not (``onestack reset``)."""
    return _sweep(set())


def _sweep(keep: set[str]) -> list:
    from onestack.dataplane import inventory
    mine = claimed()
    ns = host_ns()
    sd = str(state_dir().resolve())
    removed: list = []
    objs = inventory.inventory(sd)
    present = {o.name for o in objs} | {o.netns for o in objs if o.netns}
    ours = [o for o in objs if o.name not in keep and (
        o.kind in ("mount", "loop", "runc", "process")
        or o.name in mine or (o.netns is not None and o.netns in mine)
        or (ns is not None and (o.netns == ns or o.name == ns)))]
    if ours:
        removed = inventory.cleanup(sd, keep, only=sorted({o.name for o in ours}))
        extra = {o.name for o in removed} - {o.name for o in ours}
        if extra:   # cleanup's ``only`` matches substrings: say so if it reached further
            log.warning("dataplane sweep removed unexpected objects: %s", sorted(extra))
    gone = {o.name for o in removed} | {n for n in mine if n not in keep and n not in present}
    with _LOCK:
        _rewrite(claimed() - gone)
    if removed:
        log.info("dataplane sweep removed %d orphan(s): %s", len(removed),
                 ", ".join(f"{o.kind}:{o.name}" for o in removed))
    return removed
