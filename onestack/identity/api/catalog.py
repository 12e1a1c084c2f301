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
