"""Metadata definitions catalog (/v2/metadefs): namespaces and, inside them, objects,
properties, tags and resource-type associations. Objects/properties/tags/associations share
one table (``image_metadef_items``) keyed by (namespace, kind, name) with a JSON body.

Visibility as upstream: public namespaces are readable by everyone, private ones by their
owner (and admins); writes are admin-only by default policy. Another project's private
namespace is a 404.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, or_, select

from onestack import db, errors
from onestack.db.base import utcnow
from onestack.image import models as m
from onestack.image.service import _ts

RESOURCE_TYPES = ("OS::Cinder::Volume", "OS::Glance::Image", "OS::Glance::Metadef",
                  "OS::Nova::Aggregate", "OS::Nova::Flavor", "OS::Nova::Instance",
                  "OS::Nova::Server", "OS::Trove::Instance")
KINDS = ("object", "property", "tag", "resource_type")
_NS_FIELDS = ("namespace", "display_name", "description", "visibility", "protected")


def _str(body: dict, key: str, required: bool = False, max_len: int = 255) -> str | None:
    v = body.get(key)
    if v is None:
        if required:
            raise errors.BadRequest(f"'{key}' is a required property")
        return None
    if not isinstance(v, str) or (required and not v.strip()) or len(v) > max_len:
        raise errors.BadRequest(f"Invalid value for '{key}': a string of at most {max_len} "
                                "characters is required.")
    return v


def _visible(ctx: Any) -> Any:
    if ctx.is_admin or ctx.is_internal:
        return True
    return or_(m.MetadefNamespace.visibility == "public",
               m.MetadefNamespace.owner == ctx.project_id)


def _ns_row(s: Any, ctx: Any, namespace: str) -> m.MetadefNamespace:
    row = s.get(m.MetadefNamespace, namespace)
    if row is None or not (ctx.is_admin or ctx.is_internal or row.visibility == "public"
                           or row.owner == ctx.project_id):
        raise errors.NotFound(f"Metadata definition namespace={namespace} was not found.")
    return row


def target(ctx: Any, namespace: str | None = None) -> dict[str, Any]:
    if namespace is None:
        return {"project_id": ctx.project_id}
    with db.read() as s:
        row = _ns_row(s, ctx, namespace)
        return {"project_id": row.owner, "owner": row.owner, "visibility": row.visibility,
                "namespace": row.namespace}


def _item_view(it: m.MetadefItem) -> dict[str, Any]:
    body = json.loads(it.body or "{}")
    out = {**body, "name": it.name}
    if it.kind in ("object", "tag", "resource_type"):
        out["created_at"] = _ts(it.created_at)
        out["updated_at"] = _ts(it.updated_at)
    if it.kind == "object":
        out["schema"] = "/v2/schemas/metadefs/object"
        out["self"] = f"/v2/metadefs/namespaces/{it.namespace}/objects/{it.name}"
    return out


def _ns_view(s: Any, row: m.MetadefNamespace, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "namespace": row.namespace, "display_name": row.display_name,
        "description": row.description, "visibility": row.visibility,
        "protected": bool(row.protected), "owner": row.owner,
        "created_at": _ts(row.created_at), "updated_at": _ts(row.updated_at),
        "schema": "/v2/schemas/metadefs/namespace",
        "self": f"/v2/metadefs/namespaces/{row.namespace}"}
    out = {k: v for k, v in out.items() if v is not None}
    items = list(s.scalars(select(m.MetadefItem).where(m.MetadefItem.namespace == row.namespace)
                           .order_by(m.MetadefItem.created_at, m.MetadefItem.name)))
    rts = [_item_view(i) for i in items if i.kind == "resource_type"]
    if rts:
        out["resource_type_associations"] = rts
    if full:
        props = {i.name: {k: v for k, v in _item_view(i).items() if k != "name"}
                 for i in items if i.kind == "property"}
        objs = [_item_view(i) for i in items if i.kind == "object"]
        tags = [{"name": i.name} for i in items if i.kind == "tag"]
        if props:
            out["properties"] = props
        if objs:
            out["objects"] = objs
        if tags:
            out["tags"] = tags
    return out


def _ns_values(body: Any, partial: bool = False) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadRequest("The request body must be a JSON object.")
    vals: dict[str, Any] = {"namespace": _str(body, "namespace", required=True, max_len=80)}
    vals["display_name"] = _str(body, "display_name", max_len=80)
    vals["description"] = _str(body, "description", max_len=500)
    vis = body.get("visibility", "private")
    if vis not in ("public", "private"):
        raise errors.BadRequest(f"Invalid visibility value: {vis}")
    vals["visibility"] = vis
    prot = body.get("protected", False)
    if not isinstance(prot, bool):
        raise errors.BadRequest("'protected' must be a boolean.")
    vals["protected"] = prot
    return vals


def _add_item(s: Any, namespace: str, kind: str, name: str, body: dict[str, Any]) -> m.MetadefItem:
    if s.get(m.MetadefItem, (namespace, kind, name)) is not None:
        raise errors.Conflict(f"A metadata definition {kind} with name={name} already exists in "
                              f"namespace={namespace}.")
    now = utcnow()
    it = m.MetadefItem(namespace=namespace, kind=kind, name=name,
                       body=json.dumps({k: v for k, v in body.items() if k not in
                                        ("name", "created_at", "updated_at", "schema", "self")}),
                       created_at=now, updated_at=now)
    s.add(it)
    return it


def _assoc_body(body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise errors.BadRequest("A resource type association is a JSON object.")
    name = _str(body, "name", required=True, max_len=80)
    assert name is not None
    extra = {k: body[k] for k in ("prefix", "properties_target") if body.get(k) is not None}
    for k, v in extra.items():
        if not isinstance(v, str):
            raise errors.BadRequest(f"'{k}' must be a string.")
    return name, extra


def create_namespace(ctx: Any, body: Any) -> dict[str, Any]:
    vals = _ns_values(body)
    with db.write() as s:
        if s.get(m.MetadefNamespace, vals["namespace"]) is not None:
            raise errors.Conflict(f"Metadata definition namespace={vals['namespace']} already exists.")
        now = utcnow()
        row = m.MetadefNamespace(owner=body.get("owner") if ctx.is_admin and
                                 isinstance(body.get("owner"), str) else ctx.project_id,
                                 created_at=now, updated_at=now, **vals)
        s.add(row)
        s.flush()
        for rt in body.get("resource_type_associations") or []:
            name, extra = _assoc_body(rt)
            _add_item(s, row.namespace, "resource_type", name, extra)
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise errors.BadRequest("'properties' must be an object.")
        for name, p in props.items():
            _add_item(s, row.namespace, "property", name, _property_body({**p, "name": name}
                                                                          if isinstance(p, dict) else p)[1])
        for o in body.get("objects") or []:
            name, ob = _object_body(o)
            _add_item(s, row.namespace, "object", name, ob)
        for t in body.get("tags") or []:
            if not isinstance(t, dict) or not isinstance(t.get("name"), str):
                raise errors.BadRequest("Tags are objects with a 'name'.")
            _add_item(s, row.namespace, "tag", t["name"], {})
        s.flush()
        return _ns_view(s, row)


def list_namespaces(ctx: Any, query: dict[str, str]) -> list[dict[str, Any]]:
    with db.read() as s:
        stmt = select(m.MetadefNamespace).where(_visible(ctx))
        if query.get("visibility") in ("public", "private"):
            stmt = stmt.where(m.MetadefNamespace.visibility == query["visibility"])
        rows = list(s.scalars(stmt.order_by(m.MetadefNamespace.created_at,
                                            m.MetadefNamespace.namespace)))
        out = [_ns_view(s, r, full=False) for r in rows]
        rt = query.get("resource_types")
        if rt:
            wanted = set(rt.split(","))
            out = [n for n in out if wanted & {a["name"] for a in n.get("resource_type_associations", [])}]
        return out


def get_namespace(ctx: Any, namespace: str) -> dict[str, Any]:
    with db.read() as s:
        return _ns_view(s, _ns_row(s, ctx, namespace))


def update_namespace(ctx: Any, namespace: str, body: Any) -> dict[str, Any]:
    vals = _ns_values(body)
    with db.write() as s:
        row = _ns_row(s, ctx, namespace)
        new_name = vals["namespace"]
        if new_name != namespace and s.get(m.MetadefNamespace, new_name) is not None:
            raise errors.Conflict(f"Metadata definition namespace={new_name} already exists.")
        for k, v in vals.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        s.flush()
        return _ns_view(s, row)


def delete_namespace(ctx: Any, namespace: str) -> None:
    with db.write() as s:
        row = _ns_row(s, ctx, namespace)
        if row.protected:
            raise errors.Forbidden(f"Namespace {namespace} is protected and cannot be deleted.")
        s.execute(delete(m.MetadefItem).where(m.MetadefItem.namespace == namespace))
        s.delete(row)


# ------------------------------------------------------------------ items

def _object_body(body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise errors.BadRequest("A metadata definition object is a JSON object.")
    name = _str(body, "name", required=True, max_len=80)
    assert name is not None
    out: dict[str, Any] = {}
    if body.get("description") is not None:
        out["description"] = _str(body, "description", max_len=500)
    req = body.get("required", [])
    if not isinstance(req, list) or not all(isinstance(x, str) for x in req):
        raise errors.BadRequest("'required' must be a list of strings.")
    out["required"] = req
    props = body.get("properties", {})
    if not isinstance(props, dict):
        raise errors.BadRequest("'properties' must be an object.")
    out["properties"] = props
    return name, out


_PROP_TYPES = ("array", "boolean", "integer", "number", "object", "string", None)


def _property_body(body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise errors.BadRequest("A metadata definition property is a JSON object.")
    name = _str(body, "name", required=True, max_len=80)
    assert name is not None
    if not isinstance(body.get("title"), str):
        raise errors.BadRequest("'title' is a required property")
    if body.get("type") not in _PROP_TYPES or body.get("type") is None:
        raise errors.BadRequest(f"Invalid type {body.get('type')!r}; one of "
                                f"{[t for t in _PROP_TYPES if t]}.")
    if "enum" in body and not isinstance(body["enum"], list):
        raise errors.BadRequest("'enum' must be a list.")
    return name, {k: v for k, v in body.items() if k != "name"}


def _item_row(s: Any, namespace: str, kind: str, name: str) -> m.MetadefItem:
    it = s.get(m.MetadefItem, (namespace, kind, name))
    if it is None:
        label = "resource type association" if kind == "resource_type" else kind
        raise errors.NotFound(f"Metadata definition {label} not found for namespace={namespace}: "
                              f"{name}")
    return it


def create_item(ctx: Any, namespace: str, kind: str, body: Any) -> dict[str, Any]:
    if kind == "object":
        name, data = _object_body(body)
    elif kind == "property":
        name, data = _property_body(body)
    elif kind == "resource_type":
        name, data = _assoc_body(body)
        if name not in RESOURCE_TYPES:
            raise errors.NotFound(f"Failed to find resource type {name}")
    else:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or not body["name"].strip() or len(body["name"]) > 255:
            raise errors.BadRequest("A tag needs a 'name'.")
        name, data = body["name"], {}
    with db.write() as s:
        _ns_row(s, ctx, namespace)
        it = _add_item(s, namespace, kind, name, data)
        s.flush()
        return _item_view(it)


def list_items(ctx: Any, namespace: str, kind: str) -> list[dict[str, Any]]:
    with db.read() as s:
        _ns_row(s, ctx, namespace)
        rows = s.scalars(select(m.MetadefItem).where(m.MetadefItem.namespace == namespace,
                                                     m.MetadefItem.kind == kind)
                         .order_by(m.MetadefItem.created_at, m.MetadefItem.name))
        return [_item_view(i) for i in rows]


def get_item(ctx: Any, namespace: str, kind: str, name: str) -> dict[str, Any]:
    with db.read() as s:
        _ns_row(s, ctx, namespace)
        return _item_view(_item_row(s, namespace, kind, name))


def update_item(ctx: Any, namespace: str, kind: str, name: str, body: Any) -> dict[str, Any]:
    if kind == "object":
        new_name, data = _object_body(body)
    elif kind == "property":
        new_name, data = _property_body(body)
    else:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or not body["name"].strip():
            raise errors.BadRequest("A tag needs a 'name'.")
        new_name, data = body["name"], {}
    with db.write() as s:
        _ns_row(s, ctx, namespace)
        it = _item_row(s, namespace, kind, name)
        if new_name != name:
            if s.get(m.MetadefItem, (namespace, kind, new_name)) is not None:
                raise errors.Conflict(f"A metadata definition {kind} with name={new_name} already "
                                      f"exists in namespace={namespace}.")
            created = it.created_at
            s.delete(it)
            s.flush()
            it = _add_item(s, namespace, kind, new_name, data)
            it.created_at = created
        else:
            it.body = json.dumps(data)
            it.updated_at = utcnow()
        s.flush()
        return _item_view(it)


def delete_item(ctx: Any, namespace: str, kind: str, name: str) -> None:
    with db.write() as s:
        ns = _ns_row(s, ctx, namespace)
        if ns.protected and kind != "resource_type":
            raise errors.Forbidden(f"Namespace {namespace} is protected.")
        s.delete(_item_row(s, namespace, kind, name))


def delete_items(ctx: Any, namespace: str, kind: str) -> None:
    with db.write() as s:
        ns = _ns_row(s, ctx, namespace)
        if ns.protected:
            raise errors.Forbidden(f"Namespace {namespace} is protected.")
        s.execute(delete(m.MetadefItem).where(m.MetadefItem.namespace == namespace,
                                              m.MetadefItem.kind == kind))


def replace_tags(ctx: Any, namespace: str, body: Any, append: bool) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
        raise errors.BadRequest("The body needs a 'tags' list.")
    names = []
    for t in body["tags"]:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"].strip():
            raise errors.BadRequest("Each tag is an object with a 'name'.")
        names.append(t["name"])
    if len(set(names)) != len(names):
        raise errors.Conflict("Duplicate tags in the request.")
    with db.write() as s:
        _ns_row(s, ctx, namespace)
        if not append:
            s.execute(delete(m.MetadefItem).where(m.MetadefItem.namespace == namespace,
                                                  m.MetadefItem.kind == "tag"))
            s.flush()
        out = [_item_view(_add_item(s, namespace, "tag", n, {})) for n in names]
        s.flush()
        return [{"name": t["name"]} for t in out]


def resource_types() -> list[dict[str, Any]]:
    stamp = "2014-08-28T18:13:04Z"
    return [{"name": n, "created_at": stamp, "updated_at": stamp} for n in RESOURCE_TYPES]
