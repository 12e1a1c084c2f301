"""Format safety on upload: malicious qcow2, wrong format claims -> 400, image back to queued,
no data kept. Real images come from qemu-img (qemu-utils) when present, else crafted headers."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.functional.image.conftest import qcow2_header

QEMU_IMG = shutil.which("qemu-img")


def _qemu_img(tmp_path, *args: str, size: str | None = None) -> bytes:
    out = tmp_path / "q.img"
    subprocess.run([QEMU_IMG, "create", *args, str(out), *([size] if size else [])], check=True,
                   capture_output=True)
    return out.read_bytes()


def _rejected(gl, data: bytes, disk_format: str, needle: str, container: str = "bare") -> dict:
    img = gl.create(disk_format=disk_format, container_format=container)
    r = gl.upload(img["id"], data, expect=400)
    assert needle.lower() in r.body.decode().lower(), r
    after = gl.show(img["id"])
    assert after["status"] == "queued"
    assert after["size"] is None and after["checksum"] is None
    assert gl.req("GET", f"/v2/images/{img['id']}/file").status == 204     # no data kept
    # a good upload still works afterwards
    return img


def test_qcow2_with_backing_file_is_rejected(gl_admin):
    _rejected(gl_admin, qcow2_header(backing=True), "qcow2", "backing file")


def test_qcow2_with_data_file_is_rejected(gl_admin):
    _rejected(gl_admin, qcow2_header(data_file=True), "qcow2", "data_file")


def test_qcow2_claimed_raw_is_rejected(gl_admin):
    _rejected(gl_admin, qcow2_header(backing=True), "raw", "backing file")
    _rejected(gl_admin, qcow2_header(), "raw", "does not match")


@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "vhd", "vhdx", "iso", "vdi"])
def test_random_data_claimed_as_rich_format_is_rejected(gl_admin, fmt):
    _rejected(gl_admin, b"\x01" * 70000, fmt, "does not match")


def test_crafted_qcow2_is_accepted_with_virtual_size(gl_admin):
    img = gl_admin.create(disk_format="qcow2")
    gl_admin.upload(img["id"], qcow2_header(size=3 << 30))
    got = gl_admin.show(img["id"])
    assert got["status"] == "active" and got["virtual_size"] == 3 << 30
    assert got["size"] == 256 * 1024


def test_non_bare_containers_are_not_inspected(gl_admin):
    img = gl_admin.create(disk_format="qcow2", container_format="ovf")
    gl_admin.upload(img["id"], b"an ovf package, not a disk")
    assert gl_admin.show(img["id"])["status"] == "active"


def test_rejected_image_can_be_uploaded_again(gl_admin):
    img = _rejected(gl_admin, qcow2_header(backing=True), "qcow2", "backing file")
    gl_admin.upload(img["id"], qcow2_header())
    assert gl_admin.show(img["id"])["status"] == "active"


@pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img (qemu-utils) not installed")
class TestRealImages:
    def test_real_qcow2_gets_virtual_size(self, gl_admin, tmp_path):
        img = gl_admin.create(disk_format="qcow2")
        gl_admin.upload(img["id"], _qemu_img(tmp_path, "-f", "qcow2", size="64M"))
        got = gl_admin.show(img["id"])
        assert got["status"] == "active" and got["virtual_size"] == 64 << 20

    def test_real_qcow2_with_backing_file_rejected(self, gl_admin, tmp_path):
        base = tmp_path / "base.qcow2"
        subprocess.run([QEMU_IMG, "create", "-f", "qcow2", str(base), "16M"], check=True,
                       capture_output=True)
        data = _qemu_img(tmp_path, "-f", "qcow2", "-b", str(base), "-F", "qcow2")
        _rejected(gl_admin, data, "qcow2", "backing file")

    def test_real_qcow2_with_data_file_rejected(self, gl_admin, tmp_path):
        data = _qemu_img(tmp_path, "-f", "qcow2", "-o", f"data_file={tmp_path / 'ext.raw'}", size="16M")
        _rejected(gl_admin, data, "qcow2", "data_file")

    @pytest.mark.parametrize("fmt,opts", [("vmdk", []), ("vhdx", []), ("vpc", []), ("vdi", [])])
    def test_real_other_formats(self, gl_admin, tmp_path, fmt, opts):
        data = _qemu_img(tmp_path, "-f", fmt, *opts, size="32M")
        disk_format = {"vpc": "vhd"}.get(fmt, fmt)
        img = gl_admin.create(disk_format=disk_format)
        gl_admin.upload(img["id"], data)
        got = gl_admin.show(img["id"])
        assert got["status"] == "active"
        assert got["virtual_size"] >= 32 << 20
        # the same bytes claimed as qcow2 are refused
        _rejected(gl_admin, data, "qcow2", "does not match")

    def test_real_vmdk_flat_descriptor_rejected(self, gl_admin, tmp_path):
        out = tmp_path / "flat.vmdk"
        subprocess.run([QEMU_IMG, "create", "-f", "vmdk", "-o", "subformat=monolithicFlat", str(out),
                        "8M"], check=True, capture_output=True)
        _rejected(gl_admin, out.read_bytes(), "vmdk", "does not match")
