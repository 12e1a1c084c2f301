"""Disk-image format inspection: what the bytes really are, how big the disk is, and
whether the image is safe to hand to qemu (the rules of the 2024 format advisories).

Two stages, so a bad upload fails early and the full checks see the whole file:

* :class:`StreamInspector` is fed each chunk while the upload streams. It keeps only the
  first :data:`HEAD_BYTES` of data and, once it has them (or the stream ends), detects the
  format and runs the header checks (a qcow2 backing file or data file, a format other
  than the declared one) -- raising :class:`ImageFormatError` so the upload is aborted.
* :func:`inspect_file` re-reads the parts it needs from the finished file (random access,
  bounded reads): VHDX metadata, the VMDK descriptor, a fixed VHD's footer, ISO volume
  descriptor; it returns the format and virtual size and runs every safety check.

Formats: qcow2, vhd (dynamic and fixed), vhdx, vmdk (sparse), vdi, iso, raw (anything
else; MBR/GPT disks are raw). ``ami``/``ari``/``aki`` and ``ploop`` are not inspectable:
they are accepted when the content is not recognisably another format.
"""
from __future__ import annotations

import dataclasses
import os
import struct
import uuid
from typing import BinaryIO

HEAD_BYTES = 64 * 1024          # enough for every header we check in-flight (ISO PVD ends at 34 KiB)
INSPECTABLE = ("qcow2", "vhd", "vhdx", "vmdk", "vdi", "iso", "raw")
_QCOW2_MAGIC = b"QFI\xfb"
_QCOW2_KNOWN_INCOMPAT = 0x0F     # dirty, corrupt, external data file, compression type
_QCOW2_DATA_FILE = 0x04
_VHDX_REGION_TABLE = 192 * 1024
_VHDX_METADATA_REGION = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
_VHDX_VIRTUAL_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le
_VMDK_DESC_MAX = 64 * 1024
_ISO_PVD = 0x8000


class ImageFormatError(ValueError):
    """The content is not the declared format, or it fails a safety check."""


@dataclasses.dataclass
class Result:
    format: str                 # what the bytes are
    virtual_size: int | None    # bytes of the virtual disk (None when unknown)


# ------------------------------------------------------------------ detection

def detect(head: bytes) -> str:
    """The format named by the first bytes of an image (``raw`` when nothing matches)."""
    if head[:4] == _QCOW2_MAGIC:
        return "qcow2"
    if head[:8] == b"vhdxfile":
        return "vhdx"
    if head[:4] == b"KDMV":
        return "vmdk"
    if head[:8] == b"conectix":
        return "vhd"
    if len(head) >= 0x44 and struct.unpack_from("<I", head, 0x40)[0] == 0xBEDA107F:
        return "vdi"
    if head[_ISO_PVD + 1:_ISO_PVD + 6] == b"CD001":
        return "iso"
    return "raw"


def _u(fmt: str, data: bytes, offset: int) -> int:
    if offset < 0 or offset + struct.calcsize(fmt) > len(data):
        raise ImageFormatError("The image header is truncated.")
    return struct.unpack_from(fmt, data, offset)[0]


def check_qcow2_header(head: bytes) -> int:
    """Safety checks of a qcow2 header; returns the virtual size."""
    version = _u(">I", head, 4)
    if version not in (2, 3):
        raise ImageFormatError(f"Unsupported qcow2 version {version}.")
    if _u(">Q", head, 8) != 0:
        raise ImageFormatError("Image has a backing file; qcow2 images with a backing file "
                               "are not allowed.")
    cluster_bits = _u(">I", head, 20)
    if not 9 <= cluster_bits <= 21:
        raise ImageFormatError(f"Invalid qcow2 cluster size (cluster_bits={cluster_bits}).")
    if version == 3:
        incompat = _u(">Q", head, 72)
        if incompat & _QCOW2_DATA_FILE:
            raise ImageFormatError("Image has a data_file set; qcow2 images with an external "
                                   "data file are not allowed.")
        if incompat & ~_QCOW2_KNOWN_INCOMPAT:
            raise ImageFormatError("Unknown qcow2 incompatible features are set.")
    return _u(">Q", head, 24)


def _vmdk_descriptor_checks(text: str) -> None:
    lower = text.lower()
    marker = 'createtype="'
    at = lower.find(marker)
    if at < 0:
        raise ImageFormatError("VMDK descriptor has no createType.")
    end = lower.find('"', at + len(marker))
    kind = lower[at + len(marker):end] if 0 <= end - at - len(marker) < 64 else ""
    if kind not in ("monolithicsparse", "streamoptimized"):
        raise ImageFormatError(f"Unsupported VMDK subformat {kind!r}; only monolithicSparse "
                               "and streamOptimized are allowed.")
    extents = 0
    for line in (x.strip() for x in lower.split("\n")):
        if not line or line.startswith("#") or line.startswith("ddb"):
            continue
        if "=" in line and " " not in line.split("=")[0]:
            continue
        if line.split(" ")[0] in ("rw", "rdonly", "noaccess"):
            if "/" in line:
                raise ImageFormatError("VMDK extent refers to another file.")
            extents += 1
            continue
        raise ImageFormatError("Invalid VMDK descriptor data.")
    if extents == 0:
        raise ImageFormatError("VMDK descriptor lists no extents.")


def _read_at(f: BinaryIO, offset: int, length: int, file_size: int) -> bytes:
    if offset < 0 or length < 0 or offset + length > file_size:
        raise ImageFormatError("The image refers to data beyond its end.")
    f.seek(offset)
    return f.read(length)


def _vhdx_virtual_size(f: BinaryIO, size: int) -> int:
    table = _read_at(f, _VHDX_REGION_TABLE, 16, size)
    if table[:4] != b"regi":
        raise ImageFormatError("VHDX region table not found.")
    count = _u("<I", table, 8)
    if count > 2047:
        raise ImageFormatError("VHDX region table is too large.")
    entries = _read_at(f, _VHDX_REGION_TABLE + 16, 32 * count, size)
    meta_offset = None
    for i in range(count):
        if entries[i * 32:i * 32 + 16] == _VHDX_METADATA_REGION:
            meta_offset = _u("<Q", entries, i * 32 + 16)
    if meta_offset is None:
        raise ImageFormatError("VHDX metadata region not found.")
    header = _read_at(f, meta_offset, 32, size)
    if header[:8] != b"metadata":
        raise ImageFormatError("VHDX metadata table not found.")
    n = _u("<H", header, 10)
    if n > 2047:
        raise ImageFormatError("VHDX metadata table is too large.")
    items = _read_at(f, meta_offset + 32, 32 * n, size)
    for i in range(n):
        if items[i * 32:i * 32 + 16] == _VHDX_VIRTUAL_DISK_SIZE:
            item_offset = _u("<I", items, i * 32 + 16)
            return _u("<Q", _read_at(f, meta_offset + item_offset, 8, size), 0)
    raise ImageFormatError("VHDX virtual disk size not found.")


def inspect_file(path: str, declared: str | None) -> Result:
    """Detect, size and safety-check the file at ``path``; raise on a mismatch with ``declared``."""
    size = os.path.getsize(path)
    if size == 0:
        return Result(declared or "raw", 0)    # no data: nothing to mismatch or exploit
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        fmt = detect(head)
        vsize: int | None
        if fmt == "qcow2":
            vsize = check_qcow2_header(head)
        elif fmt == "vhd":
            vsize = _u(">Q", head, 40)
        elif fmt == "vhdx":
            vsize = _vhdx_virtual_size(f, size)
        elif fmt == "vmdk":
            capacity = _u("<Q", head, 12)
            desc_sector, desc_count = _u("<Q", head, 28), _u("<Q", head, 36)
            if desc_sector != 1:
                raise ImageFormatError("VMDK descriptor is not where it must be.")
            raw = _read_at(f, 512, min(desc_count * 512, _VMDK_DESC_MAX, max(size - 512, 0)), size)
            try:
                text = raw.split(b"\x00", 1)[0].decode("ascii")
            except UnicodeDecodeError:
                raise ImageFormatError("VMDK descriptor is not ASCII text.") from None
            _vmdk_descriptor_checks(text)
            vsize = capacity * 512
        elif fmt == "vdi":
            vsize = _u("<Q", head, 0x170)
        elif fmt == "iso":
            blocks = _u("<I", head, _ISO_PVD + 80)
            block_size = _u("<H", head, _ISO_PVD + 128)
            vsize = blocks * block_size
        else:
            vsize = size
            if size >= 512:
                footer = _read_at(f, size - 512, 512, size)
                if footer[:8] == b"conectix":    # a fixed VHD: raw data + footer
                    fmt, vsize = "vhd", struct.unpack_from(">Q", footer, 40)[0]
    check_match(fmt, declared)
    if fmt != declared and declared not in INSPECTABLE:
        vsize = None                     # ami/aki/ari/ploop: not sized
    return Result(fmt, vsize)


def check_match(fmt: str, declared: str | None) -> None:
    """Is content of format ``fmt`` acceptable for an image declared ``declared``?"""
    if declared is None or fmt == declared:
        return
    if declared == "raw" and fmt == "iso":
        return                            # an ISO is a raw disk too
    if fmt == "raw" and declared not in INSPECTABLE:
        return                            # ami/ari/aki/ploop: not inspectable
    raise ImageFormatError(f"Image disk_format {declared} does not match the data, which is {fmt}.")


class StreamInspector:
    """Fed every chunk of an upload; raises :class:`ImageFormatError` as soon as the first
    :data:`HEAD_BYTES` show a bad or mismatching image. Memory: at most HEAD_BYTES."""

    def __init__(self, declared: str | None):
        self.declared = declared
        self.head = bytearray()
        self.checked = False

    def feed(self, chunk: bytes) -> None:
        if self.checked:
            return
        need = HEAD_BYTES - len(self.head)
        self.head += chunk[:need]
        if len(self.head) >= HEAD_BYTES:
            self._check()

    def finish(self) -> None:
        if not self.checked:
            self._check()

    def _check(self) -> None:
        self.checked = True
        head = bytes(self.head)
        if not head:
            return
        fmt = detect(head)
        if fmt == "qcow2":
            check_qcow2_header(head)
        if fmt != "raw":                  # raw may still turn out to be a fixed VHD at the end
            check_match(fmt, self.declared)
        elif self.declared in INSPECTABLE and self.declared not in ("raw", "vhd"):
            check_match(fmt, self.declared)
