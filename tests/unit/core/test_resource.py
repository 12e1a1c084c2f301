"""One declaration drives parsing, rendering, filters and sort keys."""
from __future__ import annotations

import types

import pytest

from onestack import errors
from onestack.api.microversion import APIVersion
from onestack.api.resource import Field, Resource

WIDGET = Resource("widget", "widgets", [
    Field("id"),
    Field("name", create=True, update=True, required=True, max_length=8, min_length=1,
          filter=True, sort=True),
    Field("size", type=int, create=True, update=True, filter=True, sort=True),
    Field("enabled", type=bool, create=True, update=True),
    Field("colour", create=True, choices=("red", "blue"), nullable=True),
    Field("tags", type=list, create=True, min_version="2.5"),
    Field("old", create=True, max_version="2.3"),
    Field("project_id", attr="owner", filter=True),
    Field("secret", shown=False, create=True),
    Field("label", render=lambda obj, v: obj.name.upper()),
    Field("domain_id", create=True, parse=lambda v: v.lower()),
])


def test_parse_create_maps_wire_to_attributes():
    out = WIDGET.parse({"name": "w1", "size": 3, "enabled": True, "domain_id": "ABC"})
    assert out == {"name": "w1", "size": 3, "enabled": True, "domain_id": "abc"}


@pytest.mark.parametrize("body,match", [
    ({}, "'name' is a required property"),
    ({"name": 5}, "5 is not of type 'string'"),
    ({"name": "w", "size": "3"}, "is not of type 'integer'"),
    ({"name": "w", "size": True}, "is not of type 'integer'"),   # bool is not an int here
    ({"name": "w", "enabled": "yes"}, "is not of type 'boolean'"),
    ({"name": "much-too-long"}, "too long"),
    ({"name": ""}, "too short"),
    ({"name": None}, "None is not of type"),
    ({"name": "w", "colour": "green"}, "is not one of"),
    ({"name": "w", "id": "x"}, "'id' was unexpected"),
    ({"name": "w", "bogus": 1}, "'bogus' was unexpected"),
])
def test_parse_rejects(body, match):
    with pytest.raises(errors.ValidationError, match=match) as e:
        WIDGET.parse(body)
    assert e.value.code == 400


def test_parse_non_object():
    with pytest.raises(errors.ValidationError, match="must be a JSON object"):
        WIDGET.parse(["name"])


def test_nullable_and_update_mode():
    assert WIDGET.parse({"name": "w", "colour": None}) == {"name": "w", "colour": None}
    assert WIDGET.parse({"size": 9}, mode="update") == {"size": 9}   # nothing required on update
    with pytest.raises(errors.ValidationError, match="'colour' was unexpected"):
        WIDGET.parse({"colour": "red"}, mode="update")               # create-only


def test_microversion_bounds():
    v24, v25 = APIVersion("2.4"), APIVersion("2.5")
    with pytest.raises(errors.ValidationError, match="'tags' was unexpected"):
        WIDGET.parse({"name": "w", "tags": []}, version=v24)
    assert WIDGET.parse({"name": "w", "tags": ["a"]}, version=v25)["tags"] == ["a"]
    assert WIDGET.parse({"name": "w", "old": "x"}, version=APIVersion("2.3"))["old"] == "x"
    with pytest.raises(errors.ValidationError):
        WIDGET.parse({"name": "w", "old": "x"}, version=v24)


def test_ignore_and_allow_extra():
    assert WIDGET.parse({"name": "w", "links": []}, ignore=["links"]) == {"name": "w"}
    open_res = Resource("thing", "things", [Field("name", create=True)], allow_extra=True)
    assert open_res.parse({"name": "n", "colour": "x"}) == {"name": "n", "_extra": {"colour": "x"}}


def test_render():
    obj = types.SimpleNamespace(id="1", name="w", size=2, enabled=False, colour=None, tags=["t"],
                                old="o", owner="p1", secret="s", domain_id="d")
    body = WIDGET.render(obj, APIVersion("2.5"))
    assert body["project_id"] == "p1" and body["label"] == "W"
    assert "secret" not in body and "old" not in body and body["tags"] == ["t"]
    body = WIDGET.render(obj, APIVersion("2.1"))
    assert "tags" not in body and body["old"] == "o"
    assert WIDGET.render(obj, only=["id", "name"]) == {"id": "1", "name": "w"}


def test_filters_and_sort_keys():
    q = [("name", "w"), ("project_id", "p1"), ("limit", "5"), ("enabled", "true")]
    assert WIDGET.filters(q) == {"name": "w", "owner": "p1"}
    with pytest.raises(errors.BadRequest, match="Invalid filter 'enabled'"):
        WIDGET.filters(q, known_other=["limit"], strict=True)
    assert WIDGET.filters(q[:3], known_other=["limit"], strict=True) == {"name": "w", "owner": "p1"}
    assert WIDGET.sort_keys == ["name", "size"]
    rows = WIDGET.coverage_rows()
    assert any(r.startswith("| `tags` |") and "2.5.." in r for r in rows)
