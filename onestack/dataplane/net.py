"""Idempotent network primitives: namespaces, bridges, veths, taps, addresses, routes,
router namespaces with SNAT/floating-IP DNAT, and nftables security groups.

Every function takes ``ns`` (a namespace name; ``None`` = the root namespace) so the
whole "hypervisor" side (bridges, port devices, SG tables) can live in a namespace of
its own (``names.host_netns(...)``) on a shared machine, or in the root namespace on a
dedicated host. ``ensure_*`` converge to the given state; ``remove_*`` succeed when the
object is already gone. Netlink work goes through pyroute2; nft, sysctl and tuntap go
through their command-line tools.
"""
from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import threading
from typing import Any, Iterable, Iterator

from pyroute2 import IPRoute, NetNS, netns as _netns
from pyroute2.netlink.exceptions import NetlinkError

from onestack.dataplane import names
from onestack.dataplane._util import LOG, nft, nft_json, run, which

_LOCK = threading.RLock()


# ---------------------------------------------------------------------------------------
# namespaces
# ---------------------------------------------------------------------------------------
def list_netns() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def netns_exists(name: str) -> bool:
    return os.path.exists(f"/run/netns/{name}")


def ensure_netns(name: str, *, forwarding: bool | None = None) -> None:
    """The namespace exists with ``lo`` up (and IPv4 forwarding as asked)."""
    assert names.is_ours(name), name
    with _LOCK:
        if not netns_exists(name):
            _netns.create(name)
            LOG.info("netns %s created", name)
        with _ipr(name) as ip:
            ip.link("set", index=ip.link_lookup(ifname="lo")[0], state="up")
    if forwarding is not None:
        sysctl(name, "net.ipv4.ip_forward", "1" if forwarding else "0")


def remove_netns(name: str) -> None:
    """Delete the namespace (its links, routes and nft tables go with it)."""
    if netns_exists(name):
        with contextlib.suppress(FileNotFoundError, OSError):
            _netns.remove(name)
        LOG.info("netns %s removed", name)


@contextlib.contextmanager
def _ipr(ns: str | None) -> Iterator[Any]:
    ip = NetNS(ns) if ns else IPRoute()
    try:
        yield ip
    finally:
        ip.close()


def _own_netns() -> str:
    """The namespace this process runs in ("root namespace" for ns=None): /proc/1 may be
    out of reach (containers, hardened /proc)."""
    return f"/proc/{os.getpid()}/ns/net"


def sysctl(ns: str | None, key: str, value: str) -> None:
    run(["sysctl", "-qw", f"{key}={value}"], ns)


# ---------------------------------------------------------------------------------------
# links
# ---------------------------------------------------------------------------------------
def _index(ip: Any, ifname: str) -> int | None:
    found = ip.link_lookup(ifname=ifname)
    return found[0] if found else None


def link_info(ifname: str, ns: str | None = None) -> dict[str, Any] | None:
    """{ifname, index, kind, master (name), mtu, address, up} or None."""
    with _ipr(ns) as ip:
        idx = _index(ip, ifname)
        if idx is None:
            return None
        link = ip.get_links(idx)[0]
        info = link.get("IFLA_LINKINFO")
        master = link.get("IFLA_MASTER")
        mname = None
        if master:
            ml = ip.get_links(master)
            mname = ml[0].get("ifname") if ml else None
        return {"ifname": ifname, "index": idx, "kind": info.get("IFLA_INFO_KIND") if info else None,
                "master": mname, "mtu": link.get("IFLA_MTU"), "address": link.get("address"),
                "up": bool(link["flags"] & 1)}


def list_links(ns: str | None = None, prefix: str = names.PREFIX) -> list[dict[str, Any]]:
    out = []
    with _ipr(ns) as ip:
        for link in ip.get_links():
            n = link.get("ifname")
            if n and n.startswith(prefix):
                info = link.get("IFLA_LINKINFO")
                out.append({"ifname": n, "kind": info.get("IFLA_INFO_KIND") if info else None})
    return out


def _converge(ip: Any, idx: int, *, mtu: int | None = None, master: str | None = None,
              mac: str | None = None, up: bool = True) -> None:
    link = ip.get_links(idx)[0]
    if mac and (link.get("address") or "").lower() != mac.lower():
        ip.link("set", index=idx, state="down")
        ip.link("set", index=idx, address=mac)
    if mtu and link.get("IFLA_MTU") != mtu:
        ip.link("set", index=idx, mtu=mtu)
    if master:
        midx = _index(ip, master)
        if midx is None:
            raise RuntimeError(f"bridge {master} does not exist")
        if link.get("IFLA_MASTER") != midx:
            ip.link("set", index=idx, master=midx)
    if up:
        ip.link("set", index=idx, state="up")


def ensure_bridge(name: str, *, mtu: int = 1500, ns: str | None = None) -> None:
    """A Linux bridge (no STP, forward delay 0) with ``mtu``, up."""
    assert names.is_ours(name) and len(name) <= names.IFNAMSIZ, name
    with _LOCK, _ipr(ns) as ip:
        idx = _index(ip, name)
        if idx is None:
            ip.link("add", ifname=name, kind="bridge", br_forward_delay=0, br_stp_state=0)
            idx = _index(ip, name)
            LOG.info("bridge %s created (ns=%s)", name, ns)
        _converge(ip, idx, mtu=mtu)


def remove_link(name: str, ns: str | None = None) -> None:
    """Delete a link (a veth takes its peer with it); absent is fine."""
    with _LOCK, _ipr(ns) as ip:
        idx = _index(ip, name)
        if idx is not None:
            with contextlib.suppress(NetlinkError):
                ip.link("del", index=idx)
            LOG.info("link %s removed (ns=%s)", name, ns)


remove_bridge = remove_link


def ensure_veth(name: str, peer: str, peer_ns: str | None, *, ns: str | None = None,
                bridge: str | None = None, mtu: int | None = None, peer_mac: str | None = None) -> None:
    """A veth pair: ``name`` in ``ns`` (enslaved to ``bridge`` when given) and ``peer`` in
    ``peer_ns`` (created directly there, with ``peer_mac``); both ends up with ``mtu``."""
    assert names.is_ours(name) and len(name) <= names.IFNAMSIZ, name
    with _LOCK:
        with _ipr(ns) as ip:
            idx = _index(ip, name)
            if idx is not None and link_info(peer, peer_ns) is None:
                ip.link("del", index=idx)        # half-built pair: start over
                idx = None
            if idx is None:
                p: dict[str, Any] = {"ifname": peer}
                if peer_ns != ns:
                    p["net_ns_fd"] = peer_ns if peer_ns else _own_netns()
                ip.link("add", ifname=name, kind="veth", peer=p)
                idx = _index(ip, name)
                LOG.info("veth %s (ns=%s) <-> %s (ns=%s) created", name, ns, peer, peer_ns)
            _converge(ip, idx, mtu=mtu, master=bridge)
        with _ipr(peer_ns) as ip:
            pidx = _index(ip, peer)
            _converge(ip, pidx, mtu=mtu, mac=peer_mac)


def ensure_tap(name: str, *, ns: str | None = None, bridge: str | None = None, mtu: int | None = None) -> None:
    """A persistent tap device (for qemu ``-netdev tap,ifname=...``) on ``bridge``."""
    assert names.is_ours(name) and len(name) <= names.IFNAMSIZ, name
    with _LOCK:
        if link_info(name, ns) is None:
            run(["ip", "tuntap", "add", "dev", name, "mode", "tap", "vnet_hdr"], ns)
            LOG.info("tap %s created (ns=%s)", name, ns)
        with _ipr(ns) as ip:
            _converge(ip, _index(ip, name), mtu=mtu, master=bridge)


def move_link(name: str, to_ns: str | None, *, ns: str | None = None, new_name: str | None = None) -> None:
    """Move a link into another namespace (optionally renaming it); idempotent."""
    target = new_name or name
    if link_info(target, to_ns) is not None:
        return
    with _ipr(ns) as ip:
        idx = _index(ip, name)
        if idx is None:
            raise RuntimeError(f"link {name} not found in {ns or 'root netns'}")
        kw: dict[str, Any] = {"net_ns_fd": to_ns} if to_ns else {"net_ns_pid": os.getpid()}
        ip.link("set", index=idx, state="down")
        ip.link("set", index=idx, **kw)
    if new_name:
        with _ipr(to_ns) as ip:
            idx = _index(ip, name)
            ip.link("set", index=idx, ifname=new_name)
    with _ipr(to_ns) as ip:
        ip.link("set", index=_index(ip, target), state="up")


def ensure_addresses(ifname: str, cidrs: Iterable[str], ns: str | None = None) -> None:
    """Make ``ifname``'s IPv4/IPv6 global addresses exactly ``cidrs`` ("10.0.0.5/24")."""
    want = {str(ipaddress.ip_interface(c)) for c in cidrs}
    with _LOCK, _ipr(ns) as ip:
        idx = _index(ip, ifname)
        if idx is None:
            raise RuntimeError(f"link {ifname} not found in {ns or 'root netns'}")
        have = {}
        for a in ip.get_addr(index=idx):
            if a.get("scope", 0) != 0:        # keep link-local (scope 253) addresses
                continue
            have[f"{a.get('address')}/{a['prefixlen']}"] = a
        for c in set(have) - want:
            i = ipaddress.ip_interface(c)
            ip.addr("del", index=idx, address=str(i.ip), prefixlen=i.network.prefixlen)
        for c in want - set(have):
            i = ipaddress.ip_interface(c)
            ip.addr("add", index=idx, address=str(i.ip), prefixlen=i.network.prefixlen)
        ip.link("set", index=idx, state="up")


def ensure_routes(routes: Iterable[dict[str, str]], ns: str | None = None, *,
                  exact: bool = True) -> None:
    """Routes of the main table via a gateway: [{"destination": "0.0.0.0/0", "nexthop":
    "10.0.0.1"}] (Neutron's host_routes/extra routes shape). With ``exact``, other gateway
    routes are removed (connected routes are left alone)."""
    want = {(str(ipaddress.ip_network(r["destination"])), r["nexthop"]) for r in routes}
    with _LOCK, _ipr(ns) as ip:
        have = {}
        for r in ip.get_routes(family=2, table=254):
            gw = r.get("gateway")
            if not gw:
                continue
            dst = f"{r.get('dst') or '0.0.0.0'}/{r['dst_len']}"
            have[(dst, gw)] = r
        if exact:
            for dst, gw in set(have) - want:
                with contextlib.suppress(NetlinkError):
                    ip.route("del", dst=dst, gateway=gw)
        for dst, gw in want - set(have):
            ip.route("replace", dst=dst, gateway=gw)


# ---------------------------------------------------------------------------------------
# router namespace: interfaces on bridges, SNAT, floating IPs (DNAT), metadata redirect
# ---------------------------------------------------------------------------------------
def ensure_router(router_id: str, interfaces: list[dict[str, Any]], gateway: dict[str, Any] | None, *,
                  host_ns: str | None = None, snat: bool = True, routes: Iterable[dict[str, str]] = (),
                  metadata: tuple[str, int] | None = None, mtu: int | None = None,
                  port_forwardings: Iterable[dict[str, Any]] = ()) -> str:
    """Converge router ``router_id``'s namespace; returns its name.

    interfaces: [{"port_id", "bridge", "mac_address", "cidrs": ["10.0.0.1/24"]}] (tenant side);
    gateway: {"port_id", "bridge", "mac_address", "cidrs": ["172.24.4.2/24"], "gateway_ip"} or None.
    Bridges live in ``host_ns``. Interfaces not listed any more are removed. ``snat`` masks
    every internal subnet behind the gateway's first address. ``metadata`` (ip, port)
    DNATs 169.254.169.254:80 arriving on internal interfaces to a proxy listening there.
    Floating IPs are managed separately (:func:`ensure_floating_ip`) and survive this call.
    ``port_forwardings`` [{"floating_ip", "protocol", "external_port", "internal_ip",
    "internal_port"}] DNAT one port of a floating IP (which must be among the gateway's
    cidrs as a /32) to an internal address.
    """
    rns = names.router_netns(router_id)
    ensure_netns(rns, forwarding=True)
    wanted: dict[str, dict[str, Any]] = {}
    for itf in interfaces:
        wanted[names.router_internal(itf["port_id"])] = itf
    if gateway:
        wanted[names.router_gateway(gateway["port_id"])] = gateway
    for link in list_links(rns):
        if link["ifname"] not in wanted:
            remove_link(link["ifname"], rns)
    for inner, itf in wanted.items():
        ensure_veth(names.port_device(itf["port_id"]), inner, rns, ns=host_ns, bridge=itf["bridge"],
                    mtu=mtu, peer_mac=itf.get("mac_address"))
        ensure_addresses(inner, itf["cidrs"], rns)
    rts = list(routes)
    if gateway and gateway.get("gateway_ip"):
        rts.append({"destination": "0.0.0.0/0", "nexthop": gateway["gateway_ip"]})
    ensure_routes(rts, rns)
    _router_table(rns, interfaces, gateway, snat, metadata, list(port_forwardings))
    return rns


def _router_table(rns: str, interfaces: list[dict[str, Any]], gateway: dict[str, Any] | None,
                  snat: bool, metadata: tuple[str, int] | None,
                  port_forwardings: list[dict[str, Any]] = ()) -> None:
    t = names.NFT_ROUTER_TABLE
    lines = [
        f"add table ip {t}",
        f"add map ip {t} fip_dnat {{ type ipv4_addr : ipv4_addr; }}",
        f"add map ip {t} fip_snat {{ type ipv4_addr : ipv4_addr; }}",
        f"add chain ip {t} pre {{ type nat hook prerouting priority dstnat; policy accept; }}",
        f"add chain ip {t} out {{ type nat hook output priority -100; policy accept; }}",
        f"add chain ip {t} post {{ type nat hook postrouting priority srcnat; policy accept; }}",
        f"flush chain ip {t} pre", f"flush chain ip {t} out", f"flush chain ip {t} post",
    ]
    qrs = [names.router_internal(i["port_id"]) for i in interfaces]
    if metadata and qrs:
        mip, mport = metadata
        lines.append(f"add rule ip {t} pre iifname {{ {', '.join(qrs)} }} ip daddr 169.254.169.254 "
                     f"tcp dport 80 dnat to {mip}:{mport}")
    for pf in port_forwardings:
        proto = pf["protocol"] if pf["protocol"] in ("tcp", "udp", "sctp") else "udplite"
        for chain in ("pre", "out"):
            lines.append(f"add rule ip {t} {chain} ip daddr {pf['floating_ip']} {proto} dport "
                         f"{int(pf['external_port'])} dnat to {pf['internal_ip']}:{int(pf['internal_port'])}")
    lines.append(f"add rule ip {t} pre dnat to ip daddr map @fip_dnat")
    lines.append(f"add rule ip {t} out dnat to ip daddr map @fip_dnat")
    if gateway:
        qg = names.router_gateway(gateway["port_id"])
        lines.append(f"add rule ip {t} post oifname \"{qg}\" snat to ip saddr map @fip_snat")
        if snat and qrs:
            gw_ip = str(ipaddress.ip_interface(gateway["cidrs"][0]).ip)
            nets = sorted({str(ipaddress.ip_interface(c).network) for i in interfaces for c in i["cidrs"]
                           if ipaddress.ip_interface(c).version == 4})
            if nets:
                lines.append(f"add rule ip {t} post oifname \"{qg}\" ip saddr {{ {', '.join(nets)} }} "
                             f"snat to {gw_ip}")
    nft("\n".join(lines) + "\n", rns)


def ensure_floating_ip(router_id: str, gateway_port_id: str, floating_ip: str, fixed_ip: str | None) -> None:
    """``floating_ip`` answers on the router's gateway and maps 1:1 to ``fixed_ip`` (DNAT in,
    SNAT out); ``fixed_ip`` None disassociates (the address is released)."""
    rns = names.router_netns(router_id)
    qg = names.router_gateway(gateway_port_id)
    t = names.NFT_ROUTER_TABLE
    remove_floating_ip(router_id, gateway_port_id, floating_ip, _keep_addr=fixed_ip is not None)
    if fixed_ip is None:
        return
    nft(f"add element ip {t} fip_dnat {{ {floating_ip} : {fixed_ip} }}\n"
        f"add element ip {t} fip_snat {{ {fixed_ip} : {floating_ip} }}\n", rns)
    with _ipr(rns) as ip:
        idx = _index(ip, qg)
        have = {a.get("address") for a in ip.get_addr(index=idx)}
        if floating_ip not in have:
            ip.addr("add", index=idx, address=floating_ip, prefixlen=32)
    # tell the external network the floating IP moved here (gratuitous ARP)
    if which("arping"):
        run(["arping", "-U", "-c1", "-I", qg, floating_ip], rns, check=False)


def remove_floating_ip(router_id: str, gateway_port_id: str, floating_ip: str, *, _keep_addr: bool = False) -> None:
    rns = names.router_netns(router_id)
    if not netns_exists(rns):
        return
    t = names.NFT_ROUTER_TABLE
    for el in _map_elements(rns, "ip", t, "fip_dnat"):
        if el[0] == floating_ip:
            nft(f"delete element ip {t} fip_dnat {{ {el[0]} }}\n"
                f"delete element ip {t} fip_snat {{ {el[1]} }}\n", rns)
    if not _keep_addr:
        with _ipr(rns) as ip:
            idx = _index(ip, names.router_gateway(gateway_port_id))
            if idx is not None:
                with contextlib.suppress(NetlinkError):
                    ip.addr("del", index=idx, address=floating_ip, prefixlen=32)


def floating_ips(router_id: str) -> dict[str, str]:
    """{floating_ip: fixed_ip} as programmed in the router namespace."""
    rns = names.router_netns(router_id)
    if not netns_exists(rns):
        return {}
    return dict(_map_elements(rns, "ip", names.NFT_ROUTER_TABLE, "fip_dnat"))


def _map_elements(ns: str | None, family: str, table: str, mapname: str) -> list[tuple[Any, Any]]:
    out = []
    for item in nft_json(["list", "map", family, table, mapname], ns):
        m = item.get("map")
        if not m:
            continue
        for el in m.get("elem", []):
            k, v = el if isinstance(el, list) else (el, None)
            out.append((k, v))
    return out


def remove_router(router_id: str) -> None:
    remove_netns(names.router_netns(router_id))


# ---------------------------------------------------------------------------------------
# security groups: bridge-family anti-spoofing + marks, inet-family stateful chains
# ---------------------------------------------------------------------------------------
# Why two tables: this kernel has no bridge conntrack (``ct state`` fails in the bridge
# family). A bridge-family chain tags each frame with the ports it crosses (egress port
# index in the high 16 bits of the mark, ingress port index in the low 16) and drops
# spoofed frames; br_netfilter then runs the inet forward hook, where conntrack works,
# and the mark selects the per-port SG chains. Ports are updated one at a time: their
# chains are flushed and refilled in one nft transaction; other ports are untouched.
_SG_INIT_LOCK = threading.Lock()


def _sg_base(ns: str | None) -> str:
    pt, st = names.NFT_PORT_TABLE, names.NFT_SG_TABLE
    return "\n".join([
        f"add table bridge {pt}",
        f"add map bridge {pt} egress {{ type ifname : verdict; }}",
        f"add map bridge {pt} ingress {{ type ifname : verdict; }}",
        f"add chain bridge {pt} prerouting {{ type filter hook prerouting priority -200; policy accept; }}",
        f"add chain bridge {pt} forward {{ type filter hook forward priority -200; policy accept; }}",
        f"flush chain bridge {pt} prerouting", f"flush chain bridge {pt} forward",
        f"add rule bridge {pt} prerouting iifname vmap @egress",
        f"add rule bridge {pt} forward oifname vmap @ingress",
        f"add table inet {st}",
        f"add map inet {st} egress {{ type mark : verdict; }}",
        f"add map inet {st} ingress {{ type mark : verdict; }}",
        f"add chain inet {st} forward {{ type filter hook forward priority 0; policy accept; }}",
        f"flush chain inet {st} forward",
        f"add rule inet {st} forward meta mark and 0xffff0000 vmap @egress",
        f"add rule inet {st} forward meta mark and 0x0000ffff vmap @ingress",
    ]) + "\n"


def ensure_sg_tables(ns: str | None = None) -> None:
    """Create the two SG tables in ``ns`` (the namespace holding the bridges) and turn on
    br_netfilter for it; existing per-port state is kept."""
    with _SG_INIT_LOCK:
        if not nft_json(["list", "table", "inet", names.NFT_SG_TABLE], ns):
            nft(_sg_base(ns), ns)
        for fam in ("iptables", "ip6tables"):
            path = f"net.bridge.bridge-nf-call-{fam}"
            if run(["sysctl", "-n", path], ns, check=False).strip() != "1":
                sysctl(ns, path, "1")


def _port_index(ns: str | None, dev: str) -> int:
    """A stable 1..65535 index for ``dev``: the one already programmed, else the lowest free."""
    used: dict[int, str] = {}
    for k, v in _map_elements(ns, "bridge", names.NFT_PORT_TABLE, "ingress"):
        target = (v or {}).get("jump", {}).get("target", "") if isinstance(v, dict) else ""
        if target.startswith("i-") and k:
            idx = int(target.split("-")[-1])
            if k == dev:
                return idx
            used[idx] = k
    for i in range(1, 0x10000):
        if i not in used:
            return i
    raise RuntimeError("no free security-group port index")


def _rule_matches(rule: dict[str, Any], direction: str) -> list[str] | None:
    """nft match expression(s) for one Neutron SG rule, or None when it cannot match IPv4/6."""
    fam = "ip6" if rule.get("ethertype", "IPv4") == "IPv6" else "ip"
    parts = [f"meta nfproto {'ipv6' if fam == 'ip6' else 'ipv4'}"]
    addr = "saddr" if direction == "ingress" else "daddr"
    remotes: list[str] = []
    if rule.get("remote_ip_prefix"):
        remotes = [rule["remote_ip_prefix"]]
    elif rule.get("remote_ips") is not None:       # expanded remote group
        remotes = [r for r in rule["remote_ips"] if (":" in r) == (fam == "ip6")]
        if not remotes:
            return None
    if remotes:
        parts.append(f"{fam} {addr} {{ {', '.join(remotes)} }}")
    proto = rule.get("protocol")
    proto = None if proto in (None, "any", "", "0") else str(proto).lower()
    lo, hi = rule.get("port_range_min"), rule.get("port_range_max")
    if proto in ("icmp", "1", "ipv6-icmp", "icmpv6", "58"):
        kw = "icmpv6" if fam == "ip6" else "icmp"
        parts.append(f"meta l4proto {kw}")
        if lo is not None:
            parts.append(f"{kw} type {lo}")
            if hi is not None:
                parts.append(f"{kw} code {hi}")
    elif proto in ("tcp", "6", "udp", "17", "sctp", "132"):
        p = {"6": "tcp", "17": "udp", "132": "sctp"}.get(proto, proto)
        parts.append(f"meta l4proto {p}")
        if lo is not None:
            parts.append(f"th dport {lo}" if hi in (None, lo) else f"th dport {lo}-{hi}")
    elif proto is not None:
        num = proto if proto.isdigit() else proto
        parts.append(f"meta l4proto {num}")
    return parts


def apply_security_groups(port: dict[str, Any], rules: list[dict[str, Any]], port_security: bool = True,
                          *, ns: str | None = None) -> None:
    """Make the filter of ``port`` (id, mac_address, fixed_ips [{ip_address}], optional
    allowed_address_pairs [{ip_address, mac_address}]) equal ``rules`` (Neutron SG rule
    dicts; remote groups expanded into ``remote_ips``). ``port_security`` False removes
    all filtering for the port. Idempotent and per-port incremental."""
    ensure_sg_tables(ns)
    dev = names.port_device(port["id"])
    if not port_security:
        remove_port_filter(port["id"], ns=ns)
        return
    with _LOCK, _lock_file(ns):
        idx = _port_index(ns, dev)
        pt, st = names.NFT_PORT_TABLE, names.NFT_SG_TABLE
        macs = {port["mac_address"].lower()}
        ips4, ips6 = set(), set()
        for f in port.get("fixed_ips", []):
            (ips6 if ":" in f["ip_address"] else ips4).add(f["ip_address"])
        for pair in port.get("allowed_address_pairs", []) or []:
            if pair.get("mac_address"):
                macs.add(pair["mac_address"].lower())
            (ips6 if ":" in pair["ip_address"] else ips4).add(pair["ip_address"])
        e, i = f"e-{idx}", f"i-{idx}"
        se, si = f"sg-e-{idx}", f"sg-i-{idx}"
        L = [f"add chain bridge {pt} {e}", f"add chain bridge {pt} {i}",
             f"flush chain bridge {pt} {e}", f"flush chain bridge {pt} {i}",
             f"add chain inet {st} {se}", f"add chain inet {st} {si}",
             f"flush chain inet {st} {se}", f"flush chain inet {st} {si}"]
        # -- anti-spoofing (stateless, bridge family) + egress mark
        L.append(f"add rule bridge {pt} {e} ether saddr != {{ {', '.join(sorted(macs))} }} counter drop")
        L.append(f"add rule bridge {pt} {e} ether type arp arp saddr ether != {{ {', '.join(sorted(macs))} }} drop")
        if ips4:
            v4 = ", ".join(sorted(ips4))
            L.append(f"add rule bridge {pt} {e} ether type arp arp saddr ip != {{ {v4} }} counter drop")
            L.append(f"add rule bridge {pt} {e} ether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 "
                     f"meta mark set meta mark and 0xffff or {idx << 16:#x} accept")
            L.append(f"add rule bridge {pt} {e} ether type ip ip saddr != {{ {v4} }} counter drop")
        else:
            L.append(f"add rule bridge {pt} {e} ether type {{ ip, arp }} counter drop")
        if ips6:
            L.append(f"add rule bridge {pt} {e} ether type ip6 ip6 saddr != {{ fe80::/10, "
                     f"{', '.join(sorted(ips6))} }} counter drop")
        L.append(f"add rule bridge {pt} {e} meta mark set meta mark and 0xffff or {idx << 16:#x}")
        L.append(f"add rule bridge {pt} {i} meta mark set meta mark and 0xffff0000 or {idx:#x}")
        # -- stateful SG chains (inet family via br_netfilter); egress returns so the
        #    destination port's ingress chain still runs
        L += [f"add rule inet {st} {se} ct state established,related return",
              f"add rule inet {st} {se} ct state invalid counter drop",
              f"add rule inet {st} {se} udp sport 68 udp dport 67 return",
              f"add rule inet {st} {se} udp sport 67 udp dport 68 counter drop",   # no rogue DHCP server
              f"add rule inet {st} {si} ct state established,related accept",
              f"add rule inet {st} {si} ct state invalid counter drop",
              f"add rule inet {st} {si} udp sport 67 udp dport 68 accept",
              f"add rule inet {st} {si} meta l4proto ipv6-icmp icmpv6 type {{ nd-neighbor-solicit, "
              f"nd-neighbor-advert, nd-router-advert }} accept"]
        for r in rules:
            d = r.get("direction", "ingress")
            m = _rule_matches(r, d)
            if m is None:
                continue
            if d == "ingress":
                L.append(f"add rule inet {st} {si} {' '.join(m)} accept")
            else:
                L.append(f"add rule inet {st} {se} {' '.join(m)} return")
        L.append(f"add rule inet {st} {se} counter drop")
        L.append(f"add rule inet {st} {si} counter drop")
        # -- dispatch: replace this port's map elements (other ports untouched)
        for mp, chain in (("egress", e), ("ingress", i)):
            if any(k == dev for k, _ in _map_elements(ns, "bridge", pt, mp)):
                L.append(f"delete element bridge {pt} {mp} {{ \"{dev}\" }}")
            L.append(f"add element bridge {pt} {mp} {{ \"{dev}\" : jump {chain} }}")
        for mp, key, chain in (("egress", idx << 16, se), ("ingress", idx, si)):
            if any(k == key for k, _ in _map_elements(ns, "inet", st, mp)):
                L.append(f"delete element inet {st} {mp} {{ {key:#x} }}")
            L.append(f"add element inet {st} {mp} {{ {key:#x} : jump {chain} }}")
        nft("\n".join(L) + "\n", ns)
        LOG.info("security groups of port %s applied (%s, index %d, %d rules)", port["id"], dev, idx, len(rules))


def remove_port_filter(port_id: str, *, ns: str | None = None) -> None:
    """Drop every SG/anti-spoofing rule of the port (the port is unfiltered/unplugged)."""
    dev = names.port_device(port_id)
    pt, st = names.NFT_PORT_TABLE, names.NFT_SG_TABLE
    with _LOCK, _lock_file(ns):
        idx = None
        for k, v in _map_elements(ns, "bridge", pt, "ingress"):
            if k == dev:
                idx = int(v["jump"]["target"].split("-")[-1])
        if idx is None:
            return
        nft("\n".join([
            f"delete element bridge {pt} egress {{ \"{dev}\" }}",
            f"delete element bridge {pt} ingress {{ \"{dev}\" }}",
            f"delete element inet {st} egress {{ {idx << 16:#x} }}",
            f"delete element inet {st} ingress {{ {idx:#x} }}",
            f"delete chain bridge {pt} e-{idx}", f"delete chain bridge {pt} i-{idx}",
            f"delete chain inet {st} sg-e-{idx}", f"delete chain inet {st} sg-i-{idx}",
        ]) + "\n", ns)


def filtered_ports(ns: str | None = None) -> dict[str, int]:
    """{port device: SG index} currently programmed in ``ns``."""
    return {k: int(v["jump"]["target"].split("-")[-1])
            for k, v in _map_elements(ns, "bridge", names.NFT_PORT_TABLE, "ingress")}


@contextlib.contextmanager
def _lock_file(ns: str | None) -> Iterator[None]:
    """Serialise SG index allocation between processes sharing the namespace."""
    path = "/run/os-dataplane-sg.lock"
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------
# ports: one call per backend
# ---------------------------------------------------------------------------------------
def plug_port_into_netns(port: dict[str, Any], bridge: str, target_ns: str, *, ns: str | None = None,
                         ifname: str = "eth0", mtu: int | None = None, cidrs: Iterable[str] = (),
                         routes: Iterable[dict[str, str]] = ()) -> str:
    """Wire a port for a container: veth ``names.port_device(port id)`` on ``bridge`` (in
    ``ns``) to ``ifname`` in ``target_ns`` with the port's MAC. ``cidrs``/``routes`` set
    static addressing (leave empty when the guest uses DHCP). Returns the host device."""
    ensure_netns(target_ns)
    dev = names.port_device(port["id"])
    ensure_veth(dev, ifname, target_ns, ns=ns, bridge=bridge, mtu=mtu, peer_mac=port.get("mac_address"))
    if cidrs:
        ensure_addresses(ifname, cidrs, target_ns)
    if routes:
        ensure_routes(routes, target_ns)
    return dev


def plug_port_tap(port: dict[str, Any], bridge: str, *, ns: str | None = None, mtu: int | None = None) -> str:
    """Wire a port for qemu: a tap named ``names.port_device(port id)`` on ``bridge``."""
    dev = names.port_device(port["id"])
    ensure_tap(dev, ns=ns, bridge=bridge, mtu=mtu)
    return dev


def unplug_port(port_id: str, *, ns: str | None = None) -> None:
    remove_port_filter(port_id, ns=ns)
    remove_link(names.port_device(port_id), ns)
