"""/allocations, /allocation_candidates, /traits, /resource_classes and the version document."""
from __future__ import annotations

import re
from typing import Any

from onestack import db
from onestack.api.routing import Reply, Req
from onestack.placement import errors as perr
from onestack.placement import service as svc
from onestack.placement.api.common import UUID, body, check_uuid, mv, reply, require
from onestack.placement.api.providers import _resources_query, member_of_query, required_query

MAX_VERSION = "1.39"
RC_NAME = {"type": "string", "pattern": "^[A-Z0-9_]+$"}
RESOURCES = {"type": "object", "minProperties": 1,
             "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer", "minimum": 0}},
             "additionalProperties": False}


def versions(req: Req) -> dict:
    return {"versions": [{"id": "v1.0", "max_version": MAX_VERSION, "min_version": "1.0",
                          "status": "CURRENT", "links": [{"rel": "self", "href": ""}]}]}


# ------------------------------------------------------------------ allocations
def _alloc_schema(req: Req, in_post: bool = False) -> dict[str, Any]:
    if mv(req, "1.12"):
        res = dict(RESOURCES)
        if not mv(req, "1.28"):
            res = {**RESOURCES, "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer", "minimum": 1}}}
        allocs = {"type": "object", "patternProperties": {
            "^[0-9a-fA-F-]{32,36}$": {"type": "object", "properties": {
                "resources": res, "generation": {"type": ["integer", "null"]}},
                "required": ["resources"], "additionalProperties": False}},
            "additionalProperties": False}
        if not mv(req, "1.28") or in_post:
            allocs["minProperties"] = 1 if not mv(req, "1.28") else 0
        props: dict[str, Any] = {"allocations": allocs, "project_id": {"type": "string", "minLength": 1,
                                                                       "maxLength": 255},
                                 "user_id": {"type": "string", "minLength": 1, "maxLength": 255}}
        required = ["allocations", "project_id", "user_id"]
        if mv(req, "1.28"):
            props["consumer_generation"] = {"type": ["integer", "null"]}
            required.append("consumer_generation")
        if mv(req, "1.34"):
            props["mappings"] = {"type": "object"}
        if mv(req, "1.38"):
            props["consumer_type"] = {"type": "string", "pattern": "^[A-Z0-9_]+$", "maxLength": 255}
            required.append("consumer_type")
        return {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    props = {"allocations": {"type": "array", "minItems": 1, "items": {
        "type": "object", "properties": {
            "resource_provider": {"type": "object", "properties": {"uuid": UUID},
                                  "required": ["uuid"], "additionalProperties": False},
            "resources": {**RESOURCES, "patternProperties": {"^[A-Z0-9_]+$": {"type": "integer",
                                                                               "minimum": 1}}}},
        "required": ["resource_provider", "resources"], "additionalProperties": False}},
        "project_id": {"type": "string", "minLength": 1, "maxLength": 255},
        "user_id": {"type": "string", "minLength": 1, "maxLength": 255}}
    required = ["allocations"] + (["project_id", "user_id"] if mv(req, "1.8") else [])
    return {"type": "object", "properties": props, "required": required, "additionalProperties": False}


def _normalise(req: Req, data: dict[str, Any], consumer: str) -> dict[str, Any]:
    if mv(req, "1.12"):
        allocs = {check_uuid(rp): v["resources"] for rp, v in data["allocations"].items()}
    else:
        allocs = {}
        for a in data["allocations"]:
            rp = check_uuid(a["resource_provider"]["uuid"])
            allocs.setdefault(rp, {}).update(a["resources"])
    return {"consumer": consumer, "allocations": allocs,
            "project_id": data.get("project_id") or "00000000-0000-0000-0000-000000000000",
            "user_id": data.get("user_id") or "00000000-0000-0000-0000-000000000000",
            "consumer_generation": data.get("consumer_generation"),
            "consumer_type": data.get("consumer_type")}


def get_allocations(req: Req) -> Reply:
    req.ctx.can("placement:allocations:list", {"project_id": req.ctx.project_id})
    consumer = req.params["consumer"]
    from onestack.placement import models as m
    with db.read() as s:
        allocs = svc.consumer_allocations(s, consumer)
        out: dict[str, Any] = {"allocations": {}}
        for rp_uuid, res in allocs.items():
            rp = s.get(m.ResourceProvider, rp_uuid)
            out["allocations"][rp_uuid] = {"generation": rp.generation, "resources": res}
        cons = s.get(m.Consumer, consumer)
        if mv(req, "1.12") and cons is not None:
            out["project_id"] = cons.project_id
            out["user_id"] = cons.user_id
        if mv(req, "1.28") and cons is not None:
            out["consumer_generation"] = cons.generation
        if mv(req, "1.38") and cons is not None:
            out["consumer_type"] = cons.consumer_type
        return reply(req, out)


def put_allocations(req: Req) -> None:
    req.ctx.can("placement:allocations:update", {"project_id": req.ctx.project_id})
    consumer = check_uuid(req.params["consumer"], "consumer uuid")
    data = body(req, _alloc_schema(req))
    with db.write() as s:
        svc.set_allocations(s, [_normalise(req, data, consumer)], check_generation=mv(req, "1.28"))


def post_allocations(req: Req) -> None:
    require(req, "1.13")
    req.ctx.can("placement:allocations:manage", {"project_id": req.ctx.project_id})
    inner = _alloc_schema(req, in_post=True)
    data = body(req, {"type": "object", "minProperties": 1,
                      "patternProperties": {"^[0-9a-fA-F-]{32,36}$": inner}, "additionalProperties": False})
    with db.write() as s:
        svc.set_allocations(s, [_normalise(req, v, check_uuid(c)) for c, v in data.items()],
                            check_generation=mv(req, "1.28"))


def delete_allocations(req: Req) -> None:
    req.ctx.can("placement:allocations:delete", {"project_id": req.ctx.project_id})
    consumer = req.params["consumer"]
    with db.write() as s:
        if not svc.delete_allocations(s, consumer):
            raise perr.NotFound(f"No allocations for consumer '{consumer}'")


# ------------------------------------------------------------------ candidates
_GROUP_KEY = re.compile(r"^(resources|required|member_of|in_tree)(.*)$")


def allocation_candidates(req: Req) -> Reply:
    require(req, "1.10")
    req.ctx.can("placement:allocation_candidates:list", {"project_id": req.ctx.project_id})
    groups: dict[str, svc.Group] = {}
    limit = None
    group_policy = None
    root_required = None
    with db.read() as s:
        raw: dict[str, dict[str, list[str]]] = {}
        for key, value in req.query_items:
            if key == "limit" and mv(req, "1.16"):
                try:
                    limit = int(value)
                except ValueError:
                    limit = 0
                if limit < 1:
                    raise perr.BadRequest("Invalid query string parameters: limit must be a positive integer")
                continue
            if key == "group_policy" and mv(req, "1.25"):
                if value not in ("none", "isolate"):
                    raise perr.BadRequest(f"Invalid query string parameters: '{value}' is not one of "
                                          "['none', 'isolate']")
                group_policy = value
                continue
            if key == "root_required" and mv(req, "1.35"):
                root_required = required_query(req, [value], s)
                continue
            mt = _GROUP_KEY.match(key)
            if not mt:
                raise perr.BadRequest(f"Invalid query string parameters: Additional properties are not "
                                      f"allowed ('{key}' was unexpected)")
            kind, suffix = mt.groups()
            if suffix:
                ok = mv(req, "1.25") and (suffix.isdigit() or (mv(req, "1.33") and
                                                              re.match(r"^_[a-zA-Z0-9_-]{1,64}$", suffix)))
                if not ok:
                    raise perr.BadRequest(f"Invalid query string parameters: Additional properties are "
                                          f"not allowed ('{key}' was unexpected)")
            minimum = {"required": "1.17", "member_of": "1.21", "in_tree": "1.31"}.get(kind)
            if minimum and not mv(req, minimum):
                raise perr.BadRequest(f"Invalid query string parameters: Additional properties are not "
                                      f"allowed ('{key}' was unexpected)")
            raw.setdefault(suffix, {}).setdefault(kind, []).append(value)
        for suffix, params in raw.items():
            g = svc.Group(suffix)
            if "resources" in params:
                if len(params["resources"]) > 1:
                    raise perr.QueryDuplicateKey(f"Query parameter 'resources{suffix}' is specified "
                                                 "more than once.")
                g.resources = _resources_query(params["resources"][0])
                for rc in g.resources:
                    if not svc.resource_class_exists(s, rc):
                        raise perr.BadRequest(f"Invalid resource class in resources parameter: No such "
                                              f"resource class {rc}.")
            elif not mv(req, "1.35") or not suffix:
                if not suffix:
                    raise perr.BadRequest("Invalid query string parameters: 'resources' is a required "
                                          "property" if not mv(req, "1.25") else
                                          "All resource groups must specify resources.")
                raise perr.BadRequest(f"Resources must be specified in the resources{suffix} group.")
            if "required" in params:
                g.required = required_query(req, params["required"], s)
            if "member_of" in params:
                g.member_of = member_of_query(req, params["member_of"])
            if "in_tree" in params:
                g.in_tree = check_uuid(params["in_tree"][-1], "in_tree")
            groups[suffix] = g
        if not groups or not any(g.resources for g in groups.values()):
            raise perr.BadRequest("Invalid query string parameters: 'resources' is a required property"
                                  if not mv(req, "1.25") else
                                  "At least one resources query parameter is required.")
        numbered = [sfx for sfx in groups if sfx]
        if len(numbered) > 1 and group_policy is None and mv(req, "1.25"):
            raise perr.BadRequest("The \"group_policy\" parameter is required when specifying more than "
                                  "one \"resources{N}\" parameter.")
        ordered = sorted(groups.values(), key=lambda g: g.suffix)
        results, summaries, _ = svc.allocation_candidates(s, ordered, group_policy, limit, root_required)
        requested = set().union(*(g.resources for g in ordered))
        out_reqs = []
        for r in results:
            if mv(req, "1.12"):
                item: dict[str, Any] = {"allocations": {rp: {"resources": res}
                                                        for rp, res in r["allocations"].items()}}
                if mv(req, "1.34"):
                    item["mappings"] = {k: v for k, v in r["mappings"].items() if v}
            else:
                item = {"allocations": [{"resource_provider": {"uuid": rp}, "resources": res}
                                        for rp, res in r["allocations"].items()]}
            out_reqs.append(item)
        used_rps = {rp for r in results for rp in r["allocations"]}
        out_sum = {}
        for rp, summ in summaries.items():
            if not mv(req, "1.29") and rp not in used_rps:
                continue
            res = summ["resources"]
            if not mv(req, "1.27"):
                res = {rc: v for rc, v in res.items() if rc in requested}
            entry: dict[str, Any] = {"resources": res}
            if mv(req, "1.17"):
                entry["traits"] = summ["traits"]
            if mv(req, "1.29"):
                entry["parent_provider_uuid"] = summ["parent_provider_uuid"]
                entry["root_provider_uuid"] = summ["root_provider_uuid"]
            out_sum[rp] = entry
        return reply(req, {"allocation_requests": out_reqs, "provider_summaries": out_sum})


# ------------------------------------------------------------------ traits
def list_traits(req: Req) -> Reply:
    require(req, "1.6")
    req.ctx.can("placement:traits:list", {"project_id": req.ctx.project_id})
    names = None
    assoc = None
    for k, v in req.query_items:
        if k == "name":
            if v.startswith("in:"):
                names = ("in", {t for t in v[3:].split(",") if t})
            elif v.startswith("startswith:"):
                names = ("startswith", {v[len("startswith:"):]})
            else:
                raise perr.BadRequest(f"Badly formatted name parameter. Expected name query string "
                                      f"parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. "
                                      f"Got: \"{v}\"")
        elif k == "associated":
            if v.lower() not in ("true", "false"):
                raise perr.BadRequest(f"The query parameter \"associated\" only accepts \"true\" or "
                                      f"\"false\"")
            assoc = v.lower() == "true"
        else:
            raise perr.BadRequest(f"Invalid query string parameters: Additional properties are not "
                                  f"allowed ('{k}' was unexpected)")
    with db.read() as s:
        return reply(req, {"traits": svc.list_traits(s, names, assoc)})


def show_trait(req: Req) -> None:
    require(req, "1.6")
    req.ctx.can("placement:traits:show", {"project_id": req.ctx.project_id})
    from onestack.placement import models as m
    with db.read() as s:
        if s.get(m.Trait, req.params["name"]) is None:
            raise perr.NotFound(f"No such trait(s): {req.params['name']}.")


def put_trait(req: Req) -> Reply:
    require(req, "1.6")
    req.ctx.can("placement:traits:update", {"project_id": req.ctx.project_id})
    name = req.params["name"]
    with db.write() as s:
        created = svc.create_trait(s, name)
    return Reply(201 if created else 204, None, {"location": f"{req.service_url}/traits/{name}"})


def delete_trait(req: Req) -> None:
    require(req, "1.6")
    req.ctx.can("placement:traits:delete", {"project_id": req.ctx.project_id})
    with db.write() as s:
        svc.delete_trait(s, req.params["name"])


# ------------------------------------------------------------------ resource classes
def _rc_view(req: Req, name: str) -> dict[str, Any]:
    return {"name": name, "links": [{"rel": "self", "href": f"/placement/resource_classes/{name}"}]}


def list_classes(req: Req) -> Reply:
    require(req, "1.2")
    req.ctx.can("placement:resource_classes:list", {"project_id": req.ctx.project_id})
    with db.read() as s:
        return reply(req, {"resource_classes": [_rc_view(req, n) for n in svc.list_resource_classes(s)]})


def create_class(req: Req) -> Reply:
    require(req, "1.2")
    req.ctx.can("placement:resource_classes:create", {"project_id": req.ctx.project_id})
    data = body(req, {"type": "object", "properties": {"name": {"type": "string", "maxLength": 255,
                                                                "pattern": "^CUSTOM\\_[A-Z0-9_]+$"}},
                      "required": ["name"], "additionalProperties": False})
    with db.write() as s:
        svc.create_resource_class(s, data["name"])
    return Reply(201, None, {"location": f"{req.service_url}/resource_classes/{data['name']}"})


def show_class(req: Req) -> Reply:
    require(req, "1.2")
    req.ctx.can("placement:resource_classes:show", {"project_id": req.ctx.project_id})
    with db.read() as s:
        if not svc.resource_class_exists(s, req.params["name"]):
            raise perr.NotFound(f"No such resource class {req.params['name']}.")
    return reply(req, _rc_view(req, req.params["name"]))


def put_class(req: Req) -> Reply:
    require(req, "1.2")
    req.ctx.can("placement:resource_classes:update", {"project_id": req.ctx.project_id})
    name = req.params["name"]
    if not mv(req, "1.7"):
        data = body(req, {"type": "object", "properties": {"name": {"type": "string", "maxLength": 255,
                                                                    "pattern": "^CUSTOM\\_[A-Z0-9_]+$"}},
                          "required": ["name"], "additionalProperties": False})
        with db.write() as s:
            svc.delete_resource_class(s, name)
            svc.create_resource_class(s, data["name"])
        return reply(req, _rc_view(req, data["name"]))
    with db.write() as s:
        created = svc.create_resource_class(s, name, exist_ok=True)
    return Reply(201 if created else 204, None, {"location": f"{req.service_url}/resource_classes/{name}"})


def delete_class(req: Req) -> None:
    require(req, "1.2")
    req.ctx.can("placement:resource_classes:delete", {"project_id": req.ctx.project_id})
    with db.write() as s:
        svc.delete_resource_class(s, req.params["name"])
