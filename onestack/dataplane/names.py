"""Names of every onestack-owned kernel object, derived from resource ids.

Rules: every object starts with ``PREFIX`` ("os-"); interface names fit IFNAMSIZ-1 (15)
characters: ``os-<kind>-<8 hex of the resource id>``; namespaces, runc ids, pid files and
nft tables (no length limit) carry the full id. The same port always yields the same
device name whichever backend plugs it (a tap for qemu, a veth end for a container, a
router or DHCP port), so the security-group code only needs the port id.
"""
from __future__ import annotations

import hashlib
import re

PREFIX = "os-"
IFNAMSIZ = 15          # usable characters in an interface name
HOST_NETNS_PREFIX = "os-host"   # namespaces playing "hypervisor" (bridges, SG tables) live here

_HEX = re.compile(r"^[0-9a-f]+$")


def short(resource_id: str, n: int = 8) -> str:
    """``n`` hex characters identifying ``resource_id`` (a UUID's first hex digits, or a hash)."""
    s = resource_id.lower().replace("-", "")
    if len(s) >= n and _HEX.match(s):
        return s[:n]
    return hashlib.sha1(resource_id.encode()).hexdigest()[:n]


def _ifname(kind: str, resource_id: str) -> str:
    name = f"{PREFIX}{kind}-{short(resource_id)}"
    assert len(name) <= IFNAMSIZ, name
    return name


# ---- interfaces (15 chars) -------------------------------------------------------------
def bridge(network_id: str) -> str:
    """The Linux bridge of a network: os-br-<8hex>."""
    return _ifname("br", network_id)


def port_device(port_id: str) -> str:
    """Host side of any port on a bridge (qemu tap or veth end): os-tap-<8hex>."""
    return _ifname("tap", port_id)


def router_internal(port_id: str) -> str:
    """A router's interface on a tenant network, inside the router namespace."""
    return _ifname("qr", port_id)


def router_gateway(port_id: str) -> str:
    """A router's gateway interface on the external network, inside the router namespace."""
    return _ifname("qg", port_id)


def dhcp_interface(port_id: str) -> str:
    """The DHCP server's interface inside its namespace."""
    return _ifname("ns", port_id)


def vxlan(network_id: str) -> str:
    return _ifname("vx", network_id)


def external_link(network_id: str) -> str:
    """The machine's leg on an external network: the root-namespace end of a veth whose
    other end (:func:`external_peer`) sits on the network's bridge."""
    return _ifname("ext", network_id)


def external_peer(network_id: str) -> str:
    return _ifname("exb", network_id)


# ---- namespaces, tables, processes (no length limit: full ids) --------------------------
def instance_netns(instance_id: str) -> str:
    return f"{PREFIX}inst-{instance_id}"


def router_netns(router_id: str) -> str:
    return f"{PREFIX}router-{router_id}"


def dhcp_netns(network_id: str) -> str:
    return f"{PREFIX}dhcp-{network_id}"


def host_netns(tag: str) -> str:
    return f"{HOST_NETNS_PREFIX}-{tag}"


def runc_id(instance_id: str) -> str:
    return f"{PREFIX}inst-{instance_id}"


def qemu_name(instance_id: str) -> str:
    return f"{PREFIX}vm-{instance_id}"


def dnsmasq_name(network_id: str) -> str:
    return f"{PREFIX}dhcp-{network_id}"


def cgroup(instance_id: str) -> str:
    return f"/{runc_id(instance_id)}"


# nft tables (identifiers: letters, digits, '_', '-', '.', '/')
NFT_PORT_TABLE = f"{PREFIX}port"       # bridge family: anti-spoofing + per-port marks
NFT_SG_TABLE = f"{PREFIX}sg"           # inet family: stateful security-group chains
NFT_ROUTER_TABLE = f"{PREFIX}router"   # ip family, inside a router namespace: SNAT/DNAT


def is_ours(name: str) -> bool:
    return name.startswith(PREFIX)


def port_objects(port_id: str) -> set[str]:
    """Names an inventory may report for a plugged port (for ``cleanup(keep=...)``)."""
    return {port_device(port_id)}


def network_objects(network_id: str) -> set[str]:
    return {bridge(network_id), vxlan(network_id), dhcp_netns(network_id), dnsmasq_name(network_id),
            external_link(network_id), external_peer(network_id)}


def router_objects(router_id: str) -> set[str]:
    return {router_netns(router_id)}


def instance_objects(instance_id: str) -> set[str]:
    return {instance_netns(instance_id), runc_id(instance_id), qemu_name(instance_id), cgroup(instance_id)[1:]}
