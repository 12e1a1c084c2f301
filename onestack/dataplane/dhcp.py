"""DHCP + DNS for a network: one dnsmasq in its own namespace, static host entries only.

Layout under ``<state_dir>/dhcp/<names.dnsmasq_name(network_id)>/``: ``pid``, ``hosts``
(dhcp-hostsfile: ``mac,set:tag,ip,hostname``), ``addn_hosts`` (DNS names), ``opts``
(per-subnet options: router, DNS server, option 121 host routes), ``leases``, ``log``.
``ensure_dhcp`` rewrites the files and restarts dnsmasq when anything changed or the
process is gone (not SIGHUP: bookworm's dnsmasq 2.90 segfaults on SIGHUP after it has
answered DNS queries with addn-hosts loaded); unchanged state is a no-op. No dynamic pool: ``dhcp-range=...,static`` only answers ports
listed in ``hosts``.
"""
from __future__ import annotations

import hashlib
import ipaddress
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

from onestack.dataplane import names, net
from onestack.dataplane._util import LOG, cmdline, pid_alive, read_pid

METADATA_IP = "169.254.169.254"


def _dir(state_dir: str, network_id: str) -> Path:
    return Path(state_dir).resolve() / "dhcp" / names.dnsmasq_name(network_id)


def _tag(subnet_id: str) -> str:
    return "s" + names.short(subnet_id)


def dhcp_port_cidrs(port: dict[str, Any], subnets: list[dict[str, Any]]) -> list[str]:
    by_id = {s["id"]: s for s in subnets}
    out = []
    for f in port.get("fixed_ips", []):
        s = by_id.get(f.get("subnet_id"))
        if s:
            out.append(f"{f['ip_address']}/{ipaddress.ip_network(s['cidr']).prefixlen}")
    return out


def ensure_dhcp(state_dir: str, network: dict[str, Any], subnets: list[dict[str, Any]],
                ports: list[dict[str, Any]], dhcp_port: dict[str, Any], bridge: str, *,
                host_ns: str | None = None, domain: str = "openstacklocal", mtu: int | None = None,
                metadata_via_router: bool = True, isolated_subnets: Iterable[str] = ()) -> int | None:
    """Serve ``ports`` (id, mac_address, fixed_ips [{subnet_id, ip_address}], optional
    dns_name / hostname) on ``network``'s DHCP-enabled ``subnets`` (id, cidr, gateway_ip,
    dns_nameservers, host_routes, enable_dhcp). ``dhcp_port`` is the network's DHCP port
    (its fixed IPs become the server's addresses). Returns dnsmasq's pid (None when no
    subnet has DHCP enabled: the server is then stopped)."""
    subnets = [s for s in subnets if s.get("enable_dhcp", True) and ipaddress.ip_network(s["cidr"]).version == 4]
    if not subnets:
        remove_dhcp(state_dir, network["id"])
        return None
    d = _dir(state_dir, network["id"])
    d.mkdir(parents=True, exist_ok=True)
    ns = names.dhcp_netns(network["id"])
    inner = names.dhcp_interface(dhcp_port["id"])
    server_cidrs = dhcp_port_cidrs(dhcp_port, subnets)
    server_ip = {ipaddress.ip_interface(c).network: str(ipaddress.ip_interface(c).ip) for c in server_cidrs}
    isolated = {s["id"] for s in subnets if s["id"] in set(isolated_subnets)
                and ipaddress.ip_network(s["cidr"]) in server_ip}
    addresses = server_cidrs + ([f"{METADATA_IP}/32"] if isolated else [])
    # The namespace plumbing costs several netlink round trips into namespaces; when the
    # running dnsmasq still sees its interface and nothing of it changed, skip it.
    plumb = hashlib.sha1(repr((inner, bridge, host_ns, mtu, dhcp_port.get("mac_address"), addresses)).encode())\
        .hexdigest()
    running = _running_pid(d)
    if not (running and _read(d / "plumb.sha1") == plumb and _sees_link(running, inner)):
        net.ensure_netns(ns)
        net.ensure_veth(names.port_device(dhcp_port["id"]), inner, ns, ns=host_ns, bridge=bridge, mtu=mtu,
                        peer_mac=dhcp_port.get("mac_address"))
        net.ensure_addresses(inner, addresses, ns)
        (d / "plumb.sha1").write_text(plumb)

    hosts, dns, opts = [], [], []
    sub_ids = {s["id"] for s in subnets}
    for p in sorted(ports, key=lambda p: p["id"]):
        if p["id"] == dhcp_port["id"]:
            continue
        for f in p.get("fixed_ips", []):
            if f.get("subnet_id") not in sub_ids or ":" in f["ip_address"]:
                continue
            host = (p.get("dns_name") or p.get("hostname") or
                    "host-" + f["ip_address"].replace(".", "-"))
            hosts.append(f"{p['mac_address'].lower()},set:{_tag(f['subnet_id'])},{f['ip_address']},{host}")
            dns.append(f"{f['ip_address']}\t{host}.{domain} {host}")
    for s in subnets:
        tag, cidr = _tag(s["id"]), ipaddress.ip_network(s["cidr"])
        gw = s.get("gateway_ip")
        routes = [(r["destination"], r["nexthop"]) for r in s.get("host_routes") or []]
        if s["id"] in isolated:
            routes.insert(0, (f"{METADATA_IP}/32", server_ip[cidr]))
        elif gw and metadata_via_router:
            routes.insert(0, (f"{METADATA_IP}/32", gw))
        if gw:
            opts.append(f"tag:{tag},option:router,{gw}")
            routes.append(("0.0.0.0/0", gw))      # with option 121 clients ignore option 3
        else:
            opts.append(f"tag:{tag},option:router")
        if routes:
            flat = ",".join(f"{dst},{nh}" for dst, nh in routes)
            opts.append(f"tag:{tag},option:classless-static-route,{flat}")
            opts.append(f"tag:{tag},249,{flat}")
        dnss = s.get("dns_nameservers") or ([server_ip[cidr]] if cidr in server_ip else [])
        if dnss:
            opts.append(f"tag:{tag},option:dns-server,{','.join(dnss)}")
        opts.append(f"tag:{tag},option:domain-name,{domain}")
        if network.get("mtu"):
            opts.append(f"tag:{tag},option:mtu,{network['mtu']}")
    (d / "hosts").write_text("\n".join(hosts) + "\n")
    (d / "addn_hosts").write_text("\n".join(dns) + "\n")
    (d / "opts").write_text("\n".join(opts) + "\n")

    ranges = [f"--dhcp-range=set:{_tag(s['id'])},{ipaddress.ip_network(s['cidr']).network_address},static,"
              f"{ipaddress.ip_network(s['cidr']).netmask},86400s" for s in subnets]
    args = ["dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--strict-order",
            "--bind-interfaces", f"--interface={inner}", "--except-interface=lo",
            f"--pid-file={d / 'pid'}", f"--dhcp-hostsfile={d / 'hosts'}", f"--addn-hosts={d / 'addn_hosts'}",
            f"--dhcp-optsfile={d / 'opts'}", f"--dhcp-leasefile={d / 'leases'}", "--dhcp-authoritative",
            "--dhcp-no-override", f"--domain={domain}", "--local-service", "--no-ping",
            f"--log-facility={d / 'log'}", "--log-dhcp", "--user=root", "--group=root", *ranges]
    # dnsmasq 2.90 (bookworm) segfaults on SIGHUP once it has answered a DNS query with
    # addn-hosts loaded, so a change restarts it (~50 ms; leases persist in the lease file).
    sig = hashlib.sha1("\0".join(args + hosts + dns + opts).encode()).hexdigest()
    pid = _running_pid(d)
    if pid and (d / "args.sha1").exists() and (d / "args.sha1").read_text() == sig:
        return pid
    if pid:
        _stop(pid)
    subprocess.run(["ip", "netns", "exec", ns, *args], check=True, capture_output=True, timeout=30)
    (d / "args.sha1").write_text(sig)
    for _ in range(100):
        pid = _running_pid(d)
        if pid:
            break
        time.sleep(0.02)
    LOG.info("dnsmasq %s started pid=%s (%d hosts)", ns, pid, len(hosts))
    return pid


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _sees_link(pid: int, ifname: str) -> bool:
    """Whether process ``pid``'s network namespace has ``ifname`` (cheap: no netlink)."""
    text = _read(Path(f"/proc/{pid}/net/dev")) or ""
    return any(line.strip().startswith(ifname + ":") for line in text.splitlines())


def _running_pid(d: Path) -> int | None:
    pid = read_pid(str(d / "pid"))
    if pid and pid_alive(pid) and any(str(d) in a for a in cmdline(pid)):
        return pid
    return None


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        if not pid_alive(pid):
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


def dhcp_pid(state_dir: str, network_id: str) -> int | None:
    return _running_pid(_dir(state_dir, network_id))


def remove_dhcp(state_dir: str, network_id: str) -> None:
    """Stop dnsmasq, delete its namespace and its files (idempotent)."""
    d = _dir(state_dir, network_id)
    pid = _running_pid(d)
    if pid:
        _stop(pid)
    net.remove_netns(names.dhcp_netns(network_id))
    if d.exists():
        for f in d.iterdir():
            f.unlink()
        d.rmdir()
