"""The start-up sweep removes this cloud's orphans and nothing of another cloud's.

Two clouds on one machine share the namespace list (os-inst-*, os-router-*...); the sweep
must only consider objects this cloud claimed in its ledger, objects inside its own host
namespace, and objects below its state dir.
"""
from __future__ import annotations

import subprocess
import tempfile

import pytest

from onestack import conf
from onestack.dataplane import host, names, net
from tests.dataplane.conftest import uid


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture
def cloud_settings():
    previous = conf._current
    d = tempfile.mkdtemp(prefix="os-sweep-")
    conf.set_current(conf.load({"state_dir": d}, env={}))
    yield d
    host._OWNERS.clear()
    conf.set_current(previous)


def test_sweep_is_scoped_to_this_cloud(cloud_settings):
    kept, orphan, foreign = (names.instance_netns(uid()) for _ in range(3))
    hns = host.host_ns()
    live_bridge, dead_bridge = names.bridge(uid()), names.bridge(uid())
    try:
        host.claim(kept, orphan)
        for ns in (kept, orphan, foreign, hns):
            net.ensure_netns(ns)
        net.ensure_bridge(live_bridge, ns=hns)
        net.ensure_bridge(dead_bridge, ns=hns)
        host.register_owner("test", lambda: {kept, live_bridge})
        assert host.has_owners()

        removed = {(o.kind, o.name) for o in host.sweep()}

        assert removed == {("netns", orphan), ("link", dead_bridge)}
        present = _namespaces()
        assert {kept, foreign, hns} <= present      # the other cloud's namespace is untouched
        assert orphan not in present
        assert host.claimed() == {kept}             # the ledger forgets what is gone
        assert host.sweep() == []                   # a second sweep is a no-op
    finally:
        for ns in (kept, orphan, foreign, hns):
            net.remove_netns(ns)


def test_claim_is_durable_and_deduplicated(cloud_settings):
    a, b = names.router_netns(uid()), names.dhcp_netns(uid())
    host.claim(a)
    host.claim(a, b)
    lines = (host.state_dir() / host.LEDGER).read_text().splitlines()
    assert lines == [a, b]
    # A name claimed but never created (crash between claim and create) is dropped by the
    # next sweep instead of staying in the ledger forever.
    host.register_owner("test", lambda: set())
    assert host.sweep() == []
    assert host.claimed() == set()


def test_host_namespace_is_per_cloud(cloud_settings):
    mine = host.host_ns()
    assert mine.startswith(names.HOST_NETNS_PREFIX + "-")
    other = conf.load({"state_dir": cloud_settings + "-other"}, env={})
    previous = conf._current
    conf.set_current(other)
    try:
        assert host.host_ns() != mine
    finally:
        conf.set_current(previous)
    conf.set_current(conf.load({"state_dir": cloud_settings}, env={"ONESTACK_DATAPLANE__HOST_NETNS": "root"}))
    assert host.host_ns() is None


def test_teardown_removes_everything_of_this_cloud_only(cloud_settings):
    """`onestack reset` calls host.teardown(): live objects go too, another cloud's stay."""
    live, foreign = names.instance_netns(uid()), names.instance_netns(uid())
    hns = host.host_ns()
    bridge = names.bridge(uid())
    try:
        host.claim(live)
        for ns in (live, foreign, hns):
            net.ensure_netns(ns)
        net.ensure_bridge(bridge, ns=hns)
        host.register_owner("test", lambda: {live, bridge})
        removed = {(o.kind, o.name) for o in host.teardown()}
        assert {("netns", live), ("netns", hns)} <= removed
        present = _namespaces()
        assert live not in present and hns not in present
        assert foreign in present
    finally:
        for ns in (live, foreign, hns):
            net.remove_netns(ns)
