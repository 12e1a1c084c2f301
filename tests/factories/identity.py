"""Identity factories for tests of every service: projects, users with roles, tokens.

    p = make_project_user(cloud, role="member")      # a fresh project + user holding `role`
    p.conn.compute.servers()                          # openstacksdk as that user
    p.token                                           # a project-scoped token (raw HTTP tests)
"""
from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from tests.harness import RunningCloud


def uniq(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Admin:
    """Raw Keystone calls with a cached admin token (fast set-up, no SDK round trips)."""

    def __init__(self, cloud: RunningCloud):
        self.cloud = cloud
        self._token: str | None = None

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = issue_token(self.cloud, "admin", self.cloud.admin_password, project="admin")
        return self._token

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201, 204)) -> Any:
        r = self.cloud.request(method, path, token=self.token, body=body)
        if r.status not in expect:
            raise AssertionError(f"{method} {path} -> {r.status}: {r.body[:500]!r}")
        return r.json() if r.body else None

    def project(self, name: str | None = None, domain_id: str | None = None, **kw: Any) -> dict[str, Any]:
        body = {"name": name or uniq("proj"), **kw}
        if domain_id is not None:
            body["domain_id"] = domain_id
        return self.call("POST", "/v3/projects", {"project": body})["project"]

    def user(self, name: str | None = None, password: str | None = None, domain_id: str = "default",
             **kw: Any) -> dict[str, Any]:
        body = {"name": name or uniq("user"), "domain_id": domain_id, **kw}
        if password is not None:
            body["password"] = password
        return self.call("POST", "/v3/users", {"user": body})["user"]

    def group(self, name: str | None = None, domain_id: str = "default") -> dict[str, Any]:
        return self.call("POST", "/v3/groups", {"group": {"name": name or uniq("grp"),
                                                          "domain_id": domain_id}})["group"]

    def domain(self, name: str | None = None, **kw: Any) -> dict[str, Any]:
        return self.call("POST", "/v3/domains", {"domain": {"name": name or uniq("dom"), **kw}})["domain"]

    def role_id(self, name: str) -> str:
        roles = self.call("GET", f"/v3/roles?name={name}")["roles"]
        if roles:
            return roles[0]["id"]
        return self.call("POST", "/v3/roles", {"role": {"name": name}})["role"]["id"]

    def grant(self, role: str, *, user: str | None = None, group: str | None = None,
              project: str | None = None, domain: str | None = None, system: bool = False,
              inherited: bool = False) -> None:
        actor = f"users/{user}" if user else f"groups/{group}"
        rid = self.role_id(role)
        if system:
            path = f"/v3/system/{actor}/roles/{rid}"
        else:
            tgt = f"projects/{project}" if project else f"domains/{domain}"
            path = f"/{tgt}/{actor}/roles/{rid}"
            path = f"/v3/OS-INHERIT{path}/inherited_to_projects" if inherited else f"/v3{path}"
        self.call("PUT", path)


def issue_token(cloud: RunningCloud, user: str, password: str, *, project: str | None = None,
                domain: str | None = None, system: bool = False, user_domain: str = "default",
                project_domain: str = "default") -> str:
    """A token for ``user`` (project/domain by name, or system scope); raises on failure."""
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": user_domain}, "password": password}}}}
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"id": project_domain}}}
    elif domain:
        auth["scope"] = {"domain": {"id": domain}}
    elif system:
        auth["scope"] = {"system": {"all": True}}
    r = cloud.request("POST", "/v3/auth/tokens?nocatalog=1", body={"auth": auth})
    if r.status != 201:
        raise AssertionError(f"token for {user}: {r.status} {r.body[:300]!r}")
    return r.headers["x-subject-token"]


@dataclasses.dataclass
class ProjectUser:
    project_id: str
    project_name: str
    user_id: str
    user_name: str
    password: str
    token: str
    _cloud: RunningCloud
    _conn: Any = None

    @property
    def conn(self) -> Any:
        """openstacksdk connection as this user, scoped to the project (made on first use)."""
        if self._conn is None:
            self._conn = self._cloud.sdk_as(self.user_name, self.password, project=self.project_name)
        return self._conn


def make_project_user(cloud: RunningCloud, role: str = "member", admin: Admin | None = None,
                      project_id: str | None = None) -> ProjectUser:
    """A new project (or ``project_id``) and a new user holding ``role`` on it."""
    admin = admin or Admin(cloud)
    if project_id is None:
        project = admin.project()
    else:
        project = admin.call("GET", f"/v3/projects/{project_id}")["project"]
    password = uuid.uuid4().hex
    user = admin.user(password=password)
    admin.grant(role, user=user["id"], project=project["id"])
    token = issue_token(cloud, user["name"], password, project=project["name"],
                        project_domain=project["domain_id"])
    return ProjectUser(project["id"], project["name"], user["id"], user["name"], password, token, cloud)


def project_user_conn(cloud: RunningCloud, role: str = "member") -> tuple[str, str, str, Any]:
    """(project_id, user_id, password, openstacksdk connection) of a fresh project user."""
    pu = make_project_user(cloud, role)
    return pu.project_id, pu.user_id, pu.password, pu.conn


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()
