"""Weighers: raw value per host, normalised to [0, 1] across the candidates, times the
configured multiplier, summed. Highest total wins."""
from __future__ import annotations

import heapq
from typing import Any, Callable


def ram(h: dict[str, Any], spec: dict[str, Any]) -> float:
    return h["free_ram_mb"]


def cpu(h: dict[str, Any], spec: dict[str, Any]) -> float:
    return h["free_vcpus"]


def disk(h: dict[str, Any], spec: dict[str, Any]) -> float:
    return h["free_disk_gb"]


def build_failure(h: dict[str, Any], spec: dict[str, Any]) -> float:
    return -h.get("failed_builds", 0)


def soft_affinity(h: dict[str, Any], spec: dict[str, Any]) -> float:
    g = spec.get("group")
    if not g or g["policy"] != "soft-affinity":
        return 0.0
    return g["hosts"].get(h["host"], 0)


def soft_anti_affinity(h: dict[str, Any], spec: dict[str, Any]) -> float:
    g = spec.get("group")
    if not g or g["policy"] != "soft-anti-affinity":
        return 0.0
    return -g["hosts"].get(h["host"], 0)


WEIGHERS: list[tuple[str, Callable[[dict[str, Any], dict[str, Any]], float]]] = [
    ("ram_weight_multiplier", ram), ("cpu_weight_multiplier", cpu), ("disk_weight_multiplier", disk),
    ("build_failure_weight_multiplier", build_failure),
    ("soft_affinity_weight_multiplier", soft_affinity),
    ("soft_anti_affinity_weight_multiplier", soft_anti_affinity),
]


# weighers that read one field of the host state: read it directly (1000 candidates per boot)
_FIELD = {ram: "free_ram_mb", cpu: "free_vcpus", disk: "free_disk_gb"}


def order(hosts: list[dict[str, Any]], spec: dict[str, Any], multipliers: dict[str, float],
          top: int | None = None) -> list[dict[str, Any]]:
    """Hosts best first; ``top``: only the best ``top`` of them (no full sort)."""
    totals = [0.0] * len(hosts)
    g = spec.get("group") or {}
    for name, fn in WEIGHERS:
        mult = multipliers.get(name, 1.0)
        if not mult:
            continue
        if (fn is soft_affinity and g.get("policy") != "soft-affinity") or \
                (fn is soft_anti_affinity and g.get("policy") != "soft-anti-affinity"):
            continue   # 0 for every host: adds nothing
        field = _FIELD.get(fn)
        raw = [h[field] for h in hosts] if field else [fn(h, spec) for h in hosts]
        lo, hi = min(raw, default=0), max(raw, default=0)
        if hi == lo:
            continue   # every host normalises to 0
        scale = mult / (hi - lo)
        totals = [t + (v - lo) * scale for t, v in zip(totals, raw)]
    def key(t: tuple[float, int]) -> tuple[float, str]:
        return (-t[0], hosts[t[1]]["host"])
    pairs = zip(totals, range(len(hosts)))
    ranked = heapq.nsmallest(top, pairs, key=key) if top is not None and top < len(hosts) \
        else sorted(pairs, key=key)
    return [hosts[i] for _, i in ranked]
