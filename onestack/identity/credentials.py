"""Credentials (/v3/credentials, OS-EC2) and EC2 signature verification.

No HTTP here. Blobs are encrypted at rest with the credential key repository
(credentials_keys); an ec2 credential's id is the SHA-256 of its access key (as
upstream) and its access key is indexed for signature checks.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any
from urllib.parse import quote

from sqlalchemy import select

from onestack import errors
from onestack.db.base import new_id
from onestack.identity import credentials_keys
from onestack.identity import models as m
from onestack.identity.errors import AuthFailed
from onestack.identity.service import get_project, get_user

IMMUTABLE_EC2_KEYS = ("trust_id", "app_cred_id", "access_token_id", "access_id")


class CredentialNotFound(errors.NotFound):
    message = "Could not find credential: {credential_id}."


def ec2_id(access: str) -> str:
    return hashlib.sha256(access.encode()).hexdigest()


def _ec2_blob(blob: str) -> dict[str, Any]:
    try:
        data = json.loads(blob)
    except (ValueError, TypeError):
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("access"), str) or not data["access"]:
        raise errors.ValidationError("The blob of an ec2 credential must be a JSON object with an 'access' key.")
    return data


def blob_of(c: m.Credential) -> str:
    return credentials_keys.decrypt(c.encrypted_blob)


def get(s: Any, credential_id: str) -> m.Credential:
    c = s.get(m.Credential, credential_id)
    if c is None:
        raise CredentialNotFound(credential_id=credential_id)
    return c


def list_all(s: Any, user_id: str | None = None, type_: str | None = None) -> list[m.Credential]:
    q = select(m.Credential).order_by(m.Credential.id)
    if user_id is not None:
        q = q.where(m.Credential.user_id == user_id)
    if type_ is not None:
        q = q.where(m.Credential.type == type_)
    return list(s.scalars(q))


def _store(c: m.Credential, blob: str) -> None:
    c.encrypted_blob, c.key_hash = credentials_keys.encrypt(blob)
    c.access_key = _ec2_blob(blob)["access"] if c.type == "ec2" else None


def create(s: Any, values: dict[str, Any]) -> m.Credential:
    blob, type_ = values["blob"], values["type"]
    cid = values.get("id")
    if type_ == "ec2":
        if not values.get("project_id"):
            raise errors.ValidationError("An ec2 credential needs a project_id.")
        access = _ec2_blob(blob)["access"]
        if cid is not None and cid != ec2_id(access):
            raise errors.ValidationError("The id of an ec2 credential must be the SHA-256 of its access key.")
        cid = ec2_id(access)
    cid = cid or new_id()
    if s.get(m.Credential, cid) is not None:
        raise errors.Conflict(f"Conflict occurred attempting to store credential - Duplicate ID, {cid}.")
    get_user(s, values["user_id"])
    if values.get("project_id"):
        get_project(s, values["project_id"])
    c = m.Credential(id=cid, user_id=values["user_id"], project_id=values.get("project_id"), type=type_,
                     extra=values.get("_extra", {}))
    _store(c, blob)
    s.add(c)
    s.flush()
    return c


def update(s: Any, credential_id: str, values: dict[str, Any]) -> m.Credential:
    c = get(s, credential_id)
    type_ = values.get("type", c.type)
    blob = values.get("blob", blob_of(c))
    project_id = values.get("project_id", c.project_id)
    if type_ == "ec2":
        if not project_id:
            raise errors.ValidationError("An ec2 credential needs a project_id.")
        new = _ec2_blob(blob)
        if c.type == "ec2":
            old = json.loads(blob_of(c))
            for key in IMMUTABLE_EC2_KEYS:
                if old.get(key) != new.get(key):
                    raise errors.ValidationError(f"The {key} of an ec2 credential cannot change.")
    if "user_id" in values:
        get_user(s, values["user_id"])
        c.user_id = values["user_id"]
    if values.get("project_id"):
        get_project(s, values["project_id"])
    c.project_id, c.type = project_id, type_
    _store(c, blob)
    if values.get("_extra"):
        c.extra = {**(c.extra or {}), **values["_extra"]}
    s.flush()
    return c


def delete(s: Any, credential_id: str) -> None:
    s.delete(get(s, credential_id))
    s.flush()


# ------------------------------------------------------------------ OS-EC2
def ec2_view(c: m.Credential) -> dict[str, Any]:
    data = json.loads(blob_of(c))
    return {"user_id": c.user_id, "tenant_id": c.project_id, "access": data.get("access"),
            "secret": data.get("secret"), "trust_id": data.get("trust_id")}


def ec2_create(s: Any, user_id: str, project_id: str, trust_id: str | None = None) -> m.Credential:
    get_user(s, user_id)
    get_project(s, project_id)
    blob = json.dumps({"access": uuid.uuid4().hex, "secret": uuid.uuid4().hex, "trust_id": trust_id})
    return create(s, {"user_id": user_id, "project_id": project_id, "type": "ec2", "blob": blob})


def ec2_get(s: Any, user_id: str, access: str) -> m.Credential:
    c = by_access(s, access)
    if c is None or c.user_id != user_id:
        raise CredentialNotFound(credential_id=access)
    return c


def ec2_list(s: Any, user_id: str) -> list[m.Credential]:
    return list_all(s, user_id=user_id, type_="ec2")


def by_access(s: Any, access: str) -> m.Credential | None:
    return s.scalar(select(m.Credential).where(m.Credential.access_key == access, m.Credential.type == "ec2"))


# ------------------------------------------------------------------ EC2 signatures
def _q(value: Any) -> str:
    return quote(str(value), safe="-_.~")


def _canonical_qs(params: dict[str, Any], skip: tuple[str, ...] = ("Signature",)) -> str:
    return "&".join(f"{_q(k)}={_q(params[k])}" for k in sorted(params) if k not in skip)


def _sign_v2(secret: str, c: dict[str, Any]) -> str:
    params = c.get("params") or {}
    digest = hashlib.sha1 if params.get("SignatureMethod") == "HmacSHA1" else hashlib.sha256
    sts = "\n".join([str(c.get("verb", "")).upper(), str(c.get("host", "")).lower(), str(c.get("path", "")),
                     _canonical_qs(params)])
    return base64.b64encode(hmac.new(secret.encode(), sts.encode(), digest).digest()).decode()


def _sign_v1(secret: str, c: dict[str, Any]) -> str:
    params = c.get("params") or {}
    sts = "".join(f"{k}{params[k]}" for k in sorted(params, key=str.lower) if k != "Signature")
    return base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _v4_parts(c: dict[str, Any]) -> tuple[str, str, str] | None:
    """(credential scope, signed headers, amz date) from the Authorization header or the query."""
    headers = {str(k).lower(): v for k, v in (c.get("headers") or {}).items()}
    params = c.get("params") or {}
    auth = str(headers.get("authorization", ""))
    if auth.startswith("AWS4-HMAC-SHA256"):
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256"):].split(",") if "=" in p)
        cred = fields.get("Credential", "")
        scope = cred.split("/", 1)[1] if "/" in cred else ""
        return scope, fields.get("SignedHeaders", ""), str(headers.get("x-amz-date", ""))
    if params.get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256":
        cred = str(params.get("X-Amz-Credential", ""))
        scope = cred.split("/", 1)[1] if "/" in cred else ""
        return scope, str(params.get("X-Amz-SignedHeaders", "")), str(params.get("X-Amz-Date", ""))
    return None


def _sign_v4(secret: str, c: dict[str, Any], parts: tuple[str, str, str]) -> str:
    scope, signed, amz_date = parts
    headers = {str(k).lower(): str(v) for k, v in (c.get("headers") or {}).items()}
    params = c.get("params") or {}
    names = [h for h in signed.split(";") if h]
    canonical_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in names)
    body_hash = c.get("body_hash") or headers.get("x-amz-content-sha256") or hashlib.sha256(b"").hexdigest()
    creq = "\n".join([str(c.get("verb", "")).upper(), str(c.get("path", "")) or "/",
                      _canonical_qs(params, ("X-Amz-Signature",)), canonical_headers, signed, body_hash])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    date, region, service, _ = (scope.split("/") + ["", "", "", ""])[:4]
    key = _hmac256(("AWS4" + secret).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac256(key, part)
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def check_signature(secret: str, c: dict[str, Any]) -> None:
    """Raise AuthFailed unless ``c['signature']`` signs the request described by ``c``."""
    given = c.get("signature")
    if not isinstance(given, str) or not given:
        raise AuthFailed("EC2 signature not supplied.")
    params = c.get("params") or {}
    if not isinstance(params, dict) or not isinstance(c.get("headers") or {}, dict):
        raise errors.ValidationError("'params' and 'headers' must be objects.")
    v4 = _v4_parts(c)
    if v4 is not None:
        expected = [_sign_v4(secret, c, v4)]
    elif str(params.get("SignatureVersion", "2")) == "1":
        expected = [_sign_v1(secret, c)]
    else:
        expected = [_sign_v2(secret, c)]
        host = str(c.get("host", ""))
        if ":" in host:   # clients sign with or without the port (as keystone tolerates)
            expected.append(_sign_v2(secret, {**c, "host": host.split(":", 1)[0]}))
    if not any(hmac.compare_digest(e, given) for e in expected):
        raise AuthFailed("Invalid EC2 signature.")


# ------------------------------------------------------------------ OS-OAUTH1 consumers
class ConsumerNotFound(errors.NotFound):
    message = "Could not find consumer: {consumer_id}."


def get_consumer(s: Any, consumer_id: str) -> m.OAuthConsumer:
    c = s.get(m.OAuthConsumer, consumer_id)
    if c is None:
        raise ConsumerNotFound(consumer_id=consumer_id)
    return c


def list_consumers(s: Any) -> list[m.OAuthConsumer]:
    return list(s.scalars(select(m.OAuthConsumer).order_by(m.OAuthConsumer.id)))


def create_consumer(s: Any, values: dict[str, Any]) -> tuple[m.OAuthConsumer, str]:
    from onestack.identity import passwords
    from onestack.identity.service import conf
    secret = uuid.uuid4().hex
    c = m.OAuthConsumer(id=new_id(), description=values.get("description"),
                        secret_hash=passwords.hash_password(secret, conf().password_hash_rounds),
                        extra=values.get("_extra", {}))
    s.add(c)
    s.flush()
    return c, secret


def update_consumer(s: Any, consumer_id: str, values: dict[str, Any]) -> m.OAuthConsumer:
    c = get_consumer(s, consumer_id)
    if "description" in values:
        c.description = values["description"]
    if values.get("_extra"):
        c.extra = {**(c.extra or {}), **values["_extra"]}
    s.flush()
    return c


def delete_consumer(s: Any, consumer_id: str) -> None:
    s.delete(get_consumer(s, consumer_id))
    s.flush()
