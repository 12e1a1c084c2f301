"""Deferred delete ([compute] reclaim_instance_interval > 0): DELETE makes a server SOFT_DELETED,
`restore` brings it back ACTIVE, `forceDelete` removes it at once, and the periodic reclaim job
hard-deletes soft-deleted servers older than the interval."""
from __future__ import annotations

import uuid

import pytest

from tests.functional.compute.conftest import Nova, wait_until
from tests.harness import RunningCloud


@pytest.fixture(scope="module")
def soft_cloud(tmp_path_factory):
    c = RunningCloud.start(tmp_path_factory.mktemp("soft-delete") / "state",
                           env={"ONESTACK_COMPUTE__RECLAIM_INSTANCE_INTERVAL": "3"})
    yield c
    c.destroy()


def _image(cloud, nova):
    return cloud.request("GET", "/image/v2/images", nova.token).json()["images"][0]["id"]


def test_delete_is_soft_restore_and_force_delete(soft_cloud):
    cloud = soft_cloud
    nova = Nova(cloud, "onestack")
    image = _image(cloud, nova)
    srv = nova.create(f"soft-{uuid.uuid4().hex[:6]}", image)
    nova.wait(srv["id"])
    # the unchanged CLI: delete -> SOFT_DELETED (powered off), still shown, hidden from the list
    cloud.cli("server", "delete", srv["id"], cloud="onestack", json_out=False)
    shown = nova.wait(srv["id"], ("SOFT_DELETED",))
    assert shown["OS-EXT-STS:vm_state"] == "soft-delete" and shown["OS-EXT-STS:power_state"] == 4
    assert srv["id"] not in {s["id"] for s in nova("GET", "/servers").json()["servers"]}
    listed = nova("GET", "/servers?status=SOFT_DELETED").json()["servers"]
    assert srv["id"] in {s["id"] for s in listed}
    # another project's soft-deleted server is not found; bad action bodies are 400
    cloud.sdk().identity.create_project(name="soft-other", domain_id="default")
    admin = cloud.sdk()
    proj = admin.identity.find_project("soft-other")
    user = admin.identity.create_user(name="soft-other-user", password="pw-soft-1", domain_id="default",
                                      default_project_id=proj.id)
    role = admin.identity.find_role("member")
    admin.identity.assign_project_role_to_user(proj, user, role)
    other = cloud.sdk_as("soft-other-user", "pw-soft-1", project="soft-other")
    from openstack import exceptions
    with pytest.raises(exceptions.NotFoundException):
        other.compute.restore_server(srv["id"])
    with pytest.raises(exceptions.NotFoundException):
        other.compute.delete_server(srv["id"], force=True)
    # restore through openstacksdk -> ACTIVE again, powered on
    conn = cloud.sdk("onestack")
    conn.compute.restore_server(srv["id"])
    back = nova.wait(srv["id"])
    assert back["OS-EXT-STS:power_state"] == 1
    # restore of a server that is not soft-deleted: 409
    r = nova("POST", f"/servers/{srv['id']}/action", {"restore": None})
    assert r.status == 409, r
    actions = [a["action"] for a in nova("GET", f"/servers/{srv['id']}/os-instance-actions").json()[
        "instanceActions"]]
    assert "restore" in actions and "delete" in actions
    # soft delete again, then forceDelete (CLI: openstack server delete --force is not there; SDK)
    assert nova("DELETE", f"/servers/{srv['id']}").status == 204
    nova.wait(srv["id"], ("SOFT_DELETED",))
    conn.compute.delete_server(srv["id"], force=True)
    nova.gone(srv["id"])


def test_reclaim_job_hard_deletes(soft_cloud):
    cloud = soft_cloud
    nova = Nova(cloud, "onestack")
    srv = nova.create(f"reclaim-{uuid.uuid4().hex[:6]}", _image(cloud, nova))
    nova.wait(srv["id"])
    assert nova("DELETE", f"/servers/{srv['id']}").status == 204
    nova.wait(srv["id"], ("SOFT_DELETED",))
    # the periodic job (every interval/2) removes it once it is older than 3 s
    wait_until(lambda: nova("GET", f"/servers/{srv['id']}").status, 404, timeout=30)
    admin = Nova(cloud)
    gone = admin("GET", f"/servers/detail?deleted=true&all_tenants=1").json()["servers"]
    assert srv["id"] in {s["id"] for s in gone}
