"""Key pairs: import (ssh-rsa, ssh-ed25519, ecdsa, x509) or generate (private key returned once)."""
from __future__ import annotations

import base64
import hashlib
from typing import Any

from sqlalchemy import func, select

from onestack import errors
from onestack.compute import models as m
from onestack.compute.errors import KeypairNotFound


# cryptography's x509/serialization modules cost ~80 ms to import: loaded on first use, not at
# start-up (the cloud's cold start budget is 1.5 s)
def fingerprint(public_key: str, key_type: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    try:
        if key_type == "x509":
            cert = x509.load_pem_x509_certificate(public_key.encode())
            digest = cert.fingerprint(hashes.SHA1())
        else:
            serialization.load_ssh_public_key(public_key.strip().encode())
            digest = hashlib.md5(base64.b64decode(public_key.split()[1])).digest()  # noqa: S324 (upstream format)
    except Exception:
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    return ":".join(f"{b:02x}" for b in digest)


def generate(key_type: str = "ssh", subject: str = "onestack") -> tuple[str, str]:
    """(private key PEM, public key): an OpenSSH public key, or for x509 a self-signed
    certificate (PEM) for ``subject``, as upstream generates them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    if key_type == "x509":
        import datetime as dt
        from cryptography.x509.oid import NameOID
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject[:64] or "onestack")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
        return private, cert.public_bytes(serialization.Encoding.PEM).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return private, public + " Generated-by-Nova"


def get(s: Any, user_id: str, name: str) -> m.KeyPair:
    kp = s.scalar(select(m.KeyPair).where(m.KeyPair.user_id == user_id, m.KeyPair.name == name))
    if kp is None:
        raise KeypairNotFound(name=name, user_id=user_id)
    return kp


def create(s: Any, user_id: str, project_id: str | None, name: str, key_type: str,
           public_key: str | None, limit: int) -> tuple[m.KeyPair, str | None]:
    count = s.scalar(select(func.count()).select_from(m.KeyPair).where(m.KeyPair.user_id == user_id))
    if limit >= 0 and count + 1 > limit:
        raise errors.OverQuota("Quota exceeded, too many key pairs.")
    if s.scalar(select(m.KeyPair.id).where(m.KeyPair.user_id == user_id, m.KeyPair.name == name)):
        raise errors.Conflict(f"Key pair '{name}' already exists.")
    private = None
    if public_key is None:
        private, public_key = generate(key_type, user_id)
    fp = fingerprint(public_key, key_type)
    kp = m.KeyPair(name=name, user_id=user_id, project_id=project_id, fingerprint=fp,
                   public_key=public_key, type=key_type)
    s.add(kp)
    s.flush()
    return kp, private


def list_for(s: Any, user_id: str, limit: int | None, marker: str | None) -> list[m.KeyPair]:
    stmt = select(m.KeyPair).where(m.KeyPair.user_id == user_id).order_by(m.KeyPair.name)
    if marker is not None:
        if get(s, user_id, marker) is None:
            pass
        stmt = stmt.where(m.KeyPair.name > marker)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(s.scalars(stmt))
