"""/v2/info/*: import methods, stores, usage (quotas)."""
from __future__ import annotations

from onestack.api.routing import Req
from onestack.image import imports, service


def import_info(req: Req) -> dict:
    methods = imports.enabled_methods()
    return {"import-methods": {"description": "Import methods available.", "type": "array",
                               "value": methods}}


DESCRIPTIONS = {"local": "Local filesystem store", "object": "onestack object storage"}


def _store(sid: str, detail: bool) -> dict:
    out: dict = {"id": sid, "description": DESCRIPTIONS[sid]}
    if sid == service.default_store_id():
        out["default"] = True
    if detail:
        st = service.data_store(sid)
        out.update({"type": "file" if sid == "local" else "swift", "weight": 0,
                    "properties": {"datadir": str(st.root)} if sid == "local" else
                    {"container": st.container}})
        out["properties"]["chunk_size"] = service.settings().chunk_size
    return out


def stores(req: Req) -> dict:
    return {"stores": [_store(sid, False) for sid in service.enabled_stores()]}


def stores_detail(req: Req) -> dict:
    req.ctx.can("image:stores_info_detail", {"project_id": req.ctx.project_id})
    return {"stores": [_store(sid, True) for sid in service.enabled_stores()]}


def usage(req: Req) -> dict:
    return {"usage": service.usage(req.ctx)}
