"""Explicit route tables and the request/response objects handlers see.

A handler is ``def handler(req: Req) -> Reply | dict | list | None`` (run in a worker
thread) or ``async def`` for streaming routes. It parses and validates, calls
``req.ctx.can(...)``, calls the service, and returns the view.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Awaitable, Callable

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in requirements.lock
    orjson = None  # type: ignore[assignment]

from onestack import errors

Handler = Callable[["Req"], Any] | Callable[["Req"], Awaitable[Any]]


@dataclasses.dataclass
class Route:
    method: str
    path: str
    handler: Handler
    auth: bool = True          # False: no token needed (version documents, POST /auth/tokens)
    auth_optional: bool = False  # token used when present (Swift ACLs, anonymous reads)
    stream: bool = False       # body not read in advance (uploads); handler must be async
    microversioned: bool = True
    # Run a sync handler on the event loop instead of a worker thread: True, or a predicate
    # over the (Starlette) request. Only for handlers that do no I/O in that case (e.g. token
    # validation when the subject token is in the cache): the thread hop costs more than they do.
    inline: bool | Callable[[Any], bool] = False
    # False: "/things/" is not "/things" (APIs where an empty id must be a 404, e.g. Cinder).
    trailing_slash: bool = True
    regex: re.Pattern[str] = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path.rstrip("/") or "/")
        pattern = pattern.replace("(?P<path>[^/]+)", "(?P<path>.+)")  # {path} swallows slashes
        self.regex = re.compile(f"^{pattern}/?$" if self.trailing_slash else f"^{pattern}$")


def route(method: str, path: str, handler: Handler, **kw: Any) -> Route:
    return Route(method.upper(), path, handler, **kw)


def dumps(body: Any) -> bytes:
    """Compact JSON (orjson when it can: the token body with its catalog is ~20x faster)."""
    if orjson is not None:
        try:
            return orjson.dumps(body)
        except TypeError:
            pass  # e.g. an int beyond 64 bits: the standard library handles it
    return json.dumps(body, separators=(",", ":")).encode()


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    content_type: str = "application/json"


class Req:
    """What a handler gets: context, params, query, headers and the parsed body."""

    def __init__(self, ctx: Any, method: str, path: str, params: dict[str, str],
                 query: list[tuple[str, str]], headers: Any, body: bytes | None,
                 raw: Any = None, base_url: str = "", service_url: str = ""):
        self.ctx = ctx
        self.method = method
        self.path = path
        self.params = params
        self.query_items = query
        self.headers = headers
        self.body = body
        self.raw = raw            # the Starlette request (streaming handlers read from it)
        self.base_url = base_url  # http://host:port
        self.service_url = service_url  # http://host:port/<prefix>
        self._json: Any = dataclasses.MISSING

    @property
    def query(self) -> dict[str, str]:
        """Last value of each query parameter."""
        return dict(self.query_items)

    def query_all(self, name: str) -> list[str]:
        return [v for k, v in self.query_items if k == name]

    def json(self, required: bool = True) -> Any:
        if self._json is not dataclasses.MISSING:
            return self._json
        if not self.body:
            if required:
                raise errors.BadRequest("The request body is missing; a JSON document is required.")
            self._json = None
            return None
        try:
            self._json = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.BadRequest(f"Malformed JSON in request body: {e}") from None
        return self._json

    def json_object(self, key: str | None = None) -> dict[str, Any]:
        """The body as a JSON object, or the object under ``key`` (e.g. {"project": {...}})."""
        body = self.json()
        if not isinstance(body, dict):
            raise errors.BadRequest("The request body must be a JSON object.")
        if key is None:
            return body
        inner = body.get(key)
        if not isinstance(inner, dict):
            raise errors.BadRequest(f"'{key}' is a required property and must be an object.")
        return inner


@dataclasses.dataclass
class MicroversionSpec:
    service_type: str           # value in OpenStack-API-Version ("compute", "volume", "placement")
    min: str
    max: str
    legacy_headers: tuple[str, ...] = ()


@dataclasses.dataclass
class ServiceSpec:
    """Everything onestack needs to know to host a service (explicit registration)."""
    name: str                    # "identity"
    service_type: str            # catalog type
    prefix: str                  # "/identity"
    routes: list[Route]
    error_style: str             # see errors.render
    catalog_path: str = ""       # appended to the prefix in catalog URLs ("/v3", "/v2.1")
    catalog_names: tuple[str, ...] = ()  # extra catalog types (e.g. "volumev3")
    catalog_name: str = ""       # service name in the catalog ("keystone", "nova")
    aliases: tuple[str, ...] = ()  # extra mount prefixes
    policies: list[Any] = dataclasses.field(default_factory=list)
    microversion: MicroversionSpec | None = None
    on_start: Callable[[Any], None] | None = None    # (cloud) -> None, after migrations
    # (cloud) -> None: start this service's local agents (data-plane drivers, reconcile,
    # provider registration). Runs after every service's on_start and after the APIs are
    # mounted; the data-plane sweep and the task engine start only once all have run.
    agents: Callable[[Any], None] | None = None
    on_stop: Callable[[], None] | None = None
    tasks: list[Any] = dataclasses.field(default_factory=list)
    endpoint_suffix: str = ""    # e.g. "/AUTH_%(project_id)s" for object-store


def _key(path: str) -> tuple[str, ...]:
    """The first two segments of a path: a route whose first two segments are literal can
    only match paths that start with them."""
    stripped = path.strip("/")
    return tuple(stripped.split("/", 2)[:2]) if stripped else ()


class RouteTable:
    """A service's routes, indexed by their literal leading segments so a request is
    matched against its few candidates (in declaration order) instead of every route."""

    def __init__(self, routes: list[Route]):
        self.routes = list(routes)
        self._literal: dict[tuple[str, ...], list[int]] = {}
        self._wild: list[int] = []
        for i, r in enumerate(self.routes):
            key = _key(r.path)
            if any("{" in seg for seg in key):
                self._wild.append(i)
            else:
                self._literal.setdefault(key, []).append(i)
        self._wild_routes = [self.routes[i] for i in self._wild]
        self._candidates = {key: [self.routes[i] for i in sorted(idx + self._wild)]
                            for key, idx in self._literal.items()}

    def candidates(self, path: str) -> list[Route]:
        return self._candidates.get(_key(path), self._wild_routes)


def match(routes: list[Route] | RouteTable, method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for (method, path) or NotFound/MethodNotAllowed. A HEAD with no HEAD
    route of its own is served by the GET route."""
    candidates = routes.candidates(path) if isinstance(routes, RouteTable) else routes
    allowed = False
    get: tuple[Route, Any] | None = None
    for r in candidates:
        m = r.regex.match(path)
        if m:
            if r.method == method:
                return r, m.groupdict()
            if method == "HEAD" and r.method == "GET" and get is None:
                get = (r, m)
            allowed = True
    if get is not None:
        return get[0], get[1].groupdict()
    if allowed:
        raise errors.MethodNotAllowed()
    raise errors.NotFound("The resource could not be found.")
