"""Compute's route table (paths relative to /compute)."""
from onestack.api.routing import route
from onestack.compute.api import actions as a
from onestack.compute.api import extensions as e
from onestack.compute.api import flavors as f
from onestack.compute.api import misc as x
from onestack.compute.api import proxies as p
from onestack.compute.api import servers as s
from onestack.compute.api import subresources as r

V = "/v2.1"
S = V + "/servers/{server_id}"
ROUTES = [
    route("GET", "/", x.versions, auth=False, microversioned=False),
    route("GET", V, x.version_v21, auth=False, microversioned=False),
    route("GET", "/v2", x.version_v20, auth=False, microversioned=False),
    route("GET", V + "/extensions", e.index), route("GET", V + "/extensions/{alias}", e.show),
    # servers
    route("GET", V + "/servers", s.index), route("POST", V + "/servers", s.create),
    route("GET", V + "/servers/detail", s.detail),
    route("GET", S, s.show), route("PUT", S, s.update), route("DELETE", S, s.delete),
    route("POST", S + "/action", a.action),
    route("GET", S + "/metadata", s.meta_index), route("POST", S + "/metadata", s.meta_create),
    route("PUT", S + "/metadata", s.meta_replace), route("GET", S + "/metadata/{key}", s.meta_show),
    route("PUT", S + "/metadata/{key}", s.meta_update), route("DELETE", S + "/metadata/{key}", s.meta_delete),
    route("GET", S + "/tags", s.tags_index), route("PUT", S + "/tags", s.tags_replace),
    route("DELETE", S + "/tags", s.tags_delete_all), route("GET", S + "/tags/{tag}", s.tags_show),
    route("PUT", S + "/tags/{tag}", s.tags_put), route("DELETE", S + "/tags/{tag}", s.tags_delete),
    route("GET", S + "/ips", s.ips), route("GET", S + "/ips/{network}", s.ips_network),
    route("GET", S + "/os-instance-actions", r.actions_index),
    route("GET", S + "/os-instance-actions/{request_id}", r.actions_show),
    route("GET", S + "/migrations", r.server_migrations),
    route("GET", S + "/migrations/{migration_id}", r.server_migration_show),
    route("POST", S + "/migrations/{migration_id}/action", r.server_migration_action),
    route("DELETE", S + "/migrations/{migration_id}", r.server_migration_delete),
    route("POST", S + "/remote-consoles", r.remote_console),
    route("GET", S + "/os-server-password", r.password_show),
    route("DELETE", S + "/os-server-password", r.password_clear),
    route("GET", S + "/diagnostics", r.diagnostics), route("GET", S + "/topology", r.topology),
    route("GET", S + "/os-interface", r.interfaces_index), route("POST", S + "/os-interface", r.interfaces_create),
    route("GET", S + "/os-interface/{port_id}", r.interfaces_show),
    route("DELETE", S + "/os-interface/{port_id}", r.interfaces_delete),
    route("GET", S + "/os-volume_attachments", r.volumes_index),
    route("POST", S + "/os-volume_attachments", r.volumes_create),
    route("GET", S + "/os-volume_attachments/{volume_id}", r.volumes_show),
    route("PUT", S + "/os-volume_attachments/{volume_id}", r.volumes_update),
    route("DELETE", S + "/os-volume_attachments/{volume_id}", r.volumes_delete),
    route("POST", V + "/os-server-external-events", r.external_events),
    # flavors
    route("GET", V + "/flavors", f.index), route("POST", V + "/flavors", f.create),
    route("GET", V + "/flavors/detail", f.detail), route("GET", V + "/flavors/{flavor_id}", f.show),
    route("PUT", V + "/flavors/{flavor_id}", f.update), route("DELETE", V + "/flavors/{flavor_id}", f.delete),
    route("POST", V + "/flavors/{flavor_id}/action", f.flavor_action),
    route("GET", V + "/flavors/{flavor_id}/os-flavor-access", f.access_list),
    route("GET", V + "/flavors/{flavor_id}/os-extra_specs", f.specs_index),
    route("POST", V + "/flavors/{flavor_id}/os-extra_specs", f.specs_create),
    route("GET", V + "/flavors/{flavor_id}/os-extra_specs/{key}", f.specs_show),
    route("PUT", V + "/flavors/{flavor_id}/os-extra_specs/{key}", f.specs_update),
    route("DELETE", V + "/flavors/{flavor_id}/os-extra_specs/{key}", f.specs_delete),
    # keypairs, limits, quotas
    route("GET", V + "/os-keypairs", x.keypairs_index), route("POST", V + "/os-keypairs", x.keypairs_create),
    route("GET", V + "/os-keypairs/{name}", x.keypairs_show),
    route("DELETE", V + "/os-keypairs/{name}", x.keypairs_delete),
    route("GET", V + "/limits", x.limits),
    route("GET", V + "/os-quota-sets/{project_id}", x.quota_show),
    route("PUT", V + "/os-quota-sets/{project_id}", x.quota_update),
    route("DELETE", V + "/os-quota-sets/{project_id}", x.quota_delete),
    route("GET", V + "/os-quota-sets/{project_id}/detail", x.quota_detail),
    route("GET", V + "/os-quota-sets/{project_id}/defaults", x.quota_defaults),
    route("GET", V + "/os-quota-class-sets/{class_name}", x.quota_class_show),
    route("PUT", V + "/os-quota-class-sets/{class_name}", x.quota_class_update),
    # zones, services, hypervisors, aggregates
    route("GET", V + "/os-availability-zone", x.az_list),
    route("GET", V + "/os-availability-zone/detail", x.az_detail),
    route("GET", V + "/os-services", x.services_index),
    route("PUT", V + "/os-services/{service_id}", x.services_update),
    route("DELETE", V + "/os-services/{service_id}", x.services_delete),
    route("GET", V + "/os-hypervisors", x.hypervisors_index),
    route("GET", V + "/os-hypervisors/detail", x.hypervisors_detail),
    route("GET", V + "/os-hypervisors/statistics", x.hypervisors_statistics),
    route("GET", V + "/os-hypervisors/{hypervisor_id}", x.hypervisors_show),
    route("GET", V + "/os-hypervisors/{hypervisor_id}/uptime", x.hypervisors_uptime),
    route("GET", V + "/os-hypervisors/{pattern}/search", x.hypervisors_search),
    route("GET", V + "/os-hypervisors/{pattern}/servers", x.hypervisors_servers),
    route("GET", V + "/os-aggregates", x.aggregates_index), route("POST", V + "/os-aggregates", x.aggregates_create),
    route("GET", V + "/os-aggregates/{aggregate_id}", x.aggregates_show),
    route("PUT", V + "/os-aggregates/{aggregate_id}", x.aggregates_update),
    route("DELETE", V + "/os-aggregates/{aggregate_id}", x.aggregates_delete),
    route("POST", V + "/os-aggregates/{aggregate_id}/action", x.aggregates_action),
    route("POST", V + "/os-aggregates/{aggregate_id}/images", x.aggregates_images),
    route("GET", V + "/os-server-groups", x.groups_index), route("POST", V + "/os-server-groups", x.groups_create),
    route("GET", V + "/os-server-groups/{group_id}", x.groups_show),
    route("DELETE", V + "/os-server-groups/{group_id}", x.groups_delete),
    route("GET", V + "/os-simple-tenant-usage", x.usage_index, trailing_slash=False),
    route("GET", V + "/os-simple-tenant-usage/{tenant_id}", x.usage_show),
    route("GET", V + "/os-migrations", x.migrations_index),
    route("GET", V + "/os-hosts", x.hosts_index), route("GET", V + "/os-hosts/{host_name}", x.hosts_show),
    route("PUT", V + "/os-hosts/{host_name}", x.hosts_update),
    route("GET", V + "/os-hosts/{host_name}/reboot", x.hosts_reboot),
    route("GET", V + "/os-hosts/{host_name}/shutdown", x.hosts_shutdown),
    route("GET", V + "/os-hosts/{host_name}/startup", x.hosts_startup),
    # deprecated proxies (404 from 2.36; image metadata from 2.39) and admin leftovers
    route("GET", S + "/os-security-groups", p.server_sg_index),
    route("GET", V + "/os-security-groups", p.sg_index, trailing_slash=False),
    route("POST", V + "/os-security-groups", p.sg_create, trailing_slash=False),
    route("GET", V + "/os-security-groups/{group_id}", p.sg_show),
    route("PUT", V + "/os-security-groups/{group_id}", p.sg_update),
    route("DELETE", V + "/os-security-groups/{group_id}", p.sg_delete),
    route("POST", V + "/os-security-group-rules", p.rule_create),
    route("DELETE", V + "/os-security-group-rules/{rule_id}", p.rule_delete),
    route("GET", V + "/os-floating-ips", p.fip_index, trailing_slash=False),
    route("POST", V + "/os-floating-ips", p.fip_create, trailing_slash=False),
    route("GET", V + "/os-floating-ips/{fip_id}", p.fip_show),
    route("DELETE", V + "/os-floating-ips/{fip_id}", p.fip_delete),
    route("GET", V + "/os-floating-ip-pools", p.pools_index),
    route("GET", V + "/os-networks", p.networks_index), route("GET", V + "/os-networks/{network_id}", p.networks_show),
    route("GET", V + "/os-tenant-networks", p.tenant_networks_index),
    route("GET", V + "/os-tenant-networks/{network_id}", p.tenant_networks_show),
    route("GET", V + "/images", p.images_index, trailing_slash=False), route("GET", V + "/images/detail", p.images_detail),
    route("GET", V + "/images/{image_id}", p.images_show), route("DELETE", V + "/images/{image_id}", p.images_delete),
    route("GET", V + "/images/{image_id}/metadata", p.image_meta_index),
    route("POST", V + "/images/{image_id}/metadata", p.image_meta_create),
    route("PUT", V + "/images/{image_id}/metadata", p.image_meta_replace),
    route("GET", V + "/images/{image_id}/metadata/{key}", p.image_meta_show),
    route("PUT", V + "/images/{image_id}/metadata/{key}", p.image_meta_update),
    route("DELETE", V + "/images/{image_id}/metadata/{key}", p.image_meta_delete),
    route("GET", V + "/os-volumes", p.volumes_index, trailing_slash=False),
    route("POST", V + "/os-volumes", p.volumes_create, trailing_slash=False),
    route("GET", V + "/os-volumes/detail", p.volumes_detail),
    route("GET", V + "/os-volumes/{volume_id}", p.volumes_show),
    route("DELETE", V + "/os-volumes/{volume_id}", p.volumes_delete),
    route("GET", V + "/os-snapshots", p.snapshots_index, trailing_slash=False),
    route("POST", V + "/os-snapshots", p.snapshots_create, trailing_slash=False),
    route("GET", V + "/os-snapshots/detail", p.snapshots_detail),
    route("GET", V + "/os-snapshots/{snapshot_id}", p.snapshots_show),
    route("DELETE", V + "/os-snapshots/{snapshot_id}", p.snapshots_delete),
    route("POST", V + "/os-volumes_boot", p.volumes_boot),
    route("POST", V + "/os-assisted-volume-snapshots", p.assisted_create),
    route("DELETE", V + "/os-assisted-volume-snapshots/{snapshot_id}", p.assisted_delete),
    route("GET", V + "/os-instance_usage_audit_log", p.audit_index),
    route("GET", V + "/os-instance_usage_audit_log/{before_timestamp}", p.audit_show),
]

# 2.102: "all APIs now reject unknown query string parameters with a HTTP 400". The query
# parameters each GET accepts (upstream's query schemas); a GET not listed accepts none.
# /servers, /servers/detail and /flavors(/detail) check their own (their filters depend on
# the caller and the version); the deprecated proxies are 404 long before 2.102.
QUERY_PARAMS: dict[object, frozenset[str]] = {
    r.actions_index: frozenset({"limit", "marker", "changes-since", "changes-before"}),
    r.volumes_index: frozenset({"limit", "offset"}),
    x.keypairs_index: frozenset({"user_id", "limit", "marker"}),
    x.keypairs_show: frozenset({"user_id"}),
    x.limits: frozenset({"tenant_id", "reserved"}),
    x.quota_show: frozenset({"user_id"}), x.quota_detail: frozenset({"user_id"}),
    x.services_index: frozenset({"binary", "host"}),
    x.hypervisors_index: frozenset({"hypervisor_hostname_pattern", "with_servers", "limit", "marker"}),
    x.hypervisors_detail: frozenset({"hypervisor_hostname_pattern", "with_servers", "limit", "marker"}),
    x.hypervisors_show: frozenset({"with_servers"}),
    x.groups_index: frozenset({"all_projects", "limit", "offset"}),
    x.usage_index: frozenset({"start", "end", "detailed", "limit", "marker"}),
    x.usage_show: frozenset({"start", "end", "limit", "marker"}),
    x.migrations_index: frozenset({"hidden", "host", "type", "source_compute", "status", "migration_type",
                                   "instance_uuid", "user_id", "project_id", "changes-since", "changes-before",
                                   "limit", "marker"}),
}
_OWN_CHECK = {s.index, s.detail, f.index, f.detail}


def _strict_query(handler, allowed: frozenset[str]):
    import functools

    from onestack import errors
    from onestack.compute.api.views import mv

    @functools.wraps(handler)
    def checked(req):
        if req.query_items and mv(req, "2.102"):
            for key, _ in req.query_items:
                if key not in allowed:
                    raise errors.BadRequest(f"Invalid input for query parameters: additional properties are "
                                            f"not allowed ({key} was unexpected).")
        return handler(req)
    return checked


for _r in ROUTES:
    if _r.method == "GET" and _r.microversioned and _r.handler not in _OWN_CHECK and \
            getattr(_r.handler, "__module__", "") != p.__name__ and not _r.handler.__name__.startswith("hosts_"):
        _r.handler = _strict_query(_r.handler, QUERY_PARAMS.get(_r.handler, frozenset()))
