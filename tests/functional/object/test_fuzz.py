"""Bounded fuzzing of names, headers and queries: never a 5xx, never outside the store."""
from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings, strategies as st

NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40) | \
    st.sampled_from(["..", ".", "../x", "a/../../b", "%2e%2e/x", "a//b", "/", "\x00", "x" * 1100])
HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=NAMES, value=HEADER_VALUES, method=st.sampled_from(["PUT", "GET", "HEAD", "POST", "DELETE"]))
def test_object_requests_never_5xx(demo, name, value, method):
    demo.req("PUT", "/fuzz")
    path = "/fuzz/" + quote(name, safe="")
    headers = {"X-Object-Meta-F": value, "Range": f"bytes={value}", "If-Match": value,
               "X-Delete-After": value}
    body = b"abc" if method in ("PUT", "POST") else None
    if body:
        headers["Content-Length"] = "3"
    r = demo.cloud.request(method, demo.path + path, token=demo.token, headers=headers, raw=body)
    assert r.status < 500, (method, name, value, r)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(st.sampled_from(["limit", "marker", "end_marker", "prefix", "delimiter",
                                               "format", "reverse", "path"]),
                              st.text(max_size=12), max_size=4))
def test_listing_queries_never_5xx(demo, params):
    demo.req("PUT", "/fuzz")
    qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    r = demo.cloud.request("GET", f"{demo.path}/fuzz?{qs}", token=demo.token)
    assert r.status < 500, (params, r)
    r = demo.cloud.request("GET", f"{demo.path}?{qs}", token=demo.token)
    assert r.status < 500, (params, r)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(vid=st.text(max_size=20) | st.sampled_from(["null", "0", "1e999", "-1", "1.5", "nan", "9" * 40]),
       method=st.sampled_from(["GET", "HEAD", "DELETE", "PUT", "POST", "COPY"]),
       params=st.dictionaries(st.sampled_from(["marker", "version_marker", "prefix", "limit", "format"]),
                              st.text(max_size=12), max_size=3))
def test_versioning_queries_never_5xx(demo, vid, method, params):
    demo.req("PUT", "/fuzz-v", headers={"X-Versions-Enabled": "true"})
    headers = {"Destination": "fuzz-v/copy"} if method == "COPY" else {}
    body = b"abc" if method in ("PUT", "POST") else None
    if body:
        headers["Content-Length"] = "3"
    r = demo.cloud.request(method, f"{demo.path}/fuzz-v/o?version-id={quote(vid, safe='')}",
                           token=demo.token, headers=headers, raw=body)
    assert r.status < 500, (method, vid, r)
    qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
    r = demo.cloud.request("GET", f"{demo.path}/fuzz-v?versions&{qs}", token=demo.token)
    assert r.status < 500, (params, r)
