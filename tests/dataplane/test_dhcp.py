"""dnsmasq per network: static leases, DNS names, option 121, reload and restart."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from onestack.dataplane import dhcp, names, net
from tests.dataplane.conftest import sh, uid, wait_for

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in bound|renew)
  ip addr flush dev $interface; ip addr add $ip/${mask:-24} dev $interface
  echo "ip=$ip hostname=$hostname domain=$domain dns=$dns router=$router staticroutes=$staticroutes mtu=$mtu" > "$OUT";;
esac
"""


def _client(host_ns: str, bridge: str, mac: str) -> str:
    ns = names.instance_netns(uid())
    net.plug_port_into_netns({"id": uid(), "mac_address": mac}, bridge, ns, ns=host_ns)
    return ns


def _udhcpc(ns: str, workdir: Path) -> str | None:
    script = workdir / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    out = workdir / f"lease-{ns}"
    out.unlink(missing_ok=True)
    r = sh(ns, "env", f"OUT={out}", "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "3", "-T", "1",
           "-s", str(script), "-O", "staticroutes", "-O", "mtu", timeout=20)
    return out.read_text().strip() if r.returncode == 0 and out.exists() else None


def test_dhcp_static_lease_dns_and_host_routes(state_dir, host_ns):
    netid, subid = uid(), uid()
    br = names.bridge(netid)
    net.ensure_bridge(br, ns=host_ns)
    network = {"id": netid, "mtu": 1450}
    subnet = {"id": subid, "cidr": "10.9.3.0/24", "gateway_ip": "10.9.3.1", "enable_dhcp": True,
              "host_routes": [{"destination": "192.168.77.0/24", "nexthop": "10.9.3.254"}]}
    dport = {"id": uid(), "mac_address": "fa:16:3e:00:04:02", "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.3.2"}]}
    vm1 = {"id": uid(), "mac_address": "fa:16:3e:00:04:21", "dns_name": "vm1",
           "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.3.21"}]}
    vm2 = {"id": uid(), "mac_address": "fa:16:3e:00:04:22", "dns_name": "vm2",
           "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.3.22"}]}
    pid = dhcp.ensure_dhcp(state_dir, network, [subnet], [vm1, dport], dport, br, host_ns=host_ns)
    assert pid and dhcp.dhcp_pid(state_dir, netid) == pid
    c1 = _client(host_ns, br, vm1["mac_address"])
    c2 = _client(host_ns, br, vm2["mac_address"])
    work = Path(state_dir)
    lease = _udhcpc(c1, work)
    assert lease and "ip=10.9.3.21" in lease and "hostname=vm1" in lease and "mtu=1450" in lease, lease
    assert "169.254.169.254/32 10.9.3.1" in lease and "192.168.77.0/24 10.9.3.254" in lease, lease
    assert "0.0.0.0/0 10.9.3.1" in lease and "dns=10.9.3.2" in lease, lease
    assert "10.9.3.21/24" in sh(c1, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert _udhcpc(c2, work) is None                        # no dynamic pool: unknown MAC gets nothing
    # DNS name of the port, served by the same dnsmasq
    r = sh(c1, "busybox", "nslookup", "vm1.openstacklocal", "10.9.3.2")
    assert "10.9.3.21" in r.stdout, r.stdout + r.stderr
    # unchanged state is a no-op; adding a port restarts dnsmasq (SIGHUP crashes 2.90) and
    # existing leases survive in the lease file
    assert dhcp.ensure_dhcp(state_dir, network, [subnet], [vm1, dport], dport, br, host_ns=host_ns) == pid
    pid = dhcp.ensure_dhcp(state_dir, network, [subnet], [vm1, vm2, dport], dport, br, host_ns=host_ns)
    assert pid and "10.9.3.21" in (Path(state_dir) / "dhcp" / names.dnsmasq_name(netid) / "leases").read_text()
    lease2 = _udhcpc(c2, work)
    log = (Path(state_dir) / "dhcp" / names.dnsmasq_name(netid) / "log").read_text()
    assert lease2 and "ip=10.9.3.22" in lease2, log[-3000:]
    # a dead dnsmasq is restarted by the next ensure
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: dhcp.dhcp_pid(state_dir, netid) is None, 5)
    pid2 = dhcp.ensure_dhcp(state_dir, network, [subnet], [vm1, vm2, dport], dport, br, host_ns=host_ns)
    assert pid2 and pid2 != pid
    assert _udhcpc(c1, work)
    dhcp.remove_dhcp(state_dir, netid)
    dhcp.remove_dhcp(state_dir, netid)
    assert dhcp.dhcp_pid(state_dir, netid) is None and not net.netns_exists(names.dhcp_netns(netid))
