"""Isolation between projects, visibility and image members."""
from __future__ import annotations

import json

import pytest

from tests.functional.image.conftest import OCTET, PATCH


@pytest.fixture
def private_image(gl_admin):
    img = gl_admin.create(visibility="private", name="admin-private")
    gl_admin.upload(img["id"], b"private bytes")
    yield img
    gl_admin.req("DELETE", f"/v2/images/{img['id']}")


def test_other_projects_private_image_is_404_for_every_verb(gl_admin, gl_demo, private_image,
                                                            demo_project):
    iid = private_image["id"]
    calls = [
        ("GET", f"/v2/images/{iid}", None, {}),
        ("PATCH", f"/v2/images/{iid}", json.dumps([{"op": "replace", "path": "/name",
                                                    "value": "x"}]).encode(),
         {"Content-Type": PATCH}),
        ("DELETE", f"/v2/images/{iid}", None, {}),
        ("GET", f"/v2/images/{iid}/file", None, {}),
        ("PUT", f"/v2/images/{iid}/file", b"overwrite", {"Content-Type": OCTET}),
        ("PUT", f"/v2/images/{iid}/stage", b"overwrite", {"Content-Type": OCTET}),
        ("POST", f"/v2/images/{iid}/actions/deactivate", None, {}),
        ("POST", f"/v2/images/{iid}/actions/reactivate", None, {}),
        ("PUT", f"/v2/images/{iid}/tags/t", None, {}),
        ("DELETE", f"/v2/images/{iid}/tags/t", None, {}),
        ("GET", f"/v2/images/{iid}/members", None, {}),
        ("POST", f"/v2/images/{iid}/members", json.dumps({"member": demo_project}).encode(),
         {"Content-Type": "application/json"}),
        ("GET", f"/v2/images/{iid}/members/{demo_project}", None, {}),
        ("PUT", f"/v2/images/{iid}/members/{demo_project}",
         json.dumps({"status": "accepted"}).encode(), {"Content-Type": "application/json"}),
        ("DELETE", f"/v2/images/{iid}/members/{demo_project}", None, {}),
        ("POST", f"/v2/images/{iid}/import",
         json.dumps({"method": {"name": "glance-direct"}}).encode(),
         {"Content-Type": "application/json"}),
    ]
    for method, path, raw, headers in calls:
        r = gl_demo.req(method, path, raw=raw, headers=headers)
        assert r.status == 404, (method, path, r)
    assert iid not in {i["id"] for i in gl_demo.list("limit=1000")}
    assert iid not in {i["id"] for i in gl_demo.list("visibility=private")}
    # and nothing changed
    after = gl_admin.show(iid)
    assert after["name"] == "admin-private" and after["status"] == "active" and after["tags"] == []


def test_public_image_readable_not_writable_by_others(gl_admin, gl_demo):
    img = gl_admin.create(visibility="public")
    assert gl_demo.show(img["id"])["id"] == img["id"]
    gl_demo.patch(img["id"], [{"op": "replace", "path": "/name", "value": "x"}], expect=403)
    assert gl_demo.req("DELETE", f"/v2/images/{img['id']}").status == 403
    assert gl_demo.req("PUT", f"/v2/images/{img['id']}/tags/x").status == 403
    gl_admin.req("DELETE", f"/v2/images/{img['id']}")


def test_shared_image_visible_only_to_accepted_members(gl_admin, gl_demo, demo_project):
    img = gl_admin.create(visibility="shared", name="shared-one")
    iid = img["id"]
    assert gl_demo.req("GET", f"/v2/images/{iid}").status == 404    # not a member yet
    r = gl_admin.req("POST", f"/v2/images/{iid}/members", body={"member": demo_project})
    assert r.status == 200
    mem = r.json()
    assert mem["status"] == "pending" and mem["member_id"] == demo_project
    assert mem["schema"] == "/v2/schemas/member"
    assert gl_admin.req("POST", f"/v2/images/{iid}/members",
                        body={"member": demo_project}).status == 409
    # a pending member can see the image directly but not in the default list
    assert gl_demo.show(iid)["id"] == iid
    assert iid not in {i["id"] for i in gl_demo.list()}
    assert iid in {i["id"] for i in gl_demo.list("member_status=pending")}
    assert iid in {i["id"] for i in gl_demo.list("member_status=all")}
    r = gl_demo.req("PUT", f"/v2/images/{iid}/members/{demo_project}", body={"status": "maybe"})
    assert r.status == 400
    r = gl_demo.req("PUT", f"/v2/images/{iid}/members/{demo_project}", body={"status": "accepted"})
    assert r.status == 200 and r.json()["status"] == "accepted"
    assert iid in {i["id"] for i in gl_demo.list()}
    assert iid in {i["id"] for i in gl_demo.list("visibility=shared")}
    # the member sees its own membership; cannot add others or delete
    ms = gl_demo.req("GET", f"/v2/images/{iid}/members").json()
    assert [m["member_id"] for m in ms["members"]] == [demo_project]
    assert ms["schema"] == "/v2/schemas/members"
    assert gl_demo.req("GET", f"/v2/images/{iid}/members/{demo_project}").status == 200
    assert gl_demo.req("POST", f"/v2/images/{iid}/members", body={"member": "x"}).status == 403
    assert gl_demo.req("DELETE", f"/v2/images/{iid}/members/{demo_project}").status == 403
    # rejected -> gone from the list again
    gl_demo.req("PUT", f"/v2/images/{iid}/members/{demo_project}", body={"status": "rejected"})
    assert iid not in {i["id"] for i in gl_demo.list()}
    # owner removes the member -> 404 for demo
    assert gl_admin.req("DELETE", f"/v2/images/{iid}/members/{demo_project}").status == 204
    assert gl_demo.req("GET", f"/v2/images/{iid}").status == 404
    assert gl_admin.req("GET", f"/v2/images/{iid}/members/{demo_project}").status == 404
    gl_admin.req("DELETE", f"/v2/images/{iid}")


def test_members_only_on_shared_images(gl_admin, demo_project):
    img = gl_admin.create(visibility="private")
    r = gl_admin.req("POST", f"/v2/images/{img['id']}/members", body={"member": demo_project})
    assert r.status == 403
    for body in ({}, {"member": 5}, {"member": ""}):
        img2 = gl_admin.create(visibility="shared")
        assert gl_admin.req("POST", f"/v2/images/{img2['id']}/members", body=body).status == 400


def test_community_images(gl_admin, gl_demo):
    img = gl_admin.create(visibility="community", name="comm")
    assert gl_demo.show(img["id"])["visibility"] == "community"
    assert img["id"] not in {i["id"] for i in gl_demo.list()}         # not in default lists
    assert img["id"] in {i["id"] for i in gl_demo.list("visibility=community")}
    gl_admin.req("DELETE", f"/v2/images/{img['id']}")


def test_owner_cannot_accept_for_its_member(gl_admin, gl_demo):
    """Only the member (or an admin) sets a membership's status; a non-admin owner cannot."""
    admin_project = gl_admin.cloud.sdk().current_project_id
    img = gl_demo.create(visibility="shared")
    r = gl_demo.req("POST", f"/v2/images/{img['id']}/members", body={"member": admin_project})
    assert r.status == 200
    r = gl_demo.req("PUT", f"/v2/images/{img['id']}/members/{admin_project}",
                    body={"status": "accepted"})
    assert r.status == 403
    assert gl_demo.req("GET", f"/v2/images/{img['id']}/members/{admin_project}").json()["status"] \
        == "pending"
    gl_demo.req("DELETE", f"/v2/images/{img['id']}")
