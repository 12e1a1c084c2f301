"""Property test over the whole identity API: random JSON bodies, types, path parameters
and query strings sent to every identity route never produce a 5xx, and every error is
Keystone-shaped ({"error": {"code", "title", "message"}}).

Runs against a private cloud (so random writes cannot disturb other tests), with a
bounded number of examples per property.
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.factories.identity import Admin
from tests.harness import RunningCloud

from onestack.identity.api.routes import ROUTES

PARAM = re.compile(r"\{(\w+)\}")
SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    cloud = RunningCloud.start(tmp_path_factory.mktemp("fuzz") / "state")
    a = Admin(cloud)
    dom = a.domain()
    proj = a.project(domain_id=dom["id"])
    user = a.user(domain_id=dom["id"], password=uuid.uuid4().hex)
    group = a.group(domain_id=dom["id"])
    role = a.call("POST", "/v3/roles", {"role": {"name": "fz-" + uuid.uuid4().hex[:6]}})["role"]
    role2 = a.call("POST", "/v3/roles", {"role": {"name": "fz-" + uuid.uuid4().hex[:6]}})["role"]
    region = a.call("POST", "/v3/regions", {"region": {}})["region"]
    svc = a.call("POST", "/v3/services", {"service": {"type": "fuzz"}})["service"]
    ep = a.call("POST", "/v3/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "public",
                                                       "url": "http://fuzz/"}})["endpoint"]
    ids = {"domain_id": dom["id"], "project_id": proj["id"], "user_id": user["id"], "group_id": group["id"],
           "role_id": role["id"], "prior_role_id": role["id"], "implied_role_id": role2["id"],
           "region_id": region["id"], "service_id": svc["id"], "endpoint_id": ep["id"]}
    yield {"cloud": cloud, "token": a.token, "ids": ids}
    cloud.destroy()


def _routes(methods: set[str]) -> list[tuple[str, str]]:
    return sorted({(r.method, r.path) for r in ROUTES if r.method in methods})


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                      st.text(max_size=40))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
FIELD_NAMES = ["name", "id", "domain_id", "project_id", "user_id", "enabled", "description", "password",
               "type", "blob", "url", "interface", "service_id", "region_id", "parent_region_id",
               "parent_id", "roles", "expires_at", "secret", "unrestricted", "access_rules", "tags",
               "options", "impersonation", "trustor_user_id", "trustee_user_id", "remaining_uses",
               "resource_name", "resource_limit", "default_limit", "is_domain", "tenant_id", "methods",
               "identity", "scope", "auth", "credentials", "original_password", "access", "signature"]
WRAPPERS = ["project", "domain", "user", "group", "role", "region", "service", "endpoint", "credential",
            "application_credential", "trust", "registered_limits", "limits", "limit", "registered_limit",
            "auth", "credentials", "config"]
plausible = st.builds(lambda w, inner: {w: inner}, st.sampled_from(WRAPPERS),
                      st.one_of(st.dictionaries(st.sampled_from(FIELD_NAMES), json_value, max_size=6),
                                st.lists(st.dictionaries(st.sampled_from(FIELD_NAMES), json_value, max_size=5),
                                         max_size=2), json_value))
bodies = st.one_of(plausible, json_value)
segment = st.one_of(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
                            min_size=1, max_size=30),
                    st.sampled_from(["", "..", "default", "admin", "0" * 64, "a" * 300]))


def _path(fz: dict[str, Any], template: str, data: st.DataObject) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in fz["ids"] and data.draw(st.booleans()):
            return fz["ids"][name]
        from urllib.parse import quote
        return quote(data.draw(segment) or "x", safe="")
    return PARAM.sub(fill, template)


def _check(r: Any, what: str) -> None:
    event(f"HTTP {r.status}")   # --hypothesis-show-statistics shows the mix of answers
    assert r.status < 500, f"{what}: {r!r}"
    if r.status >= 400 and r.body:
        err = r.json()["error"]
        assert set(err) >= {"code", "title", "message"} and err["code"] == r.status, (what, r)


@SETTINGS
@given(data=st.data())
def test_random_bodies_to_write_routes(fz, data):
    method, template = data.draw(st.sampled_from(_routes({"POST", "PUT", "PATCH"})))
    path = _path(fz, template, data)
    body = data.draw(bodies)
    r = fz["cloud"].request(method, "/identity" + path, token=fz["token"], body=body)
    _check(r, f"{method} {path} {json.dumps(body)[:200]}")


@SETTINGS
@given(data=st.data())
def test_random_paths_and_queries_to_read_routes(fz, data):
    method, template = data.draw(st.sampled_from(_routes({"GET", "HEAD", "DELETE"})))
    path = _path(fz, template, data)
    keys = st.sampled_from(["name", "enabled", "domain_id", "user_id", "type", "interface", "service_id",
                            "region_id", "parent_region_id", "project_id", "effective", "include_names",
                            "scope.project.id", "role.id", "tags", "name__contains", "trustor_user_id",
                            "nocatalog", "allow_expired", "is_domain", "parents_as_list", "limit", "marker"])
    from urllib.parse import urlencode
    query = urlencode(data.draw(st.lists(st.tuples(keys, st.text(max_size=20)), max_size=4)))
    tok = data.draw(st.sampled_from([fz["token"], fz["token"], None, "garbage", "gAAAAA" + "x" * 100]))
    headers = {"X-Subject-Token": data.draw(st.sampled_from([fz["token"], "junk", ""]))}
    r = fz["cloud"].request(method, f"/identity{path}?{query}", token=tok, headers=headers)
    _check(r, f"{method} {path}?{query}")


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_non_json_bodies(fz, data):
    method, template = data.draw(st.sampled_from(_routes({"POST", "PUT", "PATCH"})))
    path = _path(fz, template, data)
    raw = data.draw(st.one_of(st.binary(max_size=64), st.just(b"{"), st.just(b"[]"), st.just(b"null"),
                              st.just(b'"x"'), st.just(b"\xff\xfe")))
    r = fz["cloud"].request(method, "/identity" + path, token=fz["token"], raw=raw,
                            headers={"Content-Type": "application/json"})
    _check(r, f"{method} {path} {raw!r}")
