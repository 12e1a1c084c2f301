"""Subprocess helpers shared by the data-plane modules (logging every kernel command)."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from typing import Any, Sequence

LOG = logging.getLogger("onestack.dataplane")


class CommandError(RuntimeError):
    def __init__(self, cmd: Sequence[str], rc: int, stderr: str):
        super().__init__(f"{' '.join(cmd)} -> rc={rc}: {stderr.strip()[:500]}")
        self.cmd, self.rc, self.stderr = list(cmd), rc, stderr


def in_ns(cmd: Sequence[str], ns: str | None) -> list[str]:
    return (["ip", "netns", "exec", ns] if ns else []) + list(cmd)


def run(cmd: Sequence[str], ns: str | None = None, *, check: bool = True, input: str | None = None,
        timeout: float = 60) -> str:
    """Run ``cmd`` (inside netns ``ns`` when given); returns stdout; raises CommandError."""
    full = in_ns(cmd, ns)
    LOG.debug("run: %s", " ".join(full))
    p = subprocess.run(full, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise CommandError(full, p.returncode, p.stderr)
    return p.stdout


def nft(script: str, ns: str | None = None) -> None:
    """Apply an nft script atomically (one transaction)."""
    run(["nft", "-f", "-"], ns, input=script)


def nft_json(args: Sequence[str], ns: str | None = None) -> list[dict[str, Any]]:
    out = run(["nft", "-j", *args], ns, check=False)
    if not out.strip():
        return []
    return json.loads(out).get("nftables", [])


def which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(path: str) -> int | None:
    try:
        return int(open(path).read().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []
