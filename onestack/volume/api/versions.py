"""Version discovery: GET /volume/ (300) and GET /volume/v3/."""
from onestack.api.routing import Reply, Req
from onestack.volume.api import MIN_VERSION, MAX_VERSION

UPDATED = "2024-09-01T00:00:00Z"


def _doc(req: Req) -> dict:
    return {"id": "v3.0", "status": "CURRENT", "version": MAX_VERSION, "min_version": MIN_VERSION,
            "updated": UPDATED,
            "links": [{"rel": "describedby", "type": "text/html",
                       "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": f"{req.service_url}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


def root(req: Req) -> Reply:
    return Reply(300, {"versions": [_doc(req)]})


def v3(req: Req) -> dict:
    return {"versions": [_doc(req)]}
