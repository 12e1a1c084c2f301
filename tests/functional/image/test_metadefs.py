"""Metadata definitions catalog: namespaces with objects, properties, tags, resource types."""
from __future__ import annotations

import uuid


def test_metadef_namespace_lifecycle(gl_admin, gl_demo):
    ns = f"OS::Test::{uuid.uuid4().hex[:8]}"
    body = {"namespace": ns, "display_name": "Test", "description": "d", "visibility": "private",
            "protected": True, "resource_type_associations": [{"name": "OS::Glance::Image"}]}
    r = gl_admin.req("POST", "/v2/metadefs/namespaces", body=body)
    assert r.status == 201, r
    assert r.json()["resource_type_associations"][0]["name"] == "OS::Glance::Image"
    assert gl_admin.req("POST", "/v2/metadefs/namespaces", body=body).status == 409
    assert ns in [n["namespace"] for n in gl_admin.req("GET", "/v2/metadefs/namespaces").json()["namespaces"]]
    # private: another project does not see it and may not write
    assert gl_demo.req("GET", f"/v2/metadefs/namespaces/{ns}").status == 404
    assert gl_demo.req("POST", "/v2/metadefs/namespaces", body={"namespace": "x"}).status == 403
    assert gl_admin.req("DELETE", f"/v2/metadefs/namespaces/{ns}").status == 403     # protected
    # objects
    r = gl_admin.req("POST", f"/v2/metadefs/namespaces/{ns}/objects", body={"name": "obj1"})
    assert r.status == 201 and r.json()["name"] == "obj1"
    r = gl_admin.req("PUT", f"/v2/metadefs/namespaces/{ns}/objects/obj1", body={"name": "obj2"})
    assert r.status == 200 and r.json()["name"] == "obj2"
    objs = gl_admin.req("GET", f"/v2/metadefs/namespaces/{ns}/objects").json()["objects"]
    assert [o["name"] for o in objs] == ["obj2"]
    # properties
    prop = {"name": "hw_x", "title": "X", "type": "string", "enum": ["a", "b"]}
    assert gl_admin.req("POST", f"/v2/metadefs/namespaces/{ns}/properties", body=prop).status == 201
    assert gl_admin.req("POST", f"/v2/metadefs/namespaces/{ns}/properties",
                        body={"name": "bad", "type": "string"}).status == 400
    got = gl_admin.req("GET", f"/v2/metadefs/namespaces/{ns}/properties/hw_x").json()
    assert got["title"] == "X" and got["enum"] == ["a", "b"]
    props = gl_admin.req("GET", f"/v2/metadefs/namespaces/{ns}/properties").json()["properties"]
    assert set(props) == {"hw_x"}
    # tags
    r = gl_admin.req("POST", f"/v2/metadefs/namespaces/{ns}/tags",
                     body={"tags": [{"name": "t1"}, {"name": "t2"}]})
    assert r.status == 201 and len(r.json()["tags"]) == 2
    assert gl_admin.req("POST", f"/v2/metadefs/namespaces/{ns}/tags/t3").status == 201
    r = gl_admin.req("PUT", f"/v2/metadefs/namespaces/{ns}/tags/t3", body={"name": "t4"})
    assert r.status == 200 and r.json()["name"] == "t4"
    tags = {t["name"] for t in gl_admin.req("GET", f"/v2/metadefs/namespaces/{ns}/tags").json()["tags"]}
    assert tags == {"t1", "t2", "t4"}
    # resource type associations
    assert "OS::Nova::Flavor" in [t["name"] for t in
                                  gl_admin.req("GET", "/v2/metadefs/resource_types").json()["resource_types"]]
    assert gl_admin.req("POST", f"/v2/metadefs/namespaces/{ns}/resource_types",
                        body={"name": "OS::Nova::Flavor", "prefix": "hw:"}).status == 201
    assert gl_admin.req("POST", f"/v2/metadefs/namespaces/{ns}/resource_types",
                        body={"name": "OS::Nope"}).status == 404
    assert gl_admin.req("DELETE",
                        f"/v2/metadefs/namespaces/{ns}/resource_types/OS::Nova::Flavor").status == 204
    full = gl_admin.req("GET", f"/v2/metadefs/namespaces/{ns}").json()
    assert {"objects", "properties", "tags"} <= set(full)
    # unprotect, make public: the demo project reads it
    r = gl_admin.req("PUT", f"/v2/metadefs/namespaces/{ns}",
                     body={"namespace": ns, "visibility": "public", "protected": False})
    assert r.status == 200 and r.json()["protected"] is False
    assert gl_demo.req("GET", f"/v2/metadefs/namespaces/{ns}").status == 200
    assert gl_demo.req("DELETE", f"/v2/metadefs/namespaces/{ns}").status == 403
    assert gl_admin.req("DELETE", f"/v2/metadefs/namespaces/{ns}/tags").status == 204
    assert gl_admin.req("DELETE", f"/v2/metadefs/namespaces/{ns}").status == 204
    assert gl_admin.req("GET", f"/v2/metadefs/namespaces/{ns}").status == 404


def test_metadef_schemas(gl_demo):
    for path, name in (("namespace", "namespace"), ("namespaces", "namespaces"),
                       ("resource_type", "resource_type_association"),
                       ("resource_types", "resource_type_associations"),
                       ("object", "object"), ("objects", "objects"), ("property", "property"),
                       ("properties", "properties"), ("tag", "tag"), ("tags", "tags")):
        r = gl_demo.req("GET", f"/v2/schemas/metadefs/{path}")
        assert r.status == 200 and r.json()["name"] == name


def test_metadef_bad_bodies(gl_admin):
    for body in ({}, {"namespace": 5}, {"namespace": "x", "visibility": "nope"},
                 {"namespace": "x", "protected": "yes"}, []):
        assert gl_admin.req("POST", "/v2/metadefs/namespaces", body=body).status == 400
