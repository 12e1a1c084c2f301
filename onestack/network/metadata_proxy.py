"""The metadata proxy: 169.254.169.254 for instances, served from onestack's own process.

A listening socket is opened *inside* each router namespace (the router's nft DNAT sends
169.254.169.254:80 from internal interfaces to ``[dataplane] metadata_proxy_port``) and,
for networks no router serves, inside the DHCP namespace on 169.254.169.254:80 (DHCP
option 121 routes the guest there). A short-lived thread enters the namespace (setns is
per thread), opens the socket and ends; one acceptor thread then serves every socket, so
there is no process per router.

The instance is identified by where the connection arrived (the router or network the
socket belongs to) and the connection's source address -> port -> device_id, never by
anything the guest sends. The content comes from compute (``compute.interface.metadata``).
"""
from __future__ import annotations

import ctypes
import http.server
import logging
import os
import selectors
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
Key = tuple[str, str]        # ("router", router_id) | ("network", network_id)
MAX_BODY = 4096


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def open_listener(netns: str, ip: str, port: int) -> socket.socket:
    """A TCP socket listening on ip:port inside namespace ``netns``."""
    box: dict[str, Any] = {}

    def enter() -> None:
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if _libc().setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({netns}) failed")
            finally:
                os.close(fd)
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if ip != "0.0.0.0":
                s.setsockopt(socket.SOL_IP, 15, 1)          # IP_FREEBIND: the address may come later
            s.bind((ip, port))
            s.listen(64)
            s.setblocking(False)
            box["sock"] = s
        except BaseException as e:      # handed to the caller's thread
            box["error"] = e

    t = threading.Thread(target=enter, name=f"setns-{netns[:20]}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["sock"]


def _ns_inode(netns: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{netns}").st_ino
    except OSError:
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "onestack-metadata"
    protocol_version = "HTTP/1.0"
    timeout = 10

    def _serve(self, method: str) -> None:
        proxy: MetadataProxy = self.server.proxy      # type: ignore[attr-defined]
        body = b""
        if method == "POST":
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                n = -1
            if n < 0 or n > MAX_BODY:
                self._reply(400, b"Request body too large or malformed.\n")
                return
            body = self.rfile.read(n)
        try:
            status, ctype, data = proxy.answer(self.server.key, self.client_address[0],  # type: ignore[attr-defined]
                                               method, self.path, body)
        except Exception:
            log.exception("metadata request %s %s from %s failed", method, self.path, self.client_address[0])
            status, ctype, data = 500, "text/plain", b"An unknown error has occurred.\n"
        self._reply(status, data, ctype)

    def _reply(self, status: int, data: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("metadata %s: " + fmt, self.client_address[0], *args)


class _ServerInfo:
    def __init__(self, proxy: "MetadataProxy", key: Key):
        self.proxy, self.key = proxy, key


class MetadataProxy:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: dict[Key, tuple[socket.socket, str, str, int, int | None]] = {}
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="metadata")
        self._thread: threading.Thread | None = None
        self._closed = False
        # (key, source ip) -> instance uuid or None; replaced in tests
        self.resolve: Callable[[Key, str], str | None] = _resolve
        self.respond: Callable[[str, str, str, bytes], tuple[int, str, bytes]] = _respond

    # -------------------------------------------------------------- listeners
    def ensure(self, key: Key, netns: str, ip: str, port: int) -> None:
        """A listener for ``key`` on ip:port in ``netns`` (re-opened if the namespace was
        re-created or the address changed)."""
        ino = _ns_inode(netns)
        with self._lock:
            cur = self._listeners.get(key)
            if cur and cur[1:4] == (netns, ip, port) and cur[4] == ino:
                return
        sock = open_listener(netns, ip, port)
        with self._lock:
            old = self._listeners.pop(key, None)
            if old:
                self._unregister(old[0])
            self._listeners[key] = (sock, netns, ip, port, ino)
            self._sel.register(sock, selectors.EVENT_READ, key)
            self._start()
        self._wake()
        log.info("metadata proxy for %s listening on %s:%d in %s", key, ip, port, netns)

    def remove(self, key: Key) -> None:
        with self._lock:
            old = self._listeners.pop(key, None)
            if old:
                self._unregister(old[0])
        if old:
            self._wake()

    def keys(self) -> list[Key]:
        with self._lock:
            return list(self._listeners)

    def _unregister(self, sock: socket.socket) -> None:
        try:
            self._sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="metadata-proxy", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._closed:
            for skey, _ev in self._sel.select(timeout=5):
                if skey.data is None:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                try:
                    conn, addr = skey.fileobj.accept()          # type: ignore[union-attr]
                except (BlockingIOError, OSError):
                    continue
                conn.setblocking(True)
                self._pool.submit(self._handle, conn, addr, skey.data)

    def _handle(self, conn: socket.socket, addr: Any, key: Key) -> None:
        try:
            _Handler(conn, addr, _ServerInfo(self, key))
        except Exception:
            log.debug("metadata connection from %s ended badly", addr, exc_info=True)
        finally:
            conn.close()

    def close(self) -> None:
        self._closed = True
        with self._lock:
            for key in list(self._listeners):
                self._unregister(self._listeners.pop(key)[0])
        self._wake()

    # -------------------------------------------------------------- requests
    def answer(self, key: Key, source_ip: str, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        instance = self.resolve(key, source_ip)
        if instance is None:
            log.info("metadata request from unknown address %s on %s %s", source_ip, *key)
            return 404, "text/plain", b"Not Found: no instance has this address here.\n"
        return self.respond(instance, method, path, body)


def _resolve(key: Key, source_ip: str) -> str | None:
    from onestack.network import interface
    return interface.instance_by_address(key[0], key[1], source_ip)


def _respond(instance: str, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    from onestack.compute import interface as compute
    return compute.metadata(instance, method, path, body)


PROXY = MetadataProxy()
