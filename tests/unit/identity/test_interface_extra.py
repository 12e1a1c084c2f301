"""identity/interface.py as other services call it: limit_for (quotas from unified limits)
and ec2_credential (S3/EC2 signature checks), over a real (SQLite) database."""
from __future__ import annotations

import json

import pytest

from onestack import db


@pytest.fixture(scope="module")
def ident_db(tmp_path_factory):
    from onestack.db import migrate
    import onestack.identity  # noqa: F401  (models, config section)
    from onestack.identity import credentials_keys, fernet
    base = tmp_path_factory.mktemp("identdb")
    db.init(f"sqlite:///{base / 'x.db'}")
    migrate.upgrade()
    repo = fernet.KeyRepository(base / "credential-keys", 3)
    repo.setup()
    credentials_keys.set_repository(repo)
    from onestack.identity import models as m
    from onestack.identity import service as svc
    with db.write() as s:
        svc.ensure_domain(s, "default", "Default")
        p = svc.ensure_project(s, "p1", "default")
        q = svc.ensure_project(s, "p2", "default")
        u = svc.ensure_user(s, "u1", "default", None)
        svc.ensure_region(s, "RegionOne")
        compute = m.Service(id="svc-compute", type="compute", name="nova", enabled=True, extra={})
        s.add(compute)
        s.flush()
        return {"p1": p.id, "p2": q.id, "user": u.id}


def test_limit_for_project_then_registered_default(ident_db):
    from onestack.identity import interface, limits
    with db.write() as s:
        limits.create_registered(s, [{"service_id": "svc-compute", "resource_name": "cores", "default_limit": 20}])
        limits.create_limits(s, [{"service_id": "svc-compute", "resource_name": "cores", "resource_limit": 4,
                                  "project_id": ident_db["p1"]}])
    assert interface.limit_for(ident_db["p1"], "compute", "cores") == 4
    assert interface.limit_for(ident_db["p2"], "compute", "cores") == 20
    assert interface.limit_for(ident_db["p1"], "compute", "ram") is None
    assert interface.limit_for(ident_db["p1"], "volume", "cores") is None


def test_ec2_credential_lookup(ident_db):
    from onestack.identity import credentials, interface
    with db.write() as s:
        c = credentials.ec2_create(s, ident_db["user"], ident_db["p1"])
        access = json.loads(credentials.blob_of(c))["access"]
    got = interface.ec2_credential(access)
    assert got is not None and got["user_id"] == ident_db["user"] and got["project_id"] == ident_db["p1"]
    assert got["access"] == access and len(got["secret"]) == 32
    assert interface.ec2_credential("no-such-key") is None
    assert interface.ec2_credential("") is None
