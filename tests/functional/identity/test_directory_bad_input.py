"""Bad input to the directory APIs: upstream-shaped 4xx with a clear message, never a
500, never a half-created resource."""
from __future__ import annotations

import pytest

from tests.factories.identity import Admin, uniq


@pytest.fixture(scope="module")
def adm(cloud):
    return Admin(cloud)


def _err(r, status: int) -> str:
    assert r.status == status, r
    err = r.json()["error"]
    assert err["code"] == status and err["title"] and err["message"]
    return err["message"]


@pytest.mark.parametrize("path", ["/v3/domains", "/v3/projects", "/v3/users", "/v3/groups", "/v3/roles"])
@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'"x"', b"{}", b'{"x": {}}'])
def test_malformed_bodies(cloud, adm, path, raw):
    r = cloud.request("POST", path, token=adm.token, raw=raw, headers={"Content-Type": "application/json"})
    _err(r, 400)


KINDS = {"domain": "/v3/domains", "project": "/v3/projects", "user": "/v3/users",
         "group": "/v3/groups", "role": "/v3/roles"}


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("bad,needle", [
    ({}, "name"),                                # missing required name
    ({"name": 5}, "name"),                       # wrong type
    ({"name": ""}, "name"),                      # too short
    ({"name": "   "}, "name"),                   # blank
    ({"name": "x" * 300}, "name"),               # too long for every kind
    ({"name": None}, "name"),
])
def test_bad_names_are_400_and_create_nothing(cloud, adm, kind, bad, needle):
    r = cloud.request("POST", KINDS[kind], token=adm.token, body={kind: bad})
    assert needle in _err(r, 400)


@pytest.mark.parametrize("kind,body", [
    ("project", {"name": "ok", "enabled": "yes"}),
    ("project", {"name": "ok", "tags": "a,b"}),
    ("project", {"name": "ok", "tags": ["a/b"]}),
    ("project", {"name": "ok", "is_domain": 1}),
    ("project", {"name": "ok", "options": {"nope": True}}),
    ("domain", {"name": "ok", "enabled": "false"}),
    ("user", {"name": "ok", "enabled": 0}),
    ("user", {"name": "ok", "password": 12345}),
    ("user", {"name": "ok", "options": {"lock_password": "true"}}),
    ("user", {"name": "ok", "options": {"multi_factor_auth_rules": "password"}}),
    ("role", {"name": "ok", "options": {"immutable": "no"}}),
])
def test_wrong_types_are_400(cloud, adm, kind, body):
    body = dict(body, name=uniq("bad"))
    r = cloud.request("POST", KINDS[kind], token=adm.token, body={kind: body})
    _err(r, 400)
    listed = adm.call("GET", f"{KINDS[kind]}?name={body['name']}")[KINDS[kind].rsplit('/', 1)[1]]
    assert listed == []


def test_project_name_64_is_ok_65_is_400(cloud, adm):
    ok = "p" * 59 + uniq("")[:5]
    r = cloud.request("POST", "/v3/projects", token=adm.token, body={"project": {"name": ok[:64]}})
    assert r.status == 201, r
    _err(cloud.request("POST", "/v3/projects", token=adm.token, body={"project": {"name": "p" * 65}}), 400)


def test_unknown_references_are_400_or_404(cloud, adm):
    _err(cloud.request("POST", "/v3/projects", token=adm.token,
                       body={"project": {"name": uniq(), "domain_id": "nope"}}), 400)
    _err(cloud.request("POST", "/v3/projects", token=adm.token,
                       body={"project": {"name": uniq(), "parent_id": "nope"}}), 400)
    for kind in ("user", "group", "role"):
        _err(cloud.request("POST", KINDS[kind], token=adm.token,
                           body={kind: {"name": uniq(), "domain_id": "nope"}}), 404)
    for path in ("/v3/projects/nope", "/v3/users/nope", "/v3/groups/nope", "/v3/roles/nope",
                 "/v3/domains/nope"):
        _err(cloud.request("GET", path, token=adm.token), 404)
        _err(cloud.request("DELETE", path, token=adm.token), 404)
    _err(cloud.request("PATCH", "/v3/projects/nope", token=adm.token, body={"project": {"name": "x"}}), 404)
    _err(cloud.request("GET", "/v3/roles/nope/implies", token=adm.token), 404)
    _err(cloud.request("POST", "/v3/users/nope/password", body={"user": {"original_password": "a",
                                                                         "password": "b"}}), 404)


def test_update_bodies(cloud, adm):
    p = adm.project()
    _err(cloud.request("PATCH", f"/v3/projects/{p['id']}", token=adm.token, body={"project": {}}), 400)
    _err(cloud.request("PATCH", f"/v3/projects/{p['id']}", token=adm.token,
                       body={"project": {"domain_id": "other"}}), 400)
    _err(cloud.request("PATCH", f"/v3/projects/{p['id']}", token=adm.token,
                       body={"project": {"name": "x"}, "extra": 1}), 400)
    u = adm.user()
    _err(cloud.request("PATCH", f"/v3/users/{u['id']}", token=adm.token,
                       body={"user": {"enabled": "no"}}), 400)
    _err(cloud.request("POST", f"/v3/users/{u['id']}/password",
                       body={"user": {"original_password": "x", "password": 5}}), 400)
    _err(cloud.request("POST", f"/v3/users/{u['id']}/password", raw=b"nope",
                       headers={"Content-Type": "application/json"}), 400)


def test_duplicates_are_409(cloud, adm):
    name = uniq("dup")
    for kind in ("domain", "project", "user", "group", "role"):
        r1 = cloud.request("POST", KINDS[kind], token=adm.token, body={kind: {"name": name}})
        assert r1.status == 201, r1
        r2 = cloud.request("POST", KINDS[kind], token=adm.token, body={kind: {"name": name}})
        assert "Duplicate" in _err(r2, 409) or "same name" in _err(r2, 409)
    # renaming onto an existing name is a conflict too
    other = adm.project()
    _err(cloud.request("PATCH", f"/v3/projects/{other['id']}", token=adm.token,
                       body={"project": {"name": name}}), 409)


def test_role_assignment_query_errors(cloud, adm):
    for q in ("scope.domain.id=a&scope.project.id=b", "scope.system=all&scope.domain.id=a",
              "effective&group.id=x", "include_subtree=true"):
        _err(cloud.request("GET", f"/v3/role_assignments?{q}", token=adm.token), 400)
    _err(cloud.request("GET", "/v3/role_assignments?include_subtree=true&scope.project.id=nope",
                       token=adm.token), 404)


def test_no_token_is_401(cloud):
    r = cloud.request("GET", "/v3/projects")
    _err(r, 401)


def test_concurrent_duplicate_creates_are_one_201_and_409s(cloud, adm):
    """Racing creates of one name: exactly one wins, the rest get 409 (never a 500)."""
    from concurrent.futures import ThreadPoolExecutor
    name = uniq("race")

    def create(_: int) -> int:
        return cloud.request("POST", "/v3/projects", token=adm.token, body={"project": {"name": name}}).status
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] + [409] * 7, statuses
    assert len(adm.call("GET", f"/v3/projects?name={name}")["projects"]) == 1
