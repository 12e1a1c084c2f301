"""kill -9 while volumes are being filled: after restart every volume is available or
error and no backend file exists that no volume or snapshot owns. kill -9 while a backup
stores its chunks: the backup goes to error and none of its chunks stays in the store."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.functional.volume.conftest import wait_status
from tests.functional.volume.test_volumes import backend_file
from tests.harness import RunningCloud


@pytest.mark.slow
def test_kill9_mid_create_leaves_no_orphans(fresh_cloud, tmp_path):
    cloud = fresh_cloud
    tok = cloud.token()
    # a qcow2 image of 96 MiB of real data, so each volume's conversion takes a moment
    raw = tmp_path / "img.raw"
    with open(raw, "wb") as f:
        for _ in range(96):
            f.write(os.urandom(1 << 20))
    src = tmp_path / "img.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(src)], check=True)
    raw.unlink()
    img = cloud.cli("image", "create", "--disk-format", "qcow2", "--container-format", "bare",
                    "--file", str(src), "crash-img")
    ids = []
    for i in range(6):
        r = cloud.request("POST", "/volume/v3/volumes", token=tok,
                          body={"volume": {"size": 1, "imageRef": img["id"], "name": f"c{i}"}})
        assert r.status == 202, r
        ids.append(r.json()["volume"]["id"])
    # kill while a volume is half-written (its temp file exists, the volume is not there yet)
    backend = cloud.state_dir / "volumes" / "file"
    deadline = time.monotonic() + 60
    while not (backend.is_dir() and any(p.name.startswith(".") for p in backend.iterdir())):
        assert time.monotonic() < deadline, "no volume was being filled within 60 s"
        time.sleep(0.005)
    cloud.kill9()
    assert any(p.name.startswith(".") for p in backend.iterdir()), "a partial file at the kill"
    cloud.launch()
    tok = cloud.token()
    for vid in ids:
        body = wait_status(cloud, tok, "volume", vid, {"available", "error"}, timeout=120)
        assert body["status"] in ("available", "error")
    files = {p.name for p in backend.iterdir()}
    expected = {f"volume-{vid}" for vid in ids
                if cloud.request("GET", f"/volume/v3/volumes/{vid}", token=tok).json()["volume"]["status"]
                == "available"}
    assert files == expected, (files, expected)


def _chunks(cloud, conn, driver: str) -> set[str]:
    """The chunk digests in the backup store (the directory, or the objects of the backup
    container in the owner's account) and whether any manifest is partial."""
    if driver == "posix":
        root = cloud.state_dir / "volume-backups" / "chunks"
        return {p.name for p in root.glob("*/*")} if root.is_dir() else set()
    try:
        return {o.name[len("chunks/"):] for o in conn.object_store.objects("volumebackups")
                if o.name.startswith("chunks/")}
    except Exception:  # the container does not exist yet
        return set()


def _stray_temp(cloud) -> list[Path]:
    root = cloud.state_dir / "volume-backups"
    return list(root.glob("**/.tmp-*")) if root.is_dir() else []


def _fill(path: Path, mib: int, offset_mib: int = 0) -> None:
    with open(path, "r+b") as f:
        f.seek(offset_mib << 20)
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["posix", "object"])
def test_kill9_mid_backup_goes_to_error_and_leaves_no_chunk(tmp_path, driver):
    """kill -9 while a backup stores its chunks: after restart the backup is in error, its
    volume available again, the store holds exactly the chunks of the other (complete)
    backup — none of the interrupted one's, no temp file; deleting a backup in error
    (here one an admin set to error) removes its chunks too."""
    cloud = RunningCloud.start(tmp_path / "state", env={"ONESTACK_VOLUME__BACKUP_DRIVER": driver})
    try:
        conn = cloud.sdk()
        tok = cloud.token()
        # a complete backup whose chunks must survive everything below
        keep_vol = cloud.cli("volume", "create", "--size", "1", "keep")
        wait_status(cloud, tok, "volume", keep_vol["id"], {"available"})
        _fill(backend_file(cloud, keep_vol["id"]), 8)
        keep = cloud.cli("volume", "backup", "create", "--name", "keep", keep_vol["id"])
        wait_status(cloud, tok, "backup", keep["id"], {"available"})
        keep_chunks = _chunks(cloud, conn, driver)
        assert len(keep_chunks) == 2
        # a bigger volume whose backup is killed half-way
        vol = cloud.cli("volume", "create", "--size", "1", "big")
        wait_status(cloud, tok, "volume", vol["id"], {"available"})
        _fill(backend_file(cloud, vol["id"]), 384)
        doomed = cloud.cli("volume", "backup", "create", "--name", "doomed", vol["id"])
        deadline = time.monotonic() + 60
        while len(_chunks(cloud, conn, driver) - keep_chunks) < 3:
            assert time.monotonic() < deadline, "the backup stored no chunk within 60 s"
            time.sleep(0.02)
        status = cloud.request("GET", f"/volume/v3/backups/{doomed['id']}", token=tok).json()["backup"]["status"]
        cloud.kill9()
        assert status == "creating", "the backup finished before the kill: make the volume bigger"
        if driver == "posix":
            assert _chunks(cloud, conn, driver) - keep_chunks, "partial chunks should be in the store"
        cloud.launch()
        conn = cloud.sdk()
        tok = cloud.token()
        b = wait_status(cloud, tok, "backup", doomed["id"], {"error", "available"}, timeout=120)
        assert b["status"] == "error", b
        wait_status(cloud, tok, "volume", vol["id"], {"available"})
        assert _chunks(cloud, conn, driver) == keep_chunks
        assert _stray_temp(cloud) == []
        # the backup in error deletes cleanly
        cloud.cli("volume", "backup", "delete", doomed["id"], json_out=False)
        wait_status(cloud, tok, "backup", doomed["id"], {"deleted"})
        # a backup in error whose chunks are all there: deleting it removes them
        cloud.cli("volume", "backup", "set", "--state", "error", keep["id"], json_out=False)
        wait_status(cloud, tok, "backup", keep["id"], {"error"})
        cloud.cli("volume", "backup", "delete", keep["id"], json_out=False)
        wait_status(cloud, tok, "backup", keep["id"], {"deleted"})
        assert _chunks(cloud, conn, driver) == set()
        # and the volume backs up fine afterwards
        again = cloud.cli("volume", "backup", "create", "--name", "again", vol["id"])
        wait_status(cloud, tok, "backup", again["id"], {"available"}, timeout=120)
        assert len(_chunks(cloud, conn, driver)) == 96
    finally:
        cloud.destroy()
