"""/v2/metadefs: namespaces, objects, properties, tags, resource types."""
from __future__ import annotations

from onestack.api.routing import Reply, Req
from onestack.image import metadefs

_KIND = {"objects": "object", "properties": "property", "tags": "tag",
         "resource_types": "resource_type"}
_POLICY = {"object": "metadef_object", "property": "metadef_property", "tag": "metadef_tag",
           "resource_type": "metadef_resource_type_association"}


def _can(req: Req, action: str, what: str, namespace: str | None = None) -> None:
    req.ctx.can(f"image:{action}_{what}", metadefs.target(req.ctx, namespace))


def list_namespaces(req: Req) -> dict:
    _can(req, "get", "metadef_namespaces")
    rows = metadefs.list_namespaces(req.ctx, req.query)
    return {"namespaces": rows, "first": "/v2/metadefs/namespaces",
            "schema": "/v2/schemas/metadefs/namespaces"}


def create_namespace(req: Req) -> Reply:
    _can(req, "add", "metadef_namespace")
    return Reply(201, metadefs.create_namespace(req.ctx, req.json()))


def show_namespace(req: Req) -> dict:
    ns = req.params["namespace"]
    _can(req, "get", "metadef_namespace", ns)
    return metadefs.get_namespace(req.ctx, ns)


def update_namespace(req: Req) -> dict:
    ns = req.params["namespace"]
    _can(req, "modify", "metadef_namespace", ns)
    return metadefs.update_namespace(req.ctx, ns, req.json())


def delete_namespace(req: Req) -> None:
    ns = req.params["namespace"]
    _can(req, "delete", "metadef_namespace", ns)
    metadefs.delete_namespace(req.ctx, ns)


def _kind(req: Req) -> str:
    return _KIND[req.path.rstrip("/").split("/")[5]]


def list_items(req: Req) -> dict:
    ns, kind = req.params["namespace"], _kind(req)
    _can(req, "get", _POLICY[kind] + "s", ns)
    rows = metadefs.list_items(req.ctx, ns, kind)
    if kind == "property":
        return {"properties": {r.pop("name"): r for r in rows},
                "schema": "/v2/schemas/metadefs/properties"}
    if kind == "resource_type":
        return {"resource_type_associations": rows}
    if kind == "object":
        return {"objects": rows, "schema": "/v2/schemas/metadefs/objects"}
    return {"tags": rows}


def create_item(req: Req) -> Reply:
    ns, kind = req.params["namespace"], _kind(req)
    _can(req, "add", _POLICY[kind], ns)
    return Reply(201, metadefs.create_item(req.ctx, ns, kind, req.json()))


def create_tags(req: Req) -> Reply:
    ns = req.params["namespace"]
    _can(req, "add", "metadef_tags", ns)
    append = (req.headers.get("x-openstack-append") or "").lower() == "true"
    return Reply(201, {"tags": metadefs.replace_tags(req.ctx, ns, req.json(), append)})


def create_tag(req: Req) -> Reply:
    ns = req.params["namespace"]
    _can(req, "add", "metadef_tag", ns)
    return Reply(201, metadefs.create_item(req.ctx, ns, "tag", {"name": req.params["name"]}))


def show_item(req: Req) -> dict:
    ns, kind = req.params["namespace"], _kind(req)
    _can(req, "get", _POLICY[kind], ns)
    return metadefs.get_item(req.ctx, ns, kind, req.params["name"])


def update_item(req: Req) -> dict:
    ns, kind = req.params["namespace"], _kind(req)
    _can(req, "modify", _POLICY[kind], ns)
    return metadefs.update_item(req.ctx, ns, kind, req.params["name"], req.json())


def delete_item(req: Req) -> None:
    ns, kind = req.params["namespace"], _kind(req)
    _can(req, "remove" if kind == "resource_type" else "delete", _POLICY[kind], ns)
    metadefs.delete_item(req.ctx, ns, kind, req.params["name"])


def delete_items(req: Req) -> None:
    ns, kind = req.params["namespace"], _kind(req)
    _can(req, "delete", _POLICY[kind] + "s", ns)
    metadefs.delete_items(req.ctx, ns, kind)


def list_resource_types(req: Req) -> dict:
    _can(req, "list", "metadef_resource_types")
    return {"resource_types": metadefs.resource_types()}
