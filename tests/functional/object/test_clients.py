"""Object storage through the unchanged clients: openstack CLI, python-swiftclient."""
from __future__ import annotations

import hashlib
import os
import urllib.request
import urllib.error

import pytest


def test_cli_container_and_object_lifecycle(cloud, uniq, tmp_path, monkeypatch):
    c = f"cli-{uniq}"
    made = cloud.cli("container", "create", c, cloud="onestack")
    assert made[0]["container"] == c
    assert c in [r["Name"] for r in cloud.cli("container", "list", cloud="onestack")]
    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello object storage\n")
    monkeypatch.chdir(tmp_path)   # the CLI names the object after the path it is given
    created = cloud.cli("object", "create", c, "hello.txt", cloud="onestack")
    assert created[0]["etag"] == hashlib.md5(src.read_bytes()).hexdigest()
    assert [r["Name"] for r in cloud.cli("object", "list", c, cloud="onestack")] == ["hello.txt"]
    shown = cloud.cli("object", "show", c, "hello.txt", cloud="onestack")
    assert shown["content-length"] == str(src.stat().st_size)
    assert shown["content-type"] == "text/plain"
    info = cloud.cli("container", "show", c, cloud="onestack")
    assert info["object_count"] == "1" and info["bytes_used"] == str(src.stat().st_size)
    out = tmp_path / "saved.txt"
    cloud.cli("object", "save", c, "hello.txt", "--file", str(out), cloud="onestack", json_out=False)
    assert out.read_bytes() == src.read_bytes()
    # a non-empty container cannot be deleted
    r = cloud.cli("container", "delete", c, cloud="onestack", json_out=False, check=False)
    assert r.returncode != 0 and "409" in (r.stderr + r.stdout)
    cloud.cli("object", "delete", c, "hello.txt", cloud="onestack", json_out=False)
    cloud.cli("container", "delete", c, cloud="onestack", json_out=False)
    assert c not in [r["Name"] for r in cloud.cli("container", "list", cloud="onestack")]


def test_swift_segmented_upload_is_slo_and_downloads_identically(demo, uniq, tmp_path):
    # The issue asks for 1 GiB; CI uses 48 MiB in 8 MiB segments (run by hand with
    # OBJECT_BIG_MIB=1024; see docs/api-coverage/object.md).
    mib = int(os.environ.get("OBJECT_BIG_MIB", "48"))
    big = tmp_path / "big.bin"
    h = hashlib.md5()
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(mib):
            chunk = block[i % 997:] + block[:i % 997]
            f.write(chunk)
            h.update(chunk)
    c = f"seg-{uniq}"
    demo.swift("upload", "--segment-size", str(8 << 20), c, "big.bin", cwd=str(tmp_path))
    head = demo.req("HEAD", f"/{c}/big.bin")
    assert head.status == 200
    assert head.headers["x-static-large-object"] == "True"
    assert int(head.headers["content-length"]) == mib << 20
    segs = demo.req("GET", f"/{c}_segments?format=json").json()
    assert len(segs) == (mib + 7) // 8
    out = tmp_path / "out.bin"
    demo.swift("download", c, "big.bin", "-o", str(out))
    got = hashlib.md5()
    with open(out, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            got.update(block)
    assert got.hexdigest() == h.hexdigest()
    # a range across a segment boundary
    r = demo.req("GET", f"/{c}/big.bin", headers={"Range": f"bytes={(8 << 20) - 10}-{(8 << 20) + 9}"})
    assert r.status == 206 and len(r.body) == 20
    with open(big, "rb") as f:
        f.seek((8 << 20) - 10)
        assert r.body == f.read(20)
    demo.swift("delete", c)
    demo.swift("delete", c + "_segments", check=False)


def test_swift_post_read_acl_allows_anonymous_get(demo, uniq, tmp_path):
    c = f"pub-{uniq}"
    (tmp_path / "index.html").write_bytes(b"<h1>hi</h1>")
    demo.swift("upload", c, "index.html", cwd=str(tmp_path))
    url = f"{demo.url}/{c}/index.html"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url)
    assert e.value.code == 401
    demo.swift("post", "-r", ".r:*", c)
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"<h1>hi</h1>"
    # .r:* without .rlistings does not allow listing
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{demo.url}/{c}")
    assert e.value.code == 401
    demo.swift("post", "-r", ".r:*,.rlistings", c)
    with urllib.request.urlopen(f"{demo.url}/{c}") as r:
        assert r.read() == b"index.html\n"
    # anonymous writes stay refused
    r = demo.req("PUT", f"/{c}/x", token=None, raw=b"x")
    assert r.status == 401


def test_swift_tempurl_then_get(demo, uniq, tmp_path):
    c = f"tmp-{uniq}"
    (tmp_path / "secret.txt").write_bytes(b"temporary access")
    demo.swift("upload", c, "secret.txt", cwd=str(tmp_path))
    key = f"k-{uniq}"
    demo.swift("post", "-m", f"Temp-URL-Key:{key}")
    path = f"{demo.path}/{c}/secret.txt"
    for digest in ("sha1", "sha256", "sha512"):
        out = demo.swift("tempurl", "--digest", digest, "GET", "60", path, key).stdout.strip()
        r = demo.cloud.request("GET", out)
        assert r.status == 200, (digest, r)
        assert r.body == b"temporary access"
        assert r.headers["content-disposition"].startswith("attachment")
    # a PUT with a GET signature is refused; a wrong key is refused
    out = demo.swift("tempurl", "GET", "60", path, key).stdout.strip()
    assert demo.cloud.request("PUT", out, raw=b"x").status == 401
    bad = demo.swift("tempurl", "GET", "60", path, "wrong").stdout.strip()
    assert demo.cloud.request("GET", bad).status == 401
    # expired
    out = demo.swift("tempurl", "--absolute", "GET", "1000000000", path, key).stdout.strip()
    assert demo.cloud.request("GET", out).status == 401
    # prefix-based signature covers every object under the prefix
    # (signed over Swift's own /v1/... path; served under the /object mount)
    out = demo.swift("tempurl", "--prefix-based", "GET", "60", f"/v1/{demo.account}/{c}/sec",
                     key).stdout.strip()
    r = demo.cloud.request("GET", "/object" + out.replace(f"/{c}/sec?", f"/{c}/secret.txt?"))
    assert r.status == 200
    demo.swift("post", "-m", "Temp-URL-Key:")
