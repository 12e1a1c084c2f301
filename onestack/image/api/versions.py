"""Version discovery: GET /image/ (300) and /image/versions (200)."""
from __future__ import annotations

from onestack.api.routing import Reply, Req

CURRENT = "2.17"
SUPPORTED = ("2.16", "2.15", "2.13", "2.12", "2.11", "2.10", "2.9", "2.8", "2.7", "2.6", "2.5",
             "2.4", "2.3", "2.2", "2.1", "2.0")


def _doc(req: Req) -> dict:
    href = req.service_url.rstrip("/") + "/v2/"
    def v(ver: str, status: str) -> dict:
        return {"id": f"v{ver}", "status": status, "links": [{"rel": "self", "href": href}]}
    return {"versions": [v(CURRENT, "CURRENT")] + [v(x, "SUPPORTED") for x in SUPPORTED]}


def root(req: Req) -> Reply:
    return Reply(300, _doc(req))


def versions(req: Req) -> dict:
    return _doc(req)
