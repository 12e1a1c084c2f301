"""The ASGI application: one listener, every service under its path prefix.

Order of work for each request: request id -> find the service by prefix -> match the
route (404/405 in the service's error shape) -> token -> context (auth.py) -> microversion
-> body (size-limited) -> handler (worker thread unless async) -> response, with every
OpenStackError rendered by errors.render in the service's upstream shape.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from onestack import auth, errors
from onestack.api import microversion
from onestack.api.routing import Reply, Req, RouteTable, ServiceSpec, dumps, match
from onestack.context import RequestContext, new_request_id

log = logging.getLogger("onestack.api")


class _Mount:
    def __init__(self, prefix: str, spec: ServiceSpec):
        self.prefix = prefix.rstrip("/")
        self.spec = spec
        self.table = RouteTable(spec.routes)


_NO_BODY = (204, 304)


def _raw_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]


def _to_response(result: Any) -> Response | tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A Starlette Response (streaming handlers return one) or (status, headers, body)."""
    if isinstance(result, Response):
        return result
    if result is None:
        return 204, [], b""
    if not isinstance(result, Reply):
        return 200, [(b"content-type", b"application/json")], dumps(result)
    headers = _raw_headers(result.headers) if result.headers else []
    if result.status in _NO_BODY or result.body is None:
        return result.status, headers, b""
    body = result.body
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = dumps(body)
    if not any(k == b"content-type" for k, _ in headers):
        ctype = result.content_type
        if ctype.startswith("text/") and "charset=" not in ctype:
            ctype += "; charset=utf-8"
        headers.append((b"content-type", ctype.encode("latin-1")))
    return result.status, headers, body


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
        self.mounts: list[_Mount] = []
        self.on_startup: list[Any] = []    # called on the event loop when serving starts
        self.on_shutdown: list[Any] = []
        # Set while the rest of the cloud is still loading (cli.serve's staged start): a
        # request the services mounted so far cannot route waits for it.
        self.loading: asyncio.Event | None = None
        self.load_timeout = 300.0
        self.add_services(services)

    def add_services(self, services: list[ServiceSpec]) -> None:
        """Mount more services (on the event loop's thread once serving)."""
        mounts = list(self.mounts)
        for spec in services:
            mounts.append(_Mount(spec.prefix, spec))
            for alias in spec.aliases:
                mounts.append(_Mount(alias, spec))
        self.mounts = sorted(mounts, key=lambda m: len(m.prefix), reverse=True)

    def _find(self, path: str) -> tuple[_Mount, str] | None:
        for m in self.mounts:
            if not m.prefix:
                return m, path
            if path == m.prefix or path.startswith(m.prefix + "/"):
                return m, path[len(m.prefix):] or "/"
        return None

    async def _find_when_loaded(self, method: str, path: str) -> tuple[_Mount, str] | None:
        """The mount for ``path``; while services are still loading, a path that nothing
        mounted yet (or only the catch-all root mount) can route waits for them."""
        found = self._find(path)
        loading = self.loading
        if loading is None or loading.is_set():
            return found
        if found is not None and found[0].prefix:
            return found
        if found is not None:
            try:
                match(found[0].table, method, found[1])
                return found
            except errors.OpenStackError:
                pass
        try:
            await asyncio.wait_for(loading.wait(), self.load_timeout)
        except asyncio.TimeoutError:
            raise errors.ServiceUnavailable("The service is still starting; try again.") from None
        return self._find(path)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    for fn in self.on_startup:
                        fn()
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
        if isinstance(response, Response):
            await response(scope, receive, send)
            return
        status, headers, body = response
        if status not in _NO_BODY and not any(k == b"content-length" for k, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def handle(self, request: Request) -> Response | tuple[int, list[tuple[bytes, bytes]], bytes]:
        start = time.perf_counter()
        rid = new_request_id()
        path = request.scope["path"]
        method = request.method
        spec = None
        ctx: RequestContext | None = None
        extra_headers: list[tuple[bytes, bytes]] = []
        try:
            found = await self._find_when_loaded(method, path)
            if found is None:
                raise errors.NotFound()
            mount, subpath = found
            spec = mount.spec
            route, params = match(mount.table, method, subpath)
            if route.auth or (route.auth_optional and request.headers.get("x-auth-token")):
                ctx = await auth.context_for(request.headers, rid, spec.name, self.public_url,
                                             optional=route.auth_optional,
                                             service_types=(spec.service_type, *spec.catalog_names),
                                             method=method, path=subpath)
            else:
                ctx = RequestContext(request_id=rid, service=spec.name)
            if spec.microversion is not None and route.microversioned:
                ctx.microversion = microversion.negotiate(request.headers, spec.microversion)
                extra_headers = _raw_headers(
                    microversion.response_headers(spec.microversion, ctx.microversion))
            body = None if route.stream else await read_body(request, self.body_limit)
            qs = request.scope.get("query_string")
            base = self.public_url
            req = Req(ctx, method, subpath, params,
                      request.query_params.multi_items() if qs else [],
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
            log.exception("unhandled error in %s %s", method, path, extra={"request_id": rid})
            response = self._error(errors.OpenStackError(), spec, rid)
        if isinstance(response, Response):
            response.headers["x-openstack-request-id"] = rid
            if spec is not None and spec.name == "compute":
                response.headers["x-compute-request-id"] = rid
            for k, v in extra_headers:
                response.headers[k.decode("latin-1")] = v.decode("latin-1")
            status = response.status_code
        else:
            status, headers, _ = response
            if extra_headers:
                names = {k for k, _ in extra_headers}
                headers[:] = [h for h in headers if h[0] not in names] + extra_headers
            rid_b = rid.encode()
            headers.append((b"x-openstack-request-id", rid_b))
            if spec is not None and spec.name == "compute":
                headers.append((b"x-compute-request-id", rid_b))
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s %s", method, path, status,
                     extra={"request_id": rid, "method": method, "path": path, "status": status,
                            "ms": round((time.perf_counter() - start) * 1000, 1),
                            "user_id": ctx.user_id if ctx else None,
                            "project_id": ctx.project_id if ctx else None})
        return response

    def _error(self, err: errors.OpenStackError, spec: ServiceSpec | None,
               rid: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        style = spec.error_style if spec else "keystone"
        status, headers, body = errors.render(err, style, rid)
        return status, _raw_headers(headers), body
