"""One error model, rendered in each upstream API's shape; logs never carry secrets."""
from __future__ import annotations

import json

import pytest

from onestack import errors, log


def test_keystone_shape():
    status, headers, body = errors.render(errors.NotFound("Could not find project: x."), "keystone")
    assert status == 404 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": {"code": 404, "title": "Not Found",
                                          "message": "Could not find project: x."}}


def test_nova_neutron_placement_shapes():
    err = errors.Conflict("busy")
    assert json.loads(errors.render(err, "nova")[2]) == {"conflictingRequest": {"code": 409, "message": "busy"}}
    assert json.loads(errors.render(err, "neutron")[2]) == {
        "NeutronError": {"type": "Conflict", "message": "busy", "detail": ""}}
    p = json.loads(errors.render(err, "placement", "req-1")[2])["errors"][0]
    assert p["status"] == 409 and p["request_id"] == "req-1" and p["code"] == "placement.undefined_code"


def test_text_shapes():
    status, headers, body = errors.render(errors.Forbidden(), "glance")
    assert status == 403 and headers["content-type"].startswith("text/plain") and b"403 Forbidden" in body
    status, headers, body = errors.render(errors.NotFound(), "swift")
    assert headers["content-type"].startswith("text/html") and b"<h1>Not Found</h1>" in body


def test_messages_headers_and_formatting():
    e = errors.PolicyNotAuthorized(action="identity:list_users")
    assert e.code == 403 and e.message == "Policy doesn't allow identity:list_users to be performed."
    e = errors.Unauthorized(headers={"WWW-Authenticate": "Keystone uri=x"})
    assert errors.render(e, "keystone")[1]["WWW-Authenticate"] == "Keystone uri=x"
    assert errors.OpenStackError().code == 500
    assert isinstance(errors.ValidationError("x"), errors.BadRequest)


def test_unknown_style():
    with pytest.raises(ValueError):
        errors.render(errors.NotFound(), "soap")


@pytest.mark.parametrize("text", [
    '{"password": "hunter2"}', "password=hunter2", "X-Auth-Token: hunter2",
    '{"auth": {"identity": {"password": {"user": {"password": "hunter2"}}}}}',
    "secret=hunter2&x=1", '"adminPass": "hunter2"'])
def test_redact(text):
    assert "hunter2" not in log.redact(text)
