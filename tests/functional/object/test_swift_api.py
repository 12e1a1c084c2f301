"""Swift v1 over raw HTTP: accounts, containers, listings, objects, conditionals, ranges,
copies, expiry, versions, quotas, large objects, symlinks, bulk, FormPost, isolation."""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import tarfile
import time
import uuid

import pytest


@pytest.fixture
def cont(demo, uniq):
    name = f"c-{uniq}"
    assert demo.req("PUT", f"/{name}").status == 201
    yield name
    rows = demo.req("GET", f"/{name}?format=json").json() if demo.req("HEAD", f"/{name}").status == 204 else []
    for r in rows:
        demo.req("DELETE", f"/{name}/{r['name']}")
    demo.req("DELETE", f"/{name}")


def put(user, path, data=b"", headers=None):
    h = {"Content-Length": str(len(data)), **(headers or {})}
    return user.req("PUT", path, headers=h, raw=data)


def test_info_is_truthful(cloud):
    for path in ("/info", "/object/info"):
        r = cloud.request("GET", path)
        assert r.status == 200
        info = r.json()
        assert info["swift"]["container_listing_limit"] == 10000
        assert {"slo", "dlo", "tempurl", "formpost", "bulk_delete", "symlink", "object_versioning"} <= set(info)
    for path in ("/healthcheck", "/object/healthcheck", "/object/v1/healthcheck"):
        assert cloud.request("GET", path).body == b"OK"
    for path in ("/crossdomain.xml", "/object/crossdomain.xml", "/object/v1/crossdomain.xml"):
        assert cloud.request("GET", path).body.startswith(b'<?xml version="1.0"?>')


def test_account_head_stats_and_metadata(demo, cont):
    put(demo, f"/{cont}/a", b"12345")
    r = demo.req("HEAD")
    assert r.status == 204
    for h in ("x-account-container-count", "x-account-object-count", "x-account-bytes-used",
              "x-timestamp", "x-trans-id", "content-type"):
        assert h in r.headers
    assert r.headers["x-account-storage-policy-policy-0-object-count"] == r.headers["x-account-object-count"]
    assert demo.req("POST", headers={"X-Account-Meta-Color": "blue"}).status == 204
    assert demo.req("HEAD").headers["x-account-meta-color"] == "blue"
    assert demo.req("POST", headers={"X-Remove-Account-Meta-Color": "x"}).status == 204
    assert "x-account-meta-color" not in demo.req("HEAD").headers
    # quotas are the reseller's business
    assert demo.req("POST", headers={"X-Account-Meta-Quota-Bytes": "10"}).status == 403
    listing = demo.req("GET", "?format=json").json()
    row = next(x for x in listing if x["name"] == cont)
    assert row["count"] == 1 and row["bytes"] == 5


def test_metadata_limits(demo, cont):
    assert demo.req("POST", f"/{cont}", headers={"X-Container-Meta-" + "k" * 129: "v"}).status == 400
    assert demo.req("POST", f"/{cont}", headers={"X-Container-Meta-K": "v" * 257}).status == 400
    assert demo.req("POST", f"/{cont}", headers={"X-Container-Meta-K": "v" * 256}).status == 204
    assert put(demo, f"/{cont}/m", b"x", {"X-Object-Meta-": "v"}).status == 400


def test_container_listing_formats_and_paging(demo, cont):
    names = ["a/1", "a/2", "b", "c/x/y", "d", "é"]
    for n in names:
        assert put(demo, f"/{cont}/{n}", n.encode(), {"Content-Type": "text/plain"}).status == 201
    r = demo.req("GET", f"/{cont}")
    assert r.status == 200 and r.body.decode().splitlines() == names
    js = demo.req("GET", f"/{cont}?format=json").json()
    assert [x["name"] for x in js] == names
    assert js[0]["hash"] == hashlib.md5(b"a/1").hexdigest() and js[0]["bytes"] == 3
    assert set(js[0]) == {"name", "hash", "bytes", "content_type", "last_modified"}
    xml = demo.req("GET", f"/{cont}", headers={"Accept": "application/xml"})
    assert xml.headers["content-type"].startswith("application/xml")
    assert b"<name>a/1</name>" in xml.body
    q = lambda s: demo.req("GET", f"/{cont}?format=json&{s}").json()
    assert [x.get("name") or x.get("subdir") for x in q("delimiter=/")] == ["a/", "b", "c/", "d", "é"]
    assert [x["name"] for x in q("prefix=a/")] == ["a/1", "a/2"]
    assert [x["name"] for x in q("marker=b&limit=2")] == ["c/x/y", "d"]
    assert [x["name"] for x in q("end_marker=b")] == ["a/1", "a/2"]
    assert [x["name"] for x in q("reverse=true&limit=2")] == ["é", "d"]
    assert [x.get("name") or x.get("subdir") for x in q("path=c")] == ["c/x/"]
    assert demo.req("GET", f"/{cont}?limit=10001").status == 412
    assert demo.req("GET", f"/{cont}?limit=x").status == 412
    h = demo.req("HEAD", f"/{cont}")
    assert h.headers["x-container-object-count"] == str(len(names))
    assert h.headers["x-container-bytes-used"] == str(sum(len(n.encode()) for n in names))
    assert h.headers["x-storage-policy"] == "Policy-0"


def test_container_create_update_delete(demo, uniq):
    c = f"cc-{uniq}"
    assert demo.req("PUT", f"/{c}", headers={"X-Container-Meta-A": "1"}).status == 201
    assert demo.req("PUT", f"/{c}").status == 202
    assert demo.req("HEAD", f"/{c}").headers["x-container-meta-a"] == "1"
    assert demo.req("PUT", f"/{c}", headers={"X-Storage-Policy": "gold"}).status == 400
    assert put(demo, f"/{c}/o", b"x").status == 201
    assert demo.req("DELETE", f"/{c}").status == 409
    assert demo.req("DELETE", f"/{c}/o").status == 204
    assert demo.req("DELETE", f"/{c}/o").status == 404
    assert demo.req("DELETE", f"/{c}").status == 204
    assert demo.req("HEAD", f"/{c}").status == 404
    assert put(demo, f"/{c}/o", b"x").status == 404
    empty = demo.req("GET", f"/nothing-{uniq}")
    assert empty.status == 404


def test_object_put_get_etag_and_content_type(demo, cont):
    data = b"some bytes" * 100
    r = put(demo, f"/{cont}/doc.json", data)
    assert r.status == 201 and r.headers["etag"] == hashlib.md5(data).hexdigest()
    g = demo.req("GET", f"/{cont}/doc.json")
    assert g.body == data and g.headers["content-type"] == "application/json"
    assert g.headers["etag"] == hashlib.md5(data).hexdigest()
    assert "last-modified" in g.headers and g.headers["accept-ranges"] == "bytes"
    assert put(demo, f"/{cont}/x", data, {"ETag": "0" * 32}).status == 422
    assert put(demo, f"/{cont}/y.txt", b"a", {"Content-Type": "application/foo",
                                             "X-Detect-Content-Type": "true"}).status == 201
    assert demo.req("HEAD", f"/{cont}/y.txt").headers["content-type"] == "text/plain"
    # no length and not chunked -> 411
    import socket
    with socket.create_connection(("127.0.0.1", demo.cloud.port)) as s:
        s.sendall(f"PUT {demo.path}/{cont}/z HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {demo.token}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        assert s.recv(100).startswith(b"HTTP/1.1 411")


def test_chunked_upload(demo, cont):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", demo.cloud.port)
    conn.putrequest("PUT", f"{demo.path}/{cont}/chunked")
    conn.putheader("X-Auth-Token", demo.token)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    parts = [b"abc" * 1000, b"def" * 5000, b"g"]
    for p in parts:
        conn.send(f"{len(p):x}\r\n".encode() + p + b"\r\n")
    conn.send(b"0\r\n\r\n")
    r = conn.getresponse()
    r.read()
    assert r.status == 201
    assert demo.req("GET", f"/{cont}/chunked").body == b"".join(parts)


def test_ranges(demo, cont):
    data = bytes(range(256)) * 4
    put(demo, f"/{cont}/r", data)
    r = demo.req("GET", f"/{cont}/r", headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert demo.req("GET", f"/{cont}/r", headers={"Range": "bytes=-5"}).body == data[-5:]
    assert demo.req("GET", f"/{cont}/r", headers={"Range": "bytes=1000-"}).body == data[1000:]
    bad = demo.req("GET", f"/{cont}/r", headers={"Range": "bytes=5000-6000"})
    assert bad.status == 416 and bad.headers["content-range"] == f"bytes */{len(data)}"
    multi = demo.req("GET", f"/{cont}/r", headers={"Range": "bytes=0-1,10-11"})
    assert multi.status == 206
    assert multi.headers["content-type"].startswith("multipart/byteranges")
    assert data[0:2] in multi.body and data[10:12] in multi.body
    assert b"Content-Range: bytes 10-11/1024" in multi.body


def test_conditional_requests(demo, cont):
    r = put(demo, f"/{cont}/cond", b"v1")
    etag = r.headers["etag"]
    assert demo.req("GET", f"/{cont}/cond", headers={"If-Match": etag}).status == 200
    assert demo.req("GET", f"/{cont}/cond", headers={"If-Match": '"nope"'}).status == 412
    nm = demo.req("GET", f"/{cont}/cond", headers={"If-None-Match": etag})
    assert nm.status == 304 and nm.body == b"" and nm.headers["etag"] == etag
    assert demo.req("GET", f"/{cont}/cond", headers={"If-None-Match": "other"}).status == 200
    lm = demo.req("HEAD", f"/{cont}/cond").headers["last-modified"]
    assert demo.req("GET", f"/{cont}/cond", headers={"If-Modified-Since": lm}).status == 304
    assert demo.req("GET", f"/{cont}/cond", headers={
        "If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status == 412
    assert put(demo, f"/{cont}/cond", b"v2", {"If-None-Match": "*"}).status == 412
    assert put(demo, f"/{cont}/cond-new", b"v2", {"If-None-Match": "*"}).status == 201


def test_object_post_replaces_metadata(demo, cont):
    put(demo, f"/{cont}/meta", b"x", {"X-Object-Meta-A": "1", "X-Object-Meta-B": "2",
                                      "Content-Type": "text/plain"})
    assert demo.req("POST", f"/{cont}/meta", headers={"X-Object-Meta-C": "3"}).status == 202
    h = demo.req("HEAD", f"/{cont}/meta").headers
    assert h["x-object-meta-c"] == "3" and "x-object-meta-a" not in h
    assert h["content-type"] == "text/plain"
    assert demo.req("GET", f"/{cont}/meta").body == b"x"
    assert demo.req("POST", f"/{cont}/missing", headers={"X-Object-Meta-C": "3"}).status == 404


def test_copy_and_fresh_metadata(demo, cont):
    put(demo, f"/{cont}/src", b"copy me", {"X-Object-Meta-Keep": "yes"})
    r = demo.req("COPY", f"/{cont}/src", headers={"Destination": f"{cont}/dst1"})
    assert r.status == 201 and r.headers["x-copied-from"] == f"{cont}/src"
    assert "x-copied-from-last-modified" in r.headers
    h = demo.req("HEAD", f"/{cont}/dst1").headers
    assert h["x-object-meta-keep"] == "yes"
    r = put(demo, f"/{cont}/dst2", b"", {"X-Copy-From": f"{cont}/src", "X-Fresh-Metadata": "true",
                                         "X-Object-Meta-New": "1"})
    assert r.status == 201
    h = demo.req("HEAD", f"/{cont}/dst2").headers
    assert "x-object-meta-keep" not in h and h["x-object-meta-new"] == "1"
    assert demo.req("GET", f"/{cont}/dst2").body == b"copy me"
    # the source is untouched by deleting a copy
    demo.req("DELETE", f"/{cont}/dst1")
    assert demo.req("GET", f"/{cont}/src").body == b"copy me"
    assert put(demo, f"/{cont}/dst3", b"", {"X-Copy-From": "nocontainer"}).status == 412


def test_expiry(demo, cont):
    assert put(demo, f"/{cont}/later", b"x", {"X-Delete-After": "300"}).status == 201
    at = int(demo.req("HEAD", f"/{cont}/later").headers["x-delete-at"])
    assert time.time() + 200 < at <= time.time() + 301
    assert put(demo, f"/{cont}/past", b"x", {"X-Delete-At": "1000"}).status == 400
    assert put(demo, f"/{cont}/bad", b"x", {"X-Delete-After": "soon"}).status == 400
    assert put(demo, f"/{cont}/soon", b"x", {"X-Delete-After": "1"}).status == 201
    # GET answers 404 once the time has passed; the expirer (a periodic job) then removes
    # it from the listing too
    deadline = time.time() + 60
    while time.time() < deadline and demo.req("GET", f"/{cont}/soon").status != 404:
        time.sleep(0.5)
    assert demo.req("GET", f"/{cont}/soon").status == 404
    while time.time() < deadline:
        if "soon" not in demo.req("GET", f"/{cont}").body.decode().split():
            break
        time.sleep(0.5)
    assert "soon" not in demo.req("GET", f"/{cont}").body.decode().split()
    assert "later" in demo.req("GET", f"/{cont}").body.decode().split()


def test_versions_location(demo, cont, uniq):
    arch = f"arch-{uniq}"
    demo.req("PUT", f"/{arch}")
    assert demo.req("POST", f"/{cont}", headers={"X-Versions-Location": arch}).status == 204
    assert demo.req("HEAD", f"/{cont}").headers["x-versions-location"] == arch
    put(demo, f"/{cont}/v", b"one")
    put(demo, f"/{cont}/v", b"two")
    put(demo, f"/{cont}/v", b"three")
    assert len(demo.req("GET", f"/{arch}?format=json").json()) == 2
    assert demo.req("DELETE", f"/{cont}/v").status == 204
    assert demo.req("GET", f"/{cont}/v").body == b"two"
    demo.req("DELETE", f"/{cont}/v")
    assert demo.req("GET", f"/{cont}/v").body == b"one"
    demo.req("DELETE", f"/{cont}/v")
    assert demo.req("GET", f"/{cont}/v").status == 404
    demo.req("DELETE", f"/{arch}")


def test_container_quotas(demo, cont):
    demo.req("POST", f"/{cont}", headers={"X-Container-Meta-Quota-Bytes": "10",
                                          "X-Container-Meta-Quota-Count": "2"})
    assert put(demo, f"/{cont}/q1", b"12345").status == 201
    assert put(demo, f"/{cont}/q2", b"123456").status == 413
    assert put(demo, f"/{cont}/q2", b"1").status == 201
    assert put(demo, f"/{cont}/q3", b"1").status == 413


def test_account_quota_set_by_reseller(cloud, demo, sadmin, uniq):
    # the admin is not a reseller admin by default: give admin the role on the demo project
    r = sadmin.req("POST", headers={"X-Account-Meta-Quota-Bytes": "1"})
    assert r.status == 403


def test_dlo(demo, cont):
    for i in range(3):
        put(demo, f"/{cont}/seg/{i:02d}", bytes([65 + i]) * 5)
    assert put(demo, f"/{cont}/dlo", b"", {"X-Object-Manifest": f"{cont}/seg/"}).status == 201
    r = demo.req("GET", f"/{cont}/dlo")
    assert r.body == b"AAAAABBBBBCCCCC"
    etags = "".join(hashlib.md5(bytes([65 + i]) * 5).hexdigest() for i in range(3))
    assert r.headers["etag"] == f'"{hashlib.md5(etags.encode()).hexdigest()}"'
    assert demo.req("GET", f"/{cont}/dlo", headers={"Range": "bytes=4-5"}).body == b"AB"
    assert demo.req("GET", f"/{cont}/dlo?multipart-manifest=get").body == b""


def test_slo_manifest_validation_get_and_delete(demo, cont):
    segs = []
    for i in range(2):
        data = bytes([97 + i]) * 10
        put(demo, f"/{cont}/s{i}", data)
        segs.append({"path": f"/{cont}/s{i}", "etag": hashlib.md5(data).hexdigest(), "size_bytes": 10})
    bad = [{"path": f"/{cont}/s0", "etag": "0" * 32}]
    assert demo.req("PUT", f"/{cont}/m?multipart-manifest=put", raw=json.dumps(bad).encode(),
                    headers={"Content-Length": str(len(json.dumps(bad)))}).status == 400
    body = json.dumps(segs).encode()
    r = demo.req("PUT", f"/{cont}/m?multipart-manifest=put", raw=body,
                 headers={"Content-Length": str(len(body))})
    assert r.status == 201
    assert demo.req("GET", f"/{cont}/m").body == b"a" * 10 + b"b" * 10
    man = demo.req("GET", f"/{cont}/m?multipart-manifest=get").json()
    assert [m["name"] for m in man] == [f"/{cont}/s0", f"/{cont}/s1"]
    raw = demo.req("GET", f"/{cont}/m?multipart-manifest=get&format=raw").json()
    assert raw[0]["path"] == f"/{cont}/s0"
    listing = {x["name"]: x for x in demo.req("GET", f"/{cont}?format=json").json()}
    assert listing["m"]["bytes"] == 20
    d = demo.req("DELETE", f"/{cont}/m?multipart-manifest=delete", headers={"Accept": "application/json"})
    assert d.status == 200 and d.json()["Number Deleted"] == 3
    assert demo.req("GET", f"/{cont}?format=json").json() == []


def test_symlink(demo, cont):
    put(demo, f"/{cont}/target", b"pointed at")
    assert put(demo, f"/{cont}/link", b"", {"X-Symlink-Target": f"{cont}/target"}).status == 201
    r = demo.req("GET", f"/{cont}/link")
    assert r.body == b"pointed at" and r.headers["content-location"].endswith(f"/{cont}/target")
    g = demo.req("GET", f"/{cont}/link?symlink=get")
    assert g.body == b"" and g.headers["x-symlink-target"] == f"{cont}/target"
    assert put(demo, f"/{cont}/link2", b"x", {"X-Symlink-Target": f"{cont}/target"}).status == 400
    row = next(r for r in demo.req("GET", f"/{cont}?format=json").json() if r["name"] == "link")
    assert row["content_type"] == "application/symlink"
    assert row["symlink_path"] == f"/v1/{demo.account}/{cont}/target"


def test_bulk_delete_and_extract_archive(demo, uniq):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for n in ("one.txt", "dir/two.txt"):
            data = n.encode()
            ti = tarfile.TarInfo(f"bulk-{uniq}/{n}")
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    body = buf.getvalue()
    r = demo.req("PUT", "?extract-archive=tar.gz", raw=body,
                 headers={"Content-Length": str(len(body)), "Accept": "application/json"})
    assert r.status == 200, r
    assert r.json()["Number Files Created"] == 2
    assert demo.req("GET", f"/bulk-{uniq}/dir/two.txt").body == b"dir/two.txt"
    paths = f"/bulk-{uniq}/one.txt\n/bulk-{uniq}/dir/two.txt\n/bulk-{uniq}/missing\n/bulk-{uniq}\n"
    r = demo.req("POST", "?bulk-delete", raw=paths.encode(),
                 headers={"Content-Type": "text/plain", "Accept": "application/json",
                          "Content-Length": str(len(paths))})
    out = r.json()
    assert out["Number Deleted"] == 3 and out["Number Not Found"] == 1, out
    assert demo.req("HEAD", f"/bulk-{uniq}").status == 404


def test_formpost(demo, cont, uniq):
    key = f"fk-{uniq}"
    demo.req("POST", f"/{cont}", headers={"X-Container-Meta-Temp-URL-Key": key})
    path = f"/v1/{demo.account}/{cont}/up/"
    expires = int(time.time() + 60)
    redirect = "http://example.com/done"
    sig = hmac.new(key.encode(), f"{path}\n{redirect}\n1024\n2\n{expires}".encode(),
                   hashlib.sha1).hexdigest()
    b = uuid.uuid4().hex
    fields = {"redirect": redirect, "max_file_size": "1024", "max_file_count": "2",
              "expires": str(expires), "signature": sig}
    parts = [f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(f'--{b}\r\nContent-Disposition: form-data; name="file1"; filename="f.txt"\r\n'
                 f'Content-Type: text/plain\r\n\r\nform data\r\n--{b}--\r\n')
    body = "".join(parts).encode()
    r = demo.cloud.request("POST", f"/object{path}", raw=body, headers={
        "Content-Type": f"multipart/form-data; boundary={b}", "Content-Length": str(len(body))})
    assert r.status == 303 and "status=201" in r.headers["location"]
    assert demo.req("GET", f"/{cont}/up/f.txt").body == b"form data"
    r = demo.cloud.request("POST", f"/object{path}", raw=body.replace(sig.encode(), b"0" * 40), headers={
        "Content-Type": f"multipart/form-data; boundary={b}", "Content-Length": str(len(body))})
    assert r.status == 401


def test_cors_preflight(demo, cont):
    demo.req("POST", f"/{cont}", headers={"X-Container-Meta-Access-Control-Allow-Origin": "http://a.example"})
    put(demo, f"/{cont}/cors", b"x")
    ok = demo.cloud.request("OPTIONS", f"{demo.path}/{cont}/cors", headers={
        "Origin": "http://a.example", "Access-Control-Request-Method": "GET"})
    assert ok.status == 200 and ok.headers["access-control-allow-origin"] == "http://a.example"
    no = demo.cloud.request("OPTIONS", f"{demo.path}/{cont}/cors", headers={
        "Origin": "http://b.example", "Access-Control-Request-Method": "GET"})
    assert no.status == 401


def test_isolation_between_projects(demo, sadmin, cont):
    put(demo, f"/{cont}/private", b"mine")
    # the admin of another project is not the owner of the demo account
    assert demo.req("GET", f"/{cont}/private", token=sadmin.token).status == 403
    assert demo.req("HEAD", "", token=sadmin.token).status == 403
    assert demo.req("PUT", f"/{cont}/intrude", token=sadmin.token, raw=b"x",
                    headers={"Content-Length": "1"}).status == 403
    assert demo.req("GET", f"/{cont}", token=None).status == 401
    # a write ACL naming the admin's project:user opens writes to it (not reads)
    demo.req("POST", f"/{cont}", headers={"X-Container-Write": f"{sadmin.project_id}:{sadmin.user_id}"})
    assert demo.req("PUT", f"/{cont}/shared", token=sadmin.token, raw=b"x",
                    headers={"Content-Length": "1"}).status == 201
    assert demo.req("GET", f"/{cont}/shared", token=sadmin.token).status == 403
    demo.req("POST", f"/{cont}", headers={"X-Container-Read": f"{sadmin.project_id}:*"})
    assert demo.req("GET", f"/{cont}/shared", token=sadmin.token).body == b"x"
    # but container metadata stays the owner's
    assert demo.req("POST", f"/{cont}", token=sadmin.token, headers={"X-Container-Meta-X": "1"}).status == 403
    # an account ACL grants read-only access to the whole account
    demo.req("POST", f"/{cont}", headers={"X-Remove-Container-Write": "x"})
    acl = json.dumps({"read-only": [sadmin.project_id]})
    assert demo.req("POST", headers={"X-Account-Access-Control": acl}).status == 204
    assert demo.req("GET", "", token=sadmin.token).status == 200
    assert demo.req("DELETE", f"/{cont}/private", token=sadmin.token).status == 403
    demo.req("POST", headers={"X-Remove-Account-Access-Control": "x"})
    assert demo.req("GET", "", token=sadmin.token).status == 403


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/../../b", "./x", "a/./b", "..",
                                  "x" * 1025, "a%00b"])
def test_path_traversal_and_bad_names_are_4xx(demo, cont, name):
    r = put(demo, f"/{cont}/{name}", b"evil")
    assert 400 <= r.status < 500, r
    assert 400 <= demo.req("GET", f"/{cont}/{name}").status < 500


def test_bad_container_names(demo):
    assert demo.req("PUT", "/" + "c" * 257).status == 400
    assert demo.req("PUT", "/..").status in (400, 404)
    assert demo.req("PUT", "/a%00b").status == 400
    assert demo.cloud.request("GET", "/object/v1/NOTAUTH_x", token=demo.token).status in (403, 404)


def test_container_sync_within_the_cluster(demo, uniq):
    a, b = f"sync-a-{uniq}", f"sync-b-{uniq}"
    for mine, other in ((a, b), (b, a)):
        r = demo.req("PUT", f"/{mine}", headers={
            "X-Container-Sync-To": f"//realm1/name1/{demo.account}/{other}",
            "X-Container-Sync-Key": "k1"})
        assert r.status == 201
    assert demo.req("POST", f"/{a}", headers={"X-Container-Sync-To": "nonsense"}).status == 400
    put(demo, f"/{a}/from-a", b"aaa")
    put(demo, f"/{b}/from-b", b"bbb")
    deadline = time.time() + 60
    while time.time() < deadline:
        la = demo.req("GET", f"/{a}").body.split()
        lb = demo.req("GET", f"/{b}").body.split()
        if la == lb == [b"from-a", b"from-b"]:
            break
        time.sleep(1)
    assert demo.req("GET", f"/{b}/from-a").body == b"aaa"
    assert demo.req("GET", f"/{a}/from-b").body == b"bbb"
    # copies keep the source's timestamp, so the two containers do not copy back and forth
    assert demo.req("HEAD", f"/{a}/from-a").headers["x-timestamp"] == \
        demo.req("HEAD", f"/{b}/from-a").headers["x-timestamp"]
