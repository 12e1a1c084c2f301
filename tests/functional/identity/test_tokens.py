"""Tokens through the unchanged CLI and SDK: issue, validate, revoke, scopes, catalog."""
from __future__ import annotations

import pytest


def test_cli_token_issue_is_project_scoped(cloud):
    tok = cloud.cli("token", "issue")
    assert tok["id"].startswith("gAAAAA")
    project_id = tok["project_id"]
    assert len(project_id) == 32
    # The token validates and carries the admin role on the admin project.
    r = cloud.request("GET", "/v3/auth/tokens", token=tok["id"], headers={"X-Subject-Token": tok["id"]})
    assert r.status == 200, r
    body = r.json()["token"]
    assert body["project"]["name"] == "admin"
    assert {"admin", "member", "reader"} <= {role["name"] for role in body["roles"]}
    assert r.headers["x-subject-token"] == tok["id"]
    assert r.headers["x-openstack-request-id"].startswith("req-")


def test_catalog_lists_identity_at_both_urls(cloud):
    rows = cloud.cli("catalog", "list")
    identity = next(row for row in rows if row["Type"] == "identity")
    assert f"{cloud.url}/identity/v3" in str(identity["Endpoints"])
    # the classic URL answers too
    assert cloud.request("GET", "/v3").json()["version"]["id"].startswith("v3.")
    assert cloud.request("GET", "/identity/v3").status == 200
    assert cloud.request("GET", "/").status == 300


def test_revoked_token_is_refused(cloud):
    tok = cloud.cli("token", "issue")["id"]
    assert cloud.request("GET", "/v3/auth/projects", token=tok).status == 200
    admin_tok = cloud.cli("token", "issue")["id"]
    r = cloud.request("DELETE", "/v3/auth/tokens", token=admin_tok, headers={"X-Subject-Token": tok})
    assert r.status == 204, r
    r = cloud.request("GET", "/v3/auth/projects", token=tok)
    assert r.status == 401
    assert r.json()["error"]["code"] == 401
    assert "Keystone uri=" in r.headers["www-authenticate"]
    # the other token is untouched
    assert cloud.request("GET", "/v3/auth/projects", token=admin_tok).status == 200


def test_cli_token_revoke(cloud):
    tok = cloud.cli("token", "issue")["id"]
    cloud.cli("token", "revoke", tok, json_out=False)
    r = cloud.request("HEAD", "/v3/auth/tokens", token=cloud.cli("token", "issue")["id"],
                      headers={"X-Subject-Token": tok})
    assert r.status == 404


def test_system_and_demo_scopes(cloud):
    sys_conn = cloud.sdk("onestack-system-admin")
    info = sys_conn.session.auth.get_access(sys_conn.session)
    assert info.system_scoped
    demo = cloud.sdk("onestack")
    assert demo.current_project.name == "demo"


@pytest.mark.parametrize("body,status", [
    (b"{not json", 400),
    (b"[]", 400),
    (b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", '
     b'"domain": {"id": "default"}, "password": "wrong"}}}}}', 401),
    (b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "nobody", '
     b'"domain": {"id": "default"}, "password": "x"}}}}}', 401),
    (b'{"auth": {"identity": {"methods": ["magic"]}}}', 401),
    (b'{"auth": {"identity": {"methods": []}}}', 400),
    (b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": 5}}}}}', 400),
])
def test_bad_auth_requests(cloud, body, status):
    r = cloud.request("POST", "/v3/auth/tokens", raw=body, headers={"Content-Type": "application/json"})
    assert r.status == status, r
    err = r.json()["error"]
    assert err["code"] == status and err["message"]


def test_garbage_tokens_are_401(cloud):
    for tok in ["garbage", "gAAAAA" + "x" * 100, "", "a" * 5000]:
        r = cloud.request("GET", "/v3/auth/projects", token=tok or None)
        assert r.status in (401, 431, 400), r
        if r.status == 401:
            assert r.json()["error"]["title"] == "Unauthorized"


def test_oversize_body_is_413(cloud):
    r = cloud.request("POST", "/v3/auth/tokens", raw=b"{" + b" " * 200000 + b"}",
                      headers={"Content-Type": "application/json"})
    assert r.status == 413
