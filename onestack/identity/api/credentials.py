"""/v3/credentials."""
from __future__ import annotations

from typing import Any

from onestack import db, errors
from onestack.api.resource import Field, Resource
from onestack.api.routing import Reply, Req
from onestack.identity import credentials as creds
from onestack.identity import views
from onestack.identity.api.directory_common import member_body, target

CREDENTIAL = Resource("credential", "credentials", [
    Field("type", create=True, update=True, required=True, min_length=1, max_length=255, filter=True),
    Field("blob", create=True, update=True, required=True, min_length=1),
    Field("user_id", create=True, update=True, required=True, min_length=1, max_length=64, filter=True),
    Field("project_id", create=True, update=True, nullable=True, max_length=64),
], allow_extra=True)


def view(req: Req, c: Any) -> dict[str, Any]:
    out = dict(c.extra or {})
    out.update({"id": c.id, "type": c.type, "user_id": c.user_id, "project_id": c.project_id,
                "blob": creds.blob_of(c), "links": views.link(req, "credentials", c.id)})
    return out


def _pol(c: Any) -> dict[str, Any]:
    return {"id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.type}


def create(req: Req) -> Reply:
    raw = req.json()
    cid = raw["credential"].get("id") if isinstance(raw, dict) and isinstance(raw.get("credential"), dict) else None
    values = member_body(req, CREDENTIAL, "create")
    if cid is not None:
        if not isinstance(cid, str) or not cid or len(cid) > 64:
            raise errors.ValidationError("Invalid input for field 'id'.")
        values["id"] = cid
    req.ctx.can("identity:create_credential", target(req, credential={k: values.get(k) for k in
                                                                      ("user_id", "project_id", "type")}))
    with db.write() as s:
        return Reply(201, {"credential": view(req, creds.create(s, values))})


def list_(req: Req) -> dict:
    own = None if req.ctx.system_scope else {"user_id": req.ctx.user_id}
    req.ctx.can("identity:list_credentials", target(req, credential=own))
    with db.read() as s:
        rows = creds.list_all(s, req.query.get("user_id"), req.query.get("type"))
        rows = [c for c in rows if req.ctx.can("identity:get_credential", target(req, credential=_pol(c)),
                                               fatal=False)]
        return views.collection(req, "credentials", [view(req, c) for c in rows])


def show(req: Req) -> dict:
    with db.read() as s:
        c = creds.get(s, req.params["credential_id"])
        req.ctx.can("identity:get_credential", target(req, credential=_pol(c)))
        return {"credential": view(req, c)}


def update(req: Req) -> dict:
    values = member_body(req, CREDENTIAL, "update")
    with db.read() as s:
        c = creds.get(s, req.params["credential_id"])
        req.ctx.can("identity:update_credential", target(req, credential=_pol(c)))
    if "user_id" in values and values["user_id"] != c.user_id:
        req.ctx.can("identity:update_credential", target(req, credential={**_pol(c), "user_id": values["user_id"]}))
    with db.write() as s:
        return {"credential": view(req, creds.update(s, req.params["credential_id"], values))}


def delete(req: Req) -> None:
    with db.read() as s:
        c = creds.get(s, req.params["credential_id"])
        req.ctx.can("identity:delete_credential", target(req, credential=_pol(c)))
    with db.write() as s:
        creds.delete(s, req.params["credential_id"])


# ------------------------------------------------------------------ OS-OAUTH1 consumers
CONSUMER = Resource("consumer", "consumers", [
    Field("description", create=True, update=True, nullable=True),
], allow_extra=True)


def consumer_view(req: Req, c: Any) -> dict[str, Any]:
    out = dict(c.extra or {})
    out.update({"id": c.id, "description": c.description,
                "links": {"self": f"{req.service_url}/v3/OS-OAUTH1/consumers/{c.id}"}})
    return out


def list_consumers(req: Req) -> dict:
    req.ctx.can("identity:list_consumers", target(req))
    with db.read() as s:
        return views.collection(req, "consumers", [consumer_view(req, c) for c in creds.list_consumers(s)])


def create_consumer(req: Req) -> Reply:
    values = member_body(req, CONSUMER, "create")
    req.ctx.can("identity:create_consumer", target(req))
    with db.write() as s:
        c, secret = creds.create_consumer(s, values)
        return Reply(201, {"consumer": {**consumer_view(req, c), "secret": secret}})


def show_consumer(req: Req) -> dict:
    req.ctx.can("identity:get_consumer", target(req))
    with db.read() as s:
        return {"consumer": consumer_view(req, creds.get_consumer(s, req.params["consumer_id"]))}


def update_consumer(req: Req) -> dict:
    body = req.json()
    if isinstance(body, dict) and isinstance(body.get("consumer"), dict) and "secret" in body["consumer"]:
        raise errors.ValidationError("The consumer secret cannot be updated.")
    values = member_body(req, CONSUMER, "update")
    req.ctx.can("identity:update_consumer", target(req))
    with db.write() as s:
        return {"consumer": consumer_view(req, creds.update_consumer(s, req.params["consumer_id"], values))}


def delete_consumer(req: Req) -> None:
    req.ctx.can("identity:delete_consumer", target(req))
    with db.write() as s:
        creds.delete_consumer(s, req.params["consumer_id"])
