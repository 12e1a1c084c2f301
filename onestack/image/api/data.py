"""Image data: PUT/GET /v2/images/{id}/file (streamed both ways; Range) and PUT .../stage."""
from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from onestack import errors
from onestack.api.routing import Req
from onestack.image import imports, service

BATCH = 1 << 20      # bytes handed to the writer thread at a time (bounded memory)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _content_length(req: Req) -> int | None:
    value = req.headers.get("content-length")
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise errors.BadRequest("Content-Length must be an integer.") from None
    if n < 0:
        raise errors.BadRequest("Content-Length must not be negative.")
    return n


def _check_octet_stream(req: Req) -> None:
    ctype = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/octet-stream":
        raise errors.UnsupportedMediaType(
            f"Content-Type {ctype or '(none)'} is not supported; image data is "
            "application/octet-stream.")


def _begin(req: Req, stage: bool) -> service.Upload:
    img = service.get_image(req.ctx, req.params["image_id"])
    req.ctx.can("image:upload_image", service.policy_target(req.ctx, img))
    store_id = req.headers.get("x-image-meta-store")
    if store_id is not None and store_id not in service.enabled_stores():
        raise errors.BadRequest(f"Store for identifier {store_id} not found")
    if stage:
        if "glance-direct" not in imports.enabled_methods():
            raise errors.NotFound("The glance-direct import method is not enabled.")
    up = service.Upload(req.ctx, img["id"], stage=stage, content_length=_content_length(req),
                        store_id=store_id)
    up.begin()
    return up


async def _receive(req: Req, stage: bool) -> None:
    _check_octet_stream(req)
    up = await run_in_threadpool(_begin, req, stage)
    pending: asyncio.Future | None = None      # the previous batch, written while we receive
    try:
        buf = bytearray()
        async for chunk in req.raw.stream():
            if not chunk:
                continue
            buf += chunk
            if len(buf) >= BATCH:
                data = bytes(buf)
                buf.clear()
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(run_in_threadpool(up.write, data))
        if pending is not None:
            await pending
            pending = None
        if buf:
            await run_in_threadpool(up.write, bytes(buf))
        await run_in_threadpool(up.finish)
    except BaseException:
        if pending is not None:
            try:
                await asyncio.shield(pending)
            except BaseException:
                pass
        up.fail()
        raise


async def upload(req: Req) -> None:
    await _receive(req, stage=False)


async def stage(req: Req) -> None:
    await _receive(req, stage=True)


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single byte range; None when unsatisfiable."""
    m = _RANGE.match(header.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        raise errors.BadRequest(f"Invalid Range header {header!r}.")
    first, last = m.group(1), m.group(2)
    if first == "":
        n = int(last)
        if n == 0:
            return None
        return max(size - n, 0), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        return None
    return start, end


def download(req: Req) -> Any:
    img = service.get_image(req.ctx, req.params["image_id"])
    req.ctx.can("image:download_image", service.policy_target(req.ctx, img))
    if img["status"] == "deactivated" and not req.ctx.is_admin:
        raise errors.Forbidden("The requested image has been deactivated. Image data download "
                               "is forbidden.")
    st = service.store_of(img)
    if img["status"] not in ("active", "deactivated") or not st.exists(img["id"]):
        return Response(status_code=204)
    size = st.size(img["id"])
    headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
    rng = req.headers.get("range")
    if rng:
        span = _parse_range(rng, size)
        if span is None:
            raise errors.RangeNotSatisfiable(f"Requested range {rng} not available.",
                                             headers={"Content-Range": f"bytes */{size}"})
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        return StreamingResponse(service.read_range(img, start, end), status_code=206,
                                 headers=headers)
    headers["Content-Length"] = str(size)
    if img["checksum"]:
        headers["Content-MD5"] = img["checksum"]
    return StreamingResponse(service.read_range(img), status_code=200, headers=headers)
