"""Idempotent bootstrap: default domain, roles, admin/demo/service, region, catalog, clouds.yaml.

Runs at every start; creating what is missing and changing nothing that exists, except
the admin password when one is given explicitly (as ``keystone-manage bootstrap``).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from onestack import db
from onestack.identity import fernet, models as m, service as svc, tokens

ROLES = ["admin", "manager", "member", "reader", "service", "ResellerAdmin"]
# reader ⊂ member ⊂ manager ⊂ admin, as upstream's bootstrap lays them out.
IMPLIED = [("admin", "manager"), ("manager", "member"), ("member", "reader")]


def _state_dir() -> Path:
    from onestack import conf
    return conf.get().state_dir


def _read_clouds() -> dict[str, Any]:
    path = _state_dir() / "clouds.yaml"
    if path.exists():
        return yaml.safe_load(path.read_text()) or {}
    return {}


def _secret_file(name: str) -> str:
    path = _state_dir() / name
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


def service_user_password() -> str:
    return _secret_file(".service-password")


def run(cloud: Any) -> None:
    settings = cloud.settings
    conf = settings.identity
    state = settings.state_dir
    token_repo = fernet.KeyRepository(state / "fernet-keys", conf.fernet_max_active_keys)
    token_repo.setup()
    tokens.set_key_repository(token_repo)
    tokens.set_cache_size(conf.token_cache_size)
    cred_repo = fernet.KeyRepository(state / "credential-keys", conf.fernet_max_active_keys)
    cred_repo.setup()
    from onestack.identity import credentials_keys
    credentials_keys.set_repository(cred_repo)

    clouds = _read_clouds().get("clouds", {})
    explicit = getattr(cloud, "admin_password", None) or conf.admin_password or None
    admin_pw = explicit or clouds.get("onestack-admin", {}).get("auth", {}).get("password") \
        or secrets.token_urlsafe(12)
    demo_pw = conf.demo_password or clouds.get("onestack", {}).get("auth", {}).get("password") \
        or secrets.token_urlsafe(12)
    region = settings.core.region
    base = settings.public_url

    with db.write() as s:
        svc.ensure_domain(s, svc.DEFAULT_DOMAIN, "Default", "The default domain")
        roles = {name: svc.ensure_role(s, name) for name in ROLES}
        for prior, implied in IMPLIED:
            svc.ensure_implied(s, roles[prior].id, roles[implied].id)
        admin_project = svc.ensure_project(s, "admin", svc.DEFAULT_DOMAIN, "Bootstrap project")
        service_project = svc.ensure_project(s, "service", svc.DEFAULT_DOMAIN, "Service users")
        demo_project = svc.ensure_project(s, "demo", svc.DEFAULT_DOMAIN, "Demo project")
        existing_admin = s.scalar(db_select_user(s, "admin"))
        admin = svc.ensure_user(s, "admin", svc.DEFAULT_DOMAIN, admin_pw,
                                reset_password=bool(explicit) or existing_admin is None)
        demo = svc.ensure_user(s, "demo", svc.DEFAULT_DOMAIN, demo_pw)
        robot = svc.ensure_user(s, "onestack", svc.DEFAULT_DOMAIN, service_user_password())
        svc.ensure_assignment(s, m.USER_PROJECT, admin.id, admin_project.id, roles["admin"].id)
        svc.ensure_assignment(s, m.USER_SYSTEM, admin.id, "system", roles["admin"].id)
        svc.ensure_assignment(s, m.USER_DOMAIN, admin.id, svc.DEFAULT_DOMAIN, roles["admin"].id)
        svc.ensure_assignment(s, m.USER_PROJECT, demo.id, demo_project.id, roles["member"].id)
        svc.ensure_assignment(s, m.USER_PROJECT, robot.id, service_project.id, roles["service"].id)
        svc.ensure_assignment(s, m.USER_PROJECT, robot.id, service_project.id, roles["admin"].id)
        svc.ensure_region(s, region)
        _ensure_catalog(s, settings, cloud.services)
        tokens.revision.bump(s)

    write_clouds_yaml(state, base, admin_pw, demo_pw, region)


def _ensure_catalog(s: Any, settings: Any, services: list[Any]) -> None:
    base, region = settings.public_url, settings.core.region
    for spec in services:
        url = f"{base}{spec.prefix}{spec.catalog_path}{spec.endpoint_suffix}"
        for type_ in (spec.service_type, *spec.catalog_names):
            svc.ensure_service_endpoints(s, type_, spec.catalog_name or spec.name, url, region)


def catalog_current(settings: Any) -> bool:
    """Does the catalog's public identity endpoint already point at this cloud's URL?
    (Otherwise the public URL changed and every service's endpoints must be rewritten
    before anyone gets a token.)"""
    from sqlalchemy import select
    from onestack.identity import SERVICE
    url = f"{settings.public_url}{SERVICE.prefix}{SERVICE.catalog_path}"
    with db.read() as s:
        found = s.scalar(select(m.Endpoint.url).join(m.Service, m.Service.id == m.Endpoint.service_id)
                         .where(m.Service.type == SERVICE.service_type,
                                m.Endpoint.interface == "public"))
    return found == url


def ensure_catalog(settings: Any, services: list[Any]) -> None:
    """Catalog entries for services started after identity (a staged start)."""
    with db.write() as s:
        _ensure_catalog(s, settings, services)
        tokens.revision.bump(s)


def db_select_user(s: Any, name: str) -> Any:
    from sqlalchemy import select
    return select(m.User).where(m.User.domain_id == svc.DEFAULT_DOMAIN, m.User.name == name)


def write_clouds_yaml(state: Path, base: str, admin_pw: str, demo_pw: str, region: str) -> Path:
    def entry(user: str, pw: str, project: str) -> dict[str, Any]:
        return {"auth": {"auth_url": f"{base}/identity/v3", "username": user, "password": pw,
                         "project_name": project, "user_domain_name": "Default",
                         "project_domain_name": "Default"},
                "region_name": region, "identity_api_version": 3, "interface": "public"}
    data = {"clouds": {
        "onestack-admin": entry("admin", admin_pw, "admin"),
        "onestack": entry("demo", demo_pw, "demo"),
        "onestack-system-admin": {
            "auth": {"auth_url": f"{base}/identity/v3", "username": "admin", "password": admin_pw,
                     "user_domain_name": "Default", "system_scope": "all"},
            "region_name": region, "identity_api_version": 3, "interface": "public"},
    }}
    path = state / "clouds.yaml"
    tmp = state / ".clouds.yaml.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)
    os.replace(tmp, path)
    return path
