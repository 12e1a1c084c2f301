"""The credential key repository (encrypts /v3/credentials blobs at rest)."""
from __future__ import annotations

from typing import Any

_repo: Any = None


def set_repository(repo: Any) -> None:
    global _repo
    _repo = repo


def encrypt(blob: str) -> tuple[str, str]:
    """(ciphertext, hash of the primary key used) for a credential blob."""
    return _repo.fernet().encrypt(blob.encode()).decode(), _repo.primary_key_hash()


def decrypt(ciphertext: str) -> str:
    return _repo.fernet().decrypt(ciphertext.encode()).decode()
