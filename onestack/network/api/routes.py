"""Neutron's route table (explicit). Paths are relative to the /networking mount."""
from onestack.api.routing import route
from onestack.network.api import common, core, extra, l3, meta, segments

APIS = [core.NETWORKS, core.SUBNETS, core.PORTS, core.SECURITY_GROUPS, core.RULES, segments.SEGMENTS]

ROUTES = [
    route("GET", "/", meta.root, auth=False),
    route("GET", "/v2.0", meta.v2),
    route("GET", "/v2.0/extensions", meta.list_extensions),
    route("GET", "/v2.0/extensions/{alias}", meta.show_extension),
    route("GET", "/v2.0/availability_zones", meta.list_azs),
    route("GET", "/v2.0/service-providers", meta.service_providers),
]
for _api in APIS:
    ROUTES += common.crud_routes(_api)
ROUTES += l3.ROUTES
ROUTES += extra.ROUTES
