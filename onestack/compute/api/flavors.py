"""/flavors, extra specs and os-flavor-access."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.pagination import parse_limit
from onestack.api.routing import Reply, Req
from onestack.compute import flavors as fl
from onestack.compute.api import views
from onestack.compute.api.common import body, parse_bool
from onestack.compute.schemas.common import DESCRIPTION, obj

SORT_KEYS = {"created_at": "created_at", "description": "description", "disabled": "disabled",
             "ephemeral_gb": "ephemeral_gb", "flavorid": "flavorid", "id": "id", "is_public": "is_public",
             "memory_mb": "memory_mb", "name": "name", "root_gb": "root_gb", "rxtx_factor": "rxtx_factor",
             "swap": "swap", "updated_at": "created_at", "vcpu_weight": "vcpus", "vcpus": "vcpus"}


LIST_PARAMS = {"is_public", "minRam", "minDisk", "sort_key", "sort_dir", "limit", "marker", "name"}


def _list(req: Req, detail: bool) -> dict:
    q = req.query
    if views.mv(req, "2.102"):     # unknown query parameters are an error from 2.102
        unknown = sorted(set(q) - LIST_PARAMS)
        if unknown:
            raise errors.BadRequest(f"Invalid input for query parameters: additional properties are not allowed "
                                    f"({', '.join(unknown)} unexpected).")
        if q.get("sort_key") == "rxtx_factor":
            raise errors.BadRequest("Invalid input for query parameters sort_key. Value: rxtx_factor.")
    is_public: bool | None = True
    if "is_public" in q:
        v = q["is_public"].lower()
        if v == "none":
            is_public = None if req.ctx.is_admin else True
        else:
            is_public = parse_bool(q["is_public"], "is_public")
            if not req.ctx.is_admin:
                is_public = True if is_public else True
    elif req.ctx.is_admin:
        is_public = None
    else:
        is_public = None  # public + the private ones shared with the project
    min_ram = _int(q.get("minRam"), "minRam")
    min_disk = _int(q.get("minDisk"), "minDisk")
    key = q.get("sort_key", "flavorid")
    d = q.get("sort_dir", "asc")
    if key not in SORT_KEYS:
        raise errors.BadRequest(f"Invalid input for query parameters sort_key. Value: {key}.")
    if d not in ("asc", "desc"):
        raise errors.BadRequest(f"Invalid input for query parameters sort_dir. Value: {d}.")
    limit = parse_limit(q.get("limit"), default=None)
    with db.read() as s:
        rows = fl.list_flavors(s, req.ctx, is_public, min_ram, min_disk, [(SORT_KEYS[key], d)], limit,
                               q.get("marker"))
        with_specs = detail and views.mv(req, "2.61") and req.ctx.can(
            "os_compute_api:os-flavor-extra-specs:index", {"project_id": req.ctx.project_id}, fatal=False)
        if views.mv(req, "2.102") and q.get("name"):
            rows = [f for f in rows if f.name == q["name"]]
        items = [views.flavor(req, f, fl.extra_specs(s, f) if with_specs else None, brief=not detail) for f in rows]
        out: dict[str, Any] = {"flavors": items}
        lk = views.collection_links(req, "flavors/detail" if detail else "flavors", rows, limit,
                                    lambda f: f.flavorid)
        if lk:
            out["flavors_links"] = lk
        return out


def _int(v: str | None, name: str) -> int | None:
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        raise errors.BadRequest(f"Invalid input for query parameters {name}. Value: {v}.") from None


def index(req: Req) -> dict:
    return _list(req, False)


def detail(req: Req) -> dict:
    return _list(req, True)


def _view(req: Req, s: Any, f: Any) -> dict:
    specs = None
    if views.mv(req, "2.61") and req.ctx.can("os_compute_api:os-flavor-extra-specs:index",
                                             {"project_id": req.ctx.project_id}, fatal=False):
        specs = fl.extra_specs(s, f)
    return {"flavor": views.flavor(req, f, specs)}


def show(req: Req) -> dict:
    with db.read() as s:
        return _view(req, s, fl.get(s, req.params["flavor_id"], req.ctx))


def create(req: Req) -> dict:
    props = {"name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^(?! )[^\x00-\x1f]*(?<! )$"},
             "id": {"type": ["string", "integer", "null"], "minLength": 1, "maxLength": 255, "pattern": r"^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
             "ram": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1, "maximum": 2147483647},
             "vcpus": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1, "maximum": 2147483647},
             "disk": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0, "maximum": 2147483647},
             "OS-FLV-EXT-DATA:ephemeral": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0,
                                           "maximum": 2147483647},
             "swap": {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0, "maximum": 2147483647},
             "rxtx_factor": {"type": ["number", "string"], "pattern": r"^[0-9]+(\.[0-9]+)?$", "minimum": 0,
                             "exclusiveMinimum": True, "maximum": 3.40282e+38},
             "os-flavor-access:is_public": {"type": ["boolean", "string"]}}
    if views.mv(req, "2.102"):
        props.pop("rxtx_factor")
    if views.mv(req, "2.55"):
        props["description"] = DESCRIPTION
    data = body(req, obj({"flavor": obj(props, ["name", "ram", "vcpus", "disk"])}, ["flavor"]))["flavor"]
    req.ctx.can("os_compute_api:os-flavor-manage:create", {"project_id": req.ctx.project_id})
    for k in ("ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral", "swap"):
        if k in data and data[k] != "":
            data[k] = int(data[k])
    if "rxtx_factor" in data:
        data["rxtx_factor"] = float(data["rxtx_factor"])
    if "os-flavor-access:is_public" in data:
        data["os-flavor-access:is_public"] = parse_bool(str(data["os-flavor-access:is_public"]), "is_public")
    with db.write() as s:
        f = fl.create(s, data)
        return _view(req, s, f)


def update(req: Req) -> dict:
    if not views.mv(req, "2.55"):
        raise errors.MethodNotAllowed()
    data = body(req, obj({"flavor": obj({"description": DESCRIPTION}, ["description"])}, ["flavor"]))["flavor"]
    req.ctx.can("os_compute_api:os-flavor-manage:update", {"project_id": req.ctx.project_id})
    with db.write() as s:
        f = fl.get(s, req.params["flavor_id"])
        f.description = data["description"]
        return _view(req, s, f)


def delete(req: Req) -> Reply:
    req.ctx.can("os_compute_api:os-flavor-manage:delete", {"project_id": req.ctx.project_id})
    with db.write() as s:
        fl.delete_flavor(s, fl.get(s, req.params["flavor_id"]))
    return Reply(202)


# ------------------------------------------------------------------ extra specs
SPEC_KEY = r"^[a-zA-Z0-9-_:. ]{1,255}$"
SPECS = {"type": "object", "patternProperties": {SPEC_KEY: {"type": ["string", "number", "boolean"],
                                                            "maxLength": 255}},
         "additionalProperties": False, "minProperties": 1}


def specs_index(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-flavor-extra-specs:index", {"project_id": req.ctx.project_id})
    with db.read() as s:
        return {"extra_specs": fl.extra_specs(s, fl.get(s, req.params["flavor_id"], req.ctx))}


def specs_create(req: Req) -> dict:
    data = body(req, obj({"extra_specs": SPECS}, ["extra_specs"]))["extra_specs"]
    req.ctx.can("os_compute_api:os-flavor-extra-specs:create", {"project_id": req.ctx.project_id})
    data = {k: str(v) if not isinstance(v, bool) else str(v) for k, v in data.items()}
    with db.write() as s:
        f = fl.get(s, req.params["flavor_id"])
        fl.set_extra_specs(s, f, data)
        return {"extra_specs": data}


def specs_show(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-flavor-extra-specs:show", {"project_id": req.ctx.project_id})
    with db.read() as s:
        specs = fl.extra_specs(s, fl.get(s, req.params["flavor_id"], req.ctx))
        key = req.params["key"]
        if key not in specs:
            raise errors.NotFound(f"Flavor {req.params['flavor_id']} has no extra specs with key {key}.")
        return {key: specs[key]}


def specs_update(req: Req) -> dict:
    data = body(req, {**SPECS, "maxProperties": 1})
    key = req.params["key"]
    if key not in data:
        raise errors.BadRequest("Request body and URI mismatch")
    req.ctx.can("os_compute_api:os-flavor-extra-specs:update", {"project_id": req.ctx.project_id})
    with db.write() as s:
        f = fl.get(s, req.params["flavor_id"])
        fl.set_extra_specs(s, f, {key: str(data[key])})
        return {key: str(data[key])}


def specs_delete(req: Req) -> Reply:
    req.ctx.can("os_compute_api:os-flavor-extra-specs:delete", {"project_id": req.ctx.project_id})
    with db.write() as s:
        fl.delete_extra_spec(s, fl.get(s, req.params["flavor_id"]), req.params["key"])
    return Reply(200)


# ------------------------------------------------------------------ access
def access_list(req: Req) -> dict:
    req.ctx.can("os_compute_api:os-flavor-access", {"project_id": req.ctx.project_id})
    with db.read() as s:
        f = fl.get(s, req.params["flavor_id"])
        if f.is_public:
            raise errors.NotFound("Access list not available for public flavors.")
        return {"flavor_access": [{"flavor_id": f.flavorid, "tenant_id": p} for p in fl.access_list(s, f)]}


def flavor_action(req: Req) -> dict:
    data = req.json()
    if not isinstance(data, dict) or len(data) != 1:
        raise errors.BadRequest("Malformed request body")
    name, args = next(iter(data.items()))
    sch = obj({"tenant": {"type": "string", "minLength": 1, "maxLength": 255}}, ["tenant"])
    from onestack.api import schema
    if name == "addTenantAccess":
        schema.validate(args, sch)
        req.ctx.can("os_compute_api:os-flavor-access:add_tenant_access", {"project_id": req.ctx.project_id})
        with db.write() as s:
            f = fl.get(s, req.params["flavor_id"])
            fl.add_access(s, f, args["tenant"])
            s.flush()
            return {"flavor_access": [{"flavor_id": f.flavorid, "tenant_id": p} for p in fl.access_list(s, f)]}
    if name == "removeTenantAccess":
        schema.validate(args, sch)
        req.ctx.can("os_compute_api:os-flavor-access:remove_tenant_access", {"project_id": req.ctx.project_id})
        with db.write() as s:
            f = fl.get(s, req.params["flavor_id"])
            fl.remove_access(s, f, args["tenant"])
            s.flush()
            return {"flavor_access": [{"flavor_id": f.flavorid, "tenant_id": p} for p in fl.access_list(s, f)]}
    raise errors.BadRequest(f"There is no such action: {name}")
