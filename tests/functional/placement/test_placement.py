"""Placement over real HTTP: osc-placement CLI, raw requests per microversion, generations,
nested providers, allocations with consumer generations, allocation candidates."""
from __future__ import annotations

import uuid

import pytest

PV = "1.39"


def _h(version: str = PV) -> dict[str, str]:
    return {"OpenStack-API-Version": f"placement {version}"}


@pytest.fixture(scope="module")
def tok(cloud):
    return cloud.token()


def _rp(cloud, tok, name=None, parent=None):
    body = {"name": name or f"rp-{uuid.uuid4().hex[:8]}"}
    if parent:
        body["parent_provider_uuid"] = parent
    r = cloud.request("POST", "/placement/resource_providers", tok, body, _h())
    assert r.status == 200, r
    return r.json()


def _inv(cloud, tok, rp, **totals):
    r = cloud.request("PUT", f"/placement/resource_providers/{rp['uuid']}/inventories", tok,
                      {"resource_provider_generation": rp["generation"],
                       "inventories": {k: {"total": v} for k, v in totals.items()}}, _h())
    assert r.status == 200, r
    return r.json()["resource_provider_generation"]


def test_version_document_needs_no_token(cloud):
    r = cloud.request("GET", "/placement/")
    assert r.status == 200
    v = r.json()["versions"][0]
    assert v["min_version"] == "1.0" and v["max_version"] == PV


def test_cli_provider_inventory_and_candidates(cloud, uniq):
    rp = cloud.cli("resource", "provider", "create", f"cli-{uniq}")
    cloud.cli("resource", "provider", "inventory", "set", rp["uuid"], "--resource", "VCPU=4",
              "--resource", "MEMORY_MB=2048", "--resource", "DISK_GB=20")
    names = [p["name"] for p in cloud.cli("resource", "provider", "list")]
    assert f"cli-{uniq}" in names
    cands = cloud.cli("--os-placement-api-version", "1.29", "allocation", "candidate", "list",
                      "--resource", "VCPU=3", "--resource", "MEMORY_MB=2048")
    assert rp["uuid"] in [c["resource provider"] for c in cands]
    cands = cloud.cli("--os-placement-api-version", "1.29", "allocation", "candidate", "list",
                      "--resource", "VCPU=5")
    assert rp["uuid"] not in [c["resource provider"] for c in cands]
    cloud.cli("resource", "provider", "delete", rp["uuid"], json_out=False)


def test_generation_conflict_is_409(cloud, tok):
    rp = _rp(cloud, tok)
    gen = _inv(cloud, tok, rp, VCPU=2)
    r = cloud.request("PUT", f"/placement/resource_providers/{rp['uuid']}/inventories", tok,
                      {"resource_provider_generation": gen - 1, "inventories": {"VCPU": {"total": 4}}}, _h())
    assert r.status == 409
    assert r.json()["errors"][0]["code"] == "placement.concurrent_update"


def test_allocations_consumer_generation_and_capacity(cloud, tok):
    rp = _rp(cloud, tok)
    _inv(cloud, tok, rp, VCPU=4, MEMORY_MB=1024)
    c = str(uuid.uuid4())
    body = {"allocations": {rp["uuid"]: {"resources": {"VCPU": 2, "MEMORY_MB": 512}}},
            "project_id": "p1", "user_id": "u1", "consumer_generation": None, "consumer_type": "INSTANCE"}
    assert cloud.request("PUT", f"/placement/allocations/{c}", tok, body, _h()).status == 204
    # stale consumer generation
    assert cloud.request("PUT", f"/placement/allocations/{c}", tok, body, _h()).status == 409
    got = cloud.request("GET", f"/placement/allocations/{c}", tok, headers=_h()).json()
    assert got["consumer_generation"] == 0 and got["allocations"][rp["uuid"]]["resources"]["VCPU"] == 2
    # over capacity
    c2 = str(uuid.uuid4())
    over = dict(body, allocations={rp["uuid"]: {"resources": {"VCPU": 3}}})
    r = cloud.request("PUT", f"/placement/allocations/{c2}", tok, over, _h())
    assert r.status == 409, r
    usages = cloud.request("GET", f"/placement/resource_providers/{rp['uuid']}/usages", tok,
                           headers=_h()).json()["usages"]
    assert usages == {"VCPU": 2, "MEMORY_MB": 512}
    # in-use inventory cannot go away; provider with allocations cannot be deleted
    r = cloud.request("DELETE", f"/placement/resource_providers/{rp['uuid']}", tok, headers=_h())
    assert r.status == 409
    assert cloud.request("DELETE", f"/placement/allocations/{c}", tok, headers=_h()).status == 204
    assert cloud.request("DELETE", f"/placement/allocations/{c}", tok, headers=_h()).status == 404
    assert cloud.request("DELETE", f"/placement/resource_providers/{rp['uuid']}", tok, headers=_h()).status == 204


def test_nested_tree_and_in_tree_candidates(cloud, tok):
    root = _rp(cloud, tok)
    child = _rp(cloud, tok, parent=root["uuid"])
    assert child["root_provider_uuid"] == root["uuid"]
    _inv(cloud, tok, root, VCPU=4)
    r = cloud.request("PUT", "/placement/resource_classes/CUSTOM_NESTED_THING", tok, headers=_h())
    assert r.status in (201, 204)
    _inv(cloud, tok, child, CUSTOM_NESTED_THING=8)
    r = cloud.request("GET", f"/placement/allocation_candidates?resources=VCPU:1,CUSTOM_NESTED_THING:2"
                      f"&in_tree={root['uuid']}", tok, headers=_h())
    assert r.status == 200, r
    reqs = r.json()["allocation_requests"]
    assert len(reqs) == 1
    assert set(reqs[0]["allocations"]) == {root["uuid"], child["uuid"]}
    summ = r.json()["provider_summaries"]
    assert summ[child["uuid"]]["parent_provider_uuid"] == root["uuid"]
    # a parent with children cannot be deleted
    r = cloud.request("DELETE", f"/placement/resource_providers/{root['uuid']}", tok, headers=_h())
    assert r.status == 409
    assert r.json()["errors"][0]["code"] == "placement.resource_provider.cannot_delete_parent"


def test_traits_and_forbidden_traits(cloud, tok, uniq):
    trait = f"CUSTOM_T_{uniq.upper()}"
    assert cloud.request("PUT", f"/placement/traits/{trait}", tok, headers=_h()).status == 201
    assert cloud.request("PUT", f"/placement/traits/{trait}", tok, headers=_h()).status == 204
    a, b = _rp(cloud, tok), _rp(cloud, tok)
    _inv(cloud, tok, a, VCPU=1)
    gb = _inv(cloud, tok, b, VCPU=1)
    r = cloud.request("PUT", f"/placement/resource_providers/{b['uuid']}/traits", tok,
                      {"traits": [trait, "HW_CPU_X86_AVX2"], "resource_provider_generation": gb}, _h())
    assert r.status == 200, r
    def cands(q):
        r = cloud.request("GET", f"/placement/allocation_candidates?resources=VCPU:1&{q}", tok, headers=_h())
        assert r.status == 200, r
        return {rp for req in r.json()["allocation_requests"] for rp in req["allocations"]}
    assert b["uuid"] in cands(f"required={trait}") and a["uuid"] not in cands(f"required={trait}")
    assert b["uuid"] not in cands(f"required=!{trait}") and a["uuid"] in cands(f"required=!{trait}")
    r = cloud.request("GET", "/placement/allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE_X",
                      tok, headers=_h())
    assert r.status == 400


def test_aggregates_and_member_of(cloud, tok):
    a = _rp(cloud, tok)
    g = _inv(cloud, tok, a, VCPU=2)
    agg = str(uuid.uuid4())
    r = cloud.request("PUT", f"/placement/resource_providers/{a['uuid']}/aggregates", tok,
                      {"aggregates": [agg], "resource_provider_generation": g}, _h())
    assert r.status == 200 and r.json()["aggregates"] == [agg]
    r = cloud.request("GET", f"/placement/resource_providers?member_of=in:{agg}", tok, headers=_h())
    assert [p["uuid"] for p in r.json()["resource_providers"]] == [a["uuid"]]
    # 1.1 takes a bare list and returns no generation
    r = cloud.request("PUT", f"/placement/resource_providers/{a['uuid']}/aggregates", tok, [agg],
                      _h("1.1"))
    assert r.status == 200 and "resource_provider_generation" not in r.json()


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/placement/resource_providers", {"name": ""}),
    ("POST", "/placement/resource_providers", {"name": "x", "bogus": 1}),
    ("POST", "/placement/resource_providers", {"name": "x", "uuid": "not-a-uuid"}),
    ("GET", "/placement/allocation_candidates?resources=VCPU", None),
    ("GET", "/placement/allocation_candidates?resources=VCPU:-1", None),
    ("GET", "/placement/allocation_candidates?resources=NOPE:1", None),
    ("GET", "/placement/resource_providers?bogus=1", None),
    ("PUT", "/placement/allocations/11111111-2222-3333-4444-555555555555", {"allocations": {}}),
    ("POST", "/placement/resource_classes", {"name": "lowercase"}),
    ("PUT", "/placement/traits/NOT_CUSTOM", None),
])
def test_bad_input_is_400_in_placement_shape(cloud, tok, method, path, body):
    r = cloud.request(method, path, tok, body, _h())
    assert r.status == 400, r
    err = r.json()["errors"][0]
    assert err["status"] == 400 and err["detail"] and err["request_id"].startswith("req-")


def test_non_admin_is_forbidden_and_unknown_is_404(cloud):
    demo = cloud.token("onestack")
    r = cloud.request("GET", "/placement/resource_providers", demo, headers=_h())
    assert r.status == 403 and r.json()["errors"][0]["status"] == 403
    r = cloud.request("GET", f"/placement/resource_providers/{uuid.uuid4()}", cloud.token(), headers=_h())
    assert r.status == 404


def test_microversion_negotiation(cloud, tok):
    r = cloud.request("GET", "/placement/resource_providers", tok, headers=_h("1.0"))
    assert r.status == 200 and r.headers["openstack-api-version"] == "placement 1.0"
    assert "parent_provider_uuid" not in (r.json()["resource_providers"] or [{}])[0]
    assert cloud.request("GET", "/placement/resource_providers", tok, headers=_h("9.9")).status == 406
    assert cloud.request("GET", "/placement/traits", tok, headers=_h("1.5")).status == 404
