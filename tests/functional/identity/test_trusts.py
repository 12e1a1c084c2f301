"""OS-TRUST: trusts and trust-scoped tokens."""
from __future__ import annotations

import uuid

import pytest

from tests.factories.identity import Admin, issue_token, make_project_user

TRUSTS = "/v3/OS-TRUST/trusts"


@pytest.fixture(scope="module")
def adm(cloud):
    return Admin(cloud)


@pytest.fixture(scope="module")
def pair(cloud, adm):
    trustor = make_project_user(cloud, "member", adm)
    pw = uuid.uuid4().hex
    trustee = adm.user(password=pw)
    return trustor, trustee, pw


def _trust_token(cloud, trustee, pw, trust_id):
    unscoped = issue_token(cloud, trustee["name"], pw)
    return cloud.request("POST", "/v3/auth/tokens?nocatalog=1", body={"auth": {
        "identity": {"methods": ["token"], "token": {"id": unscoped}},
        "scope": {"OS-TRUST:trust": {"id": trust_id}}}})


def _create(cloud, trustor, trustee, **kw):
    body = {"trustor_user_id": trustor.user_id, "trustee_user_id": trustee["id"],
            "project_id": trustor.project_id, "impersonation": False, "roles": [{"name": "reader"}], **kw}
    return cloud.request("POST", TRUSTS, token=trustor.token, body={"trust": body})


def test_trust_lifecycle_and_token(cloud, adm, pair):
    trustor, trustee, pw = pair
    r = _create(cloud, trustor, trustee, remaining_uses=2)
    assert r.status == 201, r
    t = r.json()["trust"]
    assert [x["name"] for x in t["roles"]] == ["reader"] and t["remaining_uses"] == 2
    tok = _trust_token(cloud, trustee, pw, t["id"])
    assert tok.status == 201, tok
    body = tok.json()["token"]
    assert body["user"]["id"] == trustee["id"] and body["project"]["id"] == trustor.project_id
    assert body["OS-TRUST:trust"]["id"] == t["id"]
    assert body["OS-TRUST:trust"]["trustor_user"]["id"] == trustor.user_id
    assert {x["name"] for x in body["roles"]} == {"reader"}
    # the trust-scoped token works, and cannot be rescoped
    ttok = tok.headers["x-subject-token"]
    assert cloud.request("GET", "/v3/auth/catalog", token=ttok).status == 200
    r = cloud.request("POST", "/v3/auth/tokens", body={"auth": {"identity": {
        "methods": ["token"], "token": {"id": ttok}}, "scope": {"project": {"id": trustor.project_id}}}})
    assert r.status == 403
    # uses run out
    assert _trust_token(cloud, trustee, pw, t["id"]).status == 201
    assert _trust_token(cloud, trustee, pw, t["id"]).status == 403
    # trustor and trustee see it; others do not
    assert cloud.request("GET", f"{TRUSTS}/{t['id']}", token=trustor.token).status == 200
    other = make_project_user(cloud, "member", adm)
    assert cloud.request("GET", f"{TRUSTS}/{t['id']}", token=other.token).status == 403
    roles = cloud.request("GET", f"{TRUSTS}/{t['id']}/roles", token=trustor.token).json()["roles"]
    assert [x["name"] for x in roles] == ["reader"]
    rid = roles[0]["id"]
    assert cloud.request("GET", f"{TRUSTS}/{t['id']}/roles/{rid}", token=trustor.token).status == 200
    assert cloud.request("GET", f"{TRUSTS}/{t['id']}/roles/nope", token=trustor.token).status == 404
    listed = cloud.request("GET", f"{TRUSTS}?trustor_user_id={trustor.user_id}", token=trustor.token)
    assert t["id"] in {x["id"] for x in listed.json()["trusts"]}
    assert cloud.request("GET", f"{TRUSTS}?trustor_user_id={trustor.user_id}", token=other.token).status == 403
    assert cloud.request("GET", TRUSTS, token=trustor.token).status == 403
    assert t["id"] in {x["id"] for x in adm.call("GET", TRUSTS)["trusts"]}
    # deleting revokes tokens
    assert cloud.request("DELETE", f"{TRUSTS}/{t['id']}", token=other.token).status == 403
    assert cloud.request("DELETE", f"{TRUSTS}/{t['id']}", token=trustor.token).status == 204
    assert cloud.request("GET", "/v3/auth/catalog", token=ttok).status == 401
    assert cloud.request("GET", f"{TRUSTS}/{t['id']}", token=trustor.token).status == 404


def test_impersonation(cloud, pair):
    trustor, trustee, pw = pair
    t = _create(cloud, trustor, trustee, impersonation=True, roles=[{"name": "member"}]).json()["trust"]
    tok = _trust_token(cloud, trustee, pw, t["id"]).json()["token"]
    assert tok["user"]["id"] == trustor.user_id
    assert tok["OS-TRUST:trust"]["impersonation"] is True
    assert {"member", "reader"} <= {x["name"] for x in tok["roles"]}


def test_cli_trust(cloud, adm, pair):
    trustor, trustee, pw = pair
    made = cloud.cli("trust", "create", "--project", "admin", "--role", "reader", "admin", trustee["id"])
    assert made["trustee_user_id"] == trustee["id"]
    assert made["id"] in {x["ID"] for x in cloud.cli("trust", "list")}
    assert cloud.cli("trust", "show", made["id"])["project_id"]
    cloud.cli("trust", "delete", made["id"], json_out=False)


def test_bad_trusts(cloud, adm, pair):
    trustor, trustee, pw = pair
    cases = [({"roles": [{"name": "admin"}]}, 404),           # trustor does not hold it
             ({"roles": []}, 403),                            # project without roles
             ({"trustor_user_id": trustee["id"]}, 403),       # not the caller
             ({"trustee_user_id": "nope"}, 404),
             ({"impersonation": "yes"}, 400), ({"remaining_uses": 0}, 400),
             ({"expires_at": "2001-01-01T00:00:00Z"}, 400), ({"expires_at": "soon"}, 400),
             ({"roles": "reader"}, 400), ({"project_id": "nope"}, 404)]
    for extra, code in cases:
        r = _create(cloud, trustor, trustee, **extra)
        assert r.status == code, (extra, r)
        assert r.json()["error"]["code"] == code
    assert cloud.request("POST", TRUSTS, token=trustor.token, body={"trust": []}).status == 400
    # a user that is not the trustee cannot use the trust
    t = _create(cloud, trustor, trustee).json()["trust"]
    other_pw = uuid.uuid4().hex
    other = adm.user(password=other_pw)
    assert _trust_token(cloud, other, other_pw, t["id"]).status == 403
    assert _trust_token(cloud, trustee, pw, "nope").status == 404
