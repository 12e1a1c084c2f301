"""[network] settings."""
import dataclasses

from onestack import conf


@dataclasses.dataclass
class NetworkConf:
    # What `onestack up` lays out (as DevStack does): public (external) and demo's private.
    public_network: str = "public"
    public_cidr: str = "172.24.4.0/24"
    public_gateway: str = "172.24.4.1"
    private_network: str = "private"
    private_cidr: str = "10.0.0.0/26"
    demo_router: str = "router1"
    create_default_topology: bool = True
    # Defaults for new resources.
    global_physnet_mtu: int = 1500
    tenant_network_type: str = "vxlan"
    vni_min: int = 1
    vni_max: int = 1000000
    base_mac: str = "fa:16:3e:00:00:00"
    dns_domain: str = "openstacklocal."
    default_availability_zone: str = "nova"
    # Data plane: "linux" (bridges, dnsmasq, router namespaces, nftables; needs root + ip,
    # nft, dnsmasq), "fake" (remembers only), "auto" (linux when this host can run it).
    driver: str = "auto"
    # How long an API write waits for the agent to apply it to the data plane (seconds;
    # 0 = do not wait).
    agent_sync_timeout: float = 20.0
    # get-me-a-network: the subnet carved for a project on first use.
    auto_allocated_cidr: str = "10.1.0.0/24"
    # Quotas (upstream defaults; -1 = unlimited).
    quota_network: int = 100
    quota_subnet: int = 100
    quota_port: int = 500
    quota_router: int = 10
    quota_floatingip: int = 50
    quota_security_group: int = 10
    quota_security_group_rule: int = 100
    quota_rbac_policy: int = 10
    quota_subnetpool: int = -1
    quota_trunk: int = -1


conf.register_section("network", NetworkConf)
