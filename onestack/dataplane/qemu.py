"""qemu VMs: TCG (KVM only where it can really run a stock guest), virtio disks and NICs
(taps on bridges), serial console to a file, a QMP socket for power actions and disk
hot-plug.

Layout: ``<state_dir>/vms/<names.qemu_name(id)>/`` holds ``pid``, ``qmp.sock``,
``serial.log``. qemu runs daemonized (it survives the agent); its command line names
the state dir, so ``inventory`` finds it even when the pid file is lost. When the taps
live in a host namespace, qemu is started inside it (``netns``) to open them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterable

from onestack.dataplane import names
from onestack.dataplane._util import LOG, CommandError, cmdline, pid_alive, read_pid

QEMU = "qemu-system-x86_64"


def available() -> str | None:
    """None when qemu can run here, else the reason it cannot."""
    if not shutil.which(QEMU):
        return f"{QEMU} is not installed (apt-get install qemu-system-x86)"
    return None


def kvm_usable() -> bool:
    """KVM only when /dev/kvm opens, the CPU has vmx/svm and the host is not itself a PVM
    guest (kvm_pvm can only run PVM-enabled guest kernels: stock guests hang)."""
    if not os.path.exists("/dev/kvm") or os.path.exists("/sys/module/kvm_pvm"):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            if not re.search(r"\b(vmx|svm)\b", f.read()):
                return False
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    return True


def vm_dir(state_dir: str, instance_id: str) -> Path:
    return Path(state_dir).resolve() / "vms" / names.qemu_name(instance_id)


def qmp_path(state_dir: str, instance_id: str) -> str:
    """The QMP socket: in the VM directory, or (when that path would not fit a UNIX socket
    address, 107 bytes) under /run/onestack-qmp with a name hashed from it."""
    p = str(vm_dir(state_dir, instance_id) / "qmp.sock")
    if len(p) < 100:
        return p
    os.makedirs("/run/onestack-qmp", mode=0o700, exist_ok=True)
    return f"/run/onestack-qmp/{hashlib.sha1(p.encode()).hexdigest()[:20]}.sock"


def pid(state_dir: str, instance_id: str) -> int | None:
    d = vm_dir(state_dir, instance_id)
    p = read_pid(str(d / "pid"))
    if p and pid_alive(p) and any(str(d) in a for a in cmdline(p)):
        return p
    return None


def start(state_dir: str, instance_id: str, *, kernel: str | None, initrd: str | None = None,
          append: str = "console=ttyS0 quiet panic=-1", memory_mb: int = 256, vcpus: int = 1,
          disks: Iterable[dict[str, Any]] = (), nics: Iterable[dict[str, Any]] = (),
          netns: str | None = None, accel: str = "auto", paused: bool = False,
          extra: Iterable[str] = ()) -> int:
    """Ensure the VM runs; returns qemu's pid.
    disks: [{"path", "format": "raw"|"qcow2", "id"}] (virtio-blk); nics: [{"tap", "mac"}]
    (virtio-net on an existing tap, see ``net.plug_port_tap``). ``kernel`` None: the
    firmware boots the first disk (images with their own boot loader)."""
    running = pid(state_dir, instance_id)
    if running:
        return running
    if available():
        raise CommandError([QEMU], 127, available() or "")
    d = vm_dir(state_dir, instance_id)
    d.mkdir(parents=True, exist_ok=True)
    sock = qmp_path(state_dir, instance_id)
    Path(sock).unlink(missing_ok=True)
    use_kvm = kvm_usable() if accel == "auto" else accel == "kvm"
    cmd = [QEMU, "-name", names.qemu_name(instance_id), "-M", "pc", "-accel", "kvm" if use_kvm else "tcg",
           "-m", str(memory_mb), "-smp", str(vcpus), "-display", "none", "-vga", "none",
           "-serial", f"file:{d / 'serial.log'}", "-monitor", "none",
           "-qmp", f"unix:{sock},server=on,wait=off", "-pidfile", str(d / "pid"), "-daemonize"]
    if kernel:
        cmd += ["-kernel", kernel, "-append", append]
    if use_kvm:
        cmd += ["-cpu", "host"]
    if initrd and kernel:
        cmd += ["-initrd", initrd]
    for i, disk in enumerate(disks):
        did = disk.get("id") or f"disk{i}"
        ro = ",readonly=on" if disk.get("read_only") else ""
        boot = ",bootindex=1" if i == 0 and not kernel else ""
        cmd += ["-drive", f"file={disk['path']},if=none,id={did},format={disk.get('format', 'raw')},cache=none{ro}",
                "-device", f"virtio-blk-pci,drive={did},id=dev-{did}{boot}"]
    for i, nic in enumerate(nics):
        cmd += ["-netdev", f"tap,id=net{i},ifname={nic['tap']},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=net{i},mac={nic['mac']}"]
    if paused:
        cmd.append("-S")
    cmd += list(extra)
    full = (["ip", "netns", "exec", netns] if netns else []) + cmd
    LOG.info("qemu start %s: %s", instance_id, " ".join(full))
    p = subprocess.run(full, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise CommandError(full, p.returncode, p.stderr)
    for _ in range(200):
        got = pid(state_dir, instance_id)
        if got and os.path.exists(sock):
            return got
        time.sleep(0.02)
    raise CommandError(full, 0, "qemu did not write its pid file / QMP socket")


class QMP:
    """A minimal QMP client (one command at a time)."""

    def __init__(self, path: str, timeout: float = 10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self._read()                                  # greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("QMP closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        msg: dict[str, Any] = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "event" in r:
                continue
            if "error" in r:
                raise CommandError(["qmp", cmd], 1, r["error"].get("desc", str(r["error"])))
            return r.get("return")

    def close(self) -> None:
        self.sock.close()


def qmp(state_dir: str, instance_id: str, cmd: str, args: dict[str, Any] | None = None) -> Any:
    c = QMP(qmp_path(state_dir, instance_id))
    try:
        return c.execute(cmd, args)
    finally:
        c.close()


def status(state_dir: str, instance_id: str) -> str | None:
    """"running", "paused", "prelaunch", "shutdown"... or None when qemu is not running."""
    if not pid(state_dir, instance_id):
        return None
    try:
        return qmp(state_dir, instance_id, "query-status")["status"]
    except (OSError, ConnectionError, CommandError):
        return None


def pause(state_dir: str, instance_id: str) -> None:
    qmp(state_dir, instance_id, "stop")


def resume(state_dir: str, instance_id: str) -> None:
    qmp(state_dir, instance_id, "cont")


def reboot(state_dir: str, instance_id: str) -> None:
    """Hard reset (the tiny guest has no ACPI daemon for a soft reboot)."""
    qmp(state_dir, instance_id, "system_reset")


def stop(state_dir: str, instance_id: str, timeout: float = 0) -> None:
    """Ensure qemu is gone: ACPI power button and ``timeout`` seconds of grace, then quit,
    then SIGKILL."""
    p = pid(state_dir, instance_id)
    if not p:
        return
    if timeout > 0:
        try:
            qmp(state_dir, instance_id, "system_powerdown")
        except (OSError, ConnectionError, CommandError):
            pass
        end = time.monotonic() + timeout
        while time.monotonic() < end and pid_alive(p):
            time.sleep(0.1)
    if pid_alive(p):
        try:
            qmp(state_dir, instance_id, "quit")
        except (OSError, ConnectionError, CommandError):
            pass
        end = time.monotonic() + 5
        while time.monotonic() < end and pid_alive(p):
            time.sleep(0.05)
    if pid_alive(p):
        os.kill(p, signal.SIGKILL)
        while pid_alive(p):
            time.sleep(0.02)
    LOG.info("qemu %s stopped", instance_id)


def destroy(state_dir: str, instance_id: str) -> None:
    stop(state_dir, instance_id)
    Path(qmp_path(state_dir, instance_id)).unlink(missing_ok=True)
    d = vm_dir(state_dir, instance_id)
    if d.exists():
        shutil.rmtree(d, ignore_errors=True)


def attach_disk(state_dir: str, instance_id: str, path: str, disk_id: str, fmt: str = "raw") -> None:
    """Hot-plug a virtio-blk disk (idempotent on ``disk_id``)."""
    blocks = {b.get("node-name") for b in qmp(state_dir, instance_id, "query-named-block-nodes") or []}
    if disk_id not in blocks:
        qmp(state_dir, instance_id, "blockdev-add", {
            "node-name": disk_id, "driver": fmt,
            "file": {"driver": "file", "filename": path, "cache": {"direct": False}}})
    devs = {d.get("qdev") or d.get("id") for d in qmp(state_dir, instance_id, "query-block") or []}
    if f"dev-{disk_id}" not in devs and not any(f"dev-{disk_id}" in (x or "") for x in devs):
        qmp(state_dir, instance_id, "device_add", {"driver": "virtio-blk-pci", "drive": disk_id,
                                                   "id": f"dev-{disk_id}"})


def detach_disk(state_dir: str, instance_id: str, disk_id: str, timeout: float = 10) -> bool:
    """Unplug a disk; True when qemu released it (needs guest cooperation for PCI unplug)."""
    try:
        qmp(state_dir, instance_id, "device_del", {"id": f"dev-{disk_id}"})
    except CommandError as e:
        if "not found" not in str(e).lower():
            raise
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        devs = json.dumps(qmp(state_dir, instance_id, "query-block"))
        if f"dev-{disk_id}" not in devs:
            try:
                qmp(state_dir, instance_id, "blockdev-del", {"node-name": disk_id})
            except CommandError:
                pass
            return True
        time.sleep(0.2)
    return False


def console_output(state_dir: str, instance_id: str, tail_bytes: int = 65536) -> str:
    p = vm_dir(state_dir, instance_id) / "serial.log"
    try:
        with open(p, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - tail_bytes))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
