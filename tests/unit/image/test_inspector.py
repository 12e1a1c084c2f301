"""Format inspection on crafted headers: detection, virtual size, safety checks."""
from __future__ import annotations

import struct
import uuid

import pytest

from onestack.image import inspector
from onestack.image.inspector import ImageFormatError, StreamInspector, inspect_file

MiB = 1 << 20


def qcow2(size=10 * MiB, version=3, backing_offset=0, incompat=0, cluster_bits=16, pad=4096):
    h = bytearray(max(pad, 112))
    h[0:4] = b"QFI\xfb"
    struct.pack_into(">I", h, 4, version)
    struct.pack_into(">Q", h, 8, backing_offset)
    struct.pack_into(">I", h, 16, 10 if backing_offset else 0)
    struct.pack_into(">I", h, 20, cluster_bits)
    struct.pack_into(">Q", h, 24, size)
    if version == 3:
        struct.pack_into(">Q", h, 72, incompat)
        struct.pack_into(">I", h, 100, 112)
    if backing_offset:
        h[backing_offset:backing_offset + 10] = b"/etc/shado"
    return bytes(h)


def vmdk(descriptor: str, capacity_sectors=2048):
    h = bytearray(512)
    h[0:4] = b"KDMV"
    struct.pack_into("<IIIQQQQ", h, 0, struct.unpack("<I", b"KDMV")[0], 1, 0, capacity_sectors,
                     128, 1, 20)
    desc = descriptor.encode().ljust(20 * 512, b"\x00")
    return bytes(h) + desc + bytes(4096)


GOOD_DESC = ('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
             'createType="monolithicSparse"\n\nRW 2048 SPARSE "disk.vmdk"\n\n'
             'ddb.virtualHWVersion = "4"\n')


def vhd_dynamic(size=5 * MiB):
    h = bytearray(1024)
    h[0:8] = b"conectix"
    struct.pack_into(">Q", h, 40, size)
    struct.pack_into(">Q", h, 48, size)
    return bytes(h)


def vhdx(size=7 * MiB):
    data = bytearray(0x200000 + 0x10000)
    data[0:8] = b"vhdxfile"
    rt = 192 * 1024
    data[rt:rt + 4] = b"regi"
    struct.pack_into("<I", data, rt + 8, 1)
    meta = 0x200000
    data[rt + 16:rt + 32] = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
    struct.pack_into("<QII", data, rt + 32, meta, 0x10000, 1)
    data[meta:meta + 8] = b"metadata"
    struct.pack_into("<H", data, meta + 10, 1)
    data[meta + 32:meta + 48] = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le
    struct.pack_into("<II", data, meta + 48, 0x1000, 8)
    struct.pack_into("<Q", data, meta + 0x1000, size)
    return bytes(data)


def iso(blocks=100):
    data = bytearray(0x8000 + 2048 + 4096)
    data[0x8000] = 1
    data[0x8001:0x8006] = b"CD001"
    struct.pack_into("<I", data, 0x8000 + 80, blocks)
    struct.pack_into("<H", data, 0x8000 + 128, 2048)
    return bytes(data)


def vdi(size=3 * MiB):
    h = bytearray(0x200)
    struct.pack_into("<I", h, 0x40, 0xBEDA107F)
    struct.pack_into("<Q", h, 0x170, size)
    return bytes(h)


def _file(tmp_path, data: bytes):
    p = tmp_path / "img"
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize("data,fmt,vsize", [
    (qcow2(), "qcow2", 10 * MiB),
    (qcow2(version=2), "qcow2", 10 * MiB),
    (vmdk(GOOD_DESC), "vmdk", 2048 * 512),
    (vhd_dynamic(), "vhd", 5 * MiB),
    (vhdx(), "vhdx", 7 * MiB),
    (iso(), "iso", 100 * 2048),
    (vdi(), "vdi", 3 * MiB),
    (b"\x00" * 4096, "raw", 4096),
])
def test_detect_and_size(tmp_path, data, fmt, vsize):
    assert inspector.detect(data[:inspector.HEAD_BYTES]) == fmt
    r = inspect_file(_file(tmp_path, data), fmt)
    assert (r.format, r.virtual_size) == (fmt, vsize)


def test_fixed_vhd_is_found_by_its_footer(tmp_path):
    footer = bytearray(512)
    footer[0:8] = b"conectix"
    struct.pack_into(">Q", footer, 40, 8192)
    r = inspect_file(_file(tmp_path, bytes(8192) + bytes(footer)), "vhd")
    assert (r.format, r.virtual_size) == ("vhd", 8192)


@pytest.mark.parametrize("data,declared,needle", [
    (qcow2(backing_offset=200), "qcow2", "backing file"),
    (qcow2(incompat=0x04), "qcow2", "data_file"),
    (qcow2(incompat=0x10), "qcow2", "Unknown qcow2"),
    (qcow2(version=1), "qcow2", "version"),
    (qcow2(cluster_bits=40), "qcow2", "cluster"),
    (qcow2(backing_offset=200), "raw", "backing file"),       # a raw claim does not hide it
    (qcow2(), "raw", "does not match"),
    (b"\x00" * 8192, "qcow2", "does not match"),
    (iso(), "qcow2", "does not match"),
    (vmdk(GOOD_DESC.replace("monolithicSparse", "monolithicFlat")), "vmdk", "subformat"),
    (vmdk(GOOD_DESC.replace('"disk.vmdk"', '"/etc/passwd"')), "vmdk", "another file"),
    (vmdk(GOOD_DESC + "!!garbage line\n"), "vmdk", "Invalid VMDK"),
    (vmdk(GOOD_DESC.replace('RW 2048 SPARSE "disk.vmdk"', "")), "vmdk", "no extents"),
    (vhdx()[:0x30000], "vhdx", "beyond its end"),
    (qcow2(), "ami", "does not match"),
])
def test_rejected(tmp_path, data, declared, needle):
    with pytest.raises(ImageFormatError, match=needle):
        inspect_file(_file(tmp_path, data), declared)


@pytest.mark.parametrize("declared", ["ami", "aki", "ari", "ploop"])
def test_uninspectable_formats_accept_plain_data(tmp_path, declared):
    r = inspect_file(_file(tmp_path, b"\x01" * 1000), declared)
    assert r.format == "raw" and r.virtual_size is None


def test_iso_may_be_declared_raw(tmp_path):
    assert inspect_file(_file(tmp_path, iso()), "raw").format == "iso"


def test_stream_inspector_fails_early_on_backing_file():
    s = StreamInspector("qcow2")
    data = qcow2(backing_offset=200, pad=inspector.HEAD_BYTES + 10)
    s.feed(data[:1000])               # not enough yet: nothing decided
    with pytest.raises(ImageFormatError, match="backing file"):
        s.feed(data[1000:])


def test_stream_inspector_short_stream_checked_at_finish():
    s = StreamInspector("vmdk")
    s.feed(b"hello")
    with pytest.raises(ImageFormatError, match="does not match"):
        s.finish()


def test_stream_inspector_keeps_only_the_head():
    s = StreamInspector("raw")
    for _ in range(100):
        s.feed(bytes(MiB))
    s.finish()
    assert len(s.head) == inspector.HEAD_BYTES


def test_truncated_header_is_a_format_error(tmp_path):
    with pytest.raises(ImageFormatError):
        inspect_file(_file(tmp_path, b"QFI\xfb\x00\x00"), "qcow2")


def test_empty_data_is_accepted_for_any_format(tmp_path):
    s = StreamInspector("qcow2")
    s.finish()
    r = inspect_file(_file(tmp_path, b""), "qcow2")
    assert (r.format, r.virtual_size) == ("qcow2", 0)
