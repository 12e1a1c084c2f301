"""Fernet key repositories and token payloads: rotation keeps old tokens valid until pruned."""
from __future__ import annotations

import time

import pytest
from cryptography.fernet import InvalidToken

from onestack import errors
from onestack.identity import fernet, tokens


@pytest.fixture
def repo(tmp_path):
    r = fernet.KeyRepository(tmp_path / "keys", max_active=3)
    r.setup()
    return r


def test_setup_creates_staged_and_primary_keys(repo):
    assert repo.indexes() == [0, 1]
    mode = (repo.path / "1").stat().st_mode & 0o777
    assert mode == 0o600
    before = {p.name: p.read_bytes() for p in repo.path.iterdir()}
    repo.setup()   # idempotent
    assert {p.name: p.read_bytes() for p in repo.path.iterdir()} == before


def test_rotation_keeps_old_tokens_until_pruned(repo):
    old = repo.fernet().encrypt(b"issued-before")
    repo.rotate()
    assert repo.indexes() == [0, 1, 2]
    assert repo.fernet().decrypt(old) == b"issued-before"
    newer = repo.fernet().encrypt(b"issued-after")
    repo.rotate()
    assert repo.indexes() == [0, 2, 3]          # max_active=3: key 1 is gone
    with pytest.raises(InvalidToken):
        repo.fernet().decrypt(old)
    assert repo.fernet().decrypt(newer) == b"issued-after"
    repo.rotate()
    with pytest.raises(InvalidToken):
        repo.fernet().decrypt(newer)


def test_staged_key_is_promoted_and_already_trusted(repo):
    staged = (repo.path / "0").read_bytes()
    repo.rotate()
    assert (repo.path / "2").read_bytes() == staged    # staged -> primary
    assert (repo.path / "0").read_bytes() != staged   # a new staged key


def test_token_from_the_staged_key_validates_before_rotation(repo, tmp_path):
    # another node that rotated first encrypts with what is still our staged key
    from cryptography.fernet import Fernet
    staged = Fernet((repo.path / "0").read_bytes().strip())
    assert repo.fernet().decrypt(staged.encrypt(b"x")) == b"x"


def test_another_process_rotating_is_picked_up(repo):
    token = repo.fernet().encrypt(b"t")
    other = fernet.KeyRepository(repo.path, max_active=3)
    other.rotate()
    other.rotate()                                 # prunes the key `token` used
    time.sleep(0.01)
    with pytest.raises(InvalidToken):
        repo.fernet().decrypt(token)
    assert repo.fernet().decrypt(other.fernet().encrypt(b"u")) == b"u"


def test_max_active_is_at_least_two(tmp_path):
    r = fernet.KeyRepository(tmp_path / "k", max_active=1)
    r.setup()
    for _ in range(3):
        r.rotate()
    assert len(r.indexes()) == 2


def test_primary_key_hash_changes_on_rotation(repo):
    h = repo.primary_key_hash()
    assert len(h) == 40 and repo.primary_key_hash() == h
    repo.rotate()
    assert repo.primary_key_hash() != h


# ------------------------------------------------------------------ token payloads
@pytest.fixture
def token_keys(repo):
    saved = tokens._repo
    tokens.set_key_repository(repo)
    yield repo
    tokens._repo = saved


def payload(**kw):
    now = time.time()
    base = dict(user_id="u" * 32, methods=["password", "token"], expires_at=now + 3600,
                issued_at=now, audit_ids=[tokens.random_audit_id()], project_id="p" * 32)
    return tokens.Payload(**{**base, **kw})


def test_payload_round_trip_and_rotation(token_keys):
    p = payload(app_cred_id="ac", trust_id=None)
    tok = tokens.encrypt(p)
    assert "=" not in tok and len(tok) < 300
    back = tokens.decrypt(tok)
    assert back == tokens.Payload(**{**p.__dict__, "methods": sorted(p.methods, key=list(tokens.METHODS).index)})
    assert back.scope == "project"
    token_keys.rotate()
    assert tokens.decrypt(tok).user_id == p.user_id    # still valid after one rotation
    token_keys.rotate()
    token_keys.rotate()
    with pytest.raises(errors.NotFound):
        tokens.decrypt(tok)


def test_scopes(token_keys):
    assert payload(project_id=None, system="all").scope == "system"
    assert payload(project_id=None, domain_id="d").scope == "domain"
    assert payload(project_id=None).scope == "unscoped"


@pytest.mark.parametrize("bad", ["", "garbage", "gAAAAA" + "x" * 100, "a" * 2000, "é" * 10])
def test_garbage_tokens_are_not_found(token_keys, bad):
    with pytest.raises(errors.NotFound):
        tokens.decrypt(bad)


def test_tampered_token_is_not_found(token_keys):
    tok = tokens.encrypt(payload())
    flipped = tok[:50] + ("A" if tok[50] != "A" else "B") + tok[51:]
    with pytest.raises(errors.NotFound):
        tokens.decrypt(flipped)
