"""The fake driver honours the virt driver contract (idempotent, stateful, capability-gated)."""
from __future__ import annotations

import pytest

from onestack.compute.virt import driver as vd
from onestack.compute.virt.fake import FakeDriver


def test_lifecycle_is_idempotent_and_persistent(tmp_path):
    drv = FakeDriver("h1", state_dir=str(tmp_path))
    inst = {"uuid": "u1", "name": "instance-1", "flavor": {"vcpus": 1, "ram": 64}}
    drv.spawn(inst, {"id": "img"}, [], [])
    drv.spawn(inst, {"id": "img"}, [], [])
    assert drv.list_instances() == ["u1"]
    drv.power_off(inst)
    assert FakeDriver("h1", state_dir=str(tmp_path)).get_info(inst)["power_state"] == vd.SHUTDOWN
    drv.destroy(inst)
    drv.destroy(inst)
    with pytest.raises(vd.InstanceNotFound):
        drv.get_info(inst)


def test_failure_injection_and_migration(tmp_path):
    bad = FakeDriver("bad", fail=True)
    with pytest.raises(vd.DriverError):
        bad.spawn({"uuid": "x"}, {}, [], [])
    a, b = FakeDriver("a"), FakeDriver("b")
    inst = {"uuid": "m1", "flavor": {"vcpus": 2}}
    a.spawn(inst, {"id": "i"}, [], [])
    token = a.migrate_out(inst)
    b.migrate_in(inst, token, power_on=True)
    assert a.list_instances() == [] and b.get_info(inst)["power_state"] == vd.RUNNING


def test_capabilities_declare_consoles():
    assert FakeDriver.capabilities.remote_consoles == ()
    assert FakeDriver.capabilities.console_output is True
    assert isinstance(FakeDriver("x"), vd.Snapshot) and isinstance(FakeDriver("x"), vd.Migrate)
