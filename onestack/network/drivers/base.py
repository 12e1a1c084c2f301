"""The data-plane driver contract: small ABCs of idempotent "ensure" calls.

The control plane (service.py) never touches the kernel; the network agent (agent.py)
turns committed state into driver calls. Every call receives the full desired state of
one object as plain JSON-able dicts and must converge to it: calling it twice is the
same as calling it once, and the ``*_gone`` calls succeed when the object is absent.
"""
from __future__ import annotations

import abc
from typing import Any

Doc = dict[str, Any]


class L2Driver(abc.ABC):
    """Networks and ports (bridges/VXLAN, taps, veths)."""

    @abc.abstractmethod
    def ensure_network(self, network: Doc) -> None:
        """network: id, mtu, network_type, physical_network, segmentation_id, admin_state_up."""

    @abc.abstractmethod
    def ensure_network_gone(self, network_id: str) -> None: ...

    @abc.abstractmethod
    def ensure_port_plugged(self, port: Doc, network: Doc) -> Doc:
        """Wire ``port`` (id, mac_address, fixed_ips, binding:host_id, admin_state_up) on its
        host; returns the binding result {"vif_type": ..., "vif_details": {...}}."""

    @abc.abstractmethod
    def ensure_port_unplugged(self, port_id: str) -> None: ...


class DHCPDriver(abc.ABC):
    @abc.abstractmethod
    def ensure_dhcp(self, network: Doc, subnets: list[Doc], ports: list[Doc]) -> None:
        """Serve addresses of ``ports`` on ``network``'s DHCP-enabled ``subnets``."""


class L3Driver(abc.ABC):
    """Routers: namespaces, interfaces, gateway with SNAT, extra routes, floating IPs."""

    @abc.abstractmethod
    def ensure_router(self, router: Doc, interfaces: list[Doc], gateway: Doc | None) -> None: ...

    @abc.abstractmethod
    def ensure_router_gone(self, router_id: str) -> None: ...

    @abc.abstractmethod
    def ensure_floating_ip(self, fip: Doc) -> None:
        """fip: id, floating_ip_address, fixed_ip_address (None: disassociated), router_id,
        port_forwardings."""

    @abc.abstractmethod
    def ensure_floating_ip_gone(self, fip_id: str) -> None: ...


class FirewallDriver(abc.ABC):
    @abc.abstractmethod
    def apply_security_groups(self, port: Doc, rules: list[Doc], port_security: bool) -> None:
        """Make the port's filter equal ``rules`` (remote groups already expanded to
        ``remote_ips``); ``port_security`` False means no filtering at all."""


class Driver(L2Driver, DHCPDriver, L3Driver, FirewallDriver, abc.ABC):
    """A complete data plane. ``agent_types`` are reported to /v2.0/agents."""
    name = "base"
    vif_type = "unbound"
    agent_types: tuple[tuple[str, str], ...] = ()   # (agent_type, binary)
