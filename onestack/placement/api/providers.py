"""/resource_providers and their inventories, usages, traits, aggregates, allocations."""
from __future__ import annotations

import re
from typing import Any

from onestack import db
from onestack.api.routing import Reply, Req
from onestack.placement import errors as perr
from onestack.placement import service as svc
from onestack.placement.api.common import GEN, UUID, body, check_uuid, mv, reply, require

NAME = {"type": "string", "minLength": 1, "maxLength": 200}


def provider_view(req: Req, s: Any, rp: Any) -> dict[str, Any]:
    base = f"/resource_providers/{rp.uuid}"
    links = [("self", base), ("inventories", base + "/inventories"), ("usages", base + "/usages")]
    if mv(req, "1.1"):
        links.append(("aggregates", base + "/aggregates"))
    if mv(req, "1.6"):
        links.append(("traits", base + "/traits"))
    if mv(req, "1.11"):
        links.append(("allocations", base + "/allocations"))
    out = {"uuid": rp.uuid, "name": rp.name, "generation": rp.generation,
           "links": [{"rel": r, "href": "/placement" + h} for r, h in links]}
    if mv(req, "1.14"):
        out["parent_provider_uuid"] = rp.parent_uuid
        out["root_provider_uuid"] = rp.root_uuid
    return out


def _pol(req: Req, rule: str) -> None:
    req.ctx.can(f"placement:{rule}", {"project_id": req.ctx.project_id})


def _resources_query(value: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in value.split(","):
        rc, sep, amount = item.partition(":")
        rc = rc.strip()
        if not sep or not rc:
            raise perr.QueryBadValue(f"Badly formed resources parameter. Expected resources query "
                                     f"string parameter in form: ?resources=VCPU:2,MEMORY_MB:1024. "
                                     f"Got: {value}.")
        try:
            n = int(amount)
        except ValueError:
            raise perr.QueryBadValue(f"Requested resource {rc} expected positive integer amount. "
                                     f"Got: {amount}.") from None
        if n < 1:
            raise perr.QueryBadValue(f"Requested resource {rc} requires amount >= 1. Got: {n}.")
        if rc in out:
            raise perr.QueryBadValue(f"Resource {rc} appears more than once in the request.")
        out[rc] = n
    return out


def member_of_query(req: Req, values: list[str]) -> list[tuple[set[str], bool]]:
    if len(values) > 1 and not mv(req, "1.24"):
        raise perr.BadRequest("Multiple member_of parameters are not supported until microversion 1.24.")
    out = []
    for v in values:
        forbidden = False
        if v.startswith("!"):
            if not mv(req, "1.32"):
                raise perr.QueryBadValue(f"Invalid query string parameters: member_of: '{v}' is invalid.")
            forbidden, v = True, v[1:]
        if v.startswith("in:"):
            v = v[3:]
            if forbidden:
                raise perr.QueryBadValue("The forbidden member_of parameter does not accept 'in:'.")
        aggs = {a for a in v.split(",") if a}
        if not aggs:
            raise perr.QueryBadValue("member_of must contain at least one aggregate UUID.")
        for a in aggs:
            check_uuid(a, "aggregate uuid in member_of")
        out.append((aggs, forbidden))
    return out


def required_query(req: Req, values: list[str], s: Any) -> svc.TraitFilter:
    f = svc.TraitFilter()
    for v in values:
        if v.startswith("in:") and mv(req, "1.39"):
            names = {t for t in v[3:].split(",") if t}
            f.any.append(names)
            continue
        for t in v.split(","):
            t = t.strip()
            if not t:
                raise perr.QueryBadValue(f"Invalid query string parameters: Expected 'required' "
                                         f"parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. "
                                         f"Got: {v}")
            if t.startswith("!"):
                if not mv(req, "1.22"):
                    raise perr.QueryBadValue(f"Invalid query string parameters: Expected 'required' "
                                             f"parameter value of the form: HW_CPU_X86_VMX,CUSTOM_MAGIC. "
                                             f"Got: {v}")
                f.forbidden.add(t[1:])
            else:
                f.all.add(t)
    missing = svc.names_exist(s, f.names())
    if missing:
        raise perr.BadRequest(f"No such trait(s): {', '.join(missing)}")
    if f.all & f.forbidden:
        raise perr.BadRequest(f"Conflicting required and forbidden traits found: "
                              f"{', '.join(sorted(f.all & f.forbidden))}")
    return f


# ------------------------------------------------------------------ providers
def list_providers(req: Req) -> Reply:
    _pol(req, "resource_providers:list")
    allowed = {"name", "uuid"}
    if mv(req, "1.3"):
        allowed.add("member_of")
    if mv(req, "1.4"):
        allowed.add("resources")
    if mv(req, "1.14"):
        allowed.add("in_tree")
    if mv(req, "1.18"):
        allowed.add("required")
    for k, _ in req.query_items:
        if k not in allowed:
            raise perr.BadRequest(f"Invalid query string parameters: Additional properties are not "
                                  f"allowed ('{k}' was unexpected)")
    q = req.query
    with db.read() as s:
        kw: dict[str, Any] = {}
        if "name" in q:
            kw["name"] = q["name"]
        if "uuid" in q:
            kw["rp_uuid"] = check_uuid(q["uuid"])
        if "member_of" in q:
            kw["member_of"] = member_of_query(req, req.query_all("member_of"))
        if "resources" in q:
            res = _resources_query(q["resources"])
            for rc in res:
                if not svc.resource_class_exists(s, rc):
                    raise perr.BadRequest(f"Invalid resource class in resources parameter: No such "
                                          f"resource class {rc}.")
            kw["resources"] = res
        if "in_tree" in q:
            kw["in_tree"] = check_uuid(q["in_tree"])
        if "required" in q:
            kw["required"] = required_query(req, req.query_all("required"), s)
        rows = svc.list_providers(s, **kw)
        latest = max((r.updated_at for r in rows), default=None)
        return reply(req, {"resource_providers": [provider_view(req, s, r) for r in rows]}, modified=latest)


def create_provider(req: Req) -> Reply:
    _pol(req, "resource_providers:create")
    props = {"name": NAME, "uuid": UUID}
    if mv(req, "1.14"):
        props["parent_provider_uuid"] = {"anyOf": [UUID, {"type": "null"}]}
    data = body(req, {"type": "object", "properties": props, "required": ["name"],
                      "additionalProperties": False})
    with db.write() as s:
        rp = svc.create_provider(s, data["name"], data.get("uuid") and check_uuid(data["uuid"]),
                                 data.get("parent_provider_uuid"))
        loc = {"location": f"{req.service_url}/resource_providers/{rp.uuid}"}
        if mv(req, "1.20"):
            return reply(req, provider_view(req, s, rp), 200, loc, modified=rp.updated_at)
        return Reply(201, None, loc)


def _load(s: Any, req: Req) -> Any:
    return svc.get_provider(s, req.params["uuid"])


def show_provider(req: Req) -> Reply:
    _pol(req, "resource_providers:show")
    with db.read() as s:
        rp = _load(s, req)
        return reply(req, provider_view(req, s, rp), modified=rp.updated_at)


def update_provider(req: Req) -> Reply:
    _pol(req, "resource_providers:update")
    props: dict[str, Any] = {"name": NAME}
    if mv(req, "1.14"):
        props["parent_provider_uuid"] = {"anyOf": [UUID, {"type": "null"}]}
    data = body(req, {"type": "object", "properties": props, "required": ["name"],
                      "additionalProperties": False})
    with db.write() as s:
        rp = _load(s, req)
        parent: Any = ...
        if "parent_provider_uuid" in data:
            parent = data["parent_provider_uuid"]
            if parent is None and rp.parent_uuid is not None and not mv(req, "1.37"):
                raise perr.BadRequest("un-parenting a provider is not currently allowed.")
            if parent is not None and rp.parent_uuid not in (None, parent) and not mv(req, "1.37"):
                raise perr.BadRequest("re-parenting a provider is not currently allowed.")
        rp = svc.update_provider(s, rp.uuid, data["name"], parent)
        return reply(req, provider_view(req, s, rp), modified=rp.updated_at)


def delete_provider(req: Req) -> None:
    _pol(req, "resource_providers:delete")
    with db.write() as s:
        svc.delete_provider(s, req.params["uuid"])


# ------------------------------------------------------------------ inventories
INV_PROPS = {
    "total": {"type": "integer", "maximum": svc.MAX_INT, "minimum": 1},
    "reserved": {"type": "integer", "maximum": svc.MAX_INT, "minimum": 0},
    "min_unit": {"type": "integer", "maximum": svc.MAX_INT, "minimum": 1},
    "max_unit": {"type": "integer", "maximum": svc.MAX_INT, "minimum": 1},
    "step_size": {"type": "integer", "maximum": svc.MAX_INT, "minimum": 1},
    "allocation_ratio": {"type": "number", "maximum": 3.40282e+38, "exclusiveMinimum": True, "minimum": 0},
}
INV_ONE = {"type": "object", "properties": INV_PROPS, "required": ["total"], "additionalProperties": False}
RC_PATTERN = "^[A-Z0-9_]+$"


def _inv_view(inv: Any) -> dict[str, Any]:
    return {k: getattr(inv, k) for k in svc.INV_FIELDS}


def list_inventories(req: Req) -> Reply:
    _pol(req, "resource_providers:inventories:list")
    with db.read() as s:
        rp = _load(s, req)
        invs = svc.inventories(s, rp.uuid)
        return reply(req, {"resource_provider_generation": rp.generation,
                           "inventories": {rc: _inv_view(i) for rc, i in invs.items()}}, modified=rp.updated_at)


def put_inventories(req: Req) -> Reply:
    _pol(req, "resource_providers:inventories:update")
    data = body(req, {"type": "object", "properties": {
        "resource_provider_generation": GEN,
        "inventories": {"type": "object", "patternProperties": {RC_PATTERN: INV_ONE},
                        "additionalProperties": False}},
        "required": ["resource_provider_generation", "inventories"], "additionalProperties": False})
    with db.write() as s:
        rp = _load(s, req)
        svc.set_inventories(s, rp, data["resource_provider_generation"], data["inventories"],
                            allow_reserved_equal=mv(req, "1.26"))
        s.refresh(rp)
        invs = svc.inventories(s, rp.uuid)
        return reply(req, {"resource_provider_generation": rp.generation,
                           "inventories": {rc: _inv_view(i) for rc, i in invs.items()}}, modified=rp.updated_at)


def post_inventory(req: Req) -> Reply:
    _pol(req, "resource_providers:inventories:create")
    props = dict(INV_PROPS, resource_class={"type": "string", "pattern": RC_PATTERN},
                 resource_provider_generation=GEN)
    data = body(req, {"type": "object", "properties": props,
                      "required": ["total", "resource_class", "resource_provider_generation"],
                      "additionalProperties": False})
    rc = data.pop("resource_class")
    gen = data.pop("resource_provider_generation")
    with db.write() as s:
        rp = _load(s, req)
        invs = {k: _inv_view(v) for k, v in svc.inventories(s, rp.uuid).items()}
        if rc in invs:
            raise perr.Conflict(f"Update conflict: Inventory for {rc} on resource provider {rp.uuid} "
                                "already exists.")
        invs[rc] = data
        svc.set_inventories(s, rp, gen, invs, allow_reserved_equal=mv(req, "1.26"))
        s.refresh(rp)
        inv = svc.inventories(s, rp.uuid)[rc]
        return reply(req, {"resource_provider_generation": rp.generation, **_inv_view(inv)}, 201,
                     {"location": f"{req.service_url}/resource_providers/{rp.uuid}/inventories/{rc}"})


def show_inventory(req: Req) -> Reply:
    _pol(req, "resource_providers:inventories:show")
    rc = req.params["rc"]
    with db.read() as s:
        rp = _load(s, req)
        inv = svc.inventories(s, rp.uuid).get(rc)
        if inv is None:
            raise perr.NotFound(f"No inventory of class {rc} for {rp.uuid}")
        return reply(req, {"resource_provider_generation": rp.generation, **_inv_view(inv)})


def put_inventory(req: Req) -> Reply:
    _pol(req, "resource_providers:inventories:update")
    props = dict(INV_PROPS, resource_provider_generation=GEN)
    data = body(req, {"type": "object", "properties": props,
                      "required": ["total", "resource_provider_generation"], "additionalProperties": False})
    rc = req.params["rc"]
    gen = data.pop("resource_provider_generation")
    with db.write() as s:
        rp = _load(s, req)
        invs = {k: _inv_view(v) for k, v in svc.inventories(s, rp.uuid).items()}
        if rc not in invs:
            if not svc.resource_class_exists(s, rc):
                raise perr.BadRequest(f"Unknown resource class in inventory for resource provider "
                                      f"{rp.uuid}: {rc}")
            raise perr.BadRequest(f"No inventory record with resource class for resource provider "
                                  f"{rp.uuid}: {rc}")
        invs[rc] = data
        svc.set_inventories(s, rp, gen, invs, allow_reserved_equal=mv(req, "1.26"))
        s.refresh(rp)
        inv = svc.inventories(s, rp.uuid)[rc]
        return reply(req, {"resource_provider_generation": rp.generation, **_inv_view(inv)})


def delete_inventory(req: Req) -> None:
    _pol(req, "resource_providers:inventories:delete")
    with db.write() as s:
        rp = _load(s, req)
        svc.delete_inventory(s, rp, req.params["rc"], None)


def delete_inventories(req: Req) -> None:
    require(req, "1.5")
    _pol(req, "resource_providers:inventories:delete")
    with db.write() as s:
        rp = _load(s, req)
        svc.set_inventories(s, rp, rp.generation, {})


# ------------------------------------------------------------------ usages, allocations
def provider_usages(req: Req) -> Reply:
    _pol(req, "resource_providers:usages")
    with db.read() as s:
        rp = _load(s, req)
        return reply(req, {"resource_provider_generation": rp.generation,
                           "usages": svc.provider_usages(s, rp.uuid)})


def provider_allocations(req: Req) -> Reply:
    _pol(req, "resource_providers:allocations:list")
    with db.read() as s:
        rp = _load(s, req)
        allocs = svc.provider_allocations(s, rp.uuid)
        return reply(req, {"resource_provider_generation": rp.generation,
                           "allocations": {c: {"resources": r} for c, r in allocs.items()}})


def usages(req: Req) -> Reply:
    require(req, "1.9")
    _pol(req, "usages")
    q = req.query
    if "project_id" not in q:
        raise perr.BadRequest("Invalid query string parameters: 'project_id' is a required property")
    allowed = {"project_id", "user_id"} | ({"consumer_type"} if mv(req, "1.38") else set())
    for k in q:
        if k not in allowed:
            raise perr.BadRequest(f"Invalid query string parameters: Additional properties are not "
                                  f"allowed ('{k}' was unexpected)")
    with db.read() as s:
        out = svc.project_usages(s, q["project_id"], q.get("user_id"),
                                 q.get("consumer_type") if mv(req, "1.38") else None)
        return reply(req, out)


# ------------------------------------------------------------------ traits / aggregates on providers
def provider_traits(req: Req) -> Reply:
    require(req, "1.6")
    _pol(req, "resource_providers:traits:list")
    with db.read() as s:
        rp = _load(s, req)
        return reply(req, {"resource_provider_generation": rp.generation,
                           "traits": svc.provider_traits(s, rp.uuid)})


def put_provider_traits(req: Req) -> Reply:
    require(req, "1.6")
    _pol(req, "resource_providers:traits:update")
    data = body(req, {"type": "object", "properties": {
        "traits": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9_]+$"},
                   "uniqueItems": True},
        "resource_provider_generation": GEN},
        "required": ["traits", "resource_provider_generation"], "additionalProperties": False})
    with db.write() as s:
        rp = _load(s, req)
        svc.set_provider_traits(s, rp, data["traits"], data["resource_provider_generation"])
        s.refresh(rp)
        return reply(req, {"resource_provider_generation": rp.generation,
                           "traits": svc.provider_traits(s, rp.uuid)})


def delete_provider_traits(req: Req) -> None:
    require(req, "1.6")
    _pol(req, "resource_providers:traits:delete")
    with db.write() as s:
        rp = _load(s, req)
        svc.set_provider_traits(s, rp, [], rp.generation)


def provider_aggregates(req: Req) -> Reply:
    require(req, "1.1")
    _pol(req, "resource_providers:aggregates:list")
    with db.read() as s:
        rp = _load(s, req)
        out: dict[str, Any] = {"aggregates": svc.provider_aggregates(s, rp.uuid)}
        if mv(req, "1.19"):
            out["resource_provider_generation"] = rp.generation
        return reply(req, out)


def put_provider_aggregates(req: Req) -> Reply:
    require(req, "1.1")
    _pol(req, "resource_providers:aggregates:update")
    aggs_schema = {"type": "array", "items": UUID, "uniqueItems": True}
    if mv(req, "1.19"):
        data = body(req, {"type": "object", "properties": {"aggregates": aggs_schema,
                                                           "resource_provider_generation": GEN},
                          "required": ["aggregates", "resource_provider_generation"],
                          "additionalProperties": False})
        aggs, gen = data["aggregates"], data["resource_provider_generation"]
    else:
        aggs = body(req, aggs_schema)  # type: ignore[arg-type]
        gen = None
    with db.write() as s:
        rp = _load(s, req)
        svc.set_provider_aggregates(s, rp, aggs, gen)
        s.refresh(rp)
        out: dict[str, Any] = {"aggregates": svc.provider_aggregates(s, rp.uuid)}
        if mv(req, "1.19"):
            out["resource_provider_generation"] = rp.generation
        return reply(req, out)


SUFFIX_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
