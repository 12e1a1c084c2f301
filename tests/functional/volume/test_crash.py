"""kill -9 while volumes are being filled: after restart every volume is available or
error and no backend file exists that no volume or snapshot owns."""
from __future__ import annotations

import os

from tests.functional.volume.conftest import wait_status


def test_kill9_mid_create_leaves_no_orphans(fresh_cloud, tmp_path):
    cloud = fresh_cloud
    tok = cloud.token()
    # a 64 MiB image with real data so volume creation takes a moment
    src = tmp_path / "img.raw"
    with open(src, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    img = cloud.cli("image", "create", "--disk-format", "raw", "--container-format", "bare",
                    "--file", str(src), "crash-img")
    ids = []
    for i in range(6):
        r = cloud.request("POST", "/volume/v3/volumes", token=tok,
                          body={"volume": {"size": 1, "imageRef": img["id"], "name": f"c{i}"}})
        assert r.status == 202, r
        ids.append(r.json()["volume"]["id"])
    cloud.kill9()
    cloud.launch()
    tok = cloud.token()
    for vid in ids:
        body = wait_status(cloud, tok, "volume", vid, {"available", "error"}, timeout=120)
        assert body["status"] in ("available", "error")
    files = {p.name for p in (cloud.state_dir / "volumes" / "file").iterdir()}
    expected = {f"volume-{vid}" for vid in ids
                if cloud.request("GET", f"/volume/v3/volumes/{vid}", token=tok).json()["volume"]["status"]
                == "available"}
    assert files == expected, (files, expected)
