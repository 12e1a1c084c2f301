"""Version documents, extensions, availability zones."""
from __future__ import annotations

from onestack import errors
from onestack.api.routing import Reply, Req
from onestack.network import service as svc

# alias -> (name, description). Only what this implementation really does.
EXTENSIONS = {
    "address-group": ("Address group", "Support address group"),
    "address-scope": ("Address scope", "Address scopes extension."),
    "agent": ("agent", "The agent management extension."),
    "allowed-address-pairs": ("Allowed Address Pairs", "Provides allowed address pairs"),
    "auto-allocated-topology": ("Auto Allocated Topology Services", "Auto Allocated Topology Services."),
    "availability_zone": ("Availability Zone", "The availability zone extension."),
    "binding": ("Port Binding", "Expose port bindings of a virtual port to external application"),
    "default-subnetpools": ("Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    "dns-integration": ("DNS Integration", "Provides integration with DNS."),
    "external-net": ("Neutron external network", "Adds external network attribute to network resource."),
    "extra_dhcp_opt": ("Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    "extraroute": ("Neutron Extra Route", "Extra routes configuration for L3 router"),
    "extraroute-atomic": ("Atomically add/remove extra routes", "Edit extra routes of a router on server side."),
    "ext-gw-mode": ("Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"),
    "floating-ip-port-forwarding": ("Floating IP Port Forwarding", "Provide Floating IP Port Forwarding"),
    "l3-ha": ("HA Router extension", "Adds HA capability to routers."),
    "dvr": ("Distributed Virtual Router", "Enables configuration of Distributed Virtual Routers."),
    "network_availability_zone": ("Network Availability Zone", "Availability zone support for network."),
    "net-mtu": ("Network MTU", "Provides MTU attribute for a network resource."),
    "net-mtu-writable": ("Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    "network-ip-availability": ("Network IP Availability", "Provides IP availability data for each network and subnet."),
    "pagination": ("Pagination support", "Extension that indicates that pagination is enabled."),
    "port-security": ("Port Security", "Provides port security"),
    "project-id": ("project_id field enabled", "Extension that indicates that project_id field is enabled."),
    "provider": ("Provider Network", "Expose mapping of virtual networks to physical networks"),
    "qos": ("Quality of Service", "The Quality of Service extension."),
    "qos-bw-limit-direction": ("Direction for QoS bandwidth limit rule", "Allow to configure QoS bandwidth limit rule with specific direction: ingress or egress"),
    "qos-default": ("QoS default policy", "Expose the QoS default policy per project"),
    "qos-rule-type-details": ("Details of QoS rule types", "Expose details about QoS rule types supported by loaded backend drivers"),
    "quotas": ("Quota management support", "Expose functions for quotas management per tenant"),
    "quota_details": ("Quota details management support", "Expose functions for quotas usage statistics per project"),
    "rbac-policies": ("RBAC Policies", "Allows creation and modification of policies that control tenant access to resources."),
    "router": ("Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."),
    "router_availability_zone": ("Router Availability Zone", "Availability zone support for router."),
    "security-group": ("security-group", "The security groups extension."),
    "security-groups-remote-address-group": ("Remote address group id field for security group rules", "Add new field of remote address group id in SG rules"),
    "stateful-security-group": ("Stateful security group", "Indicates if the security group is stateful or not"),
    "sorting": ("Sorting support", "Extension that indicates that sorting is enabled."),
    "standard-attr-description": ("standard-attr-description", "Extension to add descriptions to standard attributes"),
    "standard-attr-revisions": ("Resource revision numbers", "This extension will display the revision number of neutron resources."),
    "standard-attr-tag": ("Tag support for resources with standard attribute: subnet, trunk, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."),
    "standard-attr-timestamp": ("Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."),
    "subnet_allocation": ("Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    "subnetpool-prefix-ops": ("Subnet Pool Prefix Operations", "Provides support for adjusting the prefix list of subnet pools"),
    "tag": ("Tag support", "Enables to set tag on resources."),
    "service-type": ("Neutron Service Type Management", "API for retrieving service providers for Neutron advanced services"),
    "trunk": ("Trunk Extension", "Provides support for trunk ports"),
    "empty-string-filtering": ("Empty String Filtering Extension", "Allow filtering by attributes with empty string value"),
    "ip-substring-filtering": ("IP address substring filtering", "Provides IP address substring filtering when listing ports"),
    "fip-port-details": ("Floating IP Port Details Extension", "Add port_details attribute to Floating IP resource"),
    "segment": ("Segment", "Segments extension."),
    "multi-provider": ("Multi Provider Network", "Expose mapping of virtual networks to multiple physical networks"),
}


def root(req: Req) -> Reply:
    return Reply(200, {"versions": [{"id": "v2.0", "status": "CURRENT",
                                     "links": [{"href": f"{req.service_url}/v2.0/", "rel": "self"}]}]})


def v2(req: Req) -> dict:
    names = ["subnet", "network", "port", "router", "floatingip", "security_group", "security_group_rule",
             "subnetpool", "address_scope", "rbac_policy", "quota", "agent", "availability_zone", "trunk"]
    out = []
    for n in names:
        coll = n.replace("_", "-") + "s" if n in ("security_group", "security_group_rule", "address_scope",
                                                    "rbac_policy", "availability_zone") else n + "s"
        out.append({"name": n, "collection": coll,
                    "links": [{"href": f"{req.service_url}/v2.0/{coll}", "rel": "self"}]})
    return {"resources": out}


def _ext(alias: str) -> dict:
    name, desc = EXTENSIONS[alias]
    return {"alias": alias, "name": name, "description": desc, "updated": "2013-02-03T10:00:00-00:00",
            "links": []}


def list_extensions(req: Req) -> dict:
    return {"extensions": [_ext(a) for a in sorted(EXTENSIONS)]}


def show_extension(req: Req) -> dict:
    alias = req.params["alias"]
    if alias not in EXTENSIONS:
        raise errors.NotFound(f"Extension with alias {alias} does not exist", type_name="HTTPNotFound")
    return {"extension": _ext(alias)}


def list_azs(req: Req) -> dict:
    req.ctx.can("network:get_availability_zone", {"project_id": req.ctx.project_id})
    az = svc.settings().default_availability_zone
    items = [{"name": az, "resource": r, "state": "available"} for r in ("network", "router")]
    for key in ("name", "resource", "state"):
        if key in req.query:
            items = [i for i in items if i[key] == req.query[key]]
    return {"availability_zones": items}


def service_providers(req: Req) -> dict:
    return {"service_providers": [{"service_type": t, "name": "onestack", "default": True}
                                  for t in ("L3_ROUTER_NAT", "QOS", "TRUNK")]}
