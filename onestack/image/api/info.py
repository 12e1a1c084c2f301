"""/v2/info/*: import methods, stores, usage (quotas)."""
from __future__ import annotations

from onestack.api.routing import Req
from onestack.image import service


def import_info(req: Req) -> dict:
    methods = [x.strip() for x in service.settings().enabled_import_methods.split(",") if x.strip()]
    if not service.settings().web_download_enabled:
        methods = [x for x in methods if x != "web-download"]
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
