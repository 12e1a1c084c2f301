"""Protection matrix for the directory APIs: each persona gets exactly what upstream
Keystone's default policies (enforce_scope on, new defaults) allow.

Personas (created once per module):
  SA system admin · SR system reader · DA domain admin (domain-scoped, domain D)
  DM domain manager (role manager on D, domain-scoped: upstream's delegated-admin persona)
  PA project admin · PM project member · PR project reader (project P in domain D)
  OM member of another project (in the default domain)

Upstream's ``admin_required`` is ``role:admin`` whatever the scope, so every admin
persona passes it where the rule's scope_types admit its token.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable

import pytest

from tests.factories.identity import Admin, issue_token, uniq

PERSONAS = ("SA", "SR", "DA", "DM", "PA", "PM", "PR", "OM")
ADMINS = {"SA", "DA", "PA"}
READERS = ADMINS | {"SR"}
DOMAIN_MANAGED = ADMINS | {"DM"}          # writes a domain manager may do inside its domain
DOMAIN_READERS = READERS | {"DM"}


class World:
    def __init__(self, cloud: Any):
        self.cloud = cloud
        self.admin = Admin(cloud)
        a = self.admin
        self.domain = a.domain()
        self.project = a.project(domain_id=self.domain["id"])
        self.other = a.project()
        self.user = a.user(domain_id=self.domain["id"])
        self.group = a.group(domain_id=self.domain["id"])
        self.role = a.call("POST", "/v3/roles", {"role": {"name": uniq("matrix")}})["role"]
        self.role2 = a.call("POST", "/v3/roles", {"role": {"name": uniq("matrix")}})["role"]
        self.member_role = a.role_id("member")
        self.tokens: dict[str, str] = {}
        self.user_ids: dict[str, str] = {}
        D, P = self.domain["id"], self.project["id"]
        specs = {"SA": ("admin", {"system": True}), "SR": ("reader", {"system": True}),
                 "DA": ("admin", {"domain": D}), "DM": ("manager", {"domain": D}),
                 "PA": ("admin", {"project": P}),
                 "PM": ("member", {"project": P}), "PR": ("reader", {"project": P}),
                 "OM": ("member", {"project": self.other["id"]})}
        for persona, (role, scope) in specs.items():
            pw = uuid.uuid4().hex
            u = a.user(password=pw)
            self.user_ids[persona] = u["id"]
            if "system" in scope:
                a.grant(role, user=u["id"], system=True)
                tok = issue_token(cloud, u["name"], pw, system=True)
            elif "domain" in scope:
                a.grant(role, user=u["id"], domain=scope["domain"])
                tok = issue_token(cloud, u["name"], pw, domain=scope["domain"])
            else:
                pid = scope["project"]
                a.grant(role, user=u["id"], project=pid)
                name = self.project["name"] if pid == P else self.other["name"]
                dom = D if pid == P else "default"
                tok = issue_token(cloud, u["name"], pw, project=name, project_domain=dom)
            self.tokens[persona] = tok


@pytest.fixture(scope="module")
def world(cloud):
    return World(cloud)


Case = tuple[str, Callable[[World, str], str], Callable[[World, str], Any], set[str]]


def _fresh_project(w: World, _p: str) -> str:
    return f"/v3/projects/{w.admin.project(domain_id=w.domain['id'])['id']}"


def _fresh_user(w: World, _p: str) -> str:
    return f"/v3/users/{w.admin.user(domain_id=w.domain['id'])['id']}"


def _fresh_domain(w: World, _p: str) -> str:
    return f"/v3/domains/{w.admin.domain()['id']}"


def _grant(w: World, _p: str) -> str:
    return f"/v3/projects/{w.project['id']}/users/{w.user['id']}/roles/{w.role['id']}"


CASES: dict[str, tuple[str, Callable[[World, str], str], Callable[[World, str], Any] | None, set[str]]] = {
    # domains
    "list_domains": ("GET", lambda w, p: "/v3/domains", None, READERS | {"DM"}),
    "get_domain": ("GET", lambda w, p: f"/v3/domains/{w.domain['id']}", None, READERS | {"PM", "PR"} | {"DM"}),
    "create_domain": ("POST", lambda w, p: "/v3/domains",
                      lambda w, p: {"domain": {"name": uniq("m")}}, {"SA", "PA"}),
    "get_domain_config_default": ("GET", lambda w, p: "/v3/domains/config/default", None, {"SA", "SR", "PA"}),
    "create_domain_config": ("PUT", lambda w, p: f"/v3/domains/{w.domain['id']}/config",
                             lambda w, p: {"config": {"identity": {"driver": "sql"}}}, {"SA", "PA"}),
    "update_domain": ("PATCH", _fresh_domain, lambda w, p: {"domain": {"description": "x"}}, {"SA", "PA"}),
    # projects
    "list_projects": ("GET", lambda w, p: "/v3/projects", None, READERS | {"DM"}),
    "get_project": ("GET", lambda w, p: f"/v3/projects/{w.project['id']}", None, READERS | {"PM", "PR"} | {"DM"}),
    "create_project": ("POST", lambda w, p: "/v3/projects",
                       lambda w, p: {"project": {"name": uniq("m"), "domain_id": w.domain["id"]}}, ADMINS | {"DM"}),
    "update_project": ("PATCH", _fresh_project, lambda w, p: {"project": {"description": "x"}}, ADMINS | {"DM"}),
    "delete_project": ("DELETE", _fresh_project, None, ADMINS | {"DM"}),
    "list_project_tags": ("GET", lambda w, p: f"/v3/projects/{w.project['id']}/tags", None,
                          READERS | {"PM", "PR"} | {"DM"}),
    "create_project_tag": ("PUT", lambda w, p: f"/v3/projects/{w.project['id']}/tags/t-{p}", None, ADMINS | {"DM"}),
    # users
    "list_users": ("GET", lambda w, p: "/v3/users", None, READERS | {"DM"}),
    "get_user": ("GET", lambda w, p: f"/v3/users/{w.user['id']}", None, READERS | {"DM"}),
    "get_own_user": ("GET", lambda w, p: f"/v3/users/{w.user_ids[p]}", None, set(PERSONAS)),
    "create_user": ("POST", lambda w, p: "/v3/users",
                    lambda w, p: {"user": {"name": uniq("m"), "domain_id": w.domain["id"]}}, ADMINS | {"DM"}),
    "update_user": ("PATCH", _fresh_user, lambda w, p: {"user": {"description": "x"}}, ADMINS | {"DM"}),
    "delete_user": ("DELETE", _fresh_user, None, ADMINS | {"DM"}),
    "list_own_projects": ("GET", lambda w, p: f"/v3/users/{w.user_ids[p]}/projects", None, set(PERSONAS)),
    "list_user_groups": ("GET", lambda w, p: f"/v3/users/{w.user['id']}/groups", None, READERS | {"DM"}),
    # groups
    "list_groups": ("GET", lambda w, p: "/v3/groups", None, READERS | {"DM"}),
    "get_group": ("GET", lambda w, p: f"/v3/groups/{w.group['id']}", None, READERS | {"DM"}),
    "create_group": ("POST", lambda w, p: "/v3/groups",
                     lambda w, p: {"group": {"name": uniq("m"), "domain_id": w.domain["id"]}}, ADMINS | {"DM"}),
    "add_user_to_group": ("PUT", lambda w, p: f"/v3/groups/{w.group['id']}/users/{w.user['id']}", None, ADMINS | {"DM"}),
    "list_users_in_group": ("GET", lambda w, p: f"/v3/groups/{w.group['id']}/users", None, READERS | {"DM"}),
    # roles
    "list_roles": ("GET", lambda w, p: "/v3/roles", None, READERS | {"DM"}),
    "get_role": ("GET", lambda w, p: f"/v3/roles/{w.role['id']}", None, READERS),
    "get_role_member": ("GET", lambda w, p: f"/v3/roles/{w.member_role}", None, READERS | {"DM"}),
    "create_role": ("POST", lambda w, p: "/v3/roles", lambda w, p: {"role": {"name": uniq("m")}}, {"SA", "PA"}),
    "list_role_inferences": ("GET", lambda w, p: "/v3/role_inferences", None, {"SA", "SR", "PA"}),
    "create_implied_role": ("PUT", lambda w, p: f"/v3/roles/{w.role['id']}/implies/{w.role2['id']}", None,
                            {"SA", "PA"}),
    "get_implied_roles": ("GET", lambda w, p: f"/v3/roles/{w.role['id']}/implies", None, {"SA", "SR", "PA"}),
    # grants and assignments
    "create_grant": ("PUT", _grant, None, ADMINS),
    "create_grant_member_role": ("PUT", lambda w, p: f"/v3/projects/{w.project['id']}/users/{w.user['id']}"
                                 f"/roles/{w.member_role}", None, DOMAIN_MANAGED),
    "list_grants": ("GET", lambda w, p: f"/v3/projects/{w.project['id']}/users/{w.user['id']}/roles", None,
                    READERS | {"DM"}),
    "list_role_assignments": ("GET", lambda w, p: "/v3/role_assignments", None, READERS | {"DM"}),
    "create_system_grant": ("PUT", lambda w, p: f"/v3/system/users/{w.user['id']}/roles/{w.role['id']}", None,
                            {"SA", "PA"}),
    "list_system_grants": ("GET", lambda w, p: f"/v3/system/users/{w.user['id']}/roles", None,
                           {"SA", "SR", "PA"}),
}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_protection(world, case, persona):
    method, path_fn, body_fn, allowed = CASES[case]
    path = path_fn(world, persona)
    body = body_fn(world, persona) if body_fn else None
    r = world.cloud.request(method, path, token=world.tokens[persona], body=body)
    if persona in allowed:
        assert 200 <= r.status < 300, f"{persona} {method} {path}: expected 2xx, got {r!r}"
    else:
        assert r.status == 403, f"{persona} {method} {path}: expected 403, got {r!r}"
        assert r.json()["error"]["code"] == 403


@pytest.mark.parametrize("persona", ["DA", "DM"])
def test_domain_scoped_listing_is_limited_to_the_domain(world, persona):
    """Domain-scoped readers see only their own domain's projects, users and assignments."""
    tok = world.tokens[persona]
    projects = world.cloud.request("GET", "/v3/projects", token=tok).json()["projects"]
    assert projects and {p["domain_id"] for p in projects} == {world.domain["id"]}
    users = world.cloud.request("GET", "/v3/users", token=tok).json()["users"]
    assert world.user["id"] in {u["id"] for u in users}
    assert {u["domain_id"] for u in users} == {world.domain["id"]}
    doms = world.cloud.request("GET", "/v3/domains", token=tok).json()["domains"]
    assert [d["id"] for d in doms] == [world.domain["id"]]
    ras = world.cloud.request("GET", "/v3/role_assignments", token=tok).json()["role_assignments"]
    scopes = {next(iter(a["scope"].values()))["id"] for a in ras}
    assert world.domain["id"] in scopes and world.other["id"] not in scopes and "default" not in scopes


def test_unknown_resource_is_404_for_admins(world):
    for path in ("/v3/projects/nope", "/v3/users/nope", "/v3/groups/nope", "/v3/roles/nope",
                 "/v3/domains/nope"):
        r = world.cloud.request("GET", path, token=world.tokens["SA"])
        assert r.status == 404, (path, r)
