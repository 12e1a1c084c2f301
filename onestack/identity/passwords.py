"""Password and secret hashing with bcrypt (upstream Keystone's default KDF).

bcrypt releases the GIL, so hashing in the request worker threads uses every core.
bcrypt only reads the first 72 bytes; longer secrets are pre-hashed with SHA-256 (as a
base64 string, so no NUL byte reaches bcrypt) — the same approach passlib's
bcrypt_sha256 takes.
"""
from __future__ import annotations

import base64
import hashlib

import bcrypt

PREFIX = "$bcrypt-sha256$"


def _prepare(secret: str) -> tuple[bytes, bool]:
    raw = secret.encode("utf-8")
    if len(raw) <= 72:
        return raw, False
    return base64.b64encode(hashlib.sha256(raw).digest()), True


def hash_password(secret: str, rounds: int = 12) -> str:
    raw, pre = _prepare(secret)
    h = bcrypt.hashpw(raw, bcrypt.gensalt(rounds)).decode()
    return PREFIX + h if pre else h


def check_password(secret: str, hashed: str | None) -> bool:
    if not hashed or secret is None:
        return False
    raw, pre = _prepare(secret)
    if hashed.startswith(PREFIX):
        if not pre:
            return False
        hashed = hashed[len(PREFIX):]
    elif pre:
        return False
    try:
        return bcrypt.checkpw(raw, hashed.encode())
    except ValueError:
        return False
