"""Object-storage errors: code and message only (errors.render shapes them)."""
from __future__ import annotations

from onestack import errors


class LengthRequired(errors.OpenStackError):
    code, title, nova_key = 411, "Length Required", "lengthRequired"
    message = "Missing Content-Length header."


class ChecksumMismatch(errors.UnprocessableEntity):
    message = "The Etag you specified did not match the MD5 of the uploaded data."


class ContainerNotEmpty(errors.Conflict):
    message = "There was a conflict when trying to complete your request."


class NotModified(errors.OpenStackError):
    code, title, nova_key = 304, "Not Modified", "notModified"
    message = ""


class ClientTimeout(errors.OpenStackError):
    code, title, nova_key = 408, "Request Timeout", "requestTimeout"
    message = "The client did not send the request body in time."


class ClientDisconnect(errors.OpenStackError):
    code, title, nova_key = 499, "Client Disconnect", "clientDisconnect"
    message = "The client disconnected during the request."


class S3Error(errors.OpenStackError):
    """An S3 error: its status and S3 code (rendered by errors.render style "s3")."""

    def __init__(self, code: int, s3_code: str, message: str, **kw: object):
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.code = code
        self.s3_code = s3_code
        self.title = s3_code
