"""Object-storage fixtures: a Swift user per tenant (token, account path) and CLI env."""
from __future__ import annotations

import os
import subprocess
from typing import Any
from urllib.parse import quote

import pytest

from tests.harness import BIN, RunningCloud


class SwiftUser:
    def __init__(self, cloud: RunningCloud, name: str):
        self.cloud = cloud
        self.cloud_name = name
        conn = cloud.sdk(name)
        self.token = conn.auth_token
        self.project_id = conn.current_project_id
        self.user_id = conn.current_user_id
        self.account = f"AUTH_{self.project_id}"
        self.path = f"/object/v1/{self.account}"
        self.url = cloud.url + self.path

    def req(self, method: str, sub: str = "", *, token: Any = True, headers: dict | None = None,
            raw: bytes | None = None) -> Any:
        tok = self.token if token is True else (token or None)
        path, sep, query = sub.partition("?")
        sub = quote(path, safe="/%") + sep + query
        return self.cloud.request(method, self.path + sub, token=tok, headers=headers, raw=raw)

    def env(self) -> dict[str, str]:
        cfg = self.cloud.cloud_config(self.cloud_name)["auth"]
        return {**self.cloud.env, "OS_AUTH_URL": cfg["auth_url"], "OS_USERNAME": cfg["username"],
                "OS_PASSWORD": cfg["password"], "OS_PROJECT_NAME": cfg["project_name"],
                "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
                "OS_IDENTITY_API_VERSION": "3", "OS_AUTH_VERSION": "3"}

    def swift(self, *args: str, check: bool = True, cwd: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run([str(BIN / "swift"), *args], env=self.env(), capture_output=True,
                           text=True, timeout=600, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError(f"swift {' '.join(args)} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r


@pytest.fixture(scope="session")
def demo(cloud: RunningCloud) -> SwiftUser:
    return SwiftUser(cloud, "onestack")


@pytest.fixture(scope="session")
def sadmin(cloud: RunningCloud) -> SwiftUser:
    return SwiftUser(cloud, "onestack-admin")
