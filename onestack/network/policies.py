"""Neutron's default policies (new defaults, enforce_scope on), as upstream declares them.

Names carry the house prefix ("network:create_network"; "rule:admin_only" is
"rule:network:admin_only") since every service shares one policy namespace.

Neutron's ``field:<collection>:<attr>=<value>`` check (e.g. ``field:networks:shared=True``)
is registered with oslo.policy's own check registry so upstream check strings work verbatim.
"""
from __future__ import annotations

import re
from typing import Any

from oslo_policy import _checks

from onestack.policy import Rule


@_checks.register("field")
class FieldCheck(_checks.Check):
    """``field:networks:shared=True``: the target's attribute has that value."""

    def __init__(self, kind: str, match: str):
        super().__init__(kind, match)
        _resource, _, rest = match.partition(":")
        self.field, _, value = rest.partition("=")
        self.value = value

    def __call__(self, target: Any, creds: Any, enforcer: Any, current_rule: Any = None) -> bool:
        actual = target.get(self.field)
        if self.value.startswith("~"):
            return isinstance(actual, str) and re.search(self.value[1:], actual) is not None
        return str(actual).lower() == self.value.lower()


ADMIN = "rule:admin_only"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
ADMIN_OR_PROJECT_MEMBER = f"({ADMIN}) or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"({ADMIN}) or ({PROJECT_READER})"
NET_OWNER_MEMBER = "role:member and project_id:%(network:project_id)s"
NET_OWNER_READER = "role:reader and project_id:%(network:project_id)s"
PARENT_OWNER_MEMBER = "role:member and project_id:%(ext_parent:project_id)s"
PARENT_OWNER_READER = "role:reader and project_id:%(ext_parent:project_id)s"
SG_OWNER_MEMBER = "role:member and project_id:%(security_group:project_id)s"
SG_OWNER_READER = "role:reader and project_id:%(security_group:project_id)s"
P = ("project",)

BASE = [
    Rule("context_is_admin", "role:admin"),
    Rule("admin_or_owner", "rule:context_is_admin or project_id:%(project_id)s"),
    Rule("context_is_advsvc", "role:advsvc"),
    Rule("admin_or_network_owner", "rule:context_is_admin or tenant_id:%(network:tenant_id)s"),
    Rule("admin_owner_or_network_owner", "rule:owner or rule:admin_or_network_owner"),
    Rule("network_owner", "tenant_id:%(network:tenant_id)s"),
    Rule("admin_only", "rule:context_is_admin"),
    Rule("regular_user", ""),
    Rule("shared", "field:networks:shared=True"),
    Rule("external", "field:networks:router:external=True"),
    Rule("default", "rule:admin_or_owner"),
    Rule("owner", "tenant_id:%(tenant_id)s"),
    Rule("admin_or_ext_parent_owner", "rule:context_is_admin or tenant_id:%(ext_parent:tenant_id)s"),
    Rule("ext_parent_owner", "tenant_id:%(ext_parent:tenant_id)s"),
    Rule("sg_owner", "tenant_id:%(security_group:tenant_id)s"),
    Rule("shared_address_groups", "field:address_groups:shared=True"),
    Rule("shared_subnetpools", "field:subnetpools:shared=True"),
    Rule("shared_address_scopes", "field:address_scopes:shared=True"),
    Rule("shared_qos_policies", "field:qos_policies:shared=True"),
]


def crud(name: str, create: str = ADMIN_OR_PROJECT_MEMBER, get: str = ADMIN_OR_PROJECT_READER,
         update: str = ADMIN_OR_PROJECT_MEMBER, delete: str = ADMIN_OR_PROJECT_MEMBER,
         attrs: dict[str, str] | None = None) -> list[Rule]:
    """create_/get_/update_/delete_<name> plus per-attribute rules ("create_port:mac_address")."""
    out = [Rule(f"create_{name}", create, scope_types=P), Rule(f"get_{name}", get, scope_types=P),
           Rule(f"update_{name}", update, scope_types=P), Rule(f"delete_{name}", delete, scope_types=P)]
    for key, check in (attrs or {}).items():
        out.append(Rule(f"{key}", check, scope_types=P))
    return out


NETWORK_ATTRS = {}
for _verb in ("create", "update"):
    for _a in ("shared", "router:external", "is_default", "segments", "provider:network_type",
               "provider:physical_network", "provider:segmentation_id"):
        NETWORK_ATTRS[f"{_verb}_network:{_a}"] = ADMIN
    NETWORK_ATTRS[f"{_verb}_network:port_security_enabled"] = ADMIN_OR_PROJECT_MEMBER
for _a in ("segments", "provider:network_type", "provider:physical_network",
           "provider:segmentation_id"):
    NETWORK_ATTRS[f"get_network:{_a}"] = ADMIN
NETWORK_ATTRS["get_network:router:external"] = "rule:regular_user"

PORT_ATTRS = {
    "create_port:device_owner": f"not rule:network_device or rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "create_port:mac_address": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "create_port:fixed_ips": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER}) or rule:shared",
    "create_port:fixed_ips:ip_address": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "create_port:fixed_ips:subnet_id": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER}) or rule:shared",
    "create_port:port_security_enabled": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "create_port:binding:host_id": ADMIN,
    "create_port:binding:profile": ADMIN,
    "create_port:binding:vnic_type": ADMIN_OR_PROJECT_MEMBER,
    "create_port:allowed_address_pairs": f"({ADMIN}) or ({NET_OWNER_MEMBER})",
    "create_port:allowed_address_pairs:mac_address": f"({ADMIN}) or ({NET_OWNER_MEMBER})",
    "create_port:allowed_address_pairs:ip_address": f"({ADMIN}) or ({NET_OWNER_MEMBER})",
    "get_port:binding:vif_type": ADMIN,
    "get_port:binding:vif_details": ADMIN,
    "get_port:binding:host_id": ADMIN,
    "get_port:binding:profile": ADMIN,
    "get_port:resource_request": ADMIN,
    "update_port:device_owner": f"not rule:network_device or rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_port:mac_address": f"({ADMIN}) or rule:context_is_advsvc",
    "update_port:fixed_ips": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_port:fixed_ips:ip_address": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_port:fixed_ips:subnet_id": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER}) or rule:shared",
    "update_port:port_security_enabled": f"rule:context_is_advsvc or ({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_port:binding:host_id": ADMIN,
    "update_port:binding:profile": ADMIN,
    "update_port:binding:vnic_type": f"({ADMIN_OR_PROJECT_MEMBER}) or rule:context_is_advsvc",
    "update_port:allowed_address_pairs": f"({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_port:allowed_address_pairs:mac_address": f"({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_port:allowed_address_pairs:ip_address": f"({ADMIN}) or ({NET_OWNER_MEMBER})",
    "update_port:data_plane_status": ADMIN,
}

ROUTER_ATTRS = {}
for _verb in ("create", "update"):
    ROUTER_ATTRS[f"{_verb}_router:external_gateway_info"] = ADMIN_OR_PROJECT_MEMBER
    ROUTER_ATTRS[f"{_verb}_router:external_gateway_info:network_id"] = ADMIN_OR_PROJECT_MEMBER
    ROUTER_ATTRS[f"{_verb}_router:external_gateway_info:enable_snat"] = ADMIN
    ROUTER_ATTRS[f"{_verb}_router:external_gateway_info:external_fixed_ips"] = ADMIN
    ROUTER_ATTRS[f"{_verb}_router:distributed"] = ADMIN
    ROUTER_ATTRS[f"{_verb}_router:ha"] = ADMIN
ROUTER_ATTRS["get_router:distributed"] = ADMIN
ROUTER_ATTRS["get_router:ha"] = ADMIN

RULES: list[Rule] = BASE + [
    Rule("network_device", "field:port:device_owner=~^network:"),
    *crud("network", get=f"{ADMIN_OR_PROJECT_READER} or rule:shared or rule:external or rule:context_is_advsvc",
          attrs=NETWORK_ATTRS),
    *crud("subnet", create=f"({ADMIN}) or ({PROJECT_MEMBER}) or ({NET_OWNER_MEMBER})",
          get=f"({ADMIN}) or ({PROJECT_READER}) or ({NET_OWNER_READER}) or rule:shared",
          update=f"({ADMIN}) or ({PROJECT_MEMBER}) or ({NET_OWNER_MEMBER})",
          delete=f"({ADMIN}) or ({PROJECT_MEMBER}) or ({NET_OWNER_MEMBER})",
          attrs={"create_subnet:segment_id": ADMIN, "create_subnet:service_types": ADMIN,
                 "update_subnet:segment_id": ADMIN, "update_subnet:service_types": ADMIN}),
    *crud("port", create=f"({ADMIN}) or ({PROJECT_MEMBER}) or rule:context_is_advsvc",
          get=f"rule:context_is_advsvc or ({ADMIN}) or ({PROJECT_READER}) or ({NET_OWNER_READER})",
          update=f"({ADMIN}) or ({PROJECT_MEMBER}) or rule:context_is_advsvc",
          delete=f"rule:context_is_advsvc or ({ADMIN}) or ({PROJECT_MEMBER}) or ({NET_OWNER_MEMBER})",
          attrs=PORT_ATTRS),
    *crud("security_group", get=f"{ADMIN_OR_PROJECT_READER}"),
    *crud("security_group_rule", create=f"({ADMIN}) or ({PROJECT_MEMBER}) or ({SG_OWNER_MEMBER})",
          get=f"({ADMIN}) or ({PROJECT_READER}) or ({SG_OWNER_READER})",
          delete=f"({ADMIN}) or ({PROJECT_MEMBER}) or ({SG_OWNER_MEMBER})"),
    *crud("address_group", get=f"({ADMIN_OR_PROJECT_READER}) or rule:shared_address_groups"),
    *crud("router", attrs=ROUTER_ATTRS),
    Rule("add_router_interface", ADMIN_OR_PROJECT_MEMBER, scope_types=P),
    Rule("remove_router_interface", ADMIN_OR_PROJECT_MEMBER, scope_types=P),
    Rule("add_extraroutes", ADMIN_OR_PROJECT_MEMBER, scope_types=P),
    Rule("remove_extraroutes", ADMIN_OR_PROJECT_MEMBER, scope_types=P),
    *crud("floatingip", attrs={"create_floatingip:floating_ip_address": ADMIN}),
    *crud("floatingip_port_forwarding", create=f"({ADMIN}) or ({PARENT_OWNER_MEMBER})",
          get=f"({ADMIN}) or ({PARENT_OWNER_READER})", update=f"({ADMIN}) or ({PARENT_OWNER_MEMBER})",
          delete=f"({ADMIN}) or ({PARENT_OWNER_MEMBER})"),
    *crud("rbac_policy", attrs={"create_rbac_policy:target_tenant":
                                f"({ADMIN}) or (not field:rbac_policy:target_tenant=* and not "
                                f"field:rbac_policy:target_project=*)",
                                "update_rbac_policy:target_tenant":
                                f"({ADMIN}) or (not field:rbac_policy:target_tenant=* and not "
                                f"field:rbac_policy:target_project=*)"}),
    *crud("address_scope", get=f"({ADMIN_OR_PROJECT_READER}) or rule:shared_address_scopes",
          attrs={"create_address_scope:shared": ADMIN, "update_address_scope:shared": ADMIN}),
    *crud("subnetpool", get=f"({ADMIN_OR_PROJECT_READER}) or rule:shared_subnetpools",
          attrs={"create_subnetpool:shared": ADMIN, "create_subnetpool:is_default": ADMIN,
                 "update_subnetpool:is_default": ADMIN}),
    *crud("policy", create=ADMIN, get=f"({ADMIN_OR_PROJECT_READER}) or rule:shared_qos_policies",
          update=ADMIN, delete=ADMIN),
    *crud("policy_rule", create=ADMIN, get=f"({ADMIN}) or ({PARENT_OWNER_READER}) or rule:regular_user",
          update=ADMIN, delete=ADMIN),
    *crud("trunk", attrs={"add_subports": ADMIN_OR_PROJECT_MEMBER,
                          "remove_subports": ADMIN_OR_PROJECT_MEMBER,
                          "get_subports": ADMIN_OR_PROJECT_READER}),
    *crud("agent", create=ADMIN, get=ADMIN, update=ADMIN, delete=ADMIN),
    *crud("segment", create=ADMIN, get=ADMIN, update=ADMIN, delete=ADMIN),
    *crud("quota", create=ADMIN, get=ADMIN_OR_PROJECT_READER, update=ADMIN, delete=ADMIN),
    Rule("get_availability_zone", "rule:regular_user", scope_types=P),
    Rule("get_auto_allocated_topology", ADMIN_OR_PROJECT_READER, scope_types=P),
    Rule("create_auto_allocated_topology", ADMIN_OR_PROJECT_MEMBER, scope_types=P),
    Rule("delete_auto_allocated_topology", ADMIN_OR_PROJECT_MEMBER, scope_types=P),
    Rule("get_network_ip_availability", ADMIN, scope_types=P),
    Rule("get_loggable_resource", ADMIN, scope_types=P),
]


def _ns(rule: Rule) -> Rule:
    check = re.sub(r"rule:(\w+)", r"rule:network:\1", rule.check_str)
    return Rule(f"network:{rule.name}", check, rule.description, rule.scope_types, rule.operations)


RULES = [_ns(r) for r in RULES]
