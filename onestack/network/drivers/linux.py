"""The Linux data plane: the Neutron Linux-bridge, DHCP, L3 and metadata agents, redone on
``onestack.dataplane`` (bridges, veths, dnsmasq, router namespaces, nftables).

Where things live (see docs/dataplane.md): bridges, port devices and the security-group
tables in this cloud's host namespace (``host.host_ns()``); one ``os-dhcp-<net>``
namespace with dnsmasq per network with DHCP; one ``os-router-<id>`` namespace per
router; for an external network, when ``[dataplane] external_access``, a veth
``os-ext-<8hex>`` whose root-namespace end holds the external subnet's gateway address, so
the machine's shell reaches floating IPs. Every object outside the host namespace is
``host.claim``-ed before it is created, so the start-up sweep can remove it after a crash.

Every call converges and may be repeated; the agent hands in full desired state.
"""
from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import threading

from pyroute2 import IPRoute

from onestack.dataplane import dhcp, host, names, net
from onestack.network.drivers.base import Doc, Driver

log = logging.getLogger(__name__)


def available() -> str | None:
    """None when this host can run the Linux data plane, else the reason it cannot."""
    if os.geteuid() != 0:
        return "not running as root"
    for tool in ("ip", "nft", "dnsmasq"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return f"{tool} is not installed"
    return None


def _cidrs(port: Doc, subnets: dict[str, Doc]) -> list[str]:
    out = []
    for f in port.get("fixed_ips", []):
        sub = subnets.get(f.get("subnet_id"))
        if sub is not None:
            out.append(f"{f['ip_address']}/{ipaddress.ip_network(sub['cidr']).prefixlen}")
    return out


class LinuxDriver(Driver):
    name = "linux"
    vif_type = "bridge"
    agent_types = (("Linux bridge agent", "neutron-linuxbridge-agent"),
                   ("DHCP agent", "neutron-dhcp-agent"),
                   ("L3 agent", "neutron-l3-agent"),
                   ("Metadata agent", "neutron-metadata-agent"))
    converges = True      # the agent hands it every change (not only port bindings)

    def __init__(self) -> None:
        self.ns = host.host_ns()
        self.lock = threading.RLock()
        self._fips: dict[str, tuple[str, str, str]] = {}   # fip id -> (router, gw port, address)
        from onestack.network import metadata_proxy
        self.proxy = metadata_proxy.PROXY
        if self.ns:
            net.ensure_netns(self.ns)
        net.ensure_sg_tables(self.ns)
        self._filtered = set(net.filtered_ports(self.ns))   # port devices with a filter

    # ------------------------------------------------------------------ L2
    def ensure_network(self, network: Doc) -> None:
        """network: id, mtu, external, subnets [{cidr, gateway_ip}] (for the external leg)."""
        br = names.bridge(network["id"])
        net.ensure_bridge(br, mtu=network.get("mtu") or 1500, ns=self.ns)
        if network.get("external") and host.settings().external_access:
            self._ensure_external_leg(network, br)
        else:
            self._remove_external_leg(network["id"])

    def _ensure_external_leg(self, network: Doc, br: str) -> None:
        cidrs = []
        for sub in network.get("subnets", []):
            gw = sub.get("gateway_ip")
            if gw and ipaddress.ip_network(sub["cidr"]).version == 4:
                cidrs.append(f"{gw}/{ipaddress.ip_network(sub['cidr']).prefixlen}")
        leg, peer = names.external_link(network["id"]), names.external_peer(network["id"])
        if not cidrs:
            self._remove_external_leg(network["id"])
            return
        taken = self._addresses_elsewhere(leg, [c.split("/")[0] for c in cidrs])
        if taken:
            log.warning("external network %s: %s already held by another interface of this machine; no "
                        "external access from the host for it (set [network] public_cidr to a free range)",
                        network["id"], ", ".join(taken))
            cidrs = [c for c in cidrs if c.split("/")[0] not in taken]
            if not cidrs:
                self._remove_external_leg(network["id"])
                return
        host.claim(leg)
        net.ensure_veth(peer, leg, None, ns=self.ns, bridge=br, mtu=network.get("mtu"))
        net.ensure_addresses(leg, cidrs, None)

    @staticmethod
    def _addresses_elsewhere(ifname: str, addresses: list[str]) -> list[str]:
        taken = []
        with IPRoute() as ip:
            for a in ip.get_addr():
                addr = a.get("address")
                if addr in addresses:
                    owner = ip.get_links(a["index"])[0].get("ifname")
                    if owner != ifname:
                        taken.append(addr)
        return taken

    def _remove_external_leg(self, network_id: str) -> None:
        leg = names.external_link(network_id)
        if net.link_info(leg, None) is not None:
            net.remove_link(leg, None)

    def ensure_network_gone(self, network_id: str) -> None:
        self.proxy.remove(("network", network_id))
        dhcp.remove_dhcp(str(host.state_dir()), network_id)
        self._remove_external_leg(network_id)
        net.remove_link(names.external_peer(network_id), self.ns)
        net.remove_bridge(names.bridge(network_id), self.ns)

    def vif_details(self, port: Doc) -> Doc:
        return {"bridge": names.bridge(port["network_id"]), "devname": names.port_device(port["id"]),
                "host_netns": self.ns, "port_filter": True, "connectivity": "l2"}

    def ensure_port_plugged(self, port: Doc, network: Doc) -> Doc:
        # Instances plug their own device (a veth into their namespace or a qemu tap) onto
        # the bridge named here; the network side provides the bridge and the filter.
        net.ensure_bridge(names.bridge(network["id"]), mtu=network.get("mtu") or 1500, ns=self.ns)
        return {"vif_type": self.vif_type, "vif_details": self.vif_details(port)}

    def ensure_port_unplugged(self, port_id: str) -> None:
        dev = names.port_device(port_id)
        with self.lock:
            if dev in self._filtered:
                net.remove_port_filter(port_id, ns=self.ns)
                self._filtered.discard(dev)

    # ------------------------------------------------------------------ DHCP
    def ensure_dhcp(self, network: Doc, subnets: list[Doc], ports: list[Doc]) -> None:
        """After ensure_network. subnets carry ``routed`` (a router serves their gateway); the network's DHCP port
        is the one in ``ports`` with device_owner network:dhcp."""
        dport = next((p for p in ports if p.get("device_owner") == "network:dhcp"), None)
        serving = [s for s in subnets if s.get("enable_dhcp") and ipaddress.ip_network(s["cidr"]).version == 4]
        if dport is None or not serving:
            self.proxy.remove(("network", network["id"]))
            dhcp.remove_dhcp(str(host.state_dir()), network["id"])
            return
        isolated = [s["id"] for s in serving if not s.get("routed")]
        host.claim(names.dhcp_netns(network["id"]))
        br = names.bridge(network["id"])          # ensure_network made it
        dhcp.ensure_dhcp(str(host.state_dir()), network, serving, ports, dport, br, host_ns=self.ns,
                         mtu=network.get("mtu"), isolated_subnets=isolated)
        if isolated:
            self.proxy.ensure(("network", network["id"]), names.dhcp_netns(network["id"]),
                              dhcp.METADATA_IP, 80)
        else:
            self.proxy.remove(("network", network["id"]))

    # ------------------------------------------------------------------ L3
    def ensure_router(self, router: Doc, interfaces: list[Doc], gateway: Doc | None) -> None:
        """The networks of ``interfaces`` and ``gateway`` must have been ensured first.
        router: id, enable_snat, routes, floating_ips [{id, floating_ip_address,
        fixed_ip_address}] (the complete set; others are removed), port_forwardings
        [{floating_ip, protocol, external_port, internal_ip, internal_port}]; interfaces: router ports
        with ``subnets`` {id: {cidr}}; gateway: the gateway port with ``subnets`` and
        ``gateway_ip`` (the external subnet's gateway), or None."""
        rid = router["id"]
        host.claim(names.router_netns(rid))
        itfs = []
        for p in interfaces:                       # their networks were ensured first
            itfs.append({"port_id": p["id"], "bridge": names.bridge(p["network_id"]),
                         "mac_address": p["mac_address"], "cidrs": _cidrs(p, p.get("subnets", {}))})
        gw = None
        if gateway is not None:
            gw = {"port_id": gateway["id"], "bridge": names.bridge(gateway["network_id"]),
                  "mac_address": gateway["mac_address"], "cidrs": _cidrs(gateway, gateway.get("subnets", {})),
                  "gateway_ip": gateway.get("gateway_ip")}
            if not gw["cidrs"]:
                gw = None
            else:
                # associated floating IPs are /32s on the gateway interface (they answer ARP
                # there); listing them keeps ensure_router from removing them
                gw["cidrs"] += [f"{f['floating_ip_address']}/32" for f in router.get("floating_ips") or []
                                if f.get("fixed_ip_address")]
                gw["cidrs"] += sorted({f"{pf['floating_ip']}/32" for pf in router.get("port_forwardings") or []}
                                      - set(gw["cidrs"]))
        v4 = [c for i in itfs for c in i["cidrs"] if ipaddress.ip_interface(c).version == 4]
        port = host.settings().metadata_proxy_port
        metadata = (str(ipaddress.ip_interface(v4[0]).ip), port) if v4 else None
        with self.lock:
            rns = net.ensure_router(rid, itfs, gw, host_ns=self.ns, snat=router.get("enable_snat", True),
                                    routes=router.get("routes") or [], metadata=metadata,
                                    port_forwardings=router.get("port_forwardings") or [] if gw else [])
            if metadata:
                self.proxy.ensure(("router", rid), rns, "0.0.0.0", port)
            else:
                self.proxy.remove(("router", rid))
            self._sync_fips(rid, gw, router.get("floating_ips") or [])

    def _sync_fips(self, rid: str, gw: Doc | None, fips: list[Doc]) -> None:
        want = {f["floating_ip_address"]: f for f in fips if f.get("fixed_ip_address")} if gw else {}
        have = net.floating_ips(rid)
        gw_port = gw["port_id"] if gw else ""
        for addr in set(have) - set(want):
            net.remove_floating_ip(rid, gw_port, addr)
        for addr, f in want.items():
            self._fips[f["id"]] = (rid, gw_port, addr)
            if have.get(addr) != f["fixed_ip_address"]:
                net.ensure_floating_ip(rid, gw_port, addr, f["fixed_ip_address"])
        for fid, (r, _g, addr) in list(self._fips.items()):
            if r == rid and addr not in want:
                self._fips.pop(fid, None)

    def ensure_router_gone(self, router_id: str) -> None:
        self.proxy.remove(("router", router_id))
        with self.lock:
            for fid, (r, _g, _a) in list(self._fips.items()):
                if r == router_id:
                    self._fips.pop(fid, None)
            net.remove_router(router_id)

    def ensure_floating_ip(self, fip: Doc) -> None:
        """One floating IP on its router (the router's gateway port is ``gateway_port_id``)."""
        with self.lock:
            old = self._fips.get(fip["id"])
            if old and (old[0] != fip.get("router_id") or not fip.get("fixed_ip_address")):
                net.remove_floating_ip(old[0], old[1], old[2])
                self._fips.pop(fip["id"], None)
            if fip.get("router_id") and fip.get("fixed_ip_address") and fip.get("gateway_port_id"):
                net.ensure_floating_ip(fip["router_id"], fip["gateway_port_id"], fip["floating_ip_address"],
                                       fip["fixed_ip_address"])
                self._fips[fip["id"]] = (fip["router_id"], fip["gateway_port_id"], fip["floating_ip_address"])

    def ensure_floating_ip_gone(self, fip_id: str) -> None:
        with self.lock:
            old = self._fips.pop(fip_id, None)
            if old:
                net.remove_floating_ip(*old)

    # ------------------------------------------------------------------ security groups
    def apply_security_groups(self, port: Doc, rules: list[Doc], port_security: bool) -> None:
        with self.lock:
            net.apply_security_groups(port, rules, port_security, ns=self.ns)
            if port_security:
                self._filtered.add(names.port_device(port["id"]))
            else:
                self._filtered.discard(names.port_device(port["id"]))

    # ------------------------------------------------------------------ inventory
    def owned_names(self, networks: list[Doc], routers: list[str], ports: list[str]) -> set[str]:
        """The kernel object names live resources own (for ``host.sweep``)."""
        keep: set[str] = set()
        for n in networks:
            keep |= names.network_objects(n["id"])
        for r in routers:
            keep |= names.router_objects(r)
        for p in ports:
            keep |= names.port_objects(p)
        return keep

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proxy.close()

