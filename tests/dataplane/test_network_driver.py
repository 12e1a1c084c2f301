"""The Linux network driver end to end, driven as a user drives it.

A cloud runs with the linux network driver and the FAKE compute driver; the test plays the
container driver itself: it plugs a namespace onto the port's bridge exactly as the
container driver will (``net.plug_port_into_netns`` with the port's MAC), takes a DHCP
lease with busybox udhcpc and talks to the world: the router gateway, the floating IP from
the machine's shell (through the external veth), a security group that lets 22 in and
keeps 8080 out, and the metadata service at 169.254.169.254.
"""
from __future__ import annotations

import contextlib
import json
import random
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from onestack import conf
from onestack.dataplane import host, inventory, names, net
from tests.dataplane.conftest import Servers, connect, ping, sh, wait_for
from tests.harness import RunningCloud

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
    elif [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi ;;
esac
exit 0
"""


@contextlib.contextmanager
def cloud_settings(state_dir: Path) -> Iterator[None]:
    """This process computes host_ns()/claimed() as the cloud in ``state_dir`` does."""
    previous = conf._current
    conf.set_current(conf.load({"state_dir": str(state_dir)}, env={}))
    try:
        yield
    finally:
        conf.set_current(previous)


class Cloud:
    """A running cloud with the linux driver plus the namespaces the test plugs as "instances"."""

    def __init__(self, base: Path):
        self.third = random.randint(100, 250)
        self.public = f"172.24.{self.third}"
        self.rc = RunningCloud.start(base / "cloud", env={
            "ONESTACK_NETWORK__DRIVER": "linux", "ONESTACK_COMPUTE__DRIVER": "fake",
            "ONESTACK_NETWORK__PUBLIC_CIDR": f"{self.public}.0/24",
            "ONESTACK_NETWORK__PUBLIC_GATEWAY": f"{self.public}.1",
            "ONESTACK_LOG_LEVEL": "INFO"})
        self.rc.cli("network", "list")      # the network service has started (staged start)
        self.script = base / "udhcpc.sh"
        self.script.write_text(UDHCPC_SCRIPT)
        self.script.chmod(0o755)
        self.instances: list[str] = []
        with cloud_settings(self.rc.state_dir):
            self.host_ns = host.host_ns()

    def cli(self, *args: str, cloud: str = "onestack", **kw: Any) -> Any:
        return self.rc.cli(*args, cloud=cloud, **kw)

    def plug(self, port: dict[str, Any], key: str | None = None) -> str:
        """A namespace wired like a container instance on ``port`` (no address yet)."""
        details = port["binding_vif_details"]
        ns = names.instance_netns(key or port["device_id"] or port["id"])
        self.instances.append(ns)
        net.plug_port_into_netns({"id": port["id"], "mac_address": port["mac_address"]}, details["bridge"], ns,
                                 ns=details["host_netns"], mtu=None)
        return ns

    def unplug(self, ns: str) -> None:
        """What the compute driver does when its instance goes: the namespace (and the
        veth pair in it) is removed."""
        net.remove_netns(ns)
        self.instances.remove(ns)

    def dhcp(self, ns: str) -> str:
        r = sh(ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-T", "1", "-O", "staticroutes",
               "-s", str(self.script), timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        out = sh(ns, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout.split()
        return out[3].split("/")[0] if len(out) > 3 else ""

    def metadata(self, ns: str, path: str = "openstack/latest/meta_data.json") -> tuple[int, str]:
        r = sh(ns, "curl", "-s", "-m", "10", "-w", "\n%{http_code}", f"http://169.254.169.254/{path}", timeout=20)
        body, _, code = r.stdout.rpartition("\n")
        return int(code or 0), body

    def objects(self) -> set[tuple[str, str]]:
        """(kind, name) of every kernel object of this cloud (host namespace content + claimed)."""
        sd = self.rc.state_dir / "dp"
        with cloud_settings(self.rc.state_dir):
            claimed = host.claimed()
        out = set()
        for o in inventory.inventory(sd):
            if o.netns == self.host_ns or o.name in claimed or o.kind == "process":
                out.add((o.kind, o.name))
        return out

    def destroy(self) -> None:
        self.rc.stop()
        for ns in self.instances:
            net.remove_netns(ns)
        with cloud_settings(self.rc.state_dir):
            mine = sorted(host.claimed() | {self.host_ns})
        inventory.cleanup(self.rc.state_dir / "dp", only=mine)


@pytest.fixture(scope="module")
def cloud() -> Iterator[Cloud]:
    base = Path(tempfile.mkdtemp(prefix="os-netdrv-"))
    c = Cloud(base)
    try:
        yield c
    finally:
        c.destroy()
        shutil.rmtree(base, ignore_errors=True)


def _server(cloud: Cloud, name: str, network: str, *extra: str) -> tuple[dict, dict]:
    srv = cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", "onestack-tiny", "--network", network,
                    "--wait", *extra, name)
    ports = cloud.cli("port", "list", "--server", srv["id"], "--long")
    port = cloud.cli("port", "show", ports[0]["ID"], cloud="onestack-admin")
    return srv, port


def _cidr(cloud: Cloud) -> str:
    return f"10.{cloud.third}.{random.randint(0, 255)}.0/24"


def test_instances_get_dhcp_routing_floating_ip_security_groups_and_metadata(cloud: Cloud) -> None:
    u = uuid.uuid4().hex[:6]
    cidr = _cidr(cloud)
    gw = cidr.replace(".0/24", ".1")
    cloud.cli("network", "create", f"n-{u}")
    cloud.cli("subnet", "create", "--network", f"n-{u}", "--subnet-range", cidr, f"s-{u}")
    cloud.cli("router", "create", f"r-{u}")
    cloud.cli("router", "set", "--external-gateway", "public", f"r-{u}", json_out=False)
    cloud.cli("router", "add", "subnet", f"r-{u}", f"s-{u}", json_out=False)
    cloud.cli("security", "group", "create", f"sg-{u}")
    cloud.cli("security", "group", "rule", "create", "--protocol", "icmp", f"sg-{u}")
    cloud.cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", f"sg-{u}")
    srv, port = _server(cloud, f"vm-{u}", f"n-{u}", "--security-group", f"sg-{u}")

    # the binding tells the compute driver where to plug, and the port is ACTIVE
    details = port["binding_vif_details"]
    assert port["status"] == "ACTIVE"
    assert details["bridge"] == names.bridge(port["network_id"])
    assert details["devname"] == names.port_device(port["id"])
    assert details["host_netns"] == cloud.host_ns
    assert names.port_device(port["id"]) in net.filtered_ports(cloud.host_ns)

    ns = cloud.plug(port)
    fixed = port["fixed_ips"][0]["ip_address"]
    assert cloud.dhcp(ns) == fixed
    assert ping(ns, gw)

    # floating IP, reached from this machine's shell through the external veth
    fip = cloud.cli("floating", "ip", "create", "public")["floating_ip_address"]
    cloud.cli("floating", "ip", "set", "--port", port["id"], fip, json_out=False)
    assert fip.startswith(cloud.public + ".")
    assert wait_for(lambda: ping(None, fip), 10), "the floating IP does not answer from the host"
    # re-converging the router for another reason keeps the floating IP answering
    cloud.cli("router", "set", "--route", f"destination=10.254.{cloud.third}.0/24,gateway={gw[:-1]}9",
              f"r-{u}", json_out=False)
    assert ping(None, fip), "the floating IP stopped answering after a router update"
    route = sh(names.router_netns(cloud.cli("router", "show", f"r-{u}")["id"]), "ip", "route").stdout
    assert f"10.254.{cloud.third}.0/24 via {gw[:-1]}9" in route, route
    cloud.cli("router", "unset", "--route", f"destination=10.254.{cloud.third}.0/24,gateway={gw[:-1]}9",
              f"r-{u}", json_out=False)
    servers = Servers()
    try:
        servers.start(ns, fixed, 22)
        servers.start(ns, fixed, 8080)
        assert connect(None, fip, 22) == f"{cloud.public}.1"      # the host's external leg
        assert connect(None, fip, 8080) is None                    # not in the security group
        # a rule added later opens 8080 (incremental update of the port's filter)
        rule = cloud.cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "8080",
                         f"sg-{u}")
        assert connect(None, fip, 8080) == f"{cloud.public}.1"
        cloud.cli("security", "group", "rule", "delete", rule["id"], json_out=False)
        assert connect(None, fip, 8080) is None
        # port forwarding: another floating IP's port 2222 reaches the instance's 22
        fip2 = cloud.cli("floating", "ip", "create", "public")["floating_ip_address"]
        pf = cloud.cli("floating", "ip", "port", "forwarding", "create", "--internal-ip-address", fixed,
                       "--port", port["id"], "--internal-protocol-port", "22", "--external-protocol-port",
                       "2222", "--protocol", "tcp", fip2)
        assert connect(None, fip2, 2222) == f"{cloud.public}.1"
        cloud.cli("floating", "ip", "port", "forwarding", "delete", fip2, pf["id"], json_out=False)
        assert connect(None, fip2, 2222) is None
        cloud.cli("floating", "ip", "delete", fip2, json_out=False)
    finally:
        servers.stop()

    # metadata: each instance gets its own document, identified by its address
    code, body = cloud.metadata(ns)
    assert code == 200, body
    md = json.loads(body)
    assert md["uuid"] == srv["id"] and md["name"] == f"vm-{u}"
    code, body = cloud.metadata(ns, "latest/meta-data/public-ipv4")
    assert (code, body) == (200, fip)
    srv2, port2 = _server(cloud, f"vm2-{u}", f"n-{u}")
    ns2 = cloud.plug(port2)
    assert cloud.dhcp(ns2) == port2["fixed_ips"][0]["ip_address"]
    code, body = cloud.metadata(ns2)
    assert code == 200 and json.loads(body)["uuid"] == srv2["id"], body

    # moving the floating IP to the second instance, then disassociating it
    cloud.cli("floating", "ip", "set", "--port", port2["id"], fip, json_out=False)
    rns = names.router_netns(cloud.cli("router", "show", f"r-{u}")["id"])
    assert net.floating_ips(cloud.cli("router", "show", f"r-{u}")["id"]) == {fip: port2["fixed_ips"][0]["ip_address"]}
    cloud.cli("floating", "ip", "unset", "--port", fip, json_out=False)
    assert net.floating_ips(cloud.cli("router", "show", f"r-{u}")["id"]) == {}
    assert not ping(None, fip)

    # deleting everything removes every kernel object it owned
    router_id = cloud.cli("router", "show", f"r-{u}")["id"]
    net_id = port["network_id"]
    cloud.cli("floating", "ip", "delete", fip, json_out=False)
    cloud.cli("server", "delete", "--wait", srv["id"], srv2["id"], json_out=False)
    cloud.unplug(ns)
    cloud.unplug(ns2)
    assert names.port_device(port["id"]) not in net.filtered_ports(cloud.host_ns)
    cloud.cli("router", "remove", "subnet", f"r-{u}", f"s-{u}", json_out=False)
    cloud.cli("router", "delete", f"r-{u}", json_out=False)
    assert not net.netns_exists(rns)
    cloud.cli("network", "delete", f"n-{u}", json_out=False)
    assert not net.netns_exists(names.dhcp_netns(net_id))
    assert net.link_info(names.bridge(net_id), cloud.host_ns) is None


def test_isolated_network_gets_metadata_from_its_dhcp_namespace(cloud: Cloud) -> None:
    u = uuid.uuid4().hex[:6]
    cloud.cli("network", "create", f"iso-{u}")
    cloud.cli("subnet", "create", "--network", f"iso-{u}", "--subnet-range", _cidr(cloud), f"iso-s-{u}")
    srv, port = _server(cloud, f"iso-vm-{u}", f"iso-{u}")
    ns = cloud.plug(port)
    assert cloud.dhcp(ns) == port["fixed_ips"][0]["ip_address"]
    code, body = cloud.metadata(ns)
    assert code == 200 and json.loads(body)["uuid"] == srv["id"], body
    code, body = cloud.metadata(ns, "openstack/latest/network_data.json")
    assert code == 200 and json.loads(body)["links"][0]["ethernet_mac_address"] == port["mac_address"]

    # an address no instance holds gets nothing (a port without security, not a server's)
    other = cloud.cli("port", "create", "--network", f"iso-{u}", "--disable-port-security", f"p-{u}")
    cloud.cli("port", "set", "--host", "fake-1", other["id"], cloud="onestack-admin", json_out=False)
    other = cloud.cli("port", "show", other["id"], cloud="onestack-admin")
    ons = cloud.plug(other, key=other["id"])
    assert cloud.dhcp(ons) == other["fixed_ips"][0]["ip_address"]
    code, _ = cloud.metadata(ons)
    assert code == 404

    cloud.cli("server", "delete", "--wait", srv["id"], json_out=False)
    cloud.cli("port", "delete", other["id"], json_out=False)
    cloud.unplug(ns)
    cloud.unplug(ons)
    cloud.cli("network", "delete", f"iso-{u}", json_out=False)
    assert not net.netns_exists(names.dhcp_netns(port["network_id"]))


def test_restart_after_kill9_sweeps_orphans_and_restores_live_objects(cloud: Cloud) -> None:
    u = uuid.uuid4().hex[:6]
    cloud.cli("network", "create", f"k-{u}")
    cloud.cli("subnet", "create", "--network", f"k-{u}", "--subnet-range", _cidr(cloud), f"k-s-{u}")
    router = cloud.cli("router", "create", f"k-r-{u}")
    cloud.cli("router", "set", "--external-gateway", "public", router["id"], json_out=False)
    cloud.cli("router", "add", "subnet", router["id"], f"k-s-{u}", json_out=False)
    srv, port = _server(cloud, f"k-vm-{u}", f"k-{u}")
    fip = cloud.cli("floating", "ip", "create", "public")["floating_ip_address"]
    cloud.cli("floating", "ip", "set", "--port", port["id"], fip, json_out=False)
    before = cloud.objects()
    assert ("netns", names.router_netns(router["id"])) in before

    cloud.rc.kill9()
    # what a crash leaves: an orphan router namespace (claimed, no router any more), a
    # stray bridge in the host namespace; and a live router's namespace lost meanwhile
    orphan = names.router_netns(str(uuid.uuid4()))
    stray = names.bridge(str(uuid.uuid4()))
    with cloud_settings(cloud.rc.state_dir):
        host.claim(orphan)
    net.ensure_netns(orphan)
    net.ensure_bridge(stray, ns=cloud.host_ns)
    net.remove_router(router["id"])

    cloud.rc.launch()
    cloud.cli("network", "list")    # answers once every service started (reconcile + sweep done)
    after = cloud.objects()
    assert ("netns", orphan) not in after and ("link", stray) not in after
    assert after == before, f"missing {before - after}, extra {after - before}"
    assert net.floating_ips(router["id"]) == {fip: port["fixed_ips"][0]["ip_address"]}
    ns = cloud.plug(port)
    assert cloud.dhcp(ns) == port["fixed_ips"][0]["ip_address"]
    assert wait_for(lambda: ping(ns, fip.rsplit(".", 1)[0] + ".1"), 10)
