"""The ASGI application: one listener, every service under its path prefix.

Order of work for each request: request id -> find the service by prefix -> match the
route (404/405 in the service's error shape) -> token -> context (auth.py) -> microversion
-> body (size-limited) -> handler (worker thread unless async) -> response, with every
OpenStackError rendered by errors.render in the service's upstream shape.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in requirements.lock
    orjson = None  # type: ignore[assignment]

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from onestack import auth, errors
from onestack.api import microversion
from onestack.api.routing import Reply, Req, ServiceSpec, match
from onestack.context import RequestContext, new_request_id

log = logging.getLogger("onestack.api")


class _Mount:
    def __init__(self, prefix: str, spec: ServiceSpec):
        self.prefix = prefix.rstrip("/")
        self.spec = spec


def _to_response(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=204)
    if not isinstance(result, Reply):
        result = Reply(200, result)
    if result.status in (204, 304) or result.body is None:
        return Response(status_code=result.status, headers=result.headers)
    if isinstance(result.body, (bytes, str)):
        return Response(result.body, status_code=result.status, headers=result.headers,
                        media_type=result.content_type)
    return Response(dumps(result.body), status_code=result.status,
                    headers=result.headers, media_type=result.content_type)


def dumps(body: Any) -> bytes:
    """Compact JSON (orjson when it can: the token body with its catalog is ~20x faster)."""
    if orjson is not None:
        try:
            return orjson.dumps(body)
        except TypeError:
            pass  # e.g. an int beyond 64 bits: the standard library handles it
    return json.dumps(body, separators=(",", ":")).encode()


async def read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is None and "transfer-encoding" not in request.headers:
        return b""   # HTTP/1.1: no length and not chunked means no body
    if length is not None:
        try:
            if int(length) > limit:
                raise errors.RequestEntityTooLarge(
                    f"Request body is {length} bytes; the limit is {limit} bytes.")
        except ValueError:
            raise errors.BadRequest("Content-Length must be an integer.") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.RequestEntityTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


class App:
    def __init__(self, settings: Any, services: list[ServiceSpec]):
        self.settings = settings
        self.public_url = settings.public_url
        self.body_limit = settings.core.max_request_body_size
        mounts = []
        for spec in services:
            mounts.append(_Mount(spec.prefix, spec))
            for alias in spec.aliases:
                mounts.append(_Mount(alias, spec))
        self.mounts = sorted(mounts, key=lambda m: len(m.prefix), reverse=True)
        self.on_shutdown: list[Any] = []

    def _find(self, path: str) -> tuple[_Mount, str] | None:
        for m in self.mounts:
            if not m.prefix:
                return m, path
            if path == m.prefix or path.startswith(m.prefix + "/"):
                return m, path[len(m.prefix):] or "/"
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    for fn in self.on_shutdown:
                        fn()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        start = time.perf_counter()
        rid = new_request_id()
        path = request.scope["path"]
        found = self._find(path)
        spec = found[0].spec if found else None
        ctx: RequestContext | None = None
        extra_headers: dict[str, str] = {}
        try:
            if found is None:
                raise errors.NotFound()
            mount, subpath = found
            route, params = match(spec.routes, request.method, subpath)
            if route.auth or (route.auth_optional and request.headers.get("x-auth-token")):
                ctx = await auth.context_for(request.headers, rid, spec.name, self.public_url,
                                             optional=route.auth_optional,
                                             service_types=(spec.service_type, *spec.catalog_names),
                                             method=request.method, path=subpath)
            else:
                ctx = RequestContext(request_id=rid, service=spec.name)
            if spec.microversion is not None and route.microversioned:
                ctx.microversion = microversion.negotiate(request.headers, spec.microversion)
                extra_headers.update(microversion.response_headers(spec.microversion, ctx.microversion))
            body = None if route.stream else await read_body(request, self.body_limit)
            base = self.public_url
            req = Req(ctx, request.method, subpath, params, request.query_params.multi_items(),
                      request.headers, body, raw=request, base_url=base,
                      service_url=base + mount.prefix)
            if inspect.iscoroutinefunction(route.handler):
                result = await route.handler(req)
            elif route.inline is True or (route.inline and route.inline(request)):
                result = route.handler(req)
            else:
                result = await run_in_threadpool(route.handler, req)
            response = _to_response(result)
        except errors.OpenStackError as e:
            response = self._error(e, spec, rid)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unhandled error in %s %s", request.method, path,
                          extra={"request_id": rid})
            response = self._error(errors.OpenStackError(), spec, rid)
        response.headers["x-openstack-request-id"] = rid
        if spec is not None and spec.name == "compute":
            response.headers["x-compute-request-id"] = rid
        for k, v in extra_headers.items():
            response.headers[k] = v
        log.info("%s %s %s", request.method, path, response.status_code,
                 extra={"request_id": rid, "method": request.method, "path": path,
                        "status": response.status_code,
                        "ms": round((time.perf_counter() - start) * 1000, 1),
                        "user_id": ctx.user_id if ctx else None,
                        "project_id": ctx.project_id if ctx else None})
        return response

    def _error(self, err: errors.OpenStackError, spec: ServiceSpec | None, rid: str) -> Response:
        style = spec.error_style if spec else "keystone"
        status, headers, body = errors.render(err, style, rid)
        return Response(body, status_code=status, headers=headers)
