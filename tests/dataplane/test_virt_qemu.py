"""The qemu driver once, end to end (slow: TCG on a loaded 2-core machine): the bootable
onestack-tiny boots by direct kernel boot (kernel_id/ramdisk_id) from a qcow2 overlay,
takes its DHCP lease through a tap on the network's bridge, answers ping and ssh through a
floating IP; power actions go through QMP; a volume is hot-plugged as a virtio disk, written
inside and unplugged (the data is in the volume's file); rescue and interface attach, which
this driver lacks, are 409s."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from onestack.dataplane import inventory, qemu
from tests.dataplane.test_cloud_e2e import e2e_env, pings, ssh
from tests.dataplane.test_virt_container import real_cloud, wait
from tests.harness import RunningCloud

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(qemu.available() is not None, reason=str(qemu.available()))]


@pytest.fixture
def qcloud(tmp_path: Path) -> Iterator[RunningCloud]:
    with real_cloud(tmp_path / "state", e2e_env("qemu")) as c:
        yield c


def test_qemu_server_boots_pings_and_takes_ssh(qcloud: RunningCloud, tmp_path: Path, uniq: str) -> None:
    c, demo = qcloud, "onestack"
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    c.cli("keypair", "create", "--public-key", f"{key}.pub", f"k-{uniq}", cloud=demo)
    sg = c.cli("security", "group", "create", f"q-{uniq}", cloud=demo)
    for rule in (["--protocol", "icmp"], ["--protocol", "tcp", "--dst-port", "22"]):
        c.cli("security", "group", "rule", "create", *rule, sg["id"], cloud=demo)
    t0 = time.monotonic()
    srv = c.cli("server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny", "--network", "private",
                "--key-name", f"k-{uniq}", "--security-group", sg["id"], "--wait", f"vm-{uniq}", cloud=demo)
    assert srv["status"] == "ACTIVE"
    sid = srv["id"]
    dp = str(c.state_dir / "dp")
    cmd = " ".join(Path(f"/proc/{qemu.pid(dp, sid)}/cmdline").read_text().split("\0"))
    assert "-kernel" in cmd and "root=/dev/vda" in cmd and "disk.qcow2" in cmd     # direct kernel boot, overlay
    fip = c.cli("floating", "ip", "create", "public", cloud=demo)["floating_ip_address"]
    c.cli("server", "add", "floating", "ip", sid, fip, json_out=False, cloud=demo)
    log = wait(lambda: (lambda t: t if "onestack-init: up" in t else None)(
        c.cli("console", "log", "show", sid, json_out=False, cloud=demo).stdout), 300, "the VM's init")
    assert "onestack-init: root /dev/vda" in log and "modules loaded" in log
    wait(lambda: pings(fip), 120, f"ping {fip}")
    t_ping = time.monotonic() - t0
    wait(lambda: ssh(key, "cirros", fip, "true").returncode == 0, 120, f"ssh cirros@{fip}")
    assert sid in ssh(key, "cirros", fip, "wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json").stdout
    # a volume hot-plugged over QMP shows up as a virtio disk in the guest
    vol = c.cli("volume", "create", "--size", "1", f"qv-{uniq}", cloud=demo)["id"]
    wait(lambda: c.cli("volume", "show", vol, cloud=demo)["status"] == "available", 60, "volume")
    c.cli("server", "add", "volume", sid, vol, json_out=False, cloud=demo)
    assert wait(lambda: "vdb" in ssh(key, "cirros", fip, "ls /dev").stdout, 60, "/dev/vdb in the VM")
    # data written inside reaches the volume's file; detach unplugs the disk over QMP
    r = ssh(key, "root", fip, f"echo qemu-{uniq} | dd of=/dev/vdb bs=512 conv=fsync 2>/dev/null && sync")
    assert r.returncode == 0, r.stderr
    c.cli("server", "remove", "volume", sid, vol, json_out=False, cloud=demo)
    wait(lambda: c.cli("volume", "show", vol, cloud=demo)["status"] == "available", 90, "volume detached")
    assert "vdb" not in ssh(key, "cirros", fip, "ls /dev").stdout
    vfile = next(p for p in (c.state_dir / "volumes").rglob(f"*{vol}*") if p.is_file())
    assert vfile.read_bytes()[:64].startswith(f"qemu-{uniq}".encode())
    # what this driver cannot do is a 409 naming the reason, before anything changes
    for args in (["server", "rescue", sid], ["server", "add", "network", sid, "private"]):
        r = c.cli(*args, json_out=False, check=False, cloud=demo)
        assert r.returncode != 0 and "409" in r.stderr and "does not support" in r.stderr, (args, r.stderr)
    assert c.cli("server", "show", sid, cloud=demo)["status"] == "ACTIVE"
    assert len(c.cli("port", "list", "--server", sid, cloud=demo)) == 1
    # power via QMP
    c.cli("server", "pause", sid, json_out=False, cloud=demo)
    wait(lambda: qemu.status(dp, sid) == "paused", 30, "QMP paused")
    c.cli("server", "unpause", sid, json_out=False, cloud=demo)
    wait(lambda: qemu.status(dp, sid) == "running", 30, "QMP running")
    c.cli("server", "stop", sid, json_out=False, cloud=demo)
    wait(lambda: c.cli("server", "show", sid, cloud=demo)["status"] == "SHUTOFF", 60, "SHUTOFF")
    assert qemu.pid(dp, sid) is None
    print(f"\nqemu ({'kvm' if qemu.kvm_usable() else 'tcg'}): server create -> ping via floating IP {t_ping:.1f} s")
    c.cli("server", "delete", "--wait", sid, json_out=False, cloud=demo)
    assert not [o for o in inventory.inventory(dp) if sid in o.name]
