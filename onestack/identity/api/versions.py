"""Version discovery: GET / (300, every version) and GET /v3 (this version)."""
from onestack.api.routing import Reply, Req

UPDATED = "2024-09-01T00:00:00Z"
VERSION = "v3.14"


def _version(req: Req) -> dict:
    return {"id": VERSION, "status": "stable", "updated": UPDATED,
            "links": [{"rel": "self", "href": f"{req.service_url}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.identity-v3+json"}]}


def root(req: Req) -> Reply:
    return Reply(300, {"versions": {"values": [_version(req)]}})


def v3(req: Req) -> dict:
    return {"version": _version(req)}
