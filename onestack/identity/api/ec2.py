"""OS-EC2: /v3/users/{user_id}/credentials/OS-EC2[/{credential_id}] and POST /v3/ec2tokens."""
from __future__ import annotations

import time
from typing import Any

from onestack import db, errors
from onestack.api.routing import Reply, Req
from onestack.identity import credentials as creds
from onestack.identity import models as m
from onestack.identity import service, tokens, views
from onestack.identity.api.directory_common import target
from onestack.identity.errors import AuthFailed


def view(req: Req, c: Any) -> dict[str, Any]:
    out = creds.ec2_view(c)
    out["links"] = {"self": f"{req.service_url}/v3/users/{c.user_id}/credentials/OS-EC2/{out['access']}"}
    return out


def create(req: Req) -> Reply:
    body = req.json_object()
    project_id = body.get("tenant_id") or body.get("project_id")
    if not isinstance(project_id, str) or not project_id:
        raise errors.ValidationError("'tenant_id' is a required property and must be a string.")
    user_id = req.params["user_id"]
    req.ctx.can("identity:ec2_create_credential", target(req, credential={"user_id": user_id}))
    with db.write() as s:
        return Reply(201, {"credential": view(req, creds.ec2_create(s, user_id, project_id))})


def list_(req: Req) -> dict:
    req.ctx.can("identity:ec2_list_credentials", target(req))
    with db.read() as s:
        return views.collection(req, "credentials",
                                [view(req, c) for c in creds.ec2_list(s, req.params["user_id"])])


def show(req: Req) -> dict:
    with db.read() as s:
        c = creds.ec2_get(s, req.params["user_id"], req.params["credential_id"])
        req.ctx.can("identity:ec2_get_credential", target(req, credential={"user_id": c.user_id}))
        return {"credential": view(req, c)}


def delete(req: Req) -> None:
    with db.read() as s:
        c = creds.ec2_get(s, req.params["user_id"], req.params["credential_id"])
        req.ctx.can("identity:ec2_delete_credential", target(req, credential={"user_id": c.user_id}))
    with db.write() as s:
        creds.delete(s, c.id)


def ec2tokens(req: Req) -> Reply:
    body = req.json_object()
    c = body.get("credentials", body.get("ec2Credentials"))
    if not isinstance(c, dict):
        raise errors.ValidationError("'credentials' is a required property and must be an object.")
    access = c.get("access")
    if not isinstance(access, str) or not access:
        raise errors.ValidationError("'access' is a required property and must be a string.")
    with db.read() as s:
        cred = creds.by_access(s, access)
        if cred is None:
            raise AuthFailed("EC2 access key not found.")
        info = creds.ec2_view(cred)
        creds.check_signature(info["secret"] or "", c)
        user = s.get(m.User, cred.user_id)
        if user is None:
            raise AuthFailed("The user of this EC2 credential no longer exists.")
    now = time.time()
    payload = tokens.Payload(user_id=cred.user_id, methods=["ec2credential"],
                             expires_at=now + service.conf().token_expiration, issued_at=now,
                             audit_ids=[tokens.random_audit_id()], project_id=cred.project_id)
    try:
        data = service.token_data(payload)
    except errors.NotFound:
        raise AuthFailed("The user has no role on the EC2 credential's project.") from None
    out = dict(data.body)
    out["catalog"] = service.catalog(cred.project_id, cred.user_id)
    return Reply(200, {"token": out}, headers={"X-Subject-Token": tokens.encrypt(payload)})
