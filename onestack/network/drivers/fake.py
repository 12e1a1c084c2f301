"""A data plane that only remembers: used to test the layers above the real driver."""
from __future__ import annotations

import threading
from typing import Any

from onestack.network.drivers.base import Doc, Driver


class FakeDriver(Driver):
    name = "fake"
    vif_type = "ovs"
    agent_types = (("Open vSwitch agent", "neutron-openvswitch-agent"),
                   ("DHCP agent", "neutron-dhcp-agent"),
                   ("L3 agent", "neutron-l3-agent"),
                   ("Metadata agent", "neutron-metadata-agent"))

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.networks: dict[str, Doc] = {}
        self.ports: dict[str, Doc] = {}
        self.routers: dict[str, dict[str, Any]] = {}
        self.floating_ips: dict[str, Doc] = {}
        self.filters: dict[str, dict[str, Any]] = {}
        self.dhcp: dict[str, dict[str, Any]] = {}

    def ensure_network(self, network: Doc) -> None:
        with self.lock:
            self.networks[network["id"]] = dict(network)

    def ensure_network_gone(self, network_id: str) -> None:
        with self.lock:
            self.networks.pop(network_id, None)
            self.dhcp.pop(network_id, None)

    def ensure_port_plugged(self, port: Doc, network: Doc) -> Doc:
        with self.lock:
            self.networks.setdefault(network["id"], dict(network))
            self.ports[port["id"]] = dict(port)
        return {"vif_type": self.vif_type,
                "vif_details": {"port_filter": True, "connectivity": "l2", "bridge_name": "br-int"}}

    def ensure_port_unplugged(self, port_id: str) -> None:
        with self.lock:
            self.ports.pop(port_id, None)
            self.filters.pop(port_id, None)

    def ensure_dhcp(self, network: Doc, subnets: list[Doc], ports: list[Doc]) -> None:
        with self.lock:
            self.dhcp[network["id"]] = {"subnets": subnets, "ports": ports}

    def ensure_router(self, router: Doc, interfaces: list[Doc], gateway: Doc | None) -> None:
        with self.lock:
            self.routers[router["id"]] = {"router": router, "interfaces": interfaces, "gateway": gateway}

    def ensure_router_gone(self, router_id: str) -> None:
        with self.lock:
            self.routers.pop(router_id, None)

    def ensure_floating_ip(self, fip: Doc) -> None:
        with self.lock:
            self.floating_ips[fip["id"]] = dict(fip)

    def ensure_floating_ip_gone(self, fip_id: str) -> None:
        with self.lock:
            self.floating_ips.pop(fip_id, None)

    def apply_security_groups(self, port: Doc, rules: list[Doc], port_security: bool) -> None:
        with self.lock:
            self.filters[port["id"]] = {"rules": rules, "port_security": port_security}
