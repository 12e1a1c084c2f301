"""/v3/regions, /v3/services, /v3/endpoints."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.resource import Field, Resource
from onestack.api.routing import Reply, Req
from onestack.identity import catalog_admin as cat
from onestack.identity import views
from onestack.identity.api.directory_common import member_body, target


def _id(value: str) -> str:
    if not value or len(value) > 255:
        raise errors.ValidationError("Invalid input for field 'id': must have 1 to 255 characters.")
    return value


REGION = Resource("region", "regions", [
    Field("id", create=True, parse=_id),
    Field("description", create=True, update=True, nullable=True, max_length=255),
    Field("parent_region_id", create=True, update=True, nullable=True, filter=True),
], allow_extra=True)

SERVICE = Resource("service", "services", [
    Field("type", create=True, update=True, required=True, min_length=1, max_length=255, filter=True),
    Field("name", create=True, update=True, nullable=True, max_length=255, filter=True),
    Field("description", create=True, update=True, nullable=True),
    Field("enabled", type=bool, create=True, update=True),
], allow_extra=True)

ENDPOINT = Resource("endpoint", "endpoints", [
    Field("service_id", create=True, update=True, required=True, min_length=1, max_length=64, filter=True),
    Field("interface", create=True, update=True, required=True, choices=cat.INTERFACES, filter=True),
    Field("url", create=True, update=True, required=True, min_length=1, max_length=2048, parse=cat.check_url),
    Field("region_id", create=True, update=True, nullable=True, max_length=255, filter=True),
    Field("region", create=True, update=True, nullable=True, max_length=255),
    Field("enabled", type=bool, create=True, update=True),
], allow_extra=True)


def region_view(req: Req, r: Any) -> dict[str, Any]:
    out = dict(r.extra or {})
    out.update({"id": r.id, "description": r.description or "", "parent_region_id": r.parent_region_id,
                "links": views.link(req, "regions", r.id)})
    return out


def service_view(req: Req, svc: Any) -> dict[str, Any]:
    out = dict(svc.extra or {})
    out.update({"id": svc.id, "type": svc.type, "enabled": svc.enabled,
                "links": views.link(req, "services", svc.id)})
    if svc.name is not None:
        out["name"] = svc.name
    if svc.description is not None:
        out["description"] = svc.description
    return out


def endpoint_view(req: Req, e: Any) -> dict[str, Any]:
    out = dict(e.extra or {})
    out.update({"id": e.id, "service_id": e.service_id, "interface": e.interface, "url": e.url,
                "region_id": e.region_id, "region": e.region_id, "enabled": e.enabled,
                "links": views.link(req, "endpoints", e.id)})
    return out


# ------------------------------------------------------------------ regions
def list_regions(req: Req) -> dict:
    req.ctx.can("identity:list_regions", target(req))
    with db.read() as s:
        rows = cat.list_regions(s, req.query.get("parent_region_id"))
        return views.collection(req, "regions", [region_view(req, r) for r in rows])


def create_region(req: Req) -> Reply:
    raw = req.json()
    rid = raw["region"].get("id") if isinstance(raw, dict) and isinstance(raw.get("region"), dict) else None
    values = member_body(req, REGION, "create")
    if rid is not None:
        values["id"] = REGION.by_wire["id"].check(rid, "region")
    req.ctx.can("identity:create_region", target(req))
    with db.write() as s:
        return Reply(201, {"region": region_view(req, cat.create_region(s, values))})


def put_region(req: Req) -> Reply:
    values = member_body(req, REGION, "create")
    rid = req.params["region_id"]
    if values.get("id", rid) != rid:
        raise errors.ValidationError("The region id in the body does not match the URL.")
    req.ctx.can("identity:create_region", target(req))
    with db.write() as s:
        return Reply(201, {"region": region_view(req, cat.create_region(s, values, _id(rid)))})


def show_region(req: Req) -> dict:
    req.ctx.can("identity:get_region", target(req))
    with db.read() as s:
        return {"region": region_view(req, cat.get_region(s, req.params["region_id"]))}


def update_region(req: Req) -> dict:
    body = req.json()
    if isinstance(body, dict) and isinstance(body.get("region"), dict):
        rid = body["region"].pop("id", req.params["region_id"])
        if rid != req.params["region_id"]:
            raise errors.ValidationError("The region id in the body does not match the URL.")
    values = member_body(req, REGION, "update")
    req.ctx.can("identity:update_region", target(req))
    with db.write() as s:
        return {"region": region_view(req, cat.update_region(s, req.params["region_id"], values))}


def delete_region(req: Req) -> None:
    req.ctx.can("identity:delete_region", target(req))
    with db.write() as s:
        cat.delete_region(s, req.params["region_id"])


# ------------------------------------------------------------------ services
def list_services(req: Req) -> dict:
    req.ctx.can("identity:list_services", target(req))
    with db.read() as s:
        rows = cat.list_services(s, req.query.get("type"), req.query.get("name"))
        return views.collection(req, "services", [service_view(req, r) for r in rows])


def create_service(req: Req) -> Reply:
    values = member_body(req, SERVICE, "create")
    req.ctx.can("identity:create_service", target(req))
    with db.write() as s:
        return Reply(201, {"service": service_view(req, cat.create_service(s, values))})


def show_service(req: Req) -> dict:
    req.ctx.can("identity:get_service", target(req))
    with db.read() as s:
        return {"service": service_view(req, cat.get_service(s, req.params["service_id"]))}


def update_service(req: Req) -> dict:
    values = member_body(req, SERVICE, "update")
    req.ctx.can("identity:update_service", target(req))
    with db.write() as s:
        return {"service": service_view(req, cat.update_service(s, req.params["service_id"], values))}


def delete_service(req: Req) -> None:
    req.ctx.can("identity:delete_service", target(req))
    with db.write() as s:
        cat.delete_service(s, req.params["service_id"])


# ------------------------------------------------------------------ endpoints
def list_endpoints(req: Req) -> dict:
    req.ctx.can("identity:list_endpoints", target(req))
    filters = ENDPOINT.filters(req.query_items)
    with db.read() as s:
        rows = cat.list_endpoints(s, filters)
        return views.collection(req, "endpoints", [endpoint_view(req, e) for e in rows])


def create_endpoint(req: Req) -> Reply:
    values = member_body(req, ENDPOINT, "create")
    req.ctx.can("identity:create_endpoint", target(req))
    with db.write() as s:
        return Reply(201, {"endpoint": endpoint_view(req, cat.create_endpoint(s, values))})


def show_endpoint(req: Req) -> dict:
    req.ctx.can("identity:get_endpoint", target(req))
    with db.read() as s:
        return {"endpoint": endpoint_view(req, cat.get_endpoint(s, req.params["endpoint_id"]))}


def update_endpoint(req: Req) -> dict:
    values = member_body(req, ENDPOINT, "update")
    req.ctx.can("identity:update_endpoint", target(req))
    with db.write() as s:
        return {"endpoint": endpoint_view(req, cat.update_endpoint(s, req.params["endpoint_id"], values))}


def delete_endpoint(req: Req) -> None:
    req.ctx.can("identity:delete_endpoint", target(req))
    with db.write() as s:
        cat.delete_endpoint(s, req.params["endpoint_id"])


# ------------------------------------------------------------------ /v3/policies
POLICY = Resource("policy", "policies", [
    Field("type", create=True, update=True, required=True, min_length=1, max_length=255, filter=True),
    Field("blob", create=True, update=True, required=True),
], allow_extra=True)

ENDPOINT_GROUP = Resource("endpoint_group", "endpoint_groups", [
    Field("name", create=True, update=True, required=True, min_length=1, max_length=255, filter=True),
    Field("description", create=True, update=True, nullable=True),
    Field("filters", type=dict, create=True, update=True, required=True, parse=cat.check_filters),
])


def policy_view(req: Req, p: Any) -> dict[str, Any]:
    out = dict(p.extra or {})
    out.update({"id": p.id, "type": p.type, "blob": p.blob, "links": views.link(req, "policies", p.id)})
    return out


def list_policies(req: Req) -> dict:
    req.ctx.can("identity:list_policies", target(req))
    with db.read() as s:
        return views.collection(req, "policies", [policy_view(req, p) for p in
                                                  cat.list_policies(s, req.query.get("type"))])


def create_policy(req: Req) -> Reply:
    values = member_body(req, POLICY, "create")
    req.ctx.can("identity:create_policy", target(req))
    with db.write() as s:
        return Reply(201, {"policy": policy_view(req, cat.create_policy(s, values))})


def show_policy(req: Req) -> dict:
    req.ctx.can("identity:get_policy", target(req))
    with db.read() as s:
        return {"policy": policy_view(req, cat.get_policy(s, req.params["policy_id"]))}


def update_policy(req: Req) -> dict:
    values = member_body(req, POLICY, "update")
    req.ctx.can("identity:update_policy", target(req))
    with db.write() as s:
        return {"policy": policy_view(req, cat.update_policy(s, req.params["policy_id"], values))}


def delete_policy(req: Req) -> None:
    req.ctx.can("identity:delete_policy", target(req))
    with db.write() as s:
        cat.delete_policy(s, req.params["policy_id"])


# ------------------------------------------------------------------ OS-EP-FILTER endpoint groups
def group_view(req: Req, g: Any) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "description": g.description, "filters": g.filters or {},
            "links": {"self": f"{req.service_url}/v3/OS-EP-FILTER/endpoint_groups/{g.id}"}}


def list_groups(req: Req) -> dict:
    req.ctx.can("identity:list_endpoint_groups", target(req))
    with db.read() as s:
        return views.collection(req, "endpoint_groups", [group_view(req, g) for g in
                                                         cat.list_groups(s, req.query.get("name"))])


def create_group(req: Req) -> Reply:
    values = member_body(req, ENDPOINT_GROUP, "create")
    req.ctx.can("identity:create_endpoint_group", target(req))
    with db.write() as s:
        return Reply(201, {"endpoint_group": group_view(req, cat.create_group(s, values))})


def show_group(req: Req) -> dict:
    req.ctx.can("identity:get_endpoint_group", target(req))
    with db.read() as s:
        return {"endpoint_group": group_view(req, cat.get_group(s, req.params["endpoint_group_id"]))}


def update_group(req: Req) -> dict:
    values = member_body(req, ENDPOINT_GROUP, "update")
    req.ctx.can("identity:update_endpoint_group", target(req))
    with db.write() as s:
        return {"endpoint_group": group_view(req, cat.update_group(s, req.params["endpoint_group_id"], values))}


def delete_group(req: Req) -> None:
    req.ctx.can("identity:delete_endpoint_group", target(req))
    with db.write() as s:
        cat.delete_group(s, req.params["endpoint_group_id"])


def group_endpoints(req: Req) -> dict:
    req.ctx.can("identity:list_endpoints_associated_with_endpoint_group", target(req))
    with db.read() as s:
        g = cat.get_group(s, req.params["endpoint_group_id"])
        return views.collection(req, "endpoints", [endpoint_view(req, e) for e in cat.group_endpoints(s, g)])


def group_projects(req: Req) -> dict:
    req.ctx.can("identity:list_projects_associated_with_endpoint_group", target(req))
    from onestack.identity import models as m
    with db.read() as s:
        ps = [s.get(m.Project, pid) for pid in cat.group_projects(s, req.params["endpoint_group_id"])]
        return views.collection(req, "projects", [views.project(req, p) for p in ps if p is not None])


def groups_for_project(req: Req) -> dict:
    req.ctx.can("identity:list_endpoint_groups_for_project", target(req))
    with db.read() as s:
        return views.collection(req, "endpoint_groups", [group_view(req, g) for g in
                                                         cat.groups_for_project(s, req.params["project_id"])])


def associate_group(req: Req) -> None:
    req.ctx.can("identity:add_endpoint_group_to_project", target(req))
    with db.write() as s:
        cat.associate(s, req.params["endpoint_group_id"], req.params["project_id"])


def check_group_association(req: Req) -> dict:
    req.ctx.can("identity:get_endpoint_group_in_project", target(req))
    from onestack.identity.service import get_project
    with db.read() as s:
        cat.association(s, req.params["endpoint_group_id"], req.params["project_id"])
        return {"project": views.project(req, get_project(s, req.params["project_id"]))}


def dissociate_group(req: Req) -> None:
    req.ctx.can("identity:remove_endpoint_group_from_project", target(req))
    with db.write() as s:
        cat.dissociate(s, req.params["endpoint_group_id"], req.params["project_id"])
