"""The container driver through the unchanged `openstack` CLI: servers are real runc
containers built from the bootable onestack-tiny image.

One cloud for the module (ONESTACK_COMPUTE__DRIVER=container, a random public CIDR, a
1 s power sync). Every test deletes what it made and proves that no kernel object of its
servers is left; the module ends by checking the cloud's whole inventory.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from onestack import conf
from onestack.dataplane import host, inventory, names, net, runc
from onestack.dataplane._util import which
from tests.harness import RunningCloud

pytestmark = pytest.mark.skipif(not which("runc"), reason="runc is not installed (make apt-runtime installs it)")


def wait(pred: Callable[[], Any], timeout: float, what: str, step: float = 0.3) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    got = pred()
    assert got, f"timed out after {timeout}s waiting for {what}"
    return got


def cloud_env(driver: str = "container") -> dict[str, str]:
    x = random.randint(1, 250)
    return {"ONESTACK_COMPUTE__DRIVER": driver, "ONESTACK_COMPUTE__POWER_SYNC_INTERVAL": "1",
            "ONESTACK_COMPUTE__SHUTDOWN_TIMEOUT": "2",
            "ONESTACK_NETWORK__PUBLIC_CIDR": f"172.24.{x}.0/24", "ONESTACK_NETWORK__PUBLIC_GATEWAY": f"172.24.{x}.1"}


def wait_for_tiny(cloud: RunningCloud) -> dict[str, Any]:
    """The bootable onestack-tiny is registered in the background after start-up."""
    def ready() -> dict[str, Any] | None:
        rows = cloud.cli("image", "list", "--name", "onestack-tiny", "--long")
        for r in rows:
            img = cloud.cli("image", "show", r["ID"])
            if r["Status"] == "active" and "kernel_id" in (img.get("properties") or {}):
                return img
        return None
    return wait(ready, 120, "the bootable onestack-tiny image")


def sweep_cloud(state_dir: Path) -> list[inventory.Obj]:
    """After a test cloud stopped: remove every kernel object it made (its claimed names,
    its host namespace, what lives below its state dir) -- as a start-up sweep with no
    live resource would -- so that finished tests leave nothing on the shared machine."""
    previous = conf._current
    conf.set_current(conf.load({"state_dir": str(state_dir)}, env={}))
    saved = dict(host._OWNERS)
    host._OWNERS.clear()
    host.register_owner("teardown", set)
    try:
        removed = host.sweep()
        ns = host.host_ns()
        if ns:
            net.remove_netns(ns)
        return removed
    finally:
        host._OWNERS.clear()
        host._OWNERS.update(saved)
        conf.set_current(previous)


@contextlib.contextmanager
def real_cloud(state_dir: Path, env: dict[str, str]) -> Iterator[RunningCloud]:
    """A cloud on real drivers, ready to boot onestack-tiny. On exit every server is
    deleted (no instance object may survive that), then the whole cloud is swept."""
    c = RunningCloud.start(state_dir, env=env)
    try:
        wait_for_tiny(c)
        yield c
    finally:
        for s in c.cli("server", "list", "--all-projects", check=False) or []:
            c.cli("server", "delete", "--wait", s["ID"], json_out=False, check=False)
        dp = c.state_dir / "dp"
        c.stop()
        claimed = set((dp / "claimed").read_text().split()) if (dp / "claimed").exists() else set()
        left = [o for o in inventory.inventory(dp) if o.kind in ("mount", "loop", "runc")
                or o.kind == "process" and "os-vm-" in o.name or o.name.startswith("os-inst-") and o.name in claimed]
        sweep_cloud(c.state_dir)
        c.destroy()
        assert not left, f"instance objects left after deleting every server: {left}"


@pytest.fixture(scope="module")
def ccloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with real_cloud(tmp_path_factory.mktemp("ccloud") / "state", cloud_env()) as c:
        yield c


def dp(cloud: RunningCloud) -> str:
    return str(cloud.state_dir / "dp")


def create(cloud: RunningCloud, name: str, *args: str, wait_active: bool = True) -> dict[str, Any]:
    cmd = ["server", "create", "--flavor", "m1.tiny", "--network", "private", *args]
    if not any(a in ("--image", "--volume") for a in args):
        cmd += ["--image", "onestack-tiny"]
    if wait_active:
        cmd.append("--wait")
    return cloud.cli(*cmd, name)


def status(cloud: RunningCloud, sid: str) -> str:
    return cloud.cli("server", "show", sid)["status"]


def wait_status(cloud: RunningCloud, sid: str, want: str, timeout: float = 60) -> None:
    wait(lambda: status(cloud, sid) == want, timeout, f"server {sid} {want}")


def rstate(cloud: RunningCloud, sid: str) -> str | None:
    st = runc.state(dp(cloud), sid)
    return st and st["status"]


def console(cloud: RunningCloud, sid: str) -> str:
    return cloud.cli("console", "log", "show", sid, json_out=False).stdout


def objects_of(cloud: RunningCloud, sid: str) -> list[inventory.Obj]:
    return [o for o in inventory.inventory(dp(cloud)) if sid in o.name or sid in o.detail]


def delete(cloud: RunningCloud, *sids: str) -> None:
    cloud.cli("server", "delete", "--wait", *sids, json_out=False)
    for sid in sids:
        assert objects_of(cloud, sid) == [], f"objects of deleted server {sid} left"
        assert not (Path(dp(cloud)) / "meta" / f"{sid}.json").exists()


def guest(cloud: RunningCloud, sid: str, script: str) -> str:
    r = runc.exec_(dp(cloud), sid, ["sh", "-c", script], timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


# ---------------------------------------------------------------------------------------------
def test_server_boots_and_every_power_action_reaches_the_container(ccloud):
    srv = create(ccloud, "c-power")
    sid = srv["id"]
    assert srv["status"] == "ACTIVE" and rstate(ccloud, sid) == "running"
    wait(lambda: "onestack-init: up" in console(ccloud, sid), 60, "the guest's init to finish")
    assert "onestack-init: start" in console(ccloud, sid)
    assert ccloud.cli("server", "show", sid)["OS-EXT-SRV-ATTR:hypervisor_hostname"]
    # the flavor's memory limit is on the container's cgroup (v1 here) when the host has it
    lim = Path(f"/sys/fs/cgroup/memory{names.cgroup(sid)}/memory.limit_in_bytes")
    if runc.cgroup_support()["memory"] and lim.exists():
        assert int(lim.read_text()) == 512 << 20

    guest(ccloud, sid, "echo kept > /root/kept")
    ccloud.cli("server", "stop", sid, json_out=False)
    wait_status(ccloud, sid, "SHUTOFF")
    assert rstate(ccloud, sid) is None
    ccloud.cli("server", "start", sid, json_out=False)
    wait_status(ccloud, sid, "ACTIVE")
    assert rstate(ccloud, sid) == "running"
    assert guest(ccloud, sid, "cat /root/kept").strip() == "kept"     # the writable layer survives
    for action, want, runc_want in (("pause", "PAUSED", "paused"), ("unpause", "ACTIVE", "running"),
                                    ("suspend", "SUSPENDED", "paused"), ("resume", "ACTIVE", "running")):
        ccloud.cli("server", action, sid, json_out=False)
        wait_status(ccloud, sid, want)
        assert rstate(ccloud, sid) == runc_want, action
    pid = runc.state(dp(ccloud), sid)["pid"]
    ccloud.cli("server", "reboot", "--hard", sid, json_out=False)
    wait(lambda: status(ccloud, sid) == "ACTIVE" and (runc.state(dp(ccloud), sid) or {}).get("pid") not in
         (None, pid), 60, "a new container process after reboot")
    assert ccloud.cli("server", "show", sid)["OS-EXT-STS:power_state"] in (1, "Running")
    delete(ccloud, sid)


def test_volume_data_moves_between_servers_and_survives_restart(ccloud, uniq):
    a, b = create(ccloud, f"c-vol-a-{uniq}")["id"], create(ccloud, f"c-vol-b-{uniq}")["id"]
    vol = ccloud.cli("volume", "create", "--size", "1", f"vol-{uniq}")["id"]
    wait(lambda: ccloud.cli("volume", "show", vol)["status"] == "available", 60, "volume available")
    ccloud.cli("server", "add", "volume", a, vol, json_out=False)
    assert "/dev/vdb" in guest(ccloud, a, "ls /dev/vdb")
    guest(ccloud, a, f"echo onestack-{uniq} | dd of=/dev/vdb bs=512 conv=fsync 2>/dev/null")
    ccloud.cli("server", "remove", "volume", a, vol, json_out=False)
    assert "vdb" not in guest(ccloud, a, "ls /dev")
    wait(lambda: ccloud.cli("volume", "show", vol)["status"] == "available", 60, "volume detached")
    ccloud.cli("server", "add", "volume", b, vol, json_out=False)
    assert guest(ccloud, b, "dd if=/dev/vdb bs=512 count=1 2>/dev/null | head -1").strip() == f"onestack-{uniq}"
    # a volume attached to a running server is still there after a power cycle
    ccloud.cli("server", "stop", b, json_out=False)
    wait_status(ccloud, b, "SHUTOFF")
    ccloud.cli("server", "start", b, json_out=False)
    wait_status(ccloud, b, "ACTIVE")
    assert guest(ccloud, b, "dd if=/dev/vdb bs=512 count=1 2>/dev/null | head -1").strip() == f"onestack-{uniq}"
    ccloud.cli("server", "remove", "volume", b, vol, json_out=False)
    delete(ccloud, a, b)
    path = ccloud.state_dir / "volumes"
    assert not [ln for ln in os.popen("losetup -a").read().splitlines() if str(path) in ln], "loop left"
    ccloud.cli("volume", "delete", vol, json_out=False)


def test_snapshot_boots_with_the_servers_files(ccloud, uniq):
    sid = create(ccloud, f"c-snap-{uniq}")["id"]
    guest(ccloud, sid, f"echo {uniq} > /root/marker")
    img = ccloud.cli("server", "image", "create", "--name", f"snap-{uniq}", "--wait", sid)
    assert img["status"] == "active"
    clone = create(ccloud, f"c-clone-{uniq}", "--image", img["id"])["id"]
    assert guest(ccloud, clone, "cat /root/marker").strip() == uniq
    delete(ccloud, sid, clone)
    ccloud.cli("image", "delete", img["id"], json_out=False)


def test_boot_from_volume_writes_into_the_volume(ccloud, uniq):
    tiny = wait_for_tiny(ccloud)
    vol = ccloud.cli("volume", "create", "--size", "1", "--image", tiny["id"], f"boot-{uniq}")["id"]
    wait(lambda: ccloud.cli("volume", "show", vol)["status"] == "available", 120, "boot volume")
    sid = create(ccloud, f"c-bfv-{uniq}", "--volume", vol)["id"]
    wait(lambda: "onestack-init: up" in console(ccloud, sid), 60, "the guest's init from the volume")
    guest(ccloud, sid, f"echo {uniq} > /root/on-volume; sync")
    delete(ccloud, sid)
    wait(lambda: ccloud.cli("volume", "show", vol)["status"] == "available", 60, "volume released")
    again = create(ccloud, f"c-bfv2-{uniq}", "--volume", vol)["id"]
    assert guest(ccloud, again, "cat /root/on-volume").strip() == uniq
    delete(ccloud, again)
    ccloud.cli("volume", "delete", vol, json_out=False)


def test_crashed_container_goes_shutoff(ccloud, uniq):
    sid = create(ccloud, f"c-crash-{uniq}")["id"]
    os.kill(runc.state(dp(ccloud), sid)["pid"], signal.SIGKILL)
    wait_status(ccloud, sid, "SHUTOFF", timeout=30)
    assert ccloud.cli("server", "show", sid)["OS-EXT-STS:power_state"] in (4, "Shutdown")
    ccloud.cli("server", "start", sid, json_out=False)
    wait_status(ccloud, sid, "ACTIVE")
    assert rstate(ccloud, sid) == "running"
    delete(ccloud, sid)


def test_kill9_while_five_servers_build(ccloud, uniq):
    """kill -9 of onestack mid-build: after the restart every server is ACTIVE or ERROR, the
    ACTIVE ones run, and every os-inst-* object / mount / runc container belongs to one of
    them (the start-up sweep and the agent's reconcile removed the rest)."""
    ids = [create(ccloud, f"c-k9-{uniq}-{i}", wait_active=False)["id"] for i in range(5)]
    time.sleep(1.0)
    ccloud.kill9()
    ccloud.launch()
    final = wait(lambda: (lambda rows: rows if all(r["Status"] in ("ACTIVE", "ERROR") for r in rows) else None)(
        [ccloud.cli("server", "show", i) | {"Status": status(ccloud, i)} for i in ids]), 180,
        "every server ACTIVE or ERROR")
    live = {r["id"] for r in final if r["Status"] == "ACTIVE"}
    for sid in live:
        assert rstate(ccloud, sid) == "running"
    objs = inventory.inventory(dp(ccloud))
    instance_objs = [o for o in objs if o.kind in ("mount", "runc") or o.name.startswith("os-inst-")]
    claimed = set((Path(dp(ccloud)) / "claimed").read_text().split())
    mine = [o for o in instance_objs if o.kind in ("mount", "runc") or o.name in claimed]
    orphans = [o for o in mine if not any(sid in o.name for sid in live)]
    assert orphans == [], orphans
    delete(ccloud, *ids)


def test_reconcile_destroys_instances_without_a_server(ccloud, uniq):
    """An instance left on the host for a server that is gone (deleted while onestack was
    down) is destroyed when the agent starts."""
    sid = create(ccloud, f"c-orphan-{uniq}")["id"]
    meta = (Path(dp(ccloud)) / "meta" / f"{sid}.json").read_text()
    ccloud.cli("server", "delete", "--wait", sid, json_out=False)
    # put the instance back as a crash would have left it: record + running container
    fake = str(uuidlib.uuid4())
    (Path(dp(ccloud)) / "meta" / f"{fake}.json").write_text(meta)
    ccloud.restart()
    ccloud.cli("server", "list")          # answers once compute (agent reconcile included) started
    assert not (Path(dp(ccloud)) / "meta" / f"{fake}.json").exists()
    assert objects_of(ccloud, fake) == [] and objects_of(ccloud, sid) == []


def test_qcow2_volume_is_refused_cleanly(ccloud, uniq):
    """The container driver attaches raw volumes only: a qcow2 one gets a 409 with the
    reason, and the volume is left available (no half-made attachment)."""
    sid = create(ccloud, f"c-q2-{uniq}")["id"]
    ccloud.cli("volume", "type", "create", "--property", "volume_backend_name=qcow2", f"q2-{uniq}")
    vol = ccloud.cli("volume", "create", "--size", "1", "--type", f"q2-{uniq}", f"q2v-{uniq}")["id"]
    wait(lambda: ccloud.cli("volume", "show", vol)["status"] == "available", 60, "qcow2 volume")
    r = ccloud.cli("server", "add", "volume", sid, vol, json_out=False, check=False)
    assert r.returncode != 0 and "409" in r.stderr and "raw volumes only" in r.stderr, r.stderr
    assert ccloud.cli("volume", "show", vol)["status"] == "available"
    assert ccloud.cli("server", "volume", "list", sid) == []
    delete(ccloud, sid)
    ccloud.cli("volume", "delete", vol, json_out=False)


def test_rootfs_tarball_image_boots(ccloud, uniq, tmp_path):
    """A Glance image holding a rootfs tarball (container_format docker) boots as a container."""
    from onestack.dataplane import image_build
    tar = image_build.build_image(tmp_path / "guest")["rootfs_tar"]
    img = ccloud.cli("image", "create", "--disk-format", "raw", "--container-format", "docker",
                     "--file", tar, f"tar-{uniq}")
    sid = create(ccloud, f"c-tar-{uniq}", "--image", img["id"])["id"]
    wait(lambda: "onestack-init: up" in console(ccloud, sid), 60, "the guest's init from the tarball")
    delete(ccloud, sid)
    ccloud.cli("image", "delete", img["id"], json_out=False)


def limits(sid: str) -> tuple[int | None, int | None]:
    """(memory limit bytes, CPU quota us) on the container's cgroup (v1), None where absent."""
    mem = Path(f"/sys/fs/cgroup/memory{names.cgroup(sid)}/memory.limit_in_bytes")
    cpu = next((p for p in (Path(f"/sys/fs/cgroup/cpu{names.cgroup(sid)}/cpu.cfs_quota_us"),
                            Path(f"/sys/fs/cgroup/cpu,cpuacct{names.cgroup(sid)}/cpu.cfs_quota_us")) if p.exists()),
               None)
    return (int(mem.read_text()) if mem.exists() else None), (int(cpu.read_text()) if cpu else None)


def root_disk_gib(cloud: RunningCloud, sid: str) -> float:
    """The size of / as the guest's df sees it."""
    return int(guest(cloud, sid, "df -Pk / | tail -1").split()[1]) / 2**20


def test_resize_grows_the_root_disk_and_changes_limits(ccloud, uniq):
    """Resize = new cgroup limits + a bigger root disk (df inside shows it); revert brings
    the old flavor back (disk shrunk, offline), confirm keeps the new one; files survive."""
    big = f"c-big-{uniq}"
    ccloud.cli("flavor", "create", "--ram", "1024", "--vcpus", "2", "--disk", "3", big)
    sid = create(ccloud, f"c-resize-{uniq}")["id"]
    assert 0.8 < root_disk_gib(ccloud, sid) <= 1.0            # m1.tiny: 1 GB root disk
    guest(ccloud, sid, f"echo {uniq} > /root/marker")
    cg = runc.cgroup_support()
    mem0, cpu0 = limits(sid)
    if cg["memory"] and mem0 is not None:
        assert mem0 == 512 << 20
    if cg["cpu"] and cpu0 is not None:
        assert cpu0 == 100000

    def resize_to(flavor: str) -> None:
        ccloud.cli("server", "resize", "--flavor", flavor, sid, json_out=False)
        wait_status(ccloud, sid, "VERIFY_RESIZE", timeout=120)
        assert rstate(ccloud, sid) == "running"

    resize_to(big)
    assert 2.8 < root_disk_gib(ccloud, sid) <= 3.0
    mem, cpu = limits(sid)
    if cg["memory"] and mem is not None:
        assert mem == 1024 << 20
    if cg["cpu"] and cpu is not None:
        assert cpu == 200000
    assert guest(ccloud, sid, "cat /root/marker").strip() == uniq
    guest(ccloud, sid, "dd if=/dev/zero of=/root/fill bs=1M count=1200 2>/dev/null; sync")   # > the old 1 GB
    guest(ccloud, sid, "rm /root/fill; sync")

    ccloud.cli("server", "resize", "revert", sid, json_out=False)
    wait_status(ccloud, sid, "ACTIVE", timeout=120)
    assert "m1.tiny" in str(ccloud.cli("server", "show", sid)["flavor"])
    assert 0.8 < root_disk_gib(ccloud, sid) <= 1.0
    assert guest(ccloud, sid, "cat /root/marker").strip() == uniq
    if cg["memory"] and mem0 is not None:
        assert limits(sid)[0] == 512 << 20

    resize_to(big)
    ccloud.cli("server", "resize", "confirm", sid, json_out=False)
    wait_status(ccloud, sid, "ACTIVE", timeout=60)
    assert 2.8 < root_disk_gib(ccloud, sid) <= 3.0
    assert guest(ccloud, sid, "cat /root/marker").strip() == uniq
    # the disk is a loop-mounted file of this instance: gone with it
    disk = runc.bundle_dir(dp(ccloud), sid) / runc.DISK
    assert disk.exists()
    delete(ccloud, sid)
    assert not disk.exists()
    ccloud.cli("flavor", "delete", big, json_out=False)


def test_interface_hot_plug_and_unplug(ccloud, uniq):
    """`server add network` plugs a new veth into each running container (eth1 with the
    port's MAC, its host end on the network's bridge); packets flow between two servers over
    it (static addresses from their ports: this cloud's network driver runs no DHCP);
    `server remove network` takes it away and leaves no host-side device."""
    a, b = create(ccloud, f"c-nic-a-{uniq}")["id"], create(ccloud, f"c-nic-b-{uniq}")["id"]
    net2 = ccloud.cli("network", "create", f"n2-{uniq}")["id"]
    ccloud.cli("subnet", "create", "--network", net2, "--subnet-range", f"10.77.{random.randint(1, 250)}.0/24",
               f"s2-{uniq}")
    plugged = {}
    for sid in (a, b):
        ccloud.cli("server", "add", "network", sid, net2, json_out=False)
        port = ccloud.cli("port", "list", "--server", sid, "--network", net2, "--long")[0]
        assert guest(ccloud, sid, "cat /sys/class/net/eth1/address").strip() == port["MAC Address"]
        dev = names.port_device(port["ID"])
        w = next(p for p in json.loads((Path(dp(ccloud)) / "meta" / f"{sid}.json").read_text())["ports"]
                 if p["id"] == port["ID"])
        link = net.link_info(dev, w["host_netns"])
        assert link and link["master"] == w["bridge"] and link["up"], link
        ip = port["Fixed IP Addresses"][0]["ip_address"]
        guest(ccloud, sid, f"ip link set eth1 up; ip addr add {ip}/24 dev eth1")
        plugged[sid] = (dev, w["host_netns"], ip)
    wait(lambda: " 0% packet loss" in guest(ccloud, a, f"ping -c 1 -W 1 {plugged[b][2]} || true"), 30,
         "ping a -> b over the hot-plugged interfaces")
    ccloud.cli("server", "remove", "network", a, net2, json_out=False)
    wait(lambda: "eth1" not in guest(ccloud, a, "ls /sys/class/net"), 30, "eth1 gone from the guest")
    assert "eth0" in guest(ccloud, a, "ls /sys/class/net")
    assert net.link_info(plugged[a][0], plugged[a][1]) is None, "host end left"
    assert ccloud.cli("port", "list", "--server", a, "--network", net2) == []
    # a power cycle keeps the interface set as it is now
    ccloud.cli("server", "reboot", "--hard", a, json_out=False)
    wait(lambda: status(ccloud, a) == "ACTIVE" and rstate(ccloud, a) == "running", 60, "running again")
    assert sorted(guest(ccloud, a, "ls /sys/class/net").split()) == ["eth0", "lo"]
    delete(ccloud, a, b)
    assert net.link_info(plugged[b][0], plugged[b][1]) is None
    ccloud.cli("network", "delete", net2, json_out=False)


def test_rescue_runs_the_rescue_image_with_the_root_at_mnt(ccloud, uniq):
    """rescue stops the instance and runs the rescue image in a second container with the
    instance's root tree at /mnt (what it writes there stays); unrescue removes the rescue
    container and starts the instance again; delete while rescued leaves nothing."""
    from onestack.compute.virt.container import rescue_id
    sid = create(ccloud, f"c-rescue-{uniq}")["id"]
    guest(ccloud, sid, f"echo {uniq} > /root/marker")
    ccloud.cli("server", "rescue", sid, json_out=False)
    wait_status(ccloud, sid, "RESCUE")
    rid = rescue_id(sid)
    assert rstate(ccloud, sid) is None and rstate(ccloud, rid) == "running"
    assert guest(ccloud, rid, "cat /mnt/root/marker").strip() == uniq
    guest(ccloud, rid, "echo repaired > /mnt/root/repaired; test ! -e /root/marker")
    time.sleep(3)           # a power sync passes: the rescued server stays RESCUE
    assert status(ccloud, sid) == "RESCUE"
    ccloud.cli("server", "unrescue", sid, json_out=False)
    wait_status(ccloud, sid, "ACTIVE")
    assert rstate(ccloud, sid) == "running" and rstate(ccloud, rid) is None
    assert guest(ccloud, sid, "cat /root/repaired").strip() == "repaired"
    assert not runc.bundle_dir(dp(ccloud), rid).exists()
    ccloud.cli("server", "rescue", sid, json_out=False)
    wait_status(ccloud, sid, "RESCUE")
    delete(ccloud, sid)
    assert rstate(ccloud, rid) is None and not runc.bundle_dir(dp(ccloud), rid).exists()
