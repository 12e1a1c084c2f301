"""Token middleware: X-Auth-Token -> RequestContext, through identity's interface."""
from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from onestack import errors
from onestack.context import RequestContext


def _www_authenticate(public_url: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Keystone uri="{public_url}/identity"'}


async def context_for(headers: Any, request_id: str, service: str, public_url: str,
                      optional: bool = False, *, service_types: tuple[str, ...] = (),
                      method: str | None = None, path: str | None = None) -> RequestContext:
    """Validate the caller's token (cache first, DB on a miss) and build its context.

    With ``method`` and ``path`` (as the service sees it), a token from an application
    credential with access rules is refused (401, as keystonemiddleware does) unless a
    rule allows the call."""
    from onestack.identity import interface as identity
    token = headers.get("x-auth-token")
    if not token:
        if optional:
            return RequestContext(request_id=request_id, service=service)
        raise errors.Unauthorized("The request you have made requires authentication.",
                                  headers=_www_authenticate(public_url))
    info = identity.cached_token(token)
    if info is None:
        try:
            info = await run_in_threadpool(identity.validate_token, token)
        except errors.NotFound:
            info = None
    if info is None:
        raise errors.Unauthorized("The request you have made requires authentication.",
                                  headers=_www_authenticate(public_url))
    if method is not None and path is not None and not identity.access_allowed(
            info, service_types or (service,), method, path):
        raise errors.Unauthorized("The application credential's access rules do not allow this request.",
                                  headers=_www_authenticate(public_url))
    return identity.context_from_token(info, token, request_id, service)
