"""Cinder v3 handlers."""
MIN_VERSION = "3.0"
MAX_VERSION = "3.70"
