"""Filters and weighers are pure functions over host states."""
from __future__ import annotations

from onestack.compute import states
from onestack.compute.scheduler import filters, weights


def host(name, **kw):
    h = {"host": name, "node": name, "az": "nova", "enabled": True, "up": True, "hypervisor_type": "fake",
         "aggregates": [], "free_ram_mb": 1000, "free_vcpus": 4, "free_disk_gb": 10, "failed_builds": 0}
    h.update(kw)
    return h


def test_az_and_compute_filters():
    hs = [host("a", az="az1"), host("b"), host("c", up=False), host("d", enabled=False)]
    passing, trail = filters.run(hs, {"az": "az1"})
    assert [h["host"] for h in passing] == ["a"]
    passing, _ = filters.run(hs, {})
    assert [h["host"] for h in passing] == ["a", "b"]
    assert trail


def test_anti_affinity_respects_max_server_per_host():
    hs = [host("a"), host("b")]
    spec = {"group": {"policy": "anti-affinity", "rules": {}, "hosts": {"a": 1}}}
    assert [h["host"] for h in filters.run(hs, spec)[0]] == ["b"]
    spec["group"]["rules"] = {"max_server_per_host": 2}
    assert [h["host"] for h in filters.run(hs, spec)[0]] == ["a", "b"]
    spec = {"group": {"policy": "affinity", "rules": {}, "hosts": {"b": 1}}}
    assert [h["host"] for h in filters.run(hs, spec)[0]] == ["b"]


def test_aggregate_extra_specs_and_tenant_isolation():
    hs = [host("a", aggregates=[{"metadata": {"ssd": "true", "filter_tenant_id": "p1"}}]), host("b")]
    flavor = {"extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}}
    assert [h["host"] for h in filters.run(hs, {"flavor": flavor, "project_id": "p1"})[0]] == ["a"]
    assert filters.run(hs, {"flavor": flavor, "project_id": "p2"})[0] == []
    assert [h["host"] for h in filters.run(hs, {"project_id": "p2"})[0]] == ["b"]


def test_weighers_prefer_free_ram_and_penalise_failures():
    hs = [host("a", free_ram_mb=100), host("b", free_ram_mb=900)]
    mult = {name: 1.0 for name, _ in weights.WEIGHERS}
    assert weights.order(hs, {}, mult)[0]["host"] == "b"
    hs[1]["failed_builds"] = 3
    mult["build_failure_weight_multiplier"] = 1000.0
    assert weights.order(hs, {}, mult)[0]["host"] == "a"
    mult = {name: 0.0 for name, _ in weights.WEIGHERS}
    mult["ram_weight_multiplier"] = -1.0  # stacking instead of spreading
    assert weights.order([host("a", free_ram_mb=100), host("b", free_ram_mb=900)], {}, mult)[0]["host"] == "a"


def test_soft_anti_affinity_weigher():
    hs = [host("a"), host("b")]
    spec = {"group": {"policy": "soft-anti-affinity", "rules": {}, "hosts": {"a": 2}}}
    mult = {name: 0.0 for name, _ in weights.WEIGHERS}
    mult["soft_anti_affinity_weight_multiplier"] = 1.0
    assert weights.order(hs, spec, mult)[0]["host"] == "b"


def test_status_mapping():
    assert states.status("active", None) == "ACTIVE"
    assert states.status("active", "rebooting_hard") == "HARD_REBOOT"
    assert states.status("stopped", "resize_prep") == "RESIZE"
    assert states.status("resized", None) == "VERIFY_RESIZE"
    assert states.status("building", "spawning") == "BUILD"
    assert states.status("shelved_offloaded", None) == "SHELVED_OFFLOADED"


def test_placement_copy_answers_like_a_full_scan_while_providers_change():
    """placement/cache.py keeps each request shape's answer and corrects it for the providers
    changed since; after any sequence of changes it equals a scan from the first provider."""
    import random

    from onestack.placement import cache

    pc = cache.ProviderCache()
    pc._refresh = lambda: None   # no database here: the providers are set below
    for i in range(200):
        p = cache._Provider(f"rp{i:04d}", f"n{i}", (i, f"rp{i:04d}"))
        p.inv = {"VCPU": (8, 1, 8, 1), "MEMORY_MB": (1024, 1, 1024, 1)}
        p.traits = {"T1"} if i % 7 == 0 else set()
        pc._rps[p.uuid] = p
    pc._reordered(sorted(pc._rps))

    def scan(res, req, limit):
        out = [u for u in pc._ordered if cache.ProviderCache._fits(pc._rps[u], res, req, set(), [])]
        return out[:limit] if limit else out
    rnd = random.Random(7)
    for _ in range(5000):
        if rnd.random() < 0.5:
            pc.set_used(f"rp{rnd.randrange(200):04d}", {"VCPU": rnd.randrange(9), "MEMORY_MB": rnd.randrange(1025)})
        else:
            res = {"VCPU": rnd.choice([1, 2, 4]), "MEMORY_MB": rnd.choice([128, 512])}
            req = rnd.choice([set(), {"T1"}])
            limit = rnd.choice([None, 5, 50])
            assert [c["rp_uuid"] for c in pc.candidates(res, req, set(), [], limit)] == scan(res, req, limit)
