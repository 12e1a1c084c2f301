"""Build a tiny bootable guest image (CirrOS-like) offline from installed Debian packages.

Inputs (all from Debian packages, no internet): ``busybox-static`` (every userland tool),
``linux-image-amd64`` (kernel + virtio/ext4 modules), ``dropbear-bin`` (SSH server; its
shared libraries are copied along). Outputs, under ``<cache_dir>/<key>/`` where ``key``
hashes the package versions and this builder's recipe (so it is built once):

- ``rootfs/``            a directory usable as a runc rootfs (lower layer of an overlay);
- ``rootfs.tar.gz``      the same tree, for uploading to the image service;
- ``vmlinux``            the uncompressed kernel (boots ~6 s faster under TCG than bzImage);
- ``vmlinuz``            the original bzImage;
- ``initramfs.cpio.gz``  the rootfs + virtio/ext4 modules: the whole guest for qemu; with
                         ``root=/dev/vdX`` on the kernel command line its /init mounts that
                         ext4 disk and switches to it (disk images, snapshots, boot volumes);
- ``disk.raw``           the rootfs as an ext4 filesystem image (``DISK_MB``): the Glance image;
- ``manifest.json``      versions, sizes, the login user.

The guest's ``/init`` (PID 1 in both runc and qemu) mounts what it may, loads modules
(VM), takes a DHCP lease on eth0 (unless eth0 already has an address), fetches
``http://169.254.169.254/openstack/latest/meta_data.json`` (hostname, public_keys) and
``user_data``, installs the keys for root and the login user, sets the hostname, runs a
``#!`` user-data script, starts dropbear on port 22, and writes every step to the
console prefixed ``onestack-init:``; the last line is ``onestack-init: up <hostname> <ip>``.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from onestack.dataplane._util import LOG

RECIPE_VERSION = "3"
MODULES = ("virtio_pci", "virtio_net", "virtio_blk", "virtio_console", "ext4")
READY_MARKER = "onestack-init: up"
DISK_MB = 64

UDHCPC_SCRIPT = r"""#!/bin/sh
# udhcpc hook: address, default route, option 121 routes, DNS
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$1" = 0.0.0.0/0 ]; then ip route replace default via "$2" dev "$interface"
        else ip route replace "$1" via "$2" dev "$interface"; fi
        shift 2
      done
    elif [ -n "$router" ]; then
      ip route replace default via "${router%% *}" dev "$interface"
    fi
    : > /etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "$ip" > /run/ip ;;
esac
exit 0
"""

INIT = r"""#!/bin/sh
# onestack guest init (runc container or qemu VM), PID 1
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
USER_NAME=@LOGIN_USER@
MD=http://169.254.169.254/openstack/latest
log() { echo "onestack-init: $*"; }   # stdout is the console (serial in a VM, console.log in runc)
exec 0</dev/null
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/class/net ] || mount -t sysfs sys /sys 2>/dev/null
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp /var/log; mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /run 2>/dev/null
log "start $(cut -d' ' -f1 /proc/uptime)"
if [ -f /lib/modules/order ]; then
  for m in $(cat /lib/modules/order); do insmod /lib/modules/$m 2>/dev/null; done
  log "modules loaded"
  ROOT=; for a in $(cat /proc/cmdline); do case "$a" in root=/dev/*) ROOT=${a#root=} ;; esac; done
  if [ -n "$ROOT" ]; then   # a root disk (the image, a snapshot, a boot volume): continue from it
    i=0; while [ ! -b "$ROOT" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    mkdir -p /newroot
    if mount -t ext4 "$ROOT" /newroot 2>/dev/null && [ -x /newroot/init ]; then
      log "root $ROOT"
      mount --move /dev /newroot/dev; umount /run /sys /proc 2>/dev/null
      exec switch_root /newroot /init
    fi
    umount /newroot 2>/dev/null; log "root $ROOT unusable: running from the initramfs"
  fi
fi
hostname localhost 2>/dev/null; ip link set lo up
IP=
if ip link show eth0 >/dev/null 2>&1; then
  ip link set eth0 up
  IP=$(ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1 | head -1)
  if [ -z "$IP" ]; then
    udhcpc -i eth0 -n -q -t 10 -T 1 -s /etc/udhcpc.sh -O staticroutes -O mtu -O hostname >/dev/null 2>&1
    IP=$(cat /run/ip 2>/dev/null)
  fi
  log "network eth0 ${IP:-none}"
fi
fetch() {  # busybox 1.35 `wget -T` segfaults: bound it with timeout(1)
  timeout 5 wget -q -O "$2" "$1" 2>/dev/null
}
if [ -n "$IP" ]; then
  i=0; while [ $i -lt 10 ]; do fetch "$MD/meta_data.json" /run/meta_data.json && break; i=$((i+1)); sleep 1; done
fi
if [ -s /run/meta_data.json ]; then
  J=$(tr -d '\n' < /run/meta_data.json)
  H=$(echo "$J" | sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p' | cut -d. -f1)
  [ -n "$H" ] && { hostname "$H" 2>/dev/null; echo "$H" > /etc/hostname; }
  KEYS=$(echo "$J" | sed -n 's/.*"public_keys": *{\([^}]*\)}.*/\1/p' | grep -o '"\(ssh\|ecdsa\|sk-\)[^"]*"' | tr -d '"' | sed 's/\\n$//')
  for home in /root /home/$USER_NAME; do
    mkdir -p $home/.ssh; echo "$KEYS" > $home/.ssh/authorized_keys
    chmod 700 $home/.ssh; chmod 600 $home/.ssh/authorized_keys
  done
  chown -R 1000:1000 /home/$USER_NAME
  log "metadata hostname=$(hostname) keys=$(echo "$KEYS" | grep -c .)"
  if fetch "$MD/user_data" /run/user_data && [ -s /run/user_data ]; then
    if head -c2 /run/user_data | grep -q '#!'; then
      chmod +x /run/user_data; log "user-data script start"
      /run/user_data 2>&1 | while IFS= read -r l; do log "user-data: $l"; done
      log "user-data script done"
    fi
  fi
else
  [ -n "$IP" ] && log "metadata unavailable"
fi
if [ -x /usr/sbin/dropbear ]; then
  mkdir -p /etc/dropbear; /usr/sbin/dropbear -R -p 22 2>/dev/null && log "sshd dropbear on port 22"
fi
trap 'log "shutdown"; sync; exit 0' TERM INT
log "up $(hostname) ${IP:-none}"
if grep -q 'onestack.poweroff' /proc/cmdline 2>/dev/null && [ -e /lib/modules/order ]; then poweroff -f; fi
while :; do sleep 3600 & wait $!; done
"""


def _pkg_version(pkg: str) -> str:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def _kernel_release() -> str:
    mods = Path("/lib/modules")
    rels = sorted(p.name for p in mods.iterdir() if p.name.endswith("-amd64") and
                  Path(f"/boot/vmlinuz-{p.name}").exists()) if mods.exists() else []
    if not rels:
        raise RuntimeError("no Debian kernel found (apt-get install linux-image-amd64)")
    return rels[-1]


def _busybox() -> str:
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            out = subprocess.run(["file", "-L", p], capture_output=True, text=True).stdout if shutil.which("file") else ""
            if "dynamically" not in out:
                return p
    raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")


def cache_key(login_user: str = "cirros") -> dict[str, str]:
    rel = _kernel_release()
    return {"recipe": RECIPE_VERSION, "busybox-static": _pkg_version("busybox-static"),
            "dropbear-bin": _pkg_version("dropbear-bin"), "kernel": rel,
            "kernel-version": _pkg_version(f"linux-image-{rel}"), "login_user": login_user,
            "init": hashlib.sha1((INIT + UDHCPC_SCRIPT).encode()).hexdigest()[:12]}


def _ldd_libs(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+)\s+\(0x", line)
        if m:
            libs.append(m.group(1))
    return libs


def _modules(rel: str) -> list[Path]:
    base = Path("/lib/modules") / rel
    deps: dict[str, list[str]] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        k, _, v = line.partition(":")
        deps[k] = v.split()
    by_name = {re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", os.path.basename(k)).replace("-", "_"): k for k in deps}
    order: list[str] = []

    def visit(path: str) -> None:
        for d in reversed(deps.get(path, [])):
            visit(d)
        if path not in order:
            order.append(path)
    for m in MODULES:
        if m in by_name:
            visit(by_name[m])
    return [base / p for p in order]


def _write_rootfs(root: Path, login_user: str) -> None:
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "mnt", "var/log",
              "usr/bin", "usr/sbin", "home", "lib/modules"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(_busybox(), root / "bin" / "busybox")
    applets = subprocess.run([str(root / "bin" / "busybox"), "--list-full"], capture_output=True,
                             text=True, check=True).stdout.split()
    for a in applets:
        dst = root / a
        if not dst.exists() and not dst.is_symlink():
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(os.path.relpath(root / "bin" / "busybox", dst.parent))
    if os.path.exists("/usr/sbin/dropbear"):
        for b in ("/usr/sbin/dropbear", "/usr/bin/dropbearkey"):
            if os.path.exists(b):
                (root / b[1:]).unlink(missing_ok=True)
                shutil.copy2(b, root / b[1:])
                for lib in _ldd_libs(b):
                    dst = root / lib.lstrip("/")
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(os.path.realpath(lib), dst)
    (root / "etc/passwd").write_text(f"root:x:0:0:root:/root:/bin/sh\n"
                                     f"{login_user}:x:1000:1000:{login_user}:/home/{login_user}:/bin/sh\n")
    (root / "etc/group").write_text(f"root:x:0:\n{login_user}:x:1000:\n")
    (root / "etc/shadow").write_text(f"root:*:19000:0:99999:7:::\n{login_user}:*:19000:0:99999:7:::\n")
    (root / "etc/shadow").chmod(0o600)
    (root / "etc/shells").write_text("/bin/sh\n/bin/ash\n")
    (root / "etc/nsswitch.conf").write_text("passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n")
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc/os-release").write_text('NAME="onestack tiny"\nID=onestack-tiny\nPRETTY_NAME="onestack tiny '
                                         'guest (busybox + Debian kernel)"\n')
    (root / f"home/{login_user}").mkdir(parents=True, exist_ok=True)
    os.chown(root / f"home/{login_user}", 1000, 1000)
    (root / "tmp").chmod(0o1777)
    (root / "init").write_text(INIT.replace("@LOGIN_USER@", login_user))
    (root / "init").chmod(0o755)
    (root / "sbin/init").unlink(missing_ok=True)
    (root / "sbin/init").symlink_to("../init")
    (root / "etc/udhcpc.sh").write_text(UDHCPC_SCRIPT)
    (root / "etc/udhcpc.sh").chmod(0o755)
    # static device nodes: a plain chroot works, and "2>/dev/null" never creates a file
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("random", 1, 8), ("urandom", 1, 9),
                               ("tty", 5, 0), ("console", 5, 1)):
        p = root / "dev" / name
        if not p.exists():
            os.mknod(p, 0o666 | 0o020000, os.makedev(major, minor))


def make_ext4(src: str | os.PathLike[str], dst: str | os.PathLike[str], size_mb: int, label: str = "") -> None:
    """An ext4 filesystem image of ``size_mb`` (sparse) holding the tree ``src`` (owners,
    modes, device nodes and links kept; no mount needed)."""
    Path(dst).unlink(missing_ok=True)
    with open(dst, "wb") as f:
        f.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(src), *(["-L", label] if label else []), str(dst)],
                   check=True, capture_output=True)


def _cpio_gz(src: Path, dst: Path) -> None:
    files = subprocess.run(["find", "."], cwd=src, capture_output=True, text=True, check=True).stdout
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=src, input=files.encode(),
                          capture_output=True, check=True).stdout
    with gzip.open(dst, "wb", compresslevel=1) as f:
        f.write(cpio)


def extract_vmlinux(bz: Path, dst: Path) -> None:
    data = bz.read_bytes()
    off = data.find(b"\xfd7zXZ\x00")
    if off < 0:
        shutil.copy2(bz, dst)       # not XZ: boot the bzImage itself
        return
    dst.write_bytes(lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[off:]))


def build_image(cache_dir: str | os.PathLike[str], *, login_user: str = "cirros") -> dict[str, Any]:
    """Build (or reuse) the guest image; returns the manifest with absolute artefact paths."""
    key = cache_key(login_user)
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    out = Path(cache_dir).resolve() / f"tiny-{digest}"
    man = out / "manifest.json"
    if man.exists():
        return json.loads(man.read_text())
    t0 = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=out.parent))
    try:
        root = tmp / "rootfs"
        _write_rootfs(root, login_user)
        subprocess.run(["tar", "-C", str(root), "-czf", str(tmp / "rootfs.tar.gz"), "."], check=True)
        make_ext4(root, tmp / "disk.raw", DISK_MB, label="onestack-root")
        rel = key["kernel"]
        shutil.copy2(f"/boot/vmlinuz-{rel}", tmp / "vmlinuz")
        extract_vmlinux(tmp / "vmlinuz", tmp / "vmlinux")
        # initramfs = rootfs + modules (not in the runc rootfs: containers cannot load them)
        ir = tmp / "initramfs"
        subprocess.run(["cp", "-a", str(root), str(ir)], check=True)   # keeps device nodes
        mods = _modules(rel)
        for m in mods:
            shutil.copy2(m, ir / "lib/modules" / m.name)
        (ir / "lib/modules/order").write_text("\n".join(m.name for m in mods) + "\n")
        _cpio_gz(ir, tmp / "initramfs.cpio.gz")
        shutil.rmtree(ir)
        manifest = {"key": key, "digest": digest, "login_user": login_user, "dir": str(out),
                    "rootfs": str(out / "rootfs"), "rootfs_tar": str(out / "rootfs.tar.gz"),
                    "kernel": str(out / "vmlinux"), "bzimage": str(out / "vmlinuz"),
                    "initramfs": str(out / "initramfs.cpio.gz"), "disk": str(out / "disk.raw"),
                    "modules": [m.name for m in mods],
                    "ready_marker": READY_MARKER, "build_seconds": round(time.monotonic() - t0, 2)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        try:
            os.rename(tmp, out)
        except OSError:
            if not man.exists():        # lost a race with another builder: use theirs
                raise
        LOG.info("guest image built in %.1fs -> %s", manifest["build_seconds"], out)
        return json.loads(man.read_text())
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
