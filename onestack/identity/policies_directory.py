"""Upstream default policies for the directory (domains, projects, users, groups, roles,
assignments)."""
from onestack.policy import Rule  # noqa: F401

RULES: list = []
