"""Host filters: pure functions (host_state, spec) -> bool. ``spec`` is the request spec:
{flavor, image_props, az, project_id, group: {policy, rules, hosts: {host: n}} | None,
 same_host: [hosts] | None, different_host: [hosts] | None, force_hosts, force_nodes}."""
from __future__ import annotations

from typing import Any, Callable


def availability_zone(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    return not spec.get("az") or h["az"] == spec["az"]


def compute_enabled_up(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    return h["enabled"] and h["up"]


def image_properties(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    props = spec.get("image_props") or {}
    arch = props.get("hw_architecture") or props.get("architecture")
    if arch and arch not in (h.get("arch") or "x86_64", "x86_64" if h.get("arch") is None else None):
        return False
    hv = props.get("img_hv_type") or props.get("hypervisor_type")
    if hv and hv.lower() not in (h["hypervisor_type"].lower(), "qemu" if h["hypervisor_type"] == "kvm" else ""):
        return False
    return True


def aggregate_instance_extra_specs(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    extra = (spec.get("flavor") or {}).get("extra_specs") or {}
    meta: dict[str, set[str]] = {}
    for agg in h["aggregates"]:
        for k, v in agg["metadata"].items():
            meta.setdefault(k, set()).update(x.strip() for x in str(v).split(","))
    for key, want in extra.items():
        scope, _, name = key.partition(":")
        if not name:
            continue
        if scope != "aggregate_instance_extra_specs":
            continue
        if str(want).strip() not in meta.get(name, set()):
            return False
    return True


def aggregate_multitenancy_isolation(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    tenants: set[str] = set()
    for agg in h["aggregates"]:
        for k, v in agg["metadata"].items():
            if k.startswith("filter_tenant_id"):
                tenants.update(x.strip() for x in str(v).split(","))
    return not tenants or spec.get("project_id") in tenants


def server_group(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    g = spec.get("group")
    if not g:
        return True
    on_host = g["hosts"].get(h["host"], 0)
    if g["policy"] == "affinity":
        return not g["hosts"] or on_host > 0
    if g["policy"] == "anti-affinity":
        limit = int((g.get("rules") or {}).get("max_server_per_host", 1))
        return on_host < limit
    return True


def same_different_host(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    same = spec.get("same_host")
    if same is not None and h["host"] not in same:
        return False
    diff = spec.get("different_host")
    if diff and h["host"] in diff:
        return False
    return True


def forced(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    if spec.get("force_hosts") and h["host"] not in spec["force_hosts"]:
        return False
    if spec.get("force_nodes") and h["node"] not in spec["force_nodes"]:
        return False
    return True


def ignore_hosts(h: dict[str, Any], spec: dict[str, Any]) -> bool:
    return h["host"] not in (spec.get("ignore_hosts") or [])


ALL: list[tuple[str, Callable[[dict[str, Any], dict[str, Any]], bool]]] = [
    ("ForcedHostFilter", forced),
    ("IgnoreHostsFilter", ignore_hosts),
    ("AvailabilityZoneFilter", availability_zone),
    ("ComputeFilter", compute_enabled_up),
    ("ImagePropertiesFilter", image_properties),
    ("AggregateInstanceExtraSpecsFilter", aggregate_instance_extra_specs),
    ("AggregateMultiTenancyIsolation", aggregate_multitenancy_isolation),
    ("ServerGroupAffinityFilter/AntiAffinityFilter", server_group),
    ("SameHostFilter/DifferentHostFilter", same_different_host),
]


def _extra_scoped(spec: dict[str, Any]) -> bool:
    extra = (spec.get("flavor") or {}).get("extra_specs") or {}
    return any(k.startswith("aggregate_instance_extra_specs:") for k in extra)


def _image_constrained(spec: dict[str, Any]) -> bool:
    p = spec.get("image_props") or {}
    return any(p.get(k) for k in ("hw_architecture", "architecture", "img_hv_type", "hypervisor_type"))


# Filters that keep every host for this spec (nothing asked of them): not run, so a request
# over 1000 candidates does not make 1000 calls to each. Same answer, less work.
INERT: dict[Callable, Callable[[dict[str, Any]], bool]] = {
    forced: lambda spec: not (spec.get("force_hosts") or spec.get("force_nodes")),
    ignore_hosts: lambda spec: not spec.get("ignore_hosts"),
    availability_zone: lambda spec: not spec.get("az"),
    image_properties: lambda spec: not _image_constrained(spec),
    aggregate_instance_extra_specs: lambda spec: not _extra_scoped(spec),
    server_group: lambda spec: not spec.get("group"),
    same_different_host: lambda spec: spec.get("same_host") is None and not spec.get("different_host"),
}


def run(hosts: list[dict[str, Any]], spec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """(hosts passing every filter, a log of how many each filter kept)."""
    trail = []
    for name, fn in ALL:
        inert = INERT.get(fn)
        if inert is None or not inert(spec):
            hosts = [h for h in hosts if fn(h, spec)]
        trail.append(f"{name}: {len(hosts)}")
        if not hosts:
            break
    return hosts, trail
