"""Address arithmetic for subnets: CIDR/gateway/pool validation and candidate addresses.

Pure functions (no DB). Allocation itself (service.allocate_ip) inserts into
network_ip_allocations, whose primary key (network_id, ip_address) makes a duplicate
impossible; a lost race simply moves on to the next candidate.
"""
from __future__ import annotations

import ipaddress
import random
from typing import Iterator

from onestack.network.errors import InvalidInput

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


def bad(msg: str) -> InvalidInput:
    return InvalidInput(error_message=msg)


def parse_cidr(value: str, ip_version: int | None = None) -> IPNet:
    if not isinstance(value, str):
        raise bad(f"'{value}' is not a valid IP subnet")
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise bad(f"'{value}' is not a valid IP subnet") from None
    if "/" not in value:
        raise bad(f"'{value}' is not a valid IP subnet")
    if str(net) != value.lower() and str(net.network_address) != value.split("/")[0]:
        # upstream accepts host bits only when normalised; report what it would be
        raise bad(f"'{value}' isn't a recognized IP subnet cidr, '{net}' is recommended")
    if ip_version is not None and net.version != ip_version:
        raise bad("Cidr and ip_version do not match" if True else "")
    return net


def parse_ip(value: object, what: str = "IP address") -> IPAddr:
    if not isinstance(value, str):
        raise bad(f"'{value}' is not a valid {what}")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise bad(f"'{value}' is not a valid {what}") from None


def first_last(net: IPNet) -> tuple[int, int]:
    """The usable host range of ``net`` (upstream: network and, for v4, broadcast excluded)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        if net.prefixlen >= 31:
            return first, last
        return first + 1, last - 1
    if net.prefixlen >= 127:
        return first, last
    return first + 1, last


def default_gateway(net: IPNet) -> str | None:
    lo, hi = first_last(net)
    return str(ipaddress.ip_address(lo)) if lo <= hi else None


def default_pools(net: IPNet, gateway: str | None) -> list[dict[str, str]]:
    lo, hi = first_last(net)
    if lo > hi:
        return []
    ranges = [(lo, hi)]
    if gateway is not None:
        g = int(ipaddress.ip_address(gateway))
        out = []
        for a, b in ranges:
            if a <= g <= b:
                if a <= g - 1:
                    out.append((a, g - 1))
                if g + 1 <= b:
                    out.append((g + 1, b))
            else:
                out.append((a, b))
        ranges = out
    mk = ipaddress.ip_address if net.version == 4 else (lambda i: ipaddress.IPv6Address(i))
    return [{"start": str(mk(a)), "end": str(mk(b))} for a, b in ranges]


def validate_pools(net: IPNet, pools: object, gateway: str | None) -> list[dict[str, str]]:
    if not isinstance(pools, list):
        raise bad("Invalid data format for IP pool: allocation_pools must be a list")
    out: list[tuple[int, int]] = []
    for p in pools:
        if not isinstance(p, dict) or set(p) != {"start", "end"}:
            raise bad(f"Invalid data format for IP pool: '{p}'")
        a, b = parse_ip(p["start"]), parse_ip(p["end"])
        if a.version != net.version or b.version != net.version:
            raise bad(f"Invalid IP pool: '{p['start']}-{p['end']}'. IP version mismatch")
        if int(a) > int(b):
            raise bad(f"Invalid IP pool: '{p['start']}-{p['end']}'")
        if a not in net or b not in net:
            raise bad(f"The allocation pool {p['start']}-{p['end']} spans beyond the subnet cidr {net}.")
        lo, hi = int(net.network_address), int(net.broadcast_address)
        if net.version == 4 and net.prefixlen < 31 and (int(a) == lo or int(b) == hi):
            raise bad(f"The allocation pool {p['start']}-{p['end']} spans beyond the subnet cidr {net}.")
        out.append((int(a), int(b)))
    out.sort()
    for (a1, b1), (a2, b2) in zip(out, out[1:]):
        if a2 <= b1:
            raise bad(f"Found overlapping allocation pools: {ipaddress.ip_address(a1)}-"
                      f"{ipaddress.ip_address(b1)} and {ipaddress.ip_address(a2)}-{ipaddress.ip_address(b2)}")
    if gateway is not None:
        g = int(ipaddress.ip_address(gateway))
        for a, b in out:
            if a <= g <= b:
                raise bad(f"Gateway ip {gateway} conflicts with allocation pool "
                          f"{ipaddress.ip_address(a)}-{ipaddress.ip_address(b)}")
    return [{"start": str(ipaddress.ip_address(a)), "end": str(ipaddress.ip_address(b))} for a, b in out]


def pool_size(pools: list[dict[str, str]]) -> int:
    return sum(int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
               for p in pools)


def in_pools(ip: str, pools: list[dict[str, str]]) -> bool:
    i = int(ipaddress.ip_address(ip))
    return any(int(ipaddress.ip_address(p["start"])) <= i <= int(ipaddress.ip_address(p["end"]))
               for p in pools)


def candidates(pools: list[dict[str, str]], taken: set[str] | None) -> Iterator[str]:
    """Free addresses of ``pools``: in order when ``taken`` is known, else random probes."""
    ranges = [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])),
               ipaddress.ip_address(p["start"]).version) for p in pools]
    if taken is not None:
        for a, b, v in ranges:
            for i in range(a, b + 1):
                s = str(ipaddress.IPv4Address(i) if v == 4 else ipaddress.IPv6Address(i))
                if s not in taken:
                    yield s
        return
    total = sum(b - a + 1 for a, b, _ in ranges)
    for _ in range(8):
        k = random.randrange(total)
        for a, b, v in ranges:
            if k <= b - a:
                i = a + k
                yield str(ipaddress.IPv4Address(i) if v == 4 else ipaddress.IPv6Address(i))
                break
            k -= b - a + 1


def eui64(net: IPNet, mac: str) -> str:
    """SLAAC address of ``mac`` in ``net`` (modified EUI-64)."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    iid = bytes(b[:3] + [0xFF, 0xFE] + b[3:])
    return str(ipaddress.IPv6Address(int(net.network_address) | int.from_bytes(iid, "big")))


def random_mac(base: str = "fa:16:3e:00:00:00") -> str:
    parts = base.split(":")[:3]
    return ":".join(parts + [f"{random.randrange(256):02x}" for _ in range(3)])
