"""Upstream default policies for catalog admin, app creds, credentials, trusts, limits."""
from onestack.policy import Rule  # noqa: F401

RULES: list = []
