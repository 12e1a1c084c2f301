"""Microversion negotiation (OpenStack-API-Version and the legacy per-service headers)."""
from __future__ import annotations

import functools
import re
from typing import Any

from onestack import errors

_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@functools.total_ordering
class APIVersion:
    __slots__ = ("major", "minor")

    def __init__(self, text: str | tuple[int, int]):
        if isinstance(text, tuple):
            self.major, self.minor = text
            return
        m = _RE.match(text.strip())
        if not m:
            raise ValueError(f"Invalid microversion {text!r}")
        self.major, self.minor = int(m.group(1)), int(m.group(2))

    def __eq__(self, other: Any) -> bool:
        other = other if isinstance(other, APIVersion) else APIVersion(other)
        return (self.major, self.minor) == (other.major, other.minor)

    def __lt__(self, other: Any) -> bool:
        other = other if isinstance(other, APIVersion) else APIVersion(other)
        return (self.major, self.minor) < (other.major, other.minor)

    def __hash__(self) -> int:
        return hash((self.major, self.minor))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    __repr__ = __str__

    def matches(self, min_version: str | None = None, max_version: str | None = None) -> bool:
        """min <= self <= max (either bound optional)."""
        if min_version and self < APIVersion(min_version):
            return False
        if max_version and self > APIVersion(max_version):
            return False
        return True


def negotiate(headers: Any, spec: Any) -> APIVersion:
    """The version requested by ``headers`` for ``spec`` (a MicroversionSpec).

    No header -> the minimum; ``latest`` -> the maximum; malformed -> 400; out of range
    -> 406 (as upstream).
    """
    requested = None
    for value in headers.getlist("openstack-api-version") if hasattr(headers, "getlist") else \
            [headers.get("openstack-api-version")] if headers.get("openstack-api-version") else []:
        for part in value.split(","):
            words = part.strip().split()
            if len(words) == 2 and words[0].lower() == spec.service_type:
                requested = words[1]
    if requested is None:
        for name in spec.legacy_headers:
            if headers.get(name):
                requested = headers.get(name).strip()
                break
    lo, hi = APIVersion(spec.min), APIVersion(spec.max)
    if requested is None:
        return lo
    if requested.lower() == "latest":
        return hi
    try:
        version = APIVersion(requested)
    except ValueError:
        raise errors.BadRequest(
            f"API Version String {requested} is of invalid format. Must be of format "
            "MajorNum.MinorNum.") from None
    if not lo <= version <= hi:
        raise errors.NotAcceptable(
            f"Version {requested} is not supported by the API. Minimum is {lo} and maximum is {hi}.")
    return version


def response_headers(spec: Any, version: APIVersion) -> dict[str, str]:
    h = {"OpenStack-API-Version": f"{spec.service_type} {version}",
         "Vary": "OpenStack-API-Version"}
    for name in spec.legacy_headers:
        h[name] = str(version)
        h["Vary"] += f", {name}"
    return h
