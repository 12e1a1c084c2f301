"""Unified limits: registered limits, project limits, the flat model."""
from __future__ import annotations

import pytest

from tests.factories.identity import Admin, issue_token, make_project_user, uniq


@pytest.fixture(scope="module")
def adm(cloud):
    return Admin(cloud)


@pytest.fixture(scope="module")
def svc(adm):
    return adm.call("POST", "/v3/services", {"service": {"type": uniq("quota"), "name": "q"}})["service"]


def test_model_is_flat(cloud, adm):
    assert adm.call("GET", "/v3/limits/model")["model"]["name"] == "flat"


def test_cli_registered_limit_and_limit(cloud, adm, svc):
    res = uniq("cores")
    reg = cloud.cli("registered", "limit", "create", "--service", svc["id"], "--default-limit", "10",
                    "--region", "RegionOne", res)
    assert reg["default_limit"] == 10 and reg["resource_name"] == res and reg["region_id"] == "RegionOne"
    listed = cloud.cli("registered", "limit", "list", "--service", svc["id"])
    assert [r["ID"] for r in listed] == [reg["id"]]
    pu = make_project_user(cloud, "member", adm)
    lim = cloud.cli("limit", "create", "--project", pu.project_id, "--service", svc["id"],
                    "--resource-limit", "3", "--region", "RegionOne", res)
    assert lim["resource_limit"] == 3 and lim["project_id"] == pu.project_id
    upd = cloud.cli("limit", "set", "--resource-limit", "4", lim["id"])
    assert upd["resource_limit"] == 4
    # the project's member sees its own limit, and reads the registered default
    mine = cloud.request("GET", "/v3/limits", token=pu.token).json()["limits"]
    assert [x["id"] for x in mine] == [lim["id"]]
    assert cloud.request("GET", f"/v3/limits/{lim['id']}", token=pu.token).status == 200
    other = make_project_user(cloud, "member", adm)
    assert cloud.request("GET", "/v3/limits", token=other.token).json()["limits"] == []
    assert cloud.request("GET", f"/v3/limits/{lim['id']}", token=other.token).status == 403
    assert cloud.request("GET", f"/v3/registered_limits/{reg['id']}", token=other.token).status == 200
    # members cannot write
    r = cloud.request("POST", "/v3/registered_limits", token=pu.token, body={"registered_limits": [
        {"service_id": svc["id"], "resource_name": uniq("x"), "default_limit": 1}]})
    assert r.status == 403
    # a registered limit referenced by project limits cannot be deleted
    r = cloud.request("DELETE", f"/v3/registered_limits/{reg['id']}", token=adm.token)
    assert r.status == 403
    cloud.cli("limit", "delete", lim["id"], json_out=False)
    cloud.cli("registered", "limit", "delete", reg["id"], json_out=False)
    assert cloud.request("GET", f"/v3/registered_limits/{reg['id']}", token=adm.token).status == 404


def test_validation_and_conflicts(cloud, adm, svc):
    res = uniq("ram")
    pu = make_project_user(cloud, "member", adm)
    good = {"service_id": svc["id"], "resource_name": res, "default_limit": 5}
    adm.call("POST", "/v3/registered_limits", {"registered_limits": [good]})
    r = cloud.request("POST", "/v3/registered_limits", token=adm.token, body={"registered_limits": [good]})
    assert r.status == 409
    for bad in ({**good, "service_id": "nope"}, {**good, "region_id": "nowhere"},
                {**good, "default_limit": "5"}, {**good, "default_limit": -2}, {**good, "extra": 1},
                {"service_id": svc["id"], "default_limit": 1}):
        r = cloud.request("POST", "/v3/registered_limits", token=adm.token, body={"registered_limits": [bad]})
        assert r.status == 400, (bad, r)
        assert r.json()["error"]["code"] == 400
    for body in ({"registered_limits": []}, {"registered_limits": {}}, {"registered_limit": [good]}, []):
        assert cloud.request("POST", "/v3/registered_limits", token=adm.token, body=body).status == 400
    lim = {"service_id": svc["id"], "resource_name": res, "resource_limit": 2, "project_id": pu.project_id}
    made = adm.call("POST", "/v3/limits", {"limits": [lim]})["limits"][0]
    assert cloud.request("POST", "/v3/limits", token=adm.token, body={"limits": [lim]}).status == 409
    # no registered limit for that resource: refused
    r = cloud.request("POST", "/v3/limits", token=adm.token,
                      body={"limits": [{**lim, "resource_name": uniq("unregistered")}]})
    assert r.status == 403
    for bad in ({**lim, "project_id": "nope"}, {**lim, "resource_limit": None},
                {k: v for k, v in lim.items() if k != "project_id"}):
        r = cloud.request("POST", "/v3/limits", token=adm.token, body={"limits": [bad]})
        assert r.status == 400, (bad, r)
    r = cloud.request("PATCH", f"/v3/limits/{made['id']}", token=adm.token, body={"limit": {"resource_limit": "x"}})
    assert r.status == 400
    # system scope lists every project's limits; a project-scoped token only its own project's
    sys_tok = issue_token(cloud, "admin", cloud.admin_password, system=True)
    got = cloud.request("GET", f"/v3/limits?project_id={pu.project_id}&resource_name={res}",
                        token=sys_tok).json()["limits"]
    assert [x["id"] for x in got] == [made["id"]]
    assert adm.call("GET", f"/v3/limits?project_id={pu.project_id}")["limits"] == []
    adm.call("DELETE", f"/v3/limits/{made['id']}")
