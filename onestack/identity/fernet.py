"""Fernet key repositories (tokens and credentials), rotated as upstream does.

Files are named by integer: ``0`` is the staged key (next primary), the highest number is
the primary (encrypts), the rest are secondary (decrypt only). Rotation promotes the
staged key to primary, stages a new key and prunes beyond ``max_active``.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet


class KeyRepository:
    def __init__(self, path: Path, max_active: int = 3):
        self.path = Path(path)
        self.max_active = max(max_active, 2)
        self._lock = threading.Lock()
        self._fernet: MultiFernet | None = None
        self._mtime: float | None = None

    def _write_key(self, name: str) -> None:
        tmp = self.path / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(Fernet.generate_key())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)

    def _indexes(self) -> list[int]:
        return sorted(int(p.name) for p in self.path.iterdir() if p.name.isdigit())

    def indexes(self) -> list[int]:
        """Key file numbers present (0 = staged, highest = primary)."""
        return self._indexes()

    def setup(self) -> None:
        """Create the repository with a staged and a primary key (idempotent)."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock:
            idx = self._indexes()
            if 0 not in idx:
                self._write_key("0")
            if len(self._indexes()) < 2:
                self._write_key("1")
        self._fernet = None

    def rotate(self) -> None:
        with self._lock:
            idx = self._indexes()
            new_primary = max(idx) + 1
            os.replace(self.path / "0", self.path / str(new_primary))
            self._write_key("0")
            idx = self._indexes()
            secondaries = [i for i in idx if i not in (0, new_primary)]
            excess = len(idx) - self.max_active
            for i in sorted(secondaries)[:max(excess, 0)]:
                (self.path / str(i)).unlink()
            self._fernet = None
            os.utime(self.path)

    def generation(self) -> float:
        """Changes whenever the key files change (this or another process rotated)."""
        return os.stat(self.path).st_mtime

    def fernet(self) -> MultiFernet:
        """Primary first, then secondaries, then the staged key (reloaded after rotation)."""
        mtime = os.stat(self.path).st_mtime
        f = self._fernet
        if f is not None and mtime == self._mtime:
            return f
        with self._lock:
            idx = self._indexes()
            order = sorted((i for i in idx if i != 0), reverse=True) + [0]
            raw = [(self.path / str(i)).read_bytes().strip() for i in order]
            self._primary_hash = hashlib.sha256(raw[0]).hexdigest()[:40]
            self._fernet = MultiFernet([Fernet(k) for k in raw])
            self._mtime = mtime
            return self._fernet

    def primary_key_hash(self) -> str:
        """A fingerprint of the primary key (stored beside data it encrypted)."""
        self.fernet()
        return self._primary_hash
