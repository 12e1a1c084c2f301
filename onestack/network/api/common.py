"""Generic Neutron handlers: one declaration per resource drives list/show/create/update/
delete, `fields=`, filters on any attribute, sorting, limit/marker links and tags.

Each handler is: parse + validate -> req.ctx.can(rule, target) -> service -> view.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Callable

from sqlalchemy.orm import Session

from onestack import db, errors, policy
from onestack.api import pagination
from onestack.api.resource import Field, Resource
from onestack.api.routing import Reply, Req, route
from onestack.network import query as q
from onestack.network import service as svc
from onestack.network.errors import HTTPBadRequest

RESERVED = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "tags", "tags-any",
            "not-tags", "not-tags-any", "verbose"}


def ts(attr: str) -> Callable[[Any, Any], Any]:
    def render(obj: Any, _v: Any) -> Any:
        value = getattr(obj, attr)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, dt.datetime) else value
    return render


def cached(name: str, default: Any = None) -> Callable[[Any, Any], Any]:
    """Render a value a preload step attached to the row (e.g. its tags)."""
    return lambda obj, _v: getattr(obj, name, default() if callable(default) else default)


def standard(name_len: int = 255, with_name: bool = True, tags: bool = True,
             desc: bool = True) -> list[Field]:
    out = [Field("id", filter=True, sort=True)]
    if with_name:
        out.append(Field("name", create=True, update=True, filter=True, sort=True, max_length=name_len,
                         nullable=False))
    if desc:
        out.append(Field("description", create=True, update=True, filter=True, sort=True, max_length=255))
    out += [
        Field("project_id", create=True, filter=True, sort=True, max_length=255),
        Field("tenant_id", attr="project_id", create=True, filter=True, sort=True, max_length=255),
        Field("created_at", render=ts("created_at"), sort=True),
        Field("updated_at", render=ts("updated_at"), sort=True),
        Field("revision_number", type=int, filter=True, sort=True),
    ]
    if tags:
        out.append(Field("tags", render=cached("_tags", list)))
    return out


@dataclasses.dataclass
class API:
    kind: q.Kind
    resource: Resource
    create: Callable[..., Any] | None = None          # (s, ctx, values, req) -> row
    update: Callable[..., Any] | None = None          # (s, ctx, row, values, req) -> row
    delete: Callable[..., Any] | None = None          # (s, ctx, row) -> None
    target: Callable[[Session, Any, dict], dict] | None = None    # extra policy target keys
    target_ctx: Callable[[Session, Any, Any], dict] | None = None  # (s, ctx, row): caller-dependent keys
    create_target: Callable[[Session, Any, dict], dict] | None = None
    preload: Callable[[Session, Any, list], None] | None = None
    where: Callable[[Req], list] | None = None        # extra list filters
    before_list: Callable[[Any], None] | None = None
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)  # attribute-rule defaults
    after: Callable[[str, Any], None] | None = None   # (verb, row) after commit (agent)
    extend: Callable[[Any, dict], None] | None = None  # (row, rendered) adds conditional keys
    collection_path: str = ""

    @property
    def name(self) -> str:
        return self.kind.name

    @property
    def path(self) -> str:
        return self.collection_path or f"/v2.0/{self.kind.collection}"


# ------------------------------------------------------------------ helpers
def _convert(f: Field, value: Any) -> Any:
    """Neutron's convert_to_int / convert_to_boolean: "1400" -> 1400, "true" -> True."""
    types = f.type if isinstance(f.type, tuple) else (f.type,)
    if isinstance(value, str):
        if int in types and str not in types:
            try:
                return int(value)
            except ValueError:
                return value
        if bool in types and str not in types and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
    if isinstance(value, int) and not isinstance(value, bool) and bool in types and value in (0, 1):
        return bool(value)
    return value


def parse(api: API, body: Any, mode: str) -> dict[str, Any]:
    if isinstance(body, dict):
        body = {k: (_convert(api.resource.by_wire[k], v) if k in api.resource.by_wire else v)
                for k, v in body.items()}
    try:
        return api.resource.parse(body, mode)
    except errors.ValidationError as e:
        raise HTTPBadRequest(f"Invalid input for operation: {e.message}") from None


def body_of(req: Req, key: str) -> Any:
    body = req.json()
    if not isinstance(body, dict) or key not in body:
        raise HTTPBadRequest(f"Resource body required: '{key}' is missing.")
    return body[key]


_RULES: set[str] | None = None


def has_rule(name: str) -> bool:
    global _RULES
    if _RULES is None or name not in _RULES:
        _RULES = set(policy.defaults())
    return name in _RULES


def row_target(api: API, s: Session, row: Any, ctx: Any = None) -> dict[str, Any]:
    t = {c.key: getattr(row, c.key) for c in row.__table__.columns}
    t["tenant_id"] = t.get("project_id")
    if api.target:
        t.update(api.target(s, row, t))
    if api.target_ctx and ctx is not None:
        t.update(api.target_ctx(s, ctx, row))
    return t


def check_attrs(req: Req, api: API, verb: str, item: dict[str, Any], target: dict[str, Any]) -> None:
    for wire, value in item.items():
        rule = f"network:{verb}_{api.name}:{wire}"
        if not has_rule(rule):
            continue
        if verb == "create" and wire in api.defaults and value == api.defaults[wire]:
            continue
        req.ctx.can(rule, target)
        if isinstance(value, list):
            for sub in ("ip_address", "subnet_id", "mac_address"):
                sub_rule = f"{rule}:{sub}"
                if has_rule(sub_rule) and any(isinstance(x, dict) and x.get(sub) is not None for x in value):
                    req.ctx.can(sub_rule, target)


def hidden_fields(req: Req, api: API, target: dict[str, Any] | None = None) -> set[str]:
    out = set()
    for f in api.resource.fields:
        rule = f"network:get_{api.name}:{f.wire}"
        if has_rule(rule) and not req.ctx.can(rule, target or {"project_id": req.ctx.project_id}, fatal=False):
            out.add(f.wire)
    return out


def render(req: Req, api: API, row: Any, hidden: set[str] | None = None) -> dict[str, Any]:
    fields = [f for f in req.query_all("fields") if f]
    out = api.resource.render(row, only=fields or None)
    if api.extend is not None:
        api.extend(row, out)
        if fields:
            for k in [k for k in out if k not in fields]:
                out.pop(k)
    for h in hidden or ():
        out.pop(h, None)
    return out


def load(s: Session, api: API, ctx: Any, id_: str) -> Any:
    return q.get(s, api.kind, ctx, id_)


def preload(s: Session, api: API, ctx: Any, rows: list[Any]) -> None:
    if api.kind.tag_type:
        tags = svc.tags_of(s, [r.id for r in rows])
        for r in rows:
            r._tags = tags[r.id]
    if api.preload and rows:
        api.preload(s, ctx, rows)


def list_filters(req: Req, api: API) -> list[Any]:
    by_attr: dict[str, tuple[str, list[str]]] = {}
    for key, value in req.query_items:
        if key in RESERVED:
            continue
        f = api.resource.by_wire.get(key)
        if f is None or not f.filter:
            continue
        by_attr.setdefault(f.attr, (key, []))[1].append(value)
    where = q.column_filters(api.kind.model, by_attr)
    if api.kind.tag_type:
        where += q.tag_filters(api.kind, req.query)
    if api.where:
        where += api.where(req)
    return where


# ------------------------------------------------------------------ handlers
def make_list(api: API) -> Callable[[Req], dict]:
    wire_to_attr = {f.wire: f.attr for f in api.resource.fields if f.sort}

    def handler(req: Req) -> dict:
        if not req.ctx.can(f"network:get_{api.name}", {"project_id": req.ctx.project_id,
                                                        "tenant_id": req.ctx.project_id}, fatal=False):
            return {api.kind.collection: []}      # upstream filters the list down to nothing
        limit = pagination.parse_limit(req.query.get("limit"), None, maximum=10000)
        sort = pagination.parse_sort(req, list(wire_to_attr), [("id", "asc")])
        sort = [(wire_to_attr[k], d) for k, d in sort]
        reverse = req.query.get("page_reverse", "").lower() == "true"
        where = list_filters(req, api)
        if api.before_list:
            api.before_list(req.ctx)
        with db.read() as s:
            rows = q.list_rows(s, api.kind, req.ctx, where, sort, limit, req.query.get("marker"), reverse)
            preload(s, api, req.ctx, rows)
            hidden = hidden_fields(req, api)
            items = [render(req, api, r, hidden) for r in rows]
        body: dict[str, Any] = {api.kind.collection: items}
        if limit and len(rows) >= limit:
            url = f"{req.service_url}{req.path}"
            links = [{"rel": "next", "href": pagination.next_link(url, [
                (k, v) for k, v in req.query_items if k != "page_reverse"], rows[-1].id)}]
            if req.query.get("marker"):
                links.append({"rel": "previous", "href": pagination.next_link(url, [
                    (k, v) for k, v in req.query_items if k != "page_reverse"] + [("page_reverse", "True")],
                    rows[0].id)})
            body[f"{api.kind.collection}_links"] = links
        return body
    return handler


def make_show(api: API, id_param: str = "id") -> Callable[[Req], dict]:
    def handler(req: Req) -> dict:
        with db.read() as s:
            row = load(s, api, req.ctx, req.params[id_param])
            target = row_target(api, s, row, req.ctx)
            if not req.ctx.can(f"network:get_{api.name}", target, fatal=False):
                raise api.kind.not_found(id=row.id)
            preload(s, api, req.ctx, [row])
            return {api.name: render(req, api, row, hidden_fields(req, api, target))}
    return handler


def create_one(req: Req, api: API, s: Session, item: Any) -> Any:
    values = parse(api, item, "create")
    target = {"project_id": values.get("project_id") or req.ctx.project_id}
    target["tenant_id"] = target["project_id"]
    for k, v in item.items():
        target.setdefault(k, v)
    if api.create_target:
        target.update(api.create_target(s, req.ctx, values))
    req.ctx.can(f"network:create_{api.name}", target)
    check_attrs(req, api, "create", item, target)
    return api.create(s, req.ctx, values, req)


def make_create(api: API) -> Callable[[Req], Reply]:
    def handler(req: Req) -> Reply:
        body = req.json()
        bulk = isinstance(body, dict) and api.kind.collection in body and api.name not in body
        items = body[api.kind.collection] if bulk else [body_of(req, api.name)]
        if bulk and not isinstance(items, list):
            raise HTTPBadRequest(f"Resources required: '{api.kind.collection}' must be a list.")
        with db.write() as s:
            rows = [create_one(req, api, s, item) for item in items]
            s.flush()
            ids = [r.id for r in rows]
        # render outside the write transaction: the write lock is held only for the change
        with db.read() as s:
            rows = [s.get(api.kind.model, i) for i in ids]
            preload(s, api, req.ctx, rows)
            hidden = hidden_fields(req, api)
            out = [render(req, api, r, hidden) for r in rows]
        if api.after:
            for rid in ids:
                api.after("create", rid)
        return Reply(201, {api.kind.collection: out} if bulk else {api.name: out[0]})
    return handler


def make_update(api: API, id_param: str = "id") -> Callable[[Req], dict]:
    def handler(req: Req) -> dict:
        item = body_of(req, api.name)
        values = parse(api, item, "update")
        with db.write() as s:
            row = load(s, api, req.ctx, req.params[id_param])
            target = row_target(api, s, row, req.ctx)
            if not req.ctx.can(f"network:get_{api.name}", target, fatal=False):
                raise api.kind.not_found(id=row.id)
            req.ctx.can(f"network:update_{api.name}", target)
            check_attrs(req, api, "update", item, target)
            row = api.update(s, req.ctx, row, values, req)
            s.flush()
            preload(s, api, req.ctx, [row])
            out = render(req, api, row, hidden_fields(req, api, target))
        if api.after:
            api.after("update", row.id)
        return {api.name: out}
    return handler


def make_delete(api: API, id_param: str = "id") -> Callable[[Req], None]:
    def handler(req: Req) -> None:
        with db.write() as s:
            row = load(s, api, req.ctx, req.params[id_param])
            target = row_target(api, s, row, req.ctx)
            if not req.ctx.can(f"network:get_{api.name}", target, fatal=False):
                raise api.kind.not_found(id=row.id)
            req.ctx.can(f"network:delete_{api.name}", target)
            api.delete(s, req.ctx, row)
        if api.after:
            api.after("delete", req.params[id_param])
        return None
    return handler


# ------------------------------------------------------------------ tags
def _tag_parent(req: Req, api: API, s: Session, verb: str) -> Any:
    row = load(s, api, req.ctx, req.params["id"])
    target = row_target(api, s, row, req.ctx)
    if not req.ctx.can(f"network:get_{api.name}", target, fatal=False):
        raise api.kind.not_found(id=row.id)
    if verb != "get":
        req.ctx.can(f"network:update_{api.name}", target)
    return row


def tag_routes(api: API) -> list[Any]:
    def get_tags(req: Req) -> dict:
        with db.read() as s:
            row = _tag_parent(req, api, s, "get")
            return {"tags": svc.tags_of(s, [row.id])[row.id]}

    def put_tags(req: Req) -> dict:
        body = req.json()
        if not isinstance(body, dict) or not isinstance(body.get("tags"), list):
            raise HTTPBadRequest("Invalid input for operation: the body must be {\"tags\": [...]}.")
        tags = [svc.check_tag(t) for t in body["tags"]]
        with db.write() as s:
            row = _tag_parent(req, api, s, "update")
            tags = svc.set_tags(s, api.kind, row.id, tags)
            row.revision_number += 1
        return {"tags": tags}

    def delete_tags(req: Req) -> None:
        with db.write() as s:
            row = _tag_parent(req, api, s, "update")
            svc.set_tags(s, api.kind, row.id, [])
            row.revision_number += 1

    def get_tag(req: Req) -> None:
        with db.read() as s:
            row = _tag_parent(req, api, s, "get")
            if req.params["tag"] not in svc.tags_of(s, [row.id])[row.id]:
                raise svc.ne.TagNotFound(tag=req.params["tag"])

    def put_tag(req: Req) -> Reply:
        tag = svc.check_tag(req.params["tag"])
        with db.write() as s:
            row = _tag_parent(req, api, s, "update")
            svc.add_tag(s, api.kind, row.id, tag)
            row.revision_number += 1
        return Reply(201, None)

    def delete_tag(req: Req) -> None:
        with db.write() as s:
            row = _tag_parent(req, api, s, "update")
            svc.remove_tag(s, row.id, req.params["tag"])
            row.revision_number += 1

    base = f"{api.path}/{{id}}/tags"
    return [route("GET", base, get_tags), route("PUT", base, put_tags), route("DELETE", base, delete_tags),
            route("GET", base + "/{tag}", get_tag), route("PUT", base + "/{tag}", put_tag),
            route("DELETE", base + "/{tag}", delete_tag)]


def crud_routes(api: API) -> list[Any]:
    out = [route("GET", api.path, make_list(api))]
    if api.create:
        out.append(route("POST", api.path, make_create(api)))
    out.append(route("GET", api.path + "/{id}", make_show(api)))
    if api.update:
        out.append(route("PUT", api.path + "/{id}", make_update(api)))
    if api.delete:
        out.append(route("DELETE", api.path + "/{id}", make_delete(api)))
    if api.kind.tag_type:
        out += tag_routes(api)
    return out
