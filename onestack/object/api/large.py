"""Large objects (SLO and DLO), byte ranges and the body iterators of GET responses."""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any, Iterator
from urllib.parse import unquote

from onestack import errors
from onestack.object import service
from onestack.object.api import common
from onestack.object.drivers.files import CorruptObject

MAX_DEPTH = 10


# ---------------------------------------------------------------- ranges

def parse_range(header: str | None, length: int) -> list[tuple[int, int]] | None:
    """[(start, end_exclusive)] for a satisfiable Range header; None to ignore it;
    raises RangeNotSatisfiable when no range is satisfiable."""
    if not header:
        return None
    h = header.strip()
    if not h.lower().startswith("bytes="):
        return None
    specs = [s.strip() for s in h[6:].split(",")]
    out: list[tuple[int, int]] = []
    for spec in specs:
        m = re.fullmatch(r"(\d*)-(\d*)", spec)
        if not m or (not m.group(1) and not m.group(2)):
            return None
        a, b = m.group(1), m.group(2)
        if a and b and int(b) < int(a):
            return None
        if not a:
            n = int(b)
            if n == 0:
                continue
            out.append((max(0, length - n), length))
        else:
            start = int(a)
            end = min(int(b) + 1, length) if b else length
            if start >= length:
                continue
            out.append((start, end))
    if not out:
        raise errors.RangeNotSatisfiable("Requested range not satisfiable",
                                         headers={"Content-Range": f"bytes */{length}"})
    if len(out) > 100:
        return None
    return out


# ---------------------------------------------------------------- segments

class Segment:
    __slots__ = ("account", "container", "name", "start", "end", "etag", "size")

    def __init__(self, account: str, container: str, name: str, start: int, end: int,
                 etag: str | None, size: int):
        self.account, self.container, self.name = account, container, name
        self.start, self.end, self.etag, self.size = start, end, etag, size

    @property
    def length(self) -> int:
        return self.end - self.start


def slo_segments(info: service.ObjectInfo, req: Any, depth: int = 0) -> list[Segment]:
    """The flattened segment list of an SLO manifest (nested manifests expanded)."""
    if depth > MAX_DEPTH:
        raise errors.Conflict("Too many levels of nested manifests.")
    manifest = json.loads(service.read_small(info))
    out: list[Segment] = []
    for item in manifest:
        cont, _, obj = item["name"].lstrip("/").partition("/")
        size = int(item["bytes"])
        rng = item.get("range")
        start, end = 0, size
        if rng:
            rs = parse_range("bytes=" + rng, size) or [(0, size)]
            start, end = rs[0]
        if item.get("sub_slo"):
            try:
                sub = service.open_object(info.account, cont, obj)
            except errors.NotFound:
                raise errors.Conflict(f"Missing segment {item['name']}") from None
            inner = slo_segments(sub, req, depth + 1)
            out.extend(_slice(inner, start, end))
        else:
            out.append(Segment(info.account, cont, obj, start, end, item.get("hash"), size))
    return out


def _slice(segs: list[Segment], start: int, end: int) -> list[Segment]:
    out, pos = [], 0
    for s in segs:
        s_start, s_end = pos, pos + s.length
        pos = s_end
        if s_end <= start or s_start >= end:
            continue
        a = max(start, s_start) - s_start
        b = min(end, s_end) - s_start
        out.append(Segment(s.account, s.container, s.name, s.start + a, s.start + b, s.etag, s.size))
    return out


def dlo_segments(info: service.ObjectInfo, req: Any) -> tuple[list[Segment], str]:
    """Segments of a DLO (every object under the manifest's prefix) and its ETag."""
    value = unquote(info.dlo_manifest or "")
    cont, _, prefix = value.lstrip("/").partition("/")
    try:
        common.check_container(cont)
    except errors.BadRequest:
        return [], hashlib.md5().hexdigest()
    common.authorize(req, info.account, cont, container_meta=None)
    segs: list[Segment] = []
    md5 = hashlib.md5()
    marker = ""
    while True:
        try:
            rows = service.list_objects(info.account, cont, prefix=prefix, marker=marker, limit=10000)
        except errors.NotFound:
            rows = []
        if not rows:
            break
        for r in rows:
            segs.append(Segment(info.account, cont, r["name"], 0, r["size"], r["etag"], r["size"]))
            md5.update(r["etag"].encode())
        marker = rows[-1]["name"]
        if len(rows) < 10000:
            break
    return segs, md5.hexdigest()


def iter_segments(segs: list[Segment], start: int, end: int, req: Any) -> Iterator[bytes]:
    """Bytes [start, end) of the concatenation of ``segs``; each whole segment verified."""
    for s in _slice(segs, start, end):
        try:
            info = service.open_object(s.account, s.container, s.name)
        except errors.NotFound:
            raise CorruptObject(f"missing segment /{s.container}/{s.name}") from None
        try:
            if info.is_slo:
                sub = slo_segments(info, req)
                yield from iter_segments(sub, s.start, s.end, req)
                continue
            if s.etag and s.start == 0 and s.end == info.length and info.data_etag != s.etag.strip('"'):
                raise CorruptObject(f"segment /{s.container}/{s.name} changed")
            yield from service.iter_object(info, s.start, s.end)
        finally:
            info.close()


def multipart_body(parts: list[tuple[int, int]], total: int, content_type: str,
                   source: Any) -> tuple[Iterator[bytes], str, int]:
    """A multipart/byteranges body over ``source(start, end)`` iterators."""
    boundary = uuid.uuid4().hex
    heads = [(f"--{boundary}\r\nContent-Type: {content_type}\r\n"
              f"Content-Range: bytes {a}-{b - 1}/{total}\r\n\r\n").encode() for a, b in parts]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(b - a for a, b in parts) + 2 * (len(parts) - 1) + len(tail)

    def gen() -> Iterator[bytes]:
        for i, ((a, b), head) in enumerate(zip(parts, heads)):
            if i:
                yield b"\r\n"
            yield head
            yield from source(a, b)
        yield tail
    return gen(), f"multipart/byteranges;boundary={boundary}", length


# ---------------------------------------------------------------- SLO manifest PUT

def build_manifest(req: Any, account: str, body: bytes) -> tuple[bytes, str, int]:
    """Validate a manifest PUT body; the stored manifest, the SLO ETag and total size."""
    lim = service.limits()
    if len(body) > lim.max_manifest_size:
        raise errors.RequestEntityTooLarge(f"Manifest File > {lim.max_manifest_size} bytes")
    try:
        items = json.loads(body)
    except ValueError:
        raise errors.BadRequest("Manifest must be valid JSON.\n") from None
    if not isinstance(items, list) or not items:
        raise errors.BadRequest("Manifest must be a list of at least one segment.\n")
    if len(items) > lim.max_manifest_segments:
        raise errors.RequestEntityTooLarge(f"Number of segments must be <= {lim.max_manifest_segments}")
    problems: list[str] = []
    stored: list[dict[str, Any]] = []
    md5 = hashlib.md5()
    total = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "path" not in item or set(item) - {
                "path", "etag", "size_bytes", "range"}:
            raise errors.BadRequest(f"Index {i}: invalid segment (keys path, etag, size_bytes, range).\n")
        path = unquote(str(item["path"]))
        cont, _, obj = path.lstrip("/").partition("/")
        if not cont or not obj:
            problems.append(f"Index {i}: path does not refer to an object. Path must be of the form "
                            "/container/object.")
            continue
        try:
            common.check_container(cont)
            common.check_object(obj)
            common.authorize(req, account, cont)
            seg = service.open_object(account, cont, obj)
        except errors.NotFound:
            problems.append(f"/{cont}/{obj}: 404 Not Found")
            continue
        except (errors.Forbidden, errors.Unauthorized):
            problems.append(f"/{cont}/{obj}: 403 Forbidden")
            continue
        except errors.BadRequest as e:
            problems.append(f"Index {i}: {e.message}")
            continue
        try:
            if seg.is_slo:
                size = int(seg.headers.get("x-object-sysmeta-slo-size", 0))
                etag = seg.headers.get("x-object-sysmeta-slo-etag", "")
            else:
                size, etag = seg.length, seg.data_etag
            ctype, lm = seg.content_type, service.iso_date(seg.ts)
        finally:
            seg.close()
        want_etag = item.get("etag")
        if want_etag not in (None, "") and str(want_etag).strip('"').lower() != etag:
            problems.append(f"/{cont}/{obj}: Etag Mismatch")
        want_size = item.get("size_bytes")
        if want_size not in (None, ""):
            try:
                if int(want_size) != size:
                    problems.append(f"/{cont}/{obj}: Size Mismatch")
            except (TypeError, ValueError):
                problems.append(f"Index {i}: invalid size_bytes")
        rng = item.get("range")
        length = size
        entry: dict[str, Any] = {"name": f"/{cont}/{obj}", "bytes": size, "hash": etag,
                                 "content_type": ctype, "last_modified": lm}
        if seg.is_slo:
            entry["sub_slo"] = True
        if rng:
            try:
                rs = parse_range("bytes=" + str(rng), size)
            except errors.RangeNotSatisfiable:
                rs = None
            if not rs or len(rs) != 1:
                problems.append(f"Index {i}: Unsatisfiable Range")
                continue
            length = rs[0][1] - rs[0][0]
            entry["range"] = f"{rs[0][0]}-{rs[0][1] - 1}"
            md5.update(f"{etag}:{entry['range']};".encode())
        else:
            md5.update(etag.encode())
        if length < lim.min_segment_size and i < len(items) - 1:
            problems.append(f"Index {i}: too small; each segment must be at least "
                            f"{lim.min_segment_size} byte.")
        total += length
        stored.append(entry)
    if problems:
        raise errors.BadRequest("Errors:\n" + "\n".join(problems))
    return json.dumps(stored).encode(), md5.hexdigest(), total


def manifest_for_get(info: service.ObjectInfo, raw: bool) -> bytes:
    items = json.loads(service.read_small(info))
    if raw:
        out = []
        for it in items:
            e = {"path": it["name"], "etag": it["hash"], "size_bytes": it["bytes"]}
            if it.get("range"):
                e["range"] = it["range"]
            out.append(e)
        return json.dumps(out).encode()
    return json.dumps(items).encode()
