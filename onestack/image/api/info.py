"""/v2/info/*: import methods, stores, usage (quotas)."""
from __future__ import annotations

from onestack.api.routing import Req
from onestack.image import imports, service


def import_info(req: Req) -> dict:
    methods = imports.enabled_methods()
    return {"import-methods": {"description": "Import methods available.", "type": "array",
                               "value": methods}}


def stores(req: Req) -> dict:
    return {"stores": [{"id": "local", "description": "Local filesystem store", "default": True}]}


def stores_detail(req: Req) -> dict:
    req.ctx.can("image:stores_info_detail", {"project_id": req.ctx.project_id})
    return {"stores": [{"id": "local", "description": "Local filesystem store", "default": True,
                        "type": "file", "weight": 0,
                        "properties": {"datadir": str(service.store().root),
                                       "chunk_size": service.settings().chunk_size}}]}


def usage(req: Req) -> dict:
    return {"usage": service.usage(req.ctx)}
