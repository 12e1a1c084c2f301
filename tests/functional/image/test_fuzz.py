"""Fuzzed bodies and queries (hypothesis, bounded): always a 4xx or success, never a 5xx."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.functional.image.conftest import OCTET, PATCH

_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
    | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12)
_keys = st.sampled_from(["name", "visibility", "disk_format", "container_format", "min_disk",
                         "min_ram", "protected", "os_hidden", "tags", "id", "owner", "status",
                         "kernel_id", "x_custom", "size", "checksum", "locations", "os_glance_x"])
_bodies = st.dictionaries(_keys, _json, max_size=6) | _json
_FUZZ = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@_FUZZ
@given(body=_bodies)
def test_fuzz_create(gl_demo, body):
    r = gl_demo.req("POST", "/v2/images", raw=json.dumps(body).encode(),
                    headers={"Content-Type": "application/json"})
    assert r.status < 500, r
    if r.status == 201:
        gl_demo.req("DELETE", f"/v2/images/{r.json()['id']}")


@_FUZZ
@given(ops=st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "test", "x"]),
     "path": st.sampled_from(["/name", "/min_ram", "/tags", "/visibility", "/custom", "/a/b", "",
                              "/~2", "/status", "/protected", "/locations", "/owner"])},
    optional={"value": _json}), max_size=4) | _json)
def test_fuzz_patch(gl_demo, ops):
    img = _fuzz_target(gl_demo)
    r = gl_demo.req("PATCH", f"/v2/images/{img}", raw=json.dumps(ops).encode(),
                    headers={"Content-Type": PATCH})
    assert r.status < 500, r


@_FUZZ
@given(query=st.lists(st.tuples(
    st.sampled_from(["limit", "marker", "sort", "sort_key", "sort_dir", "name", "size_min",
                     "size_max", "created_at", "visibility", "member_status", "tag", "os_hidden",
                     "status", "id", "whatever"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30)), max_size=4))
def test_fuzz_list_query(gl_demo, query):
    from urllib.parse import urlencode
    r = gl_demo.req("GET", "/v2/images?" + urlencode(query))
    assert r.status in (200, 400), r


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.binary(max_size=4096), fmt=st.sampled_from(["raw", "qcow2", "vmdk", "vhd", "vhdx",
                                                            "iso", "vdi", "ami"]))
def test_fuzz_upload_headers(gl_demo, data, fmt):
    """Random headers with a qcow2/vmdk/vhdx magic in front: 204 or 400, never a 5xx."""
    for magic in (b"", b"QFI\xfb", b"KDMV", b"vhdxfile", b"conectix"):
        r = gl_demo.req("POST", "/v2/images", body={"disk_format": fmt, "container_format": "bare"})
        iid = r.json()["id"]
        r = gl_demo.req("PUT", f"/v2/images/{iid}/file", raw=magic + data,
                        headers={"Content-Type": OCTET})
        assert r.status in (204, 400), r
        status = gl_demo.show(iid)["status"]
        assert status == ("active" if r.status == 204 else "queued")
        gl_demo.req("DELETE", f"/v2/images/{iid}")


_target: dict[str, str] = {}


def _fuzz_target(gl) -> str:
    if "id" not in _target:
        _target["id"] = gl.create(name="fuzz-target")["id"]
    return _target["id"]
