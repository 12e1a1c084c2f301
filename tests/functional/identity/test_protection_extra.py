"""Protection matrix for the catalog, application credentials, access rules, credentials,
EC2 credentials, limits and trusts: each persona gets exactly what upstream Keystone's
default policies (enforce_scope on, new defaults) allow.

Personas: SA system admin · SR system reader · DA domain admin · PA project admin ·
PM project member · PR project reader (project P) · OM member of another project.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable

import pytest

from tests.factories.identity import Admin, issue_token, uniq

PERSONAS = ("SA", "SR", "DA", "PA", "PM", "PR", "OM")
ALL = set(PERSONAS)
SP = ALL - {"DA"}                 # system- and project-scoped tokens
PROJECT = {"PA", "PM", "PR", "OM"}


class World:
    def __init__(self, cloud: Any):
        self.cloud = cloud
        a = self.admin = Admin(cloud)
        self.domain = a.domain()
        self.project = a.project(domain_id=self.domain["id"])
        self.other = a.project()
        self.sys_token = issue_token(cloud, "admin", cloud.admin_password, system=True)
        self.tokens: dict[str, str] = {}
        self.user_ids: dict[str, str] = {}
        D, P = self.domain["id"], self.project["id"]
        specs = {"SA": ("admin", "system", None), "SR": ("reader", "system", None),
                 "DA": ("admin", "domain", D), "PA": ("admin", "project", P),
                 "PM": ("member", "project", P), "PR": ("reader", "project", P),
                 "OM": ("member", "project", self.other["id"])}
        for persona, (role, kind, tgt) in specs.items():
            pw = uuid.uuid4().hex
            u = a.user(password=pw)
            self.user_ids[persona] = u["id"]
            if kind == "system":
                a.grant(role, user=u["id"], system=True)
                tok = issue_token(cloud, u["name"], pw, system=True)
            elif kind == "domain":
                a.grant(role, user=u["id"], domain=tgt)
                tok = issue_token(cloud, u["name"], pw, domain=tgt)
            else:
                a.grant(role, user=u["id"], project=tgt)
                name, dom = ((self.project["name"], D) if tgt == P else (self.other["name"], "default"))
                tok = issue_token(cloud, u["name"], pw, project=name, project_domain=dom)
            self.tokens[persona] = tok
        # somebody else's things: a user on P with an app cred, a credential, a trust
        pw = uuid.uuid4().hex
        self.victim = a.user(password=pw)
        a.grant("member", user=self.victim["id"], project=P)
        vtok = issue_token(cloud, self.victim["name"], pw, project=self.project["name"], project_domain=D)
        v = self.victim["id"]
        self.appcred = self._ok("POST", f"/v3/users/{v}/application_credentials", vtok,
                                {"application_credential": {"name": "victim"}})["application_credential"]
        self.cred = self._ok("POST", "/v3/credentials", vtok, {"credential": {
            "type": "cert", "blob": "b", "user_id": v}})["credential"]
        self.ec2 = self._ok("POST", f"/v3/users/{v}/credentials/OS-EC2", vtok,
                            {"tenant_id": P})["credential"]
        self.trust = self._ok("POST", "/v3/OS-TRUST/trusts", vtok, {"trust": {
            "trustor_user_id": v, "trustee_user_id": self.user_ids["OM"], "project_id": P,
            "impersonation": False, "roles": [{"name": "reader"}]}})["trust"]
        self.service = a.call("POST", "/v3/services", {"service": {"type": uniq("matrix")}})["service"]
        self.region = a.call("POST", "/v3/regions", {"region": {"description": "matrix"}})["region"]
        self.endpoint = a.call("POST", "/v3/endpoints", {"endpoint": {
            "service_id": self.service["id"], "interface": "public", "url": "http://matrix/"}})["endpoint"]
        self.reg = a.call("POST", "/v3/registered_limits", {"registered_limits": [{
            "service_id": self.service["id"], "resource_name": "things", "default_limit": 3}]})["registered_limits"][0]
        self.limit = a.call("POST", "/v3/limits", {"limits": [{
            "service_id": self.service["id"], "resource_name": "things", "resource_limit": 1,
            "project_id": P}]})["limits"][0]

    def _ok(self, method: str, path: str, token: str, body: Any) -> Any:
        r = self.cloud.request(method, path, token=token, body=body)
        assert r.status == 201, (path, r)
        return r.json()


@pytest.fixture(scope="module")
def world(cloud):
    return World(cloud)


def _me(w: World, p: str) -> str:
    return w.user_ids[p]


def _fresh_region(w: World, p: str) -> str:
    return f"/v3/regions/{w.admin.call('POST', '/v3/regions', {'region': {}})['region']['id']}"


def _fresh_service(w: World, p: str) -> str:
    svc = w.admin.call("POST", "/v3/services", {"service": {"type": uniq("m")}})["service"]
    return f"/v3/services/{svc['id']}"


def _own_appcred_path(w: World, p: str) -> str:
    return f"/v3/users/{_me(w, p)}/application_credentials"


def _own_cred(w: World, p: str) -> str:
    c = w.admin.call("POST", "/v3/credentials", {"credential": {"type": "cert", "blob": "x",
                                                                "user_id": _me(w, p)}})["credential"]
    return f"/v3/credentials/{c['id']}"


def _own_ec2(w: World, p: str) -> str:
    c = w.admin.call("POST", f"/v3/users/{_me(w, p)}/credentials/OS-EC2",
                     {"tenant_id": w.project["id"]})["credential"]
    return f"/v3/users/{_me(w, p)}/credentials/OS-EC2/{c['access']}"


def _fresh_limit(w: World, p: str) -> str:
    res = uniq("r")
    w.admin.call("POST", "/v3/registered_limits", {"registered_limits": [{
        "service_id": w.service["id"], "resource_name": res, "default_limit": 1}]})
    lim = w.admin.call("POST", "/v3/limits", {"limits": [{"service_id": w.service["id"], "resource_name": res,
                                                          "resource_limit": 1, "project_id": w.project["id"]}]})
    return f"/v3/limits/{lim['limits'][0]['id']}"


Case = tuple[str, Callable[[World, str], str], Callable[[World, str], Any] | None, set[str]]
V = lambda w: w.victim["id"]  # noqa: E731
CASES: dict[str, Case] = {
    # catalog
    "list_regions": ("GET", lambda w, p: "/v3/regions", None, ALL),
    "get_region": ("GET", lambda w, p: f"/v3/regions/{w.region['id']}", None, ALL),
    "create_region": ("POST", lambda w, p: "/v3/regions", lambda w, p: {"region": {}}, {"SA", "PA"}),
    "update_region": ("PATCH", _fresh_region, lambda w, p: {"region": {"description": "x"}}, {"SA", "PA"}),
    "delete_region": ("DELETE", _fresh_region, None, {"SA", "PA"}),
    "list_services": ("GET", lambda w, p: "/v3/services", None, {"SA", "SR", "PA"}),
    "get_service": ("GET", lambda w, p: f"/v3/services/{w.service['id']}", None, {"SA", "SR", "PA"}),
    "create_service": ("POST", lambda w, p: "/v3/services", lambda w, p: {"service": {"type": "x"}},
                       {"SA", "PA"}),
    "update_service": ("PATCH", _fresh_service, lambda w, p: {"service": {"name": "n"}}, {"SA", "PA"}),
    "delete_service": ("DELETE", _fresh_service, None, {"SA", "PA"}),
    "list_endpoints": ("GET", lambda w, p: "/v3/endpoints", None, {"SA", "SR", "PA"}),
    "get_endpoint": ("GET", lambda w, p: f"/v3/endpoints/{w.endpoint['id']}", None, {"SA", "SR", "PA"}),
    "create_endpoint": ("POST", lambda w, p: "/v3/endpoints", lambda w, p: {"endpoint": {
        "service_id": w.service["id"], "interface": "admin", "url": "http://m/"}}, {"SA", "PA"}),
    # application credentials and access rules
    "list_own_app_creds": ("GET", _own_appcred_path, None, SP),
    "create_own_app_cred": ("POST", _own_appcred_path,
                            lambda w, p: {"application_credential": {"name": uniq("ac")}}, PROJECT),
    "list_others_app_creds": ("GET", lambda w, p: f"/v3/users/{V(w)}/application_credentials", None,
                              {"SA", "SR", "PA"}),
    "get_others_app_cred": ("GET", lambda w, p: f"/v3/users/{V(w)}/application_credentials/{w.appcred['id']}",
                            None, {"SA", "SR", "PA"}),
    "create_others_app_cred": ("POST", lambda w, p: f"/v3/users/{V(w)}/application_credentials",
                               lambda w, p: {"application_credential": {"name": uniq("ac")}}, set()),
    "list_own_access_rules": ("GET", lambda w, p: f"/v3/users/{_me(w, p)}/access_rules", None, SP),
    "list_others_access_rules": ("GET", lambda w, p: f"/v3/users/{V(w)}/access_rules", None, {"SA", "SR"}),
    # credentials
    "list_credentials": ("GET", lambda w, p: "/v3/credentials", None, ALL),
    "create_own_credential": ("POST", lambda w, p: "/v3/credentials", lambda w, p: {"credential": {
        "type": "cert", "blob": "x", "user_id": _me(w, p)}}, ALL),
    "create_others_credential": ("POST", lambda w, p: "/v3/credentials", lambda w, p: {"credential": {
        "type": "cert", "blob": "x", "user_id": V(w)}}, {"SA", "DA", "PA"}),
    "get_others_credential": ("GET", lambda w, p: f"/v3/credentials/{w.cred['id']}", None,
                              {"SA", "SR", "DA", "PA"}),
    "get_own_credential": ("GET", _own_cred, None, ALL),
    "delete_own_credential": ("DELETE", _own_cred, None, ALL),
    # EC2
    "ec2_list_own": ("GET", lambda w, p: f"/v3/users/{_me(w, p)}/credentials/OS-EC2", None, SP),
    "ec2_list_others": ("GET", lambda w, p: f"/v3/users/{V(w)}/credentials/OS-EC2", None, {"SA", "SR", "PA"}),
    "ec2_create_own": ("POST", lambda w, p: f"/v3/users/{_me(w, p)}/credentials/OS-EC2",
                       lambda w, p: {"tenant_id": w.project["id"]}, {"SA", "PA", "PM", "OM"}),
    "ec2_get_others": ("GET", lambda w, p: f"/v3/users/{V(w)}/credentials/OS-EC2/{w.ec2['access']}", None,
                       {"SA", "SR", "PA"}),
    "ec2_delete_own": ("DELETE", _own_ec2, None, {"SA", "PA", "PM", "OM"}),
    # limits
    "get_limit_model": ("GET", lambda w, p: "/v3/limits/model", None, ALL),
    "list_limits": ("GET", lambda w, p: "/v3/limits", None, ALL),
    "get_limit": ("GET", lambda w, p: f"/v3/limits/{w.limit['id']}", None, ALL - {"OM"}),
    "create_limits": ("POST", lambda w, p: "/v3/limits", lambda w, p: {"limits": [{
        "service_id": w.service["id"], "resource_name": "things", "resource_limit": 2,
        "project_id": w.admin.project()["id"]}]}, {"SA", "PA"}),
    "update_limit": ("PATCH", _fresh_limit, lambda w, p: {"limit": {"resource_limit": 5}}, {"SA", "PA"}),
    "delete_limit": ("DELETE", _fresh_limit, None, {"SA", "PA"}),
    "list_registered_limits": ("GET", lambda w, p: "/v3/registered_limits", None, ALL),
    "get_registered_limit": ("GET", lambda w, p: f"/v3/registered_limits/{w.reg['id']}", None, ALL),
    "create_registered_limits": ("POST", lambda w, p: "/v3/registered_limits", lambda w, p: {
        "registered_limits": [{"service_id": w.service["id"], "resource_name": uniq("r"),
                               "default_limit": 1}]}, {"SA", "PA"}),
    "update_registered_limit": ("PATCH", lambda w, p: f"/v3/registered_limits/{w.reg['id']}",
                                lambda w, p: {"registered_limit": {"default_limit": 4}}, {"SA", "PA"}),
    # trusts (the victim is trustor, OM is trustee)
    "list_trusts": ("GET", lambda w, p: "/v3/OS-TRUST/trusts", None, {"SA", "SR", "PA"}),
    "list_trusts_for_trustee": ("GET", lambda w, p: f"/v3/OS-TRUST/trusts?trustee_user_id={w.user_ids['OM']}",
                                None, {"SA", "SR", "PA", "OM"}),
    "get_trust": ("GET", lambda w, p: f"/v3/OS-TRUST/trusts/{w.trust['id']}", None, {"SA", "SR", "PA", "OM"}),
    "list_trust_roles": ("GET", lambda w, p: f"/v3/OS-TRUST/trusts/{w.trust['id']}/roles", None,
                         {"SA", "SR", "PA", "OM"}),
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


def test_listings_are_filtered_to_what_the_caller_may_see(world):
    """Credentials and limits lists show a project member only their own."""
    c = world.cloud
    creds = c.request("GET", "/v3/credentials", token=world.tokens["PM"]).json()["credentials"]
    assert {x["user_id"] for x in creds} <= {world.user_ids["PM"]}
    assert world.cred["id"] in {x["id"] for x in c.request(
        "GET", "/v3/credentials", token=world.tokens["SR"]).json()["credentials"]}
    lims = c.request("GET", "/v3/limits", token=world.tokens["OM"]).json()["limits"]
    assert world.limit["id"] not in {x["id"] for x in lims}
    lims = c.request("GET", "/v3/limits", token=world.tokens["PR"]).json()["limits"]
    assert world.limit["id"] in {x["id"] for x in lims}
    lims = c.request("GET", "/v3/limits", token=world.tokens["DA"]).json()["limits"]
    assert world.limit["id"] in {x["id"] for x in lims}
