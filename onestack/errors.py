"""One error hierarchy and the single fault renderer.

Services raise these (or their own subclasses from ``<svc>/errors.py``); only this
module knows HTTP status codes and how each upstream API shapes an error body.
"""
from __future__ import annotations

import json
from typing import Any


class OpenStackError(Exception):
    code = 500
    title = "Internal Server Error"
    # Nova/Cinder style key ("itemNotFound", ...) and Neutron's "type".
    nova_key = "computeFault"
    message = "An unexpected error prevented the server from fulfilling your request."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None,
                 type_name: str | None = None, **fmt: Any):
        if message is None:
            message = self.message.format(**fmt) if fmt else self.message
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.type_name = type_name or type(self).__name__


class BadRequest(OpenStackError):
    code, title, nova_key = 400, "Bad Request", "badRequest"
    message = "The request is invalid."


class ValidationError(BadRequest):
    """A request body or query failed validation."""


class Unauthorized(OpenStackError):
    code, title, nova_key = 401, "Unauthorized", "unauthorized"
    message = "The request you have made requires authentication."


class Forbidden(OpenStackError):
    code, title, nova_key = 403, "Forbidden", "forbidden"
    message = "You are not authorized to perform the requested action."


class PolicyNotAuthorized(Forbidden):
    message = "Policy doesn't allow {action} to be performed."


class NotFound(OpenStackError):
    code, title, nova_key = 404, "Not Found", "itemNotFound"
    message = "The resource could not be found."


class MethodNotAllowed(OpenStackError):
    code, title, nova_key = 405, "Method Not Allowed", "badMethod"
    message = "The method is not allowed for the requested URL."


class NotAcceptable(OpenStackError):
    code, title, nova_key = 406, "Not Acceptable", "notAcceptable"
    message = "The requested version is not supported."


class Conflict(OpenStackError):
    code, title, nova_key = 409, "Conflict", "conflictingRequest"
    message = "There was a conflict when trying to complete your request."


class Gone(OpenStackError):
    code, title, nova_key = 410, "Gone", "gone"


class PreconditionFailed(OpenStackError):
    code, title, nova_key = 412, "Precondition Failed", "preconditionFailed"


class RequestEntityTooLarge(OpenStackError):
    code, title, nova_key = 413, "Request Entity Too Large", "overLimit"
    message = "Request is too large."


class OverQuota(OpenStackError):
    """Quota exceeded: Nova/Cinder answer 403 (or 413), Neutron 409; the service picks."""
    code, title, nova_key = 403, "Forbidden", "forbidden"
    message = "Quota exceeded."


class UnsupportedMediaType(OpenStackError):
    code, title, nova_key = 415, "Unsupported Media Type", "mediaTypeNotSupported"
    message = "The request media type is not supported by this server."


class RangeNotSatisfiable(OpenStackError):
    code, title, nova_key = 416, "Requested Range Not Satisfiable", "rangeNotSatisfiable"


class UnprocessableEntity(OpenStackError):
    code, title, nova_key = 422, "Unprocessable Entity", "unprocessableEntity"


class NotImplementedYet(OpenStackError):
    code, title, nova_key = 501, "Not Implemented", "notImplemented"
    message = "The action you have requested has not been implemented."


class ServiceUnavailable(OpenStackError):
    code, title, nova_key = 503, "Service Unavailable", "serviceUnavailable"


# ---------------------------------------------------------------- rendering

# S3's error code for a status when the error does not name one (``s3_code``).
_S3_CODES = {400: "InvalidArgument", 401: "AccessDenied", 403: "AccessDenied", 404: "NoSuchKey",
             405: "MethodNotAllowed", 409: "OperationAborted", 411: "MissingContentLength",
             412: "PreconditionFailed", 413: "EntityTooLarge", 416: "InvalidRange",
             422: "BadDigest", 501: "NotImplemented", 503: "ServiceUnavailable"}

def render(err: OpenStackError, style: str, request_id: str = "") -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of ``err`` in the upstream shape named by ``style``.

    Styles: keystone, nova (also cinder), neutron, placement, glance, swift, s3.
    """
    headers = dict(err.headers)
    if style == "keystone":
        body: Any = {"error": {"code": err.code, "title": err.title, "message": err.message}}
    elif style == "nova":
        body = {err.nova_key: {"code": err.code, "message": err.message}}
    elif style == "neutron":
        body = {"NeutronError": {"type": err.type_name, "message": err.message, "detail": ""}}
    elif style == "placement":
        body = {"errors": [{"status": err.code, "title": err.title, "detail": err.message,
                            "request_id": request_id,
                            "code": getattr(err, "placement_code", "placement.undefined_code")}]}
    elif style == "glance":
        text = f"{err.code} {err.title}\n\n{err.message}\n\n   "
        headers.setdefault("content-type", "text/plain; charset=UTF-8")
        return err.code, headers, text.encode()
    elif style == "swift":
        text = f"<html><h1>{err.title}</h1><p>{err.message}</p></html>"
        headers.setdefault("content-type", "text/html; charset=UTF-8")
        return err.code, headers, text.encode()
    elif style == "s3":
        from xml.sax.saxutils import escape
        code = getattr(err, "s3_code", None) or _S3_CODES.get(err.code, "InternalError")
        text = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>' + escape(code) + "</Code><Message>"
                + escape(err.message) + "</Message><RequestId>" + escape(request_id)
                + "</RequestId></Error>")
        headers.setdefault("content-type", "application/xml")
        return err.code, headers, text.encode()
    else:
        raise ValueError(f"unknown error style {style!r}")
    headers.setdefault("content-type", "application/json")
    return err.code, headers, json.dumps(body).encode()
