"""The crash sweep: objects of every kind are left behind as a kill -9 would leave them;
inventory lists them and cleanup(keep) removes exactly the ones not kept."""
from __future__ import annotations

import os

from onestack.dataplane import dhcp, inventory, loop, names, net, qemu, runc
from tests.dataplane.conftest import TOKEN, uid


def test_inventory_and_cleanup_after_a_crash(image, state_dir, host_ns):
    netid, subid, iid, vm_id, keep_iid = uid(), uid(), uid(), uid(), uid()
    br = names.bridge(netid)
    net.ensure_bridge(br, ns=host_ns)
    dport = {"id": uid(), "mac_address": "fa:16:3e:00:08:02", "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.8.2"}]}
    dhcp.ensure_dhcp(state_dir, {"id": netid}, [{"id": subid, "cidr": "10.9.8.0/24", "gateway_ip": None}],
                     [dport], dport, br, host_ns=host_ns)
    port = {"id": uid(), "mac_address": "fa:16:3e:00:08:11", "fixed_ips": [{"ip_address": "10.9.8.11"}]}
    net.plug_port_into_netns(port, br, names.instance_netns(iid), ns=host_ns)
    net.apply_security_groups(port, [], ns=host_ns)
    runc.prepare_bundle(state_dir, iid, image["rootfs"], netns=names.instance_netns(iid), args=["/bin/sleep", "600"])
    runc.start(state_dir, iid)
    net.ensure_netns(names.instance_netns(keep_iid))                # a live resource's object
    vol = os.path.join(state_dir, "volumes", f"volume-{uid()}")
    loop.create_file(vol, 0.01)
    dev = loop.attach(vol)
    if qemu.available() is None:
        qemu.start(state_dir, vm_id, kernel=image["kernel"], paused=True, memory_mb=64)
    inv = inventory.inventory(state_dir)
    kinds = {o.kind for o in inv if TOKEN in o.name or TOKEN in (o.netns or "") or o.kind in ("mount", "loop", "runc", "process")}
    assert {"netns", "link", "nft", "mount", "loop", "runc", "process", "cgroup"} <= kinds, inv
    procs = {o.name for o in inv if o.kind == "process"}
    assert names.dnsmasq_name(netid) in procs
    assert qemu.available() is not None or names.qemu_name(vm_id) in procs
    # "the agent crashed": nothing is torn down by its owner; the sweep keeps only what is live
    keep = {host_ns, br, names.instance_netns(keep_iid)}
    removed = inventory.cleanup(state_dir, keep, only=[TOKEN])   # only=: other sessions share this host
    assert removed
    left = [o for o in inventory.inventory(state_dir)
            if TOKEN in o.name or TOKEN in (o.netns or "") or o.kind in ("mount", "loop", "runc", "process")]
    assert {(o.kind, o.name) for o in left} == {("netns", host_ns), ("netns", names.instance_netns(keep_iid)),
                                               ("link", br)}, left
    assert not net.netns_exists(names.dhcp_netns(netid)) and dhcp.dhcp_pid(state_dir, netid) is None
    assert runc.state(state_dir, iid) is None and loop.find(vol) == [] and qemu.pid(state_dir, vm_id) is None
    assert not os.path.ismount(runc.bundle_dir(state_dir, iid) / "rootfs")
    # a second sweep finds nothing more to do
    assert inventory.cleanup(state_dir, keep, only=[TOKEN]) == []
    del dev
