"""Application credentials and access rules, and tokens from them."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.factories.identity import Admin, make_project_user


@pytest.fixture(scope="module")
def adm(cloud):
    return Admin(cloud)


def _appcred_token(cloud, ac_id, secret):
    return cloud.request("POST", "/v3/auth/tokens?nocatalog=1", body={"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": ac_id, "secret": secret}}}})


def test_cli_create_then_authenticate_with_it(cloud):
    made = cloud.cli("application", "credential", "create", "cli-ac", "--description", "from the CLI")
    assert made["Name"] == "cli-ac" and made["Secret"] and made["Unrestricted"] is False
    assert {r["name"] for r in made["Roles"]} >= {"admin", "member", "reader"}
    r = cloud.cli("--os-auth-type", "v3applicationcredential",
                  "--os-application-credential-id", made["ID"],
                  "--os-application-credential-secret", made["Secret"],
                  "token", "issue", cloud="", env={"OS_AUTH_URL": cloud.url + "/identity/v3",
                                                   "OS_IDENTITY_API_VERSION": "3"})
    assert r["project_id"] and r["user_id"]
    listed = cloud.cli("application", "credential", "list")
    assert "cli-ac" in {a["Name"] for a in listed}
    shown = cloud.cli("application", "credential", "show", "cli-ac")
    assert shown["ID"] == made["ID"] and not shown.get("Secret")
    cloud.cli("application", "credential", "delete", "cli-ac", json_out=False)
    assert "cli-ac" not in {a["Name"] for a in cloud.cli("application", "credential", "list")}


def test_roles_subset_secret_and_revocation(cloud, adm):
    pu = make_project_user(cloud, "member", adm)
    base = f"/v3/users/{pu.user_id}/application_credentials"
    r = cloud.request("POST", base, token=pu.token, body={"application_credential": {
        "name": "mine", "secret": "my-own-secret", "roles": [{"name": "reader"}]}})
    assert r.status == 201, r
    ac = r.json()["application_credential"]
    assert ac["secret"] == "my-own-secret" and [x["name"] for x in ac["roles"]] == ["reader"]
    assert ac["project_id"] == pu.project_id
    # a role the creator does not hold is refused; a duplicate name conflicts
    r = cloud.request("POST", base, token=pu.token, body={"application_credential": {
        "name": "x", "roles": [{"name": "admin"}]}})
    assert r.status in (403, 404) and r.json()["error"]
    r = cloud.request("POST", base, token=pu.token, body={"application_credential": {"name": "mine"}})
    assert r.status == 409
    # the token carries only the delegated role
    t = _appcred_token(cloud, ac["id"], "my-own-secret")
    assert t.status == 201, t
    body = t.json()["token"]
    assert [x["name"] for x in body["roles"]] == ["reader"]
    assert body["application_credential"]["id"] == ac["id"] and body["project"]["id"] == pu.project_id
    tok = t.headers["x-subject-token"]
    assert _appcred_token(cloud, ac["id"], "wrong").status == 401
    # a restricted app cred cannot make more app creds
    r = cloud.request("POST", base, token=tok, body={"application_credential": {"name": "child"}})
    assert r.status == 403
    # show never returns the secret; list filters by name
    shown = cloud.request("GET", f"{base}/{ac['id']}", token=pu.token).json()["application_credential"]
    assert "secret" not in shown
    named = cloud.request("GET", f"{base}?name=mine", token=pu.token).json()["application_credentials"]
    assert [a["id"] for a in named] == [ac["id"]]
    # another user cannot see or delete it
    other = make_project_user(cloud, "member", adm)
    assert cloud.request("GET", f"{base}/{ac['id']}", token=other.token).status == 403
    assert cloud.request("DELETE", f"{base}/{ac['id']}", token=other.token).status == 403
    # deleting it revokes its tokens
    assert cloud.request("GET", "/v3/auth/projects", token=tok).status == 200
    assert cloud.request("DELETE", f"{base}/{ac['id']}", token=pu.token).status == 204
    assert cloud.request("GET", "/v3/auth/projects", token=tok).status == 401
    assert cloud.request("GET", f"{base}/{ac['id']}", token=pu.token).status == 404


def test_unrestricted_expiry_and_bad_input(cloud, adm):
    pu = make_project_user(cloud, "member", adm)
    base = f"/v3/users/{pu.user_id}/application_credentials"
    r = cloud.request("POST", base, token=pu.token, body={"application_credential": {
        "name": "free", "unrestricted": True}})
    ac = r.json()["application_credential"]
    tok = _appcred_token(cloud, ac["id"], ac["secret"]).headers["x-subject-token"]
    r = cloud.request("POST", base, token=tok, body={"application_credential": {"name": "child"}})
    assert r.status == 201
    past = (dt.datetime.utcnow() - dt.timedelta(days=1)).isoformat()
    future = (dt.datetime.utcnow() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = cloud.request("POST", base, token=pu.token, body={"application_credential": {
        "name": "exp", "expires_at": future}})
    assert r.status == 201 and r.json()["application_credential"]["expires_at"].startswith(future[:19])
    for bad in ({"name": "p", "expires_at": past}, {"name": "q", "expires_at": "tomorrow"}, {},
                {"name": 5}, {"name": "r", "roles": "admin"}, {"name": "s", "unrestricted": "yes"},
                {"name": "t", "access_rules": [{"service": "compute", "path": "no-slash", "method": "GET"}]},
                {"name": "u", "bogus": 1}):
        r = cloud.request("POST", base, token=pu.token, body={"application_credential": bad})
        assert r.status == 400, (bad, r)
    # another user's URL
    other = make_project_user(cloud, "member", adm)
    r = cloud.request("POST", f"/v3/users/{other.user_id}/application_credentials", token=pu.token,
                      body={"application_credential": {"name": "steal"}})
    assert r.status == 403


def test_access_rules(cloud, adm):
    pu = make_project_user(cloud, "member", adm)
    base = f"/v3/users/{pu.user_id}"
    rules = [{"service": "compute", "path": "/v2.1/servers", "method": "GET"},
             {"service": "identity", "path": "/v3/auth/projects", "method": "GET"}]
    ac = cloud.request("POST", f"{base}/application_credentials", token=pu.token, body={
        "application_credential": {"name": "ruled", "access_rules": rules}}).json()["application_credential"]
    assert [(x["service"], x["path"], x["method"]) for x in ac["access_rules"]] == \
        [(x["service"], x["path"], x["method"]) for x in rules]
    listed = cloud.request("GET", f"{base}/access_rules", token=pu.token).json()["access_rules"]
    assert {x["id"] for x in listed} == {x["id"] for x in ac["access_rules"]}
    rid = listed[0]["id"]
    assert cloud.request("GET", f"{base}/access_rules/{rid}", token=pu.token).json()["access_rule"]["id"] == rid
    # reuse by id
    ac2 = cloud.request("POST", f"{base}/application_credentials", token=pu.token, body={
        "application_credential": {"name": "reuse", "access_rules": [{"id": rid}]}}).json()
    assert ac2["application_credential"]["access_rules"][0]["id"] == rid
    # in use: cannot delete
    assert cloud.request("DELETE", f"{base}/access_rules/{rid}", token=pu.token).status == 403
    tok = _appcred_token(cloud, ac["id"], ac["secret"])
    assert tok.json()["token"]["application_credential"]["access_rules"]
    for a in (ac, ac2["application_credential"]):
        cloud.request("DELETE", f"{base}/application_credentials/{a['id']}", token=pu.token)
    assert cloud.request("DELETE", f"{base}/access_rules/{rid}", token=pu.token).status == 204
    assert cloud.request("GET", f"{base}/access_rules/{rid}", token=pu.token).status == 404


def test_access_rules_are_enforced(cloud, adm):
    pu = make_project_user(cloud, "member", adm)
    base = f"/v3/users/{pu.user_id}/application_credentials"
    ac = cloud.request("POST", base, token=pu.token, body={"application_credential": {
        "name": "only-projects", "access_rules": [
            {"service": "identity", "path": "/v3/auth/projects", "method": "GET"},
            {"service": "identity", "path": "/v3/users/*/application_credentials", "method": "GET"}]}}
    ).json()["application_credential"]
    tok = _appcred_token(cloud, ac["id"], ac["secret"]).headers["x-subject-token"]
    assert cloud.request("GET", "/v3/auth/projects", token=tok).status == 200
    assert cloud.request("GET", "/identity/v3/auth/projects", token=tok).status == 200
    assert cloud.request("GET", base, token=tok).status == 200
    # anything else is refused with 401, as keystonemiddleware does
    for method, path in (("GET", "/v3/auth/domains"), ("DELETE", f"{base}/{ac['id']}"),
                         ("GET", f"{base}/{ac['id']}"), ("GET", "/v3/users/" + pu.user_id)):
        r = cloud.request(method, path, token=tok)
        assert r.status == 401, (method, path, r)
    assert cloud.request("GET", f"{base}/{ac['id']}", token=pu.token).status == 200
    # an app cred without rules is not limited
    free = cloud.request("POST", base, token=pu.token, body={"application_credential": {"name": "free"}}
                         ).json()["application_credential"]
    ftok = _appcred_token(cloud, free["id"], free["secret"]).headers["x-subject-token"]
    assert cloud.request("GET", "/v3/auth/domains", token=ftok).status == 200
