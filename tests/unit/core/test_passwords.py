"""bcrypt password hashing, including secrets longer than bcrypt's 72 bytes."""
from __future__ import annotations

import pytest

from onestack.identity import passwords


@pytest.fixture(scope="module")
def hashed():
    return passwords.hash_password("correct horse", rounds=4)


def test_right_and_wrong(hashed):
    assert hashed.startswith("$2b$04$")
    assert passwords.check_password("correct horse", hashed)
    assert not passwords.check_password("correct horsE", hashed)
    assert not passwords.check_password("", hashed)


def test_salted():
    assert passwords.hash_password("x", rounds=4) != passwords.hash_password("x", rounds=4)


def test_cost_is_honoured():
    assert passwords.hash_password("x", rounds=5).startswith("$2b$05$")


def test_long_passwords_use_every_byte():
    a = "a" * 72 + "tail-one"
    b = "a" * 72 + "tail-two"
    h = passwords.hash_password(a, rounds=4)
    assert h.startswith(passwords.PREFIX)
    assert passwords.check_password(a, h)
    assert not passwords.check_password(b, h)      # plain bcrypt would accept this
    assert not passwords.check_password("a" * 72, h)
    very_long = "p" * 4096
    assert passwords.check_password(very_long, passwords.hash_password(very_long, rounds=4))


def test_seventy_two_bytes_exactly_and_multibyte():
    exact = "b" * 72
    h = passwords.hash_password(exact, rounds=4)
    assert not h.startswith(passwords.PREFIX) and passwords.check_password(exact, h)
    # 30 characters but 90 bytes: pre-hashed by bytes, not characters
    uni = "ü" * 45
    hu = passwords.hash_password(uni, rounds=4)
    assert hu.startswith(passwords.PREFIX) and passwords.check_password(uni, hu)
    assert not passwords.check_password("ü" * 36, hu)


def test_a_short_password_never_matches_a_prehashed_hash_and_vice_versa(hashed):
    long_hash = passwords.hash_password("z" * 100, rounds=4)
    assert not passwords.check_password("z" * 10, long_hash)
    assert not passwords.check_password("correct horse" + "x" * 80, hashed)


@pytest.mark.parametrize("stored", [None, "", "not-a-bcrypt-hash", "$2b$04$short"])
def test_missing_or_corrupt_hashes_never_match(stored):
    assert not passwords.check_password("anything", stored)


def test_none_secret():
    assert not passwords.check_password(None, passwords.hash_password("x", rounds=4))  # type: ignore[arg-type]
