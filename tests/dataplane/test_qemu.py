"""qemu: QMP control and disk hot-plug (no boot), and ONE bounded TCG boot of the tiny image
on a tap with a DHCP lease from dnsmasq."""
from __future__ import annotations

import os
import time

import pytest

from onestack.dataplane import dhcp, names, net, qemu
from tests.dataplane.conftest import ping, uid, wait_for

pytestmark = pytest.mark.skipif(qemu.available() is not None, reason=str(qemu.available()))


def test_qmp_power_and_disk_hotplug(image, state_dir):
    iid = uid()
    qemu.start(state_dir, iid, kernel=image["kernel"], initrd=image["initramfs"], paused=True, memory_mb=128)
    pid = qemu.pid(state_dir, iid)
    assert pid and qemu.start(state_dir, iid, kernel=image["kernel"]) == pid     # idempotent
    assert qemu.status(state_dir, iid) in ("prelaunch", "paused")
    vol = os.path.join(state_dir, f"vol-{uid()}.raw")
    with open(vol, "wb") as f:
        f.truncate(16 << 20)
    qemu.attach_disk(state_dir, iid, vol, "vol1")
    qemu.attach_disk(state_dir, iid, vol, "vol1")                               # idempotent
    blocks = qemu.qmp(state_dir, iid, "query-block")
    assert any(vol in str(b.get("inserted", {}).get("file", "")) for b in blocks), blocks
    qemu.stop(state_dir, iid)
    assert qemu.pid(state_dir, iid) is None and qemu.status(state_dir, iid) is None
    qemu.destroy(state_dir, iid)


@pytest.mark.slow
def test_tcg_boot_dhcp_and_ping(image, state_dir, host_ns):
    """Kernel + initramfs under TCG: the guest's init takes a DHCP lease through a tap on a
    bridge and answers ping. Bounded: 240 s (TCG on a loaded 2-core machine)."""
    netid, subid, iid = uid(), uid(), uid()
    br = names.bridge(netid)
    net.ensure_bridge(br, ns=host_ns)
    dport = {"id": uid(), "mac_address": "fa:16:3e:00:06:02", "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.6.2"}]}
    vport = {"id": uid(), "mac_address": "fa:16:3e:00:06:21", "dns_name": "tiny",
             "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.6.21"}]}
    subnet = {"id": subid, "cidr": "10.9.6.0/24", "gateway_ip": None}
    dhcp.ensure_dhcp(state_dir, {"id": netid}, [subnet], [vport, dport], dport, br, host_ns=host_ns)
    tap = net.plug_port_tap(vport, br, ns=host_ns)
    t0 = time.monotonic()
    qemu.start(state_dir, iid, kernel=image["kernel"], initrd=image["initramfs"], memory_mb=192,
               nics=[{"tap": tap, "mac": vport["mac_address"]}], netns=host_ns)
    ok = wait_for(lambda: image["ready_marker"] in qemu.console_output(state_dir, iid), 240, 0.5)
    boot_s = time.monotonic() - t0
    log = qemu.console_output(state_dir, iid)
    assert ok, log[-3000:]
    assert "onestack-init: network eth0 10.9.6.21" in log, log[-2000:]
    assert ping(names.dhcp_netns(netid), "10.9.6.21", count=2)
    qemu.pause(state_dir, iid)
    assert qemu.status(state_dir, iid) == "paused"
    qemu.resume(state_dir, iid)
    assert qemu.status(state_dir, iid) == "running"
    qemu.destroy(state_dir, iid)
    net.unplug_port(vport["id"], ns=host_ns)
    dhcp.remove_dhcp(state_dir, netid)
    print(f"TCG boot to '{image['ready_marker']}' with DHCP: {boot_s:.1f} s")
