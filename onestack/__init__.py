"""onestack: an OpenStack-compatible IaaS cloud in one process (or many)."""

__version__ = "0.1.0"
