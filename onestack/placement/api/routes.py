"""Placement's route table."""
from onestack.api.routing import route
from onestack.placement.api import allocations as a
from onestack.placement.api import providers as p

RP = "/resource_providers/{uuid}"
ROUTES = [
    route("GET", "/", a.versions, auth=False, microversioned=False),
    route("GET", "/resource_providers", p.list_providers),
    route("POST", "/resource_providers", p.create_provider),
    route("GET", RP, p.show_provider),
    route("PUT", RP, p.update_provider),
    route("DELETE", RP, p.delete_provider),
    route("GET", RP + "/inventories", p.list_inventories),
    route("PUT", RP + "/inventories", p.put_inventories),
    route("POST", RP + "/inventories", p.post_inventory),
    route("DELETE", RP + "/inventories", p.delete_inventories),
    route("GET", RP + "/inventories/{rc}", p.show_inventory),
    route("PUT", RP + "/inventories/{rc}", p.put_inventory),
    route("DELETE", RP + "/inventories/{rc}", p.delete_inventory),
    route("GET", RP + "/usages", p.provider_usages),
    route("GET", RP + "/allocations", p.provider_allocations),
    route("GET", RP + "/traits", p.provider_traits),
    route("PUT", RP + "/traits", p.put_provider_traits),
    route("DELETE", RP + "/traits", p.delete_provider_traits),
    route("GET", RP + "/aggregates", p.provider_aggregates),
    route("PUT", RP + "/aggregates", p.put_provider_aggregates),
    route("GET", "/usages", p.usages),
    route("GET", "/allocations/{consumer}", a.get_allocations),
    route("PUT", "/allocations/{consumer}", a.put_allocations),
    route("DELETE", "/allocations/{consumer}", a.delete_allocations),
    route("POST", "/allocations", a.post_allocations),
    route("GET", "/allocation_candidates", a.allocation_candidates),
    route("GET", "/traits", a.list_traits),
    route("GET", "/traits/{name}", a.show_trait),
    route("PUT", "/traits/{name}", a.put_trait),
    route("DELETE", "/traits/{name}", a.delete_trait),
    route("GET", "/resource_classes", a.list_classes),
    route("POST", "/resource_classes", a.create_class),
    route("GET", "/resource_classes/{name}", a.show_class),
    route("PUT", "/resource_classes/{name}", a.put_class),
    route("DELETE", "/resource_classes/{name}", a.delete_class),
]
