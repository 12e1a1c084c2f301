"""Keystone directory APIs driven the way users drive them: the unchanged `openstack`
CLI, openstacksdk, and raw HTTP for the wire details (status codes, bodies, filters)."""
from __future__ import annotations

import pytest

from tests.factories.identity import Admin, issue_token, make_project_user, uniq


@pytest.fixture(scope="module")
def adm(cloud):
    return Admin(cloud)


def _valid(cloud, token: str) -> int:
    """Status of a call that needs only a valid token."""
    return cloud.request("GET", "/v3/auth/projects", token=token).status


# ------------------------------------------------------------------ CLI
def test_cli_project_lifecycle(cloud):
    name = uniq("cli-proj")
    created = cloud.cli("project", "create", name, "--description", "first", "--tag", "blue")
    assert created["name"] == name and created["domain_id"] == "default"
    assert created["parent_id"] == "default" and created["tags"] == ["blue"]
    assert name in [p["Name"] for p in cloud.cli("project", "list")]
    cloud.cli("project", "set", name, "--description", "second", "--disable", json_out=False)
    shown = cloud.cli("project", "show", name)
    assert shown["description"] == "second" and shown["enabled"] is False
    cloud.cli("project", "delete", name, json_out=False)
    assert Admin(cloud).call("GET", f"/v3/projects?name={name}")["projects"] == []


def test_cli_user_changes_own_password(cloud, adm):
    pu = make_project_user(cloud, "member", adm)
    cloud.cli("user", "set", "--email", "someone@example.org", pu.user_name, json_out=False)
    assert adm.call("GET", f"/v3/users/{pu.user_id}")["user"]["email"] == "someone@example.org"
    env = {"OS_CLOUD": "", "OS_AUTH_URL": f"{cloud.url}/identity/v3", "OS_USERNAME": pu.user_name,
           "OS_PASSWORD": pu.password, "OS_PROJECT_NAME": pu.project_name,
           "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
           "OS_IDENTITY_API_VERSION": "3"}
    old_token = pu.token
    assert _valid(cloud, old_token) == 200
    r = cloud.cli("--os-cloud", "", "user", "password", "set", "--password", "n3w-secret",
                  "--original-password", pu.password, cloud="", json_out=False, env=env)
    assert r.returncode == 0, r.stderr
    # the old password is gone, the new one works, the user's earlier tokens are revoked
    with pytest.raises(AssertionError):
        issue_token(cloud, pu.user_name, pu.password, project=pu.project_name)
    issue_token(cloud, pu.user_name, "n3w-secret", project=pu.project_name)
    assert _valid(cloud, old_token) == 401


def test_cli_groups_roles_and_effective_assignments(cloud, adm):
    grp = uniq("cli-grp")
    proj = adm.project()
    password = "pw-" + uniq()
    user = adm.user(password=password)
    cloud.cli("group", "create", grp)
    cloud.cli("group", "add", "user", grp, user["name"], json_out=False)
    cloud.cli("role", "add", "--group", grp, "--project", proj["id"], "member", json_out=False)
    rows = cloud.cli("role", "assignment", "list", "--names", "--effective", "--user", user["name"])
    got = {(r["Role"], r["Project"]) for r in rows}
    # the group's grant reaches the member, and member implies reader (bootstrap inference)
    assert (("member", f"{proj['name']}@Default") in got) and (("reader", f"{proj['name']}@Default") in got)
    # the member can now scope to the project through the group
    issue_token(cloud, user["name"], password, project=proj["name"])
    gid = adm.call("GET", f"/v3/groups?name={grp}")["groups"][0]["id"]
    direct = adm.call("GET", f"/v3/role_assignments?group.id={gid}&include_names")["role_assignments"]
    assert [(a["role"]["name"], a["scope"]["project"]["id"]) for a in direct] == [("member", proj["id"])]


def test_cli_role_add_domain_system_inherited(cloud, adm):
    user = adm.user(password="pw")
    dom = adm.domain()
    proj = adm.project(domain_id=dom["id"])
    cloud.cli("role", "add", "--user", user["id"], "--domain", dom["id"], "reader", json_out=False)
    cloud.cli("role", "add", "--user", user["id"], "--system", "all", "reader", json_out=False)
    cloud.cli("role", "add", "--user", user["id"], "--domain", dom["id"], "--inherited", "member",
              json_out=False)
    rows = adm.call("GET", f"/v3/role_assignments?user.id={user['id']}&include_names")["role_assignments"]
    seen = {(a["role"]["name"], next(iter(a["scope"])), "OS-INHERIT:inherited_to" in a["scope"]) for a in rows}
    assert seen == {("reader", "domain", False), ("reader", "system", False), ("member", "domain", True)}
    eff = adm.call("GET", f"/v3/role_assignments?effective&user.id={user['id']}&include_names")
    on_proj = {a["role"]["name"] for a in eff["role_assignments"]
               if a["scope"].get("project", {}).get("id") == proj["id"]}
    assert on_proj == {"member", "reader"}
    issue_token(cloud, user["name"], "pw", project=proj["name"], project_domain=dom["id"])
    issue_token(cloud, user["name"], "pw", system=True)


def test_cli_implied_role_create(cloud, adm):
    prior, implied = uniq("prior"), uniq("implied")
    adm.call("POST", "/v3/roles", {"role": {"name": prior}})
    adm.call("POST", "/v3/roles", {"role": {"name": implied}})
    out = cloud.cli("implied", "role", "create", prior, "--implied-role", implied)
    assert out["prior_role"] == adm.role_id(prior) and out["implies"] == adm.role_id(implied)
    listed = cloud.cli("implied", "role", "list")
    assert any(r["Prior Role Name"] == prior and r["Implied Role Name"] == implied for r in listed)
    user = adm.user()
    proj = adm.project()
    adm.grant(prior, user=user["id"], project=proj["id"])
    eff = adm.call("GET", f"/v3/role_assignments?effective&user.id={user['id']}")["role_assignments"]
    via = [a for a in eff if a["role"]["id"] == adm.role_id(implied)]
    assert via and via[0]["links"]["prior_role"].endswith(f"/v3/roles/{adm.role_id(prior)}")


def test_cli_domain_disable_and_delete(cloud, adm):
    name = uniq("cli-dom")
    dom = cloud.cli("domain", "create", name, "--description", "d")
    user = adm.user(password="pw", domain_id=dom["id"])
    adm.grant("member", user=user["id"], domain=dom["id"])
    tok = issue_token(cloud, user["name"], "pw", domain=dom["id"], user_domain=dom["id"])
    assert _valid(cloud, tok) == 200
    r = cloud.cli("domain", "delete", name, check=False, json_out=False)
    assert r.returncode != 0 and "disable" in (r.stderr + r.stdout).lower()
    cloud.cli("domain", "set", "--disable", name, json_out=False)
    assert _valid(cloud, tok) == 401      # the domain's tokens stop validating
    cloud.cli("domain", "delete", name, json_out=False)
    assert adm.call("GET", f"/v3/users/{user['id']}", expect=(404,))["error"]["code"] == 404
    assert adm.call("GET", f"/v3/domains?name={name}")["domains"] == []


# ------------------------------------------------------------------ SDK
def test_sdk_identity_crud(cloud):
    conn = cloud.sdk()
    dom = conn.identity.create_domain(name=uniq("sdk-dom"))
    proj = conn.identity.create_project(name=uniq("sdk-proj"), domain_id=dom.id, description="x")
    user = conn.identity.create_user(name=uniq("sdk-user"), domain_id=dom.id, password="pw",
                                     default_project_id=proj.id)
    group = conn.identity.create_group(name=uniq("sdk-grp"), domain_id=dom.id)
    conn.identity.add_user_to_group(user, group)
    assert conn.identity.check_user_in_group(user, group)
    role = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(proj, user, role)
    assert conn.identity.validate_user_has_project_role(proj, user, role)
    assert [p.id for p in conn.identity.user_projects(user)] == [proj.id]
    assert conn.identity.get_project(proj.id).description == "x"
    conn.identity.update_project(proj, description="y")
    assert conn.identity.get_project(proj.id).description == "y"
    assert user.id in [u.id for u in conn.identity.users(domain_id=dom.id)]
    assert [g.id for g in conn.identity.user_groups(user)] == [group.id]
    conn.identity.unassign_project_role_from_user(proj, user, role)
    assert not conn.identity.validate_user_has_project_role(proj, user, role)
    conn.identity.delete_user(user)
    conn.identity.delete_group(group)
    conn.identity.delete_project(proj)
    conn.identity.update_domain(dom, enabled=False)
    conn.identity.delete_domain(dom)
    assert conn.identity.find_domain(dom.id) is None


# ------------------------------------------------------------------ domains
def test_domain_by_name_and_conflicts(cloud, adm):
    body = adm.call("GET", "/v3/domains?name=Default")
    assert [d["id"] for d in body["domains"]] == ["default"]
    assert body["links"]["self"].endswith("/v3/domains")
    d = body["domains"][0]
    assert set(d) >= {"id", "name", "enabled", "description", "links", "options", "tags"}
    name = uniq("dom")
    adm.domain(name)
    err = adm.call("POST", "/v3/domains", {"domain": {"name": name}}, expect=(409,))
    assert err["error"]["title"] == "Conflict"
    assert adm.call("GET", f"/v3/domains?name={name}&enabled=false")["domains"] == []
    explicit = uniq("dom-id").replace("-", "")
    made = adm.call("POST", "/v3/domains", {"domain": {"name": uniq("e"), "explicit_domain_id": explicit}})
    assert made["domain"]["id"] == explicit


# ------------------------------------------------------------------ projects
def test_project_hierarchy(cloud, adm):
    top = adm.project()
    mid = adm.project(parent_id=top["id"])
    leaf = adm.project(parent_id=mid["id"])
    assert leaf["domain_id"] == "default" and leaf["parent_id"] == mid["id"]
    got = adm.call("GET", f"/v3/projects/{leaf['id']}?parents_as_ids")["project"]
    assert got["parents"] == {mid["id"]: {top["id"]: {"default": None}}}
    got = adm.call("GET", f"/v3/projects/{top['id']}?subtree_as_ids")["project"]
    assert got["subtree"] == {mid["id"]: {leaf["id"]: None}}
    got = adm.call("GET", f"/v3/projects/{top['id']}?subtree_as_list")["project"]
    assert {p["project"]["id"] for p in got["subtree"]} == {mid["id"], leaf["id"]}
    got = adm.call("GET", f"/v3/projects/{leaf['id']}?parents_as_list")["project"]
    assert [p["project"]["id"] for p in got["parents"]][:2] == [mid["id"], top["id"]]
    assert [p["id"] for p in adm.call("GET", f"/v3/projects?parent_id={top['id']}")["projects"]] == [mid["id"]]
    # a parent with an enabled child can't be disabled, nor deleted while it has children
    adm.call("PATCH", f"/v3/projects/{mid['id']}", {"project": {"enabled": False}}, expect=(403,))
    adm.call("DELETE", f"/v3/projects/{top['id']}", expect=(403,))
    adm.call("PATCH", f"/v3/projects/{leaf['id']}", {"project": {"enabled": False}})
    adm.call("PATCH", f"/v3/projects/{mid['id']}", {"project": {"enabled": False}})
    adm.call("PATCH", f"/v3/projects/{leaf['id']}", {"project": {"enabled": True}}, expect=(403,))
    # a project in another domain than its parent is refused
    other = adm.domain()
    adm.call("POST", "/v3/projects", {"project": {"name": uniq(), "parent_id": top["id"],
                                                  "domain_id": other["id"]}}, expect=(400,))
    adm.call("PATCH", f"/v3/projects/{leaf['id']}", {"project": {"parent_id": top["id"]}}, expect=(403,))
    for p in (leaf, mid, top):
        adm.call("DELETE", f"/v3/projects/{p['id']}")


def test_project_filters_and_duplicates(cloud, adm):
    dom = adm.domain()
    a = adm.project(name="alpha-" + uniq(), domain_id=dom["id"])
    adm.project(name="beta-" + uniq(), domain_id=dom["id"], enabled=False)
    listed = adm.call("GET", f"/v3/projects?domain_id={dom['id']}")["projects"]
    assert len(listed) == 2
    assert [p["id"] for p in adm.call(
        "GET", f"/v3/projects?domain_id={dom['id']}&enabled=true")["projects"]] == [a["id"]]
    assert [p["id"] for p in adm.call(
        "GET", f"/v3/projects?domain_id={dom['id']}&name__startswith=alpha")["projects"]] == [a["id"]]
    assert [p["id"] for p in adm.call(
        "GET", f"/v3/projects?domain_id={dom['id']}&name={a['name']}")["projects"]] == [a["id"]]
    assert dom["id"] in [p["id"] for p in adm.call("GET", "/v3/projects?is_domain=true")["projects"]]
    err = adm.call("POST", "/v3/projects", {"project": {"name": a["name"], "domain_id": dom["id"]}},
                   expect=(409,))
    assert err["error"]["code"] == 409
    # same name in another domain is fine
    adm.project(name=a["name"])


def test_project_tags(cloud, adm):
    p1 = adm.project(tags=["red", "green"])
    p2 = adm.project(tags=["red"])
    p3 = adm.project()
    base = f"/v3/projects/{p3['id']}/tags"
    assert adm.call("GET", base)["tags"] == []
    r = cloud.request("PUT", f"{base}/blue", token=adm.token)
    assert r.status == 201 and r.headers["location"].endswith(f"{base}/blue")
    assert adm.call("GET", base)["tags"] == ["blue"]
    assert cloud.request("HEAD", f"{base}/blue", token=adm.token).status == 204
    assert cloud.request("GET", f"{base}/nope", token=adm.token).status == 404
    assert adm.call("PUT", base, {"tags": ["x", "y"]})["tags"] == ["x", "y"]
    adm.call("DELETE", f"{base}/x")
    assert adm.call("GET", base)["tags"] == ["y"]
    adm.call("DELETE", base)
    assert adm.call("GET", base)["tags"] == []

    def ids(q: str) -> set[str]:
        return {p["id"] for p in adm.call("GET", f"/v3/projects?{q}")["projects"]} & {p1["id"], p2["id"], p3["id"]}
    assert ids("tags=red,green") == {p1["id"]}
    assert ids("tags-any=green,red") == {p1["id"], p2["id"]}
    assert ids("not-tags=red,green") == {p2["id"], p3["id"]}
    assert ids("not-tags-any=red") == {p3["id"]}
    adm.call("PUT", base, {"tags": [f"t{i}" for i in range(81)]}, expect=(400,))
    adm.call("PUT", base, {"tags": ["a/b"]}, expect=(400,))
    adm.call("PUT", base, {"tags": ["dup", "dup"]}, expect=(400,))


def test_disabling_project_invalidates_its_tokens(cloud, adm):
    pu = make_project_user(cloud, "member", adm)
    assert _valid(cloud, pu.token) == 200
    adm.call("PATCH", f"/v3/projects/{pu.project_id}", {"project": {"enabled": False}})
    assert _valid(cloud, pu.token) == 401
    adm.call("PATCH", f"/v3/projects/{pu.project_id}", {"project": {"enabled": True}})


# ------------------------------------------------------------------ users
def test_user_options_extras_and_password_expiry_fields(cloud, adm):
    u = adm.user(password="pw", email="e@example.org", favourite="tea",
                 options={"ignore_password_expiry": True, "multi_factor_auth_rules": [["password"]]})
    assert u["email"] == "e@example.org" and u["favourite"] == "tea"
    assert u["options"] == {"ignore_password_expiry": True, "multi_factor_auth_rules": [["password"]]}
    assert "password" not in u and u["password_expires_at"] is None
    assert set(u) >= {"id", "name", "domain_id", "enabled", "links", "password_expires_at", "options"}
    got = adm.call("PATCH", f"/v3/users/{u['id']}", {"user": {"options": {"ignore_password_expiry": None,
                                                                          "lock_password": True}}})["user"]
    assert got["options"] == {"multi_factor_auth_rules": [["password"]], "lock_password": True}
    adm.call("PATCH", f"/v3/users/{u['id']}", {"user": {"options": {"bogus": True}}}, expect=(400,))
    adm.call("PATCH", f"/v3/users/{u['id']}", {"user": {"options": {"lock_password": "yes"}}}, expect=(400,))
    # lock_password: the user can't change it themselves
    r = cloud.request("POST", f"/v3/users/{u['id']}/password",
                      body={"user": {"original_password": "pw", "password": "other"}})
    assert r.status == 400


def test_user_filters_and_listing(cloud, adm):
    dom = adm.domain()
    a = adm.user(name="ann-" + uniq(), domain_id=dom["id"])
    b = adm.user(name="bob-" + uniq(), domain_id=dom["id"], enabled=False)
    ids = lambda q: [u["id"] for u in adm.call("GET", f"/v3/users?domain_id={dom['id']}{q}")["users"]]  # noqa
    assert sorted(ids("")) == sorted([a["id"], b["id"]])
    assert ids("&enabled=false") == [b["id"]]
    assert ids(f"&name={a['name']}") == [a["id"]]
    assert ids("&name__icontains=ANN") == [a["id"]]
    adm.call("POST", "/v3/users", {"user": {"name": a["name"], "domain_id": dom["id"]}}, expect=(409,))


def test_wrong_original_password_is_401(cloud, adm):
    u = adm.user(password="right")
    r = cloud.request("POST", f"/v3/users/{u['id']}/password",
                      body={"user": {"original_password": "wrong", "password": "new"}})
    assert r.status == 401 and r.json()["error"]["code"] == 401
    r = cloud.request("POST", f"/v3/users/{u['id']}/password", body={"user": {"password": "new"}})
    assert r.status == 400


def test_disable_and_delete_user(cloud, adm):
    pu = make_project_user(cloud, "member", adm)
    grp = adm.group()
    adm.call("PUT", f"/v3/groups/{grp['id']}/users/{pu.user_id}")
    adm.call("PATCH", f"/v3/users/{pu.user_id}", {"user": {"enabled": False}})
    assert _valid(cloud, pu.token) == 401
    adm.call("PATCH", f"/v3/users/{pu.user_id}", {"user": {"enabled": True}})
    adm.call("DELETE", f"/v3/users/{pu.user_id}")
    assert adm.call("GET", f"/v3/role_assignments?user.id={pu.user_id}")["role_assignments"] == []
    assert adm.call("GET", f"/v3/groups/{grp['id']}/users")["users"] == []
    adm.call("GET", f"/v3/users/{pu.user_id}", expect=(404,))


def test_user_projects_and_groups(cloud, adm):
    pu = make_project_user(cloud, "reader", adm)
    projects = adm.call("GET", f"/v3/users/{pu.user_id}/projects")["projects"]
    assert [p["id"] for p in projects] == [pu.project_id]
    # the user may list their own projects and groups
    r = cloud.request("GET", f"/v3/users/{pu.user_id}/projects", token=pu.token)
    assert r.status == 200 and [p["id"] for p in r.json()["projects"]] == [pu.project_id]
    assert cloud.request("GET", f"/v3/users/{pu.user_id}/groups", token=pu.token).json()["groups"] == []


# ------------------------------------------------------------------ groups
def test_group_membership_endpoints(cloud, adm):
    g = adm.group()
    u = adm.user()
    base = f"/v3/groups/{g['id']}/users/{u['id']}"
    assert cloud.request("HEAD", base, token=adm.token).status == 404
    adm.call("PUT", base)
    assert cloud.request("HEAD", base, token=adm.token).status == 204
    assert [x["id"] for x in adm.call("GET", f"/v3/groups/{g['id']}/users")["users"]] == [u["id"]]
    adm.call("DELETE", base)
    adm.call("DELETE", base, expect=(404,))
    adm.call("PUT", f"/v3/groups/{g['id']}/users/nope", expect=(404,))
    renamed = adm.call("PATCH", f"/v3/groups/{g['id']}", {"group": {"description": "dd"}})["group"]
    assert renamed["description"] == "dd"
    adm.call("POST", "/v3/groups", {"group": {"name": g["name"]}}, expect=(409,))
    adm.call("DELETE", f"/v3/groups/{g['id']}")
    adm.call("GET", f"/v3/groups/{g['id']}", expect=(404,))


def test_group_membership_drives_tokens(cloud, adm):
    proj = adm.project()
    g = adm.group()
    u = adm.user(password="pw")
    adm.grant("member", group=g["id"], project=proj["id"])
    adm.call("PUT", f"/v3/groups/{g['id']}/users/{u['id']}")
    tok = issue_token(cloud, u["name"], "pw", project=proj["name"])
    adm.call("DELETE", f"/v3/groups/{g['id']}/users/{u['id']}")
    assert _valid(cloud, tok) == 401


# ------------------------------------------------------------------ roles
def test_roles_global_and_domain_specific(cloud, adm):
    dom = adm.domain()
    name = uniq("role")
    g = adm.call("POST", "/v3/roles", {"role": {"name": name, "description": "d"}})["role"]
    assert g["domain_id"] is None and g["description"] == "d"
    d = adm.call("POST", "/v3/roles", {"role": {"name": name, "domain_id": dom["id"]}})["role"]
    assert d["domain_id"] == dom["id"]
    adm.call("POST", "/v3/roles", {"role": {"name": name}}, expect=(409,))
    assert [r["id"] for r in adm.call("GET", f"/v3/roles?name={name}")["roles"]] == [g["id"]]
    assert [r["id"] for r in adm.call("GET", f"/v3/roles?domain_id={dom['id']}")["roles"]] == [d["id"]]
    # a domain-specific role can't be granted outside its domain, nor be implied
    u = adm.user()
    adm.call("PUT", f"/v3/projects/{adm.project()['id']}/users/{u['id']}/roles/{d['id']}", expect=(403,))
    adm.call("PUT", f"/v3/roles/{g['id']}/implies/{d['id']}", expect=(403,))
    adm.call("PATCH", f"/v3/roles/{g['id']}", {"role": {"name": name + "-x"}})
    adm.call("DELETE", f"/v3/roles/{d['id']}")


def test_deleting_role_removes_assignments_and_tokens(cloud, adm):
    rname = uniq("tmp-role")
    rid = adm.call("POST", "/v3/roles", {"role": {"name": rname}})["role"]["id"]
    proj = adm.project()
    u = adm.user(password="pw")
    adm.grant(rname, user=u["id"], project=proj["id"])
    tok = issue_token(cloud, u["name"], "pw", project=proj["name"])
    adm.call("DELETE", f"/v3/roles/{rid}")
    assert adm.call("GET", f"/v3/role_assignments?user.id={u['id']}")["role_assignments"] == []
    assert _valid(cloud, tok) == 401


def test_implied_role_endpoints(cloud, adm):
    a = adm.call("POST", "/v3/roles", {"role": {"name": uniq("a")}})["role"]
    b = adm.call("POST", "/v3/roles", {"role": {"name": uniq("b")}})["role"]
    path = f"/v3/roles/{a['id']}/implies/{b['id']}"
    assert cloud.request("HEAD", path, token=adm.token).status == 404
    made = adm.call("PUT", path)
    assert made["role_inference"]["prior_role"]["id"] == a["id"]
    assert made["role_inference"]["implies"]["id"] == b["id"]
    assert cloud.request("HEAD", path, token=adm.token).status == 204
    listed = adm.call("GET", f"/v3/roles/{a['id']}/implies")["role_inference"]
    assert [r["id"] for r in listed["implies"]] == [b["id"]]
    infs = adm.call("GET", "/v3/role_inferences")["role_inferences"]
    assert any(i["prior_role"]["id"] == a["id"] for i in infs)
    adm.call("PUT", f"/v3/roles/{b['id']}/implies/{a['id']}", expect=(403,))   # a cycle
    adm.call("DELETE", path)
    adm.call("GET", path, expect=(404,))


# ------------------------------------------------------------------ grants and role_assignments
def test_grant_check_revoke_list(cloud, adm):
    pu = make_project_user(cloud, "reader", adm)
    mid = adm.role_id("member")
    path = f"/v3/projects/{pu.project_id}/users/{pu.user_id}/roles/{mid}"
    assert cloud.request("HEAD", path, token=adm.token).status == 404
    adm.call("PUT", path)
    assert cloud.request("HEAD", path, token=adm.token).status == 204
    names = {r["name"] for r in adm.call("GET", f"/v3/projects/{pu.project_id}/users/{pu.user_id}/roles")["roles"]}
    assert names == {"member", "reader"}
    adm.call("DELETE", path)
    adm.call("DELETE", path, expect=(404,))
    adm.call("PUT", f"/v3/projects/{pu.project_id}/users/{pu.user_id}/roles/nope", expect=(404,))
    adm.call("PUT", f"/v3/projects/nope/users/{pu.user_id}/roles/{mid}", expect=(404,))
    # removing the last assignment stops the tokens that relied on it
    adm.call("DELETE", f"/v3/projects/{pu.project_id}/users/{pu.user_id}/roles/{adm.role_id('reader')}")
    assert _valid(cloud, pu.token) == 401
    # system grants
    sys_path = f"/v3/system/users/{pu.user_id}/roles/{mid}"
    adm.call("PUT", sys_path)
    assert [r["id"] for r in adm.call("GET", f"/v3/system/users/{pu.user_id}/roles")["roles"]] == [mid]
    got = adm.call("GET", f"/v3/role_assignments?scope.system=all&user.id={pu.user_id}")["role_assignments"]
    assert got[0]["scope"] == {"system": {"all": True}}
    assert got[0]["links"]["assignment"].endswith(sys_path)
    adm.call("DELETE", sys_path)


def test_role_assignments_inheritance_subtree_and_names(cloud, adm):
    dom = adm.domain()
    top = adm.project(domain_id=dom["id"])
    child = adm.project(parent_id=top["id"])
    g = adm.group(domain_id=dom["id"])
    u = adm.user(domain_id=dom["id"])
    adm.call("PUT", f"/v3/groups/{g['id']}/users/{u['id']}")
    adm.grant("reader", group=g["id"], project=top["id"], inherited=True)
    adm.grant("member", user=u["id"], project=top["id"])
    raw = adm.call("GET", f"/v3/role_assignments?group.id={g['id']}")["role_assignments"]
    assert len(raw) == 1 and raw[0]["scope"]["OS-INHERIT:inherited_to"] == "projects"
    assert raw[0]["links"]["assignment"].endswith("/inherited_to_projects")
    only_inh = adm.call("GET", f"/v3/role_assignments?scope.OS-INHERIT:inherited_to=projects"
                               f"&scope.project.id={top['id']}")["role_assignments"]
    assert [a["group"]["id"] for a in only_inh] == [g["id"]]
    eff = adm.call("GET", f"/v3/role_assignments?effective&user.id={u['id']}&include_names=true")
    rows = {(a["role"]["name"], a["scope"]["project"]["name"]) for a in eff["role_assignments"]}
    assert ("reader", child["name"]) in rows and ("member", top["name"]) in rows
    assert ("reader", top["name"]) in rows           # member implies reader
    named = [a for a in eff["role_assignments"] if a["scope"]["project"]["id"] == child["id"]][0]
    assert named["user"]["domain"] == {"id": dom["id"], "name": dom["name"]}
    assert named["scope"]["project"]["domain"]["id"] == dom["id"]
    assert "membership" in named["links"]
    tree = adm.call("GET", f"/v3/role_assignments?scope.project.id={top['id']}&include_subtree=true"
                           f"&effective")["role_assignments"]
    assert {a["scope"]["project"]["id"] for a in tree} == {top["id"], child["id"]}
    r = cloud.request("GET", "/v3/role_assignments?include_subtree=true", token=adm.token)
    assert r.status == 400
    r = cloud.request("GET", f"/v3/role_assignments?effective&group.id={g['id']}", token=adm.token)
    assert r.status == 400
    r = cloud.request("GET", f"/v3/role_assignments?user.id={u['id']}&group.id={g['id']}", token=adm.token)
    assert r.status == 400
    # inherited grant listing and check on the domain
    rid = adm.role_id("reader")
    adm.grant("reader", user=u["id"], domain=dom["id"], inherited=True)
    inh = f"/v3/OS-INHERIT/domains/{dom['id']}/users/{u['id']}/roles"
    assert [r["id"] for r in adm.call("GET", f"{inh}/inherited_to_projects")["roles"]] == [rid]
    assert cloud.request("HEAD", f"{inh}/{rid}/inherited_to_projects", token=adm.token).status == 204
    assert cloud.request("HEAD", f"/v3/domains/{dom['id']}/users/{u['id']}/roles/{rid}",
                         token=adm.token).status == 404


def test_domain_roles_imply_and_stay_out_of_effective_lists(cloud, adm):
    dom, dom2 = adm.domain(), adm.domain()
    d1 = adm.call("POST", "/v3/roles", {"role": {"name": uniq("d1"), "domain_id": dom["id"]}})["role"]
    d2 = adm.call("POST", "/v3/roles", {"role": {"name": uniq("d2"), "domain_id": dom2["id"]}})["role"]
    g = adm.call("POST", "/v3/roles", {"role": {"name": uniq("g")}})["role"]
    adm.call("PUT", f"/v3/roles/{d1['id']}/implies/{d2['id']}")       # across domains: allowed
    adm.call("PUT", f"/v3/roles/{d1['id']}/implies/{g['id']}")        # domain -> global: allowed
    adm.call("PUT", f"/v3/roles/{g['id']}/implies/{d1['id']}", expect=(403,))
    proj = adm.project(domain_id=dom["id"])
    u = adm.user(password="pw", domain_id=dom["id"])
    adm.call("PUT", f"/v3/projects/{proj['id']}/users/{u['id']}/roles/{d1['id']}")
    eff = adm.call("GET", f"/v3/role_assignments?effective&user.id={u['id']}")["role_assignments"]
    # the domain role itself is not effective, but the global role it implies is
    assert [a["role"]["id"] for a in eff] == [g["id"]]
    tok = issue_token(cloud, u["name"], "pw", project=proj["name"], project_domain=dom["id"],
                      user_domain=dom["id"])
    body = cloud.request("GET", "/v3/auth/tokens", token=tok, headers={"X-Subject-Token": tok}).json()
    assert [r["id"] for r in body["token"]["roles"]] == [g["id"]]


def test_domain_specific_configuration(cloud, adm):
    dom = adm.domain()
    base = f"/v3/domains/{dom['id']}/config"
    adm.call("GET", base, expect=(404,))
    cfg = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x:389/", "password": "s3cret"}}
    r = cloud.request("PUT", base, token=adm.token, body={"config": cfg})
    assert r.status == 201, r
    assert r.json()["config"] == {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x:389/"}}
    assert adm.call("GET", f"{base}/ldap/url")["config"] == {"url": "ldap://x:389/"}
    adm.call("GET", f"{base}/ldap/password", expect=(404,))          # sensitive: never shown
    got = adm.call("PATCH", f"{base}/identity/driver", {"config": {"driver": "sql"}})["config"]
    assert got["identity"] == {"driver": "sql"} and "ldap" in got
    adm.call("PATCH", f"{base}/identity", {"config": {"ldap": {"url": "x"}}}, expect=(403,))
    adm.call("PUT", base, {"config": {"nope": {"a": 1}}}, expect=(403,))
    adm.call("PUT", base, {"config": {"ldap": {"not_an_option": 1}}}, expect=(403,))
    adm.call("DELETE", f"{base}/identity")
    adm.call("GET", f"{base}/identity", expect=(404,))
    assert cloud.request("PUT", base, token=adm.token, body={"config": cfg}).status == 200
    defaults = adm.call("GET", "/v3/domains/config/default")["config"]
    assert defaults["identity"]["driver"] == "sql" and "url" in defaults["ldap"]
    assert adm.call("GET", "/v3/domains/config/ldap/url/default")["config"] == {"url": "ldap://localhost"}
    sc = adm.call("GET", f"{base}/security_compliance")["config"]
    assert set(sc["security_compliance"]) == {"password_regex", "password_regex_description"}
    adm.call("DELETE", base)
    adm.call("GET", base, expect=(404,))


def test_factory_project_user_connection(cloud):
    from tests.factories.identity import project_user_conn
    project_id, user_id, password, conn = project_user_conn(cloud, "reader")
    assert conn.current_project_id == project_id and conn.current_user_id == user_id
    assert password
    # a reader sees its own project, and may not create one
    assert conn.identity.get_project(project_id).id == project_id
    import openstack
    with pytest.raises(openstack.exceptions.ForbiddenException):
        conn.identity.create_project(name=uniq())


def test_password_history_on_self_service_change(tmp_path):
    """[identity] unique_last_password_count: the last N passwords can't come back (a private
    cloud, since the setting is server-wide)."""
    from tests.harness import RunningCloud
    c = RunningCloud.start(tmp_path / "state", env={"ONESTACK_IDENTITY__UNIQUE_LAST_PASSWORD_COUNT": "2"})
    try:
        adm = Admin(c)
        u = adm.user(password="p0")

        def change(old: str, new: str, token: str | None = None) -> int:
            return c.request("POST", f"/v3/users/{u['id']}/password", token=token,
                             body={"user": {"original_password": old, "password": new}}).status
        tok = issue_token(c, u["name"], "p0")
        assert change("p0", "p1") == 204
        assert change("p1", "p1") == 400
        assert change("p1", "p0") == 400          # still among the last two
        # a stale (revoked) token on the request does not get in the way
        assert change("p1", "p2", token=tok) == 204
        assert change("p2", "p0") == 204
        # an admin reset is not subject to the history
        adm.call("PATCH", f"/v3/users/{u['id']}", {"user": {"password": "p0"}})
    finally:
        c.destroy()
