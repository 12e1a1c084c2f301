"""Catalog administration: regions, services, endpoints (CLI, SDK and raw HTTP)."""
from __future__ import annotations

import pytest

from tests.factories.identity import Admin, uniq


@pytest.fixture(scope="module")
def adm(cloud):
    return Admin(cloud)


def test_cli_region_service_endpoint_and_catalog(cloud):
    region = uniq("Region")
    parent = cloud.cli("region", "create", region, "--description", "top")
    assert parent["region"] == region and parent["description"] == "top"
    child = cloud.cli("region", "create", region + "-c", "--parent-region", region)
    assert child["parent_region"] == region
    svc_name = uniq("svc")
    svc = cloud.cli("service", "create", "--name", svc_name, "--description", "d", f"type-{svc_name}")
    assert svc["type"] == f"type-{svc_name}" and svc["enabled"] is True
    ep = cloud.cli("endpoint", "create", "--region", region, svc["id"], "public",
                   "http://example.com:9999/v1/%(project_id)s")
    assert ep["interface"] == "public" and ep["region"] == region
    listed = cloud.cli("endpoint", "list", "--service", svc["id"])
    assert [e["ID"] for e in listed] == [ep["id"]]
    cat = cloud.cli("catalog", "list")
    mine = [c for c in cat if c["Name"] == svc_name]
    assert mine, cat
    # the project id is substituted for the admin's project
    assert "http://example.com:9999/v1/" in str(mine[0]["Endpoints"])
    assert "%(project_id)s" not in str(mine[0]["Endpoints"])
    cloud.cli("endpoint", "delete", ep["id"], json_out=False)
    cloud.cli("service", "delete", svc["id"], json_out=False)
    cloud.cli("region", "delete", region, json_out=False)   # child goes with it
    regions = [r["Region"] for r in cloud.cli("region", "list")]
    assert region not in regions and region + "-c" not in regions
    assert not [c for c in cloud.cli("catalog", "list") if c["Name"] == svc_name]


def test_region_crud_raw(cloud, adm):
    rid = uniq("r")
    r = adm.call("PUT", f"/v3/regions/{rid}", {"region": {"description": "put"}})["region"]
    assert r["id"] == rid and r["parent_region_id"] is None and r["links"]["self"].endswith(rid)
    gen = adm.call("POST", "/v3/regions", {"region": {"parent_region_id": rid}})["region"]
    assert gen["id"] and gen["parent_region_id"] == rid
    got = adm.call("GET", f"/v3/regions?parent_region_id={rid}")["regions"]
    assert [x["id"] for x in got] == [gen["id"]]
    upd = adm.call("PATCH", f"/v3/regions/{gen['id']}", {"region": {"description": "new"}})["region"]
    assert upd["description"] == "new" and upd["parent_region_id"] == rid
    # cycles are refused
    r2 = cloud.request("PATCH", f"/v3/regions/{rid}", token=adm.token,
                       body={"region": {"parent_region_id": gen["id"]}})
    assert r2.status == 400 and r2.json()["error"]["code"] == 400
    r3 = cloud.request("PATCH", f"/v3/regions/{rid}", token=adm.token,
                       body={"region": {"parent_region_id": rid}})
    assert r3.status == 400
    # duplicate and missing parent
    assert cloud.request("PUT", f"/v3/regions/{rid}", token=adm.token, body={"region": {}}).status == 409
    assert cloud.request("POST", "/v3/regions", token=adm.token,
                         body={"region": {"parent_region_id": "nope-" + rid}}).status == 404
    adm.call("DELETE", f"/v3/regions/{rid}")
    assert cloud.request("GET", f"/v3/regions/{gen['id']}", token=adm.token).status == 404


def test_endpoint_validation_and_filters(cloud, adm):
    svc = adm.call("POST", "/v3/services", {"service": {"type": uniq("t"), "name": "x"}})["service"]
    base = {"service_id": svc["id"], "url": "http://h:1/"}
    for bad in ({**base, "interface": "private"}, {**base, "interface": "public", "url": "not a url"},
                {**base, "interface": "public", "region_id": "no-such-region"},
                {"service_id": "nope", "interface": "public", "url": "http://h/"},
                {**base, "interface": "public", "enabled": "yes"}, {"interface": "public", "url": "http://h/"}):
        r = cloud.request("POST", "/v3/endpoints", token=adm.token, body={"endpoint": bad})
        assert r.status == 400, (bad, r)
        assert set(r.json()["error"]) == {"code", "title", "message"}
    made = [adm.call("POST", "/v3/endpoints", {"endpoint": {**base, "interface": i, "region_id": "RegionOne"}}
                     )["endpoint"] for i in ("public", "internal", "admin")]
    got = adm.call("GET", f"/v3/endpoints?service_id={svc['id']}&interface=internal")["endpoints"]
    assert [e["id"] for e in got] == [made[1]["id"]]
    e = adm.call("PATCH", f"/v3/endpoints/{made[0]['id']}", {"endpoint": {"enabled": False, "url": "http://h:2/"}})
    assert e["endpoint"]["enabled"] is False and e["endpoint"]["url"] == "http://h:2/"
    # a region holding endpoints cannot be removed
    assert cloud.request("DELETE", "/v3/regions/RegionOne", token=adm.token).status == 403
    # deleting the service removes its endpoints
    adm.call("DELETE", f"/v3/services/{svc['id']}")
    assert cloud.request("GET", f"/v3/endpoints/{made[2]['id']}", token=adm.token).status == 404
    assert cloud.request("GET", f"/v3/services/{svc['id']}", token=adm.token).status == 404


def test_service_update_and_disable_hides_from_catalog(cloud, adm):
    t = uniq("t")
    svc = adm.call("POST", "/v3/services", {"service": {"type": t, "name": t}})["service"]
    adm.call("POST", "/v3/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "public",
                                                    "url": "http://svc.example/"}})
    types = lambda: {c["type"] for c in adm.call("GET", "/v3/auth/catalog")["catalog"]}  # noqa: E731
    assert t in types()
    upd = adm.call("PATCH", f"/v3/services/{svc['id']}", {"service": {"enabled": False, "description": "off"}})
    assert upd["service"]["enabled"] is False and upd["service"]["description"] == "off"
    assert t not in types()
    listed = adm.call("GET", f"/v3/services?type={t}")["services"]
    assert [s["id"] for s in listed] == [svc["id"]]
    for bad in ({"type": ""}, {"type": 5}, {"enabled": "no"}):
        r = cloud.request("PATCH", f"/v3/services/{svc['id']}", token=adm.token, body={"service": bad})
        assert r.status == 400, (bad, r)
    assert cloud.request("POST", "/v3/services", token=adm.token, body={"service": {"name": "x"}}).status == 400


def test_sdk_lists_catalog(cloud):
    conn = cloud.sdk()
    types = {s.type for s in conn.identity.services()}
    assert "identity" in types
    eps = list(conn.identity.endpoints(interface="public"))
    assert eps and all(e.interface == "public" for e in eps)
    assert "RegionOne" in {r.id for r in conn.identity.regions()}


def test_unscoped_token_has_no_catalog(cloud):
    auth = {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": cloud.admin_password}}}}
    r = cloud.request("POST", "/v3/auth/tokens", body={"auth": {**auth, "scope": "unscoped"}})
    assert r.status == 201 and "catalog" not in r.json()["token"]
    scoped = cloud.request("POST", "/v3/auth/tokens", body={"auth": {**auth, "scope": {
        "project": {"name": "admin", "domain": {"id": "default"}}}}})
    assert {c["type"] for c in scoped.json()["token"]["catalog"]} >= {"identity"}


def test_policies_crud(cloud, adm):
    p = adm.call("POST", "/v3/policies", {"policy": {"type": "application/json", "blob": '{"a": 1}',
                                                     "extra_key": "kept"}})["policy"]
    assert p["type"] == "application/json" and p["blob"] == '{"a": 1}' and p["extra_key"] == "kept"
    upd = adm.call("PATCH", f"/v3/policies/{p['id']}", {"policy": {"type": "text/plain"}})["policy"]
    assert upd["type"] == "text/plain" and upd["blob"] == '{"a": 1}'
    assert p["id"] in {x["id"] for x in adm.call("GET", "/v3/policies")["policies"]}
    for bad in ({"type": "x"}, {"blob": 5, "type": "x"}, {"type": 1, "blob": "b"}):
        assert cloud.request("POST", "/v3/policies", token=adm.token, body={"policy": bad}).status == 400
    adm.call("DELETE", f"/v3/policies/{p['id']}")
    assert cloud.request("GET", f"/v3/policies/{p['id']}", token=adm.token).status == 404


def test_endpoint_groups(cloud, adm):
    svc = adm.call("POST", "/v3/services", {"service": {"type": uniq("eg")}})["service"]
    ep = adm.call("POST", "/v3/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "internal",
                                                         "url": "http://eg/"}})["endpoint"]
    base = "/v3/OS-EP-FILTER/endpoint_groups"
    g = adm.call("POST", base, {"endpoint_group": {"name": "g", "description": "d", "filters": {
        "service_id": svc["id"], "interface": "internal"}}})["endpoint_group"]
    assert g["filters"] == {"service_id": svc["id"], "interface": "internal"}
    assert cloud.request("HEAD", f"{base}/{g['id']}", token=adm.token).status == 200
    eps = adm.call("GET", f"{base}/{g['id']}/endpoints")["endpoints"]
    assert [e["id"] for e in eps] == [ep["id"]]
    proj = adm.project()
    adm.call("PUT", f"{base}/{g['id']}/projects/{proj['id']}")
    assert adm.call("GET", f"{base}/{g['id']}/projects/{proj['id']}")["project"]["id"] == proj["id"]
    assert [p["id"] for p in adm.call("GET", f"{base}/{g['id']}/projects")["projects"]] == [proj["id"]]
    assert [x["id"] for x in adm.call("GET", f"/v3/OS-EP-FILTER/projects/{proj['id']}/endpoint_groups")
            ["endpoint_groups"]] == [g["id"]]
    adm.call("DELETE", f"{base}/{g['id']}/projects/{proj['id']}")
    assert cloud.request("GET", f"{base}/{g['id']}/projects/{proj['id']}", token=adm.token).status == 404
    upd = adm.call("PATCH", f"{base}/{g['id']}", {"endpoint_group": {"name": "g2"}})["endpoint_group"]
    assert upd["name"] == "g2" and upd["description"] == "d"
    for bad in ({"name": "x", "filters": {"colour": "red"}}, {"name": "x", "filters": {"interface": "private"}},
                {"name": "x"}, {"name": "x", "filters": "interface=public"}):
        r = cloud.request("POST", base, token=adm.token, body={"endpoint_group": bad})
        assert r.status == 400, (bad, r)
    adm.call("DELETE", f"{base}/{g['id']}")
    assert cloud.request("GET", f"{base}/{g['id']}", token=adm.token).status == 404


def test_rescoped_token_keeps_its_methods(cloud):
    auth = {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": cloud.admin_password}}}}
    r = cloud.request("POST", "/v3/auth/tokens?nocatalog=1", body={"auth": auth})
    unscoped = r.headers["x-subject-token"]
    r2 = cloud.request("POST", "/v3/auth/tokens?nocatalog=1", body={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    assert r2.status == 201 and set(r2.json()["token"]["methods"]) == {"password", "token"}
    assert r2.json()["token"]["expires_at"] == r.json()["token"]["expires_at"]
