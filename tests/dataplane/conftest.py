"""Root fixtures for the data-plane tests.

Every test runs as root in namespaces it creates (``os-host-<token>...`` holds the bridges,
so nothing touches the root namespace's interfaces or nft tables). All names carry a
per-session token; after each test an autouse finalizer sweeps everything with that token
(or below the session's state dir) with ``inventory.cleanup`` and asserts that nothing is
left — the same call the crash test will make.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from typing import Callable, Iterator

import pytest

from onestack.dataplane import inventory, names, net

TOKEN = uuid.uuid4().hex[:4]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "data-plane tests need root (namespaces, bridges, nftables)"
    for tool in ("ip", "nft", "busybox"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            return f"{tool} is not installed (make apt-test installs it)"
    try:
        subprocess.run(["ip", "netns", "add", f"os-probe-{TOKEN}"], check=True, capture_output=True)
        subprocess.run(["ip", "netns", "del", f"os-probe-{TOKEN}"], check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        return f"cannot create network namespaces here: {e.stderr.decode().strip()}"
    return None


SKIP = _skip_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/dataplane/" in str(item.fspath):
            item.add_marker(pytest.mark.root)
            if SKIP:
                item.add_marker(pytest.mark.skip(reason=SKIP))


def uid() -> str:
    """A resource id whose 8-hex short name carries the session token."""
    return str(uuid.UUID(TOKEN + uuid.uuid4().hex[4:]))


@pytest.fixture(scope="session")
def state_dir() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="os-dp-")
    yield d
    leftovers = inventory.cleanup(d, only=[TOKEN])
    shutil.rmtree(d, ignore_errors=True)
    assert not leftovers, f"session leftovers: {leftovers}"


@pytest.fixture(autouse=True)
def _sweep(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: remove what it left, then prove nothing of this session survives."""
    yield
    if SKIP or "state_dir" not in request.fixturenames:
        return
    sd = request.getfixturevalue("state_dir")
    inventory.cleanup(sd, only=[TOKEN])
    left = [o for o in inventory.inventory(sd)
            if TOKEN in o.name or TOKEN in (o.netns or "") or o.kind in ("mount", "loop", "runc", "process")]
    assert not left, f"objects left after cleanup: {left}"


@pytest.fixture
def host_ns(state_dir: str) -> Iterator[str]:
    """A namespace playing the hypervisor's root namespace (bridges, port devices, SG tables)."""
    ns = names.host_netns(f"{TOKEN}{uuid.uuid4().hex[:6]}")
    net.ensure_netns(ns)
    yield ns
    net.remove_netns(ns)


def sh(ns: str | None, *cmd: str, timeout: float = 10, check: bool = False) -> subprocess.CompletedProcess:
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=check)


def ping(ns: str, ip: str, count: int = 1) -> bool:
    return sh(ns, "busybox", "ping", "-c", str(count), "-W", "1", ip).returncode == 0


def wait_for(pred: Callable[[], bool], timeout: float = 10, step: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, a = s.accept(); c.sendall(a[0].encode()); c.close()
"""
_CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print(c.recv(100).decode())
except OSError as e:
    print("ERR", e); sys.exit(1)
"""


class Servers:
    """TCP servers (in namespaces) that answer each connection with the peer's address."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, ns: str, ip: str, port: int) -> None:
        p = subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-c", _SERVER, ip, str(port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        assert wait_for(lambda: f"{ip}:{port}" in sh(ns, "ss", "-Hltn").stdout, 10), f"server {ip}:{port}"

    def stop(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


@pytest.fixture
def servers() -> Iterator[Servers]:
    s = Servers()
    yield s
    s.stop()


def connect(ns: str, ip: str, port: int, timeout: float = 1.5) -> str | None:
    """The address the server saw us coming from, or None when the connection failed."""
    r = sh(ns, "python3", "-c", _CLIENT, ip, str(port), str(timeout), timeout=timeout + 5)
    return r.stdout.strip() if r.returncode == 0 else None


@pytest.fixture(scope="session")
def image(state_dir: str) -> dict:
    """The tiny guest image, built once per session (skips when its packages are missing)."""
    from onestack.dataplane import image_build
    missing = [p for p in ("busybox", "cpio") if not shutil.which(p)]
    if missing or not os.path.isdir("/lib/modules"):
        pytest.skip(f"cannot build the guest image: missing {missing or 'linux-image-amd64'} "
                    "(make apt-runtime installs them)")
    return image_build.build_image(os.path.join(state_dir, "image-cache"))
