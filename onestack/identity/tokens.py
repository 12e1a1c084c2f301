"""Fernet tokens: issue, validate (cached), revoke.

A token is a Fernet message (AES-128-CBC + HMAC-SHA256, from ``cryptography``) whose
payload is a msgpack list; nothing about a token is stored. Validation decrypts it,
checks expiry and the revocation events, and re-derives user, scope and roles from the
database. The result is cached per token and keyed by the identity *revision*: every
identity write that can change what a token means bumps the revision (in the database,
so every process sees it within ``REVISION_TTL``), and a cached entry of an older
revision is recomputed. A validation that hits the cache costs one decrypt-free dict
lookup and an expiry check.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
import threading
import time
from collections import OrderedDict
from typing import Any

import msgpack
from cryptography.fernet import InvalidToken
from sqlalchemy import select, update

from onestack import db, errors
from onestack.db.base import utcnow
from onestack.identity import models

METHODS = {"password": 1, "token": 2, "application_credential": 4, "totp": 8,
           "external": 16, "mapped": 32, "ec2credential": 64}
REVISION_TTL = 1.0

_repo = None  # fernet.KeyRepository, set by identity start-up


def set_key_repository(repo: Any) -> None:
    global _repo
    _repo = repo


def key_repository() -> Any:
    if _repo is None:
        raise RuntimeError("identity key repository not initialised")
    return _repo


def random_audit_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def _pack_methods(methods: list[str]) -> int:
    return sum(METHODS[m] for m in set(methods))


def _unpack_methods(mask: int) -> list[str]:
    return [m for m, bit in METHODS.items() if mask & bit]


@dataclasses.dataclass
class Payload:
    user_id: str
    methods: list[str]
    expires_at: float            # epoch seconds
    issued_at: float
    audit_ids: list[str]
    project_id: str | None = None
    domain_id: str | None = None
    system: str | None = None
    app_cred_id: str | None = None
    trust_id: str | None = None

    def pack(self) -> bytes:
        return msgpack.packb([1, self.user_id, _pack_methods(self.methods), self.expires_at,
                              self.issued_at, self.audit_ids, self.project_id, self.domain_id,
                              self.system, self.app_cred_id, self.trust_id])

    @classmethod
    def unpack(cls, data: bytes) -> "Payload":
        v = msgpack.unpackb(data)
        if not isinstance(v, list) or len(v) != 11 or v[0] != 1:
            raise ValueError("unknown token payload")
        return cls(user_id=v[1], methods=_unpack_methods(v[2]), expires_at=v[3], issued_at=v[4],
                   audit_ids=list(v[5]), project_id=v[6], domain_id=v[7], system=v[8],
                   app_cred_id=v[9], trust_id=v[10])

    @property
    def scope(self) -> str:
        return ("system" if self.system else "project" if self.project_id
                else "domain" if self.domain_id else "unscoped")


def encrypt(payload: Payload) -> str:
    token = key_repository().fernet().encrypt(payload.pack()).decode()
    return token.rstrip("=")


def decrypt(token: str) -> Payload:
    if not token or len(token) > 1024:
        raise errors.NotFound("The token is malformed or could not be found.")
    try:
        padded = token + "=" * (-len(token) % 4)
        data = key_repository().fernet().decrypt(padded.encode())
        return Payload.unpack(data)
    except (InvalidToken, ValueError, TypeError, UnicodeEncodeError, msgpack.ExtraData):
        raise errors.NotFound("Failed to validate token") from None
    except Exception:
        raise errors.NotFound("Failed to validate token") from None


# ------------------------------------------------------------------ revision
class _Revision:
    def __init__(self) -> None:
        self.value = -1
        self.checked = 0.0
        self.lock = threading.Lock()

    def current(self) -> int:
        now = time.monotonic()
        if now - self.checked < REVISION_TTL and self.value >= 0:
            return self.value
        with db.read() as s:
            row = s.get(models.Revision, 1)
            value = row.value if row else 0
        with self.lock:
            self.value, self.checked = value, now
        return value

    def bump(self, session: Any) -> None:
        """Call inside a write transaction that changes identity state."""
        res = session.execute(update(models.Revision).where(models.Revision.id == 1)
                              .values(value=models.Revision.value + 1))
        if res.rowcount == 0:
            session.add(models.Revision(id=1, value=1))

        def _after() -> None:
            with self.lock:
                self.checked = 0.0   # force a re-read on the next use
                self.value = -1
            _cache.clear()
        db.session.after_commit(session, _after)


revision = _Revision()


class _KeyGeneration:
    """The key repository's generation, looked at no more than once per REVISION_TTL, so a
    rotation (``onestack keys rotate``, maybe by another process) also retires cached
    validations: a token whose key was pruned stops validating within a second."""

    def __init__(self) -> None:
        self.value: float | None = None
        self.checked = 0.0

    def current(self) -> float | None:
        now = time.monotonic()
        if now - self.checked < REVISION_TTL:
            return self.value
        repo = _repo
        try:
            value = repo.generation() if repo is not None else None
        except OSError:
            value = None
        if value != self.value and self.value is not None:
            _cache.clear()
        self.value, self.checked = value, now
        return value


keys_generation = _KeyGeneration()


# ------------------------------------------------------------------ cache
class _TokenCache:
    def __init__(self, size: int = 10000):
        self.size = size
        self._d: OrderedDict[str, tuple[int, "TokenData"]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> "TokenData | None":
        hit = self._d.get(token)
        if hit is None:
            return None
        rev, data = hit
        if rev != revision.current() or data.payload.expires_at <= time.time():
            return None
        keys_generation.current()   # a rotation clears the cache (checked once a second)
        if token not in self._d:
            return None
        return data

    def put(self, token: str, rev: int, data: "TokenData") -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._d[token] = (rev, data)
            if len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


_cache = _TokenCache()


def set_cache_size(size: int) -> None:
    """How many validated tokens to keep (``[identity] token_cache_size``; 0 disables)."""
    _cache.size = max(0, int(size))
    if _cache.size == 0:
        _cache.clear()


@dataclasses.dataclass
class TokenData:
    """A validated token: its payload, the derived facts, and its body sans catalog."""
    payload: Payload
    body: dict[str, Any]            # the "token" object (no catalog)
    roles: list[dict[str, str]]
    user_domain_id: str
    project_domain_id: str | None = None
    # The validate response body, rendered once per (with catalog?) while this entry lives
    # (an entry is replaced whenever the identity revision moves, so is its rendering).
    rendered: dict[bool, bytes] = dataclasses.field(default_factory=dict, repr=False)


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "000Z"


def is_revoked(payload: Payload, roles: list[dict[str, str]], project_domain_id: str | None,
               user_domain_id: str) -> bool:
    issued = dt.datetime.fromtimestamp(payload.issued_at, dt.timezone.utc).replace(tzinfo=None)
    role_ids = {r["id"] for r in roles}
    for ev in revocation_events():
        if issued > ev.issued_before:
            continue
        if ev.audit_id is not None and ev.audit_id != payload.audit_ids[0]:
            continue
        if ev.audit_chain_id is not None and ev.audit_chain_id != payload.audit_ids[-1]:
            continue
        if ev.user_id is not None and ev.user_id != payload.user_id:
            continue
        if ev.project_id is not None and ev.project_id != payload.project_id:
            continue
        if ev.domain_id is not None and ev.domain_id not in (
                payload.domain_id, user_domain_id, project_domain_id):
            continue
        if ev.role_id is not None and ev.role_id not in role_ids:
            continue
        if ev.app_cred_id is not None and ev.app_cred_id != payload.app_cred_id:
            continue
        if ev.trust_id is not None and ev.trust_id != payload.trust_id:
            continue
        return True
    return False


_events: tuple[int, list[Any]] = (-1, [])


def revocation_events() -> list[Any]:
    """All live revocation events, cached per revision (not a DB round trip per request)."""
    global _events
    rev = revision.current()
    if _events[0] == rev:
        return _events[1]
    with db.read() as s:
        now = utcnow()
        rows = s.scalars(select(models.RevocationEvent)).all()
        rows = [r for r in rows if r.expires_at is None or r.expires_at > now]
    _events = (rev, rows)
    return rows


def revoke(session: Any, **fields: Any) -> None:
    """Record a revocation event (matches tokens issued before now) and bump the revision."""
    exp = utcnow() + dt.timedelta(seconds=_conf().token_expiration + _conf().allow_expired_window)
    session.add(models.RevocationEvent(issued_before=utcnow(), expires_at=exp, **fields))
    revision.bump(session)


def _conf() -> Any:
    from onestack import conf
    return conf.get().identity


def cached(token: str) -> TokenData | None:
    return _cache.get(token)


def subject_cached(request: Any) -> bool:
    """Is this request's X-Subject-Token already validated in the cache? Then validating it
    needs no I/O and the API runs the handler on the event loop (``Route.inline``)."""
    subject = request.headers.get("x-subject-token")
    return bool(subject) and "allow_expired" not in request.query_params \
        and _cache.get(subject) is not None


def validate(token: str, allow_expired: bool = False) -> TokenData:
    """Full validation (cache, then decrypt + DB). Raises NotFound for any invalid token."""
    if not allow_expired:
        hit = _cache.get(token)
        if hit is not None:
            return hit
    payload = decrypt(token)
    now = time.time()
    if payload.expires_at <= now:
        if not allow_expired or payload.expires_at + _conf().allow_expired_window <= now:
            raise errors.NotFound("The token has expired or could not be found.")
    rev = revision.current()
    from onestack.identity import service
    data = service.token_data(payload)
    if is_revoked(payload, data.roles, data.project_domain_id, data.user_domain_id):
        raise errors.NotFound("The token has been revoked.")
    if not allow_expired:
        _cache.put(token, rev, data)
    return data
