"""The issue's end-to-end test: a real cloud driven by the unchanged `openstack` CLI, with
the linux network driver and a real compute driver (container; qemu once, slower).

From the host (the machine running onestack) we ping the floating IP, ssh into it with
the keypair, read the user-data script's effect and the metadata service from inside; a
TCP listener on a port the security group does not open is unreachable; a second
tenant's instance cannot reach the first's private address; a volume written in one
server is read in another; ``console log show`` shows the boot.
"""
from __future__ import annotations

import ipaddress
import os
import random
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from onestack.dataplane import inventory, runc
from onestack.dataplane._util import which
from tests.dataplane.test_virt_container import real_cloud, wait
from tests.harness import RunningCloud

pytestmark = pytest.mark.skipif(not (which("runc") and which("ssh") and which("dnsmasq")),
                                reason="needs runc, dnsmasq and an ssh client (make apt-runtime apt-test)")

USER_DATA = """#!/bin/sh
echo "user-data ran as $(id -u)" > /tmp/user-data-effect
(while true; do echo secret | nc -l -p 8080; done) >/dev/null 2>&1 &
echo listener started
"""


def free_public_cidr() -> tuple[str, str]:
    """A 172.24.X.0/24 no route of this machine uses yet (other clouds share the machine)."""
    used = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    free = [x for x in range(100, 250) if f"172.24.{x}." not in used]
    x = random.choice(free)
    return f"172.24.{x}.0/24", f"172.24.{x}.1"


def e2e_env(driver: str) -> dict[str, str]:
    cidr, gw = free_public_cidr()
    return {"ONESTACK_COMPUTE__DRIVER": driver, "ONESTACK_NETWORK__DRIVER": "linux",
            "ONESTACK_COMPUTE__POWER_SYNC_INTERVAL": "2",
            "ONESTACK_NETWORK__PUBLIC_CIDR": cidr, "ONESTACK_NETWORK__PUBLIC_GATEWAY": gw}


@pytest.fixture
def e2e_cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningCloud]:
    with real_cloud(tmp_path / "state", e2e_env(request.param)) as c:
        yield c


def ssh(key: Path, user: str, ip: str, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                           "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
                           f"{user}@{ip}", command], capture_output=True, text=True, timeout=timeout)


def pings(ip: str) -> bool:
    return subprocess.run(["busybox", "ping", "-c", "1", "-W", "1", ip], capture_output=True).returncode == 0


def tcp_open(ip: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def tenant_network(c: RunningCloud, cloud: str, name: str, cidr: str) -> dict[str, Any]:
    net = c.cli("network", "create", name, cloud=cloud)
    c.cli("subnet", "create", "--network", net["id"], "--subnet-range", cidr, f"{name}-sub", cloud=cloud)
    router = c.cli("router", "create", f"{name}-router", cloud=cloud)
    c.cli("router", "set", "--external-gateway", "public", router["id"], json_out=False, cloud=cloud)
    c.cli("router", "add", "subnet", router["id"], f"{name}-sub", json_out=False, cloud=cloud)
    return net


def server_ip(c: RunningCloud, sid: str) -> str:
    addrs = c.cli("server", "show", sid)["addresses"]
    found = [ip for ips in addrs.values() for ip in ips] if isinstance(addrs, dict) else \
        re.findall(r"[0-9]+(?:\.[0-9]+){3}", str(addrs))
    return next(ip for ip in found if ipaddress.ip_address(ip).version == 4)


@pytest.mark.parametrize("e2e_cloud", ["container"], indirect=True)
def test_end_to_end_with_the_openstack_cli(e2e_cloud: RunningCloud, tmp_path: Path, uniq: str) -> None:
    c = e2e_cloud
    demo = "onestack"
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    c.cli("keypair", "create", "--public-key", f"{key}.pub", f"k-{uniq}", cloud=demo)
    net = tenant_network(c, demo, f"e2e-{uniq}", "10.77.1.0/24")
    sg = c.cli("security", "group", "create", f"ssh-ping-{uniq}", cloud=demo)
    for rule in (["--protocol", "icmp"], ["--protocol", "tcp", "--dst-port", "22"]):
        c.cli("security", "group", "rule", "create", *rule, sg["id"], cloud=demo)
    ud = tmp_path / "user-data.sh"
    ud.write_text(USER_DATA)
    t0 = time.monotonic()
    srv = c.cli("server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny", "--network", net["id"],
                "--key-name", f"k-{uniq}", "--security-group", sg["id"], "--user-data", str(ud), "--wait",
                f"web-{uniq}", cloud=demo)
    assert srv["status"] == "ACTIVE"
    fip = c.cli("floating", "ip", "create", "public", cloud=demo)["floating_ip_address"]
    c.cli("server", "add", "floating", "ip", srv["id"], fip, json_out=False, cloud=demo)

    # ping, then ssh, from the host through the floating IP
    wait(lambda: pings(fip), 90, f"ping {fip}")
    t_ping = time.monotonic() - t0
    wait(lambda: ssh(key, "cirros", fip, "true").returncode == 0, 90, f"ssh cirros@{fip}")
    inside = ssh(key, "cirros", fip, "cat /tmp/user-data-effect; "
                                     "wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json")
    assert inside.returncode == 0, inside.stderr
    assert "user-data ran as 0" in inside.stdout
    assert srv["id"] in inside.stdout and f"k-{uniq}" in inside.stdout
    # a listener on 8080 runs inside, yet the security group keeps it unreachable from outside
    assert "secret" in ssh(key, "cirros", fip, "nc 127.0.0.1 8080 </dev/null").stdout
    assert tcp_open(fip, 22) and not tcp_open(fip, 8080)
    log = c.cli("console", "log", "show", srv["id"], json_out=False, cloud=demo).stdout
    assert "onestack-init: up" in log and "user-data script done" in log

    # a second tenant's instance cannot reach the first's private address (but reaches its own router)
    private_ip = server_ip(c, srv["id"])
    c.cli("project", "create", f"t2-{uniq}")
    c.cli("role", "add", "--project", f"t2-{uniq}", "--user", "admin", "member", json_out=False)

    def t2(*args: str, **kw: Any) -> Any:       # the admin user scoped to the second tenant
        return c.cli("--os-project-name", f"t2-{uniq}", *args, **kw)
    net2 = t2("network", "create", f"t2net-{uniq}")
    t2("subnet", "create", "--network", net2["id"], "--subnet-range", "10.77.2.0/24", f"t2sub-{uniq}")
    r2 = t2("router", "create", f"t2r-{uniq}")
    t2("router", "set", "--external-gateway", "public", r2["id"], json_out=False)
    t2("router", "add", "subnet", r2["id"], f"t2sub-{uniq}", json_out=False)
    s2 = t2("server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny", "--network", net2["id"],
            "--wait", f"t2-{uniq}")
    dp = str(c.state_dir / "dp")
    if runc.state(dp, s2["id"]):
        wait(lambda: "onestack-init: up" in runc.console_output(dp, s2["id"]), 90, "tenant 2 guest up")
        ex = runc.exec_(dp, s2["id"], ["ping", "-c", "2", "-W", "1", "10.77.2.1"])
        assert ex.returncode == 0, "tenant 2 reaches its own gateway"
        ex = runc.exec_(dp, s2["id"], ["ping", "-c", "2", "-W", "1", private_ip])
        assert ex.returncode != 0, f"tenant 2 reached tenant 1's {private_ip}"

    # a volume written in one server is read in another
    vol = c.cli("volume", "create", "--size", "1", f"v-{uniq}", cloud=demo)["id"]
    wait(lambda: c.cli("volume", "show", vol, cloud=demo)["status"] == "available", 60, "volume")
    c.cli("server", "add", "volume", srv["id"], vol, json_out=False, cloud=demo)
    w = ssh(key, "root", fip, f"echo e2e-{uniq} | dd of=/dev/vdb bs=512 conv=fsync 2>/dev/null && echo written")
    assert "written" in w.stdout, w.stderr
    c.cli("server", "remove", "volume", srv["id"], vol, json_out=False, cloud=demo)
    wait(lambda: c.cli("volume", "show", vol, cloud=demo)["status"] == "available", 60, "volume detached")
    reader = c.cli("server", "create", "--image", "onestack-tiny", "--flavor", "m1.tiny", "--network", net["id"],
                   "--wait", f"reader-{uniq}", cloud=demo)
    c.cli("server", "add", "volume", reader["id"], vol, json_out=False, cloud=demo)
    if runc.state(dp, reader["id"]):
        got = runc.exec_(dp, reader["id"], ["sh", "-c", "dd if=/dev/vdb bs=512 count=1 2>/dev/null | head -1"])
        assert got.stdout.strip() == f"e2e-{uniq}"
    print(f"\nserver create -> ping via floating IP: {t_ping:.1f} s")
    for sid in (srv["id"], reader["id"]):
        c.cli("server", "delete", "--wait", sid, json_out=False, cloud=demo)
    t2("server", "delete", "--wait", s2["id"], json_out=False)
    objs = inventory.inventory(dp)
    assert not [o for o in objs if any(s in o.name for s in (srv["id"], reader["id"], s2["id"]))]
    assert os.path.exists(dp)
