"""The offline guest image, and runc containers built from it on a bridge."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from onestack.dataplane import image_build, names, net, runc
from tests.dataplane.conftest import ping, sh, uid, wait_for

needs_runc = pytest.mark.skipif(not shutil.which("runc", path="/usr/sbin:/usr/bin:/sbin:/bin"),
                                reason="runc is not installed (make apt-runtime installs it)")


def test_image_artefacts_and_cache(image, state_dir):
    for k in ("kernel", "bzimage", "initramfs", "rootfs_tar"):
        assert os.path.getsize(image[k]) > 100_000, k
    root = Path(image["rootfs"])
    assert (root / "init").stat().st_mode & 0o111 and (root / "bin/busybox").exists()
    assert (root / "usr/sbin/dropbear").exists() and (root / "etc/passwd").read_text().count(":x:") == 2
    listing = subprocess.run(["cpio", "-t", "--quiet"], input=gzip.open(image["initramfs"]).read(),
                             capture_output=True, check=True).stdout.decode().split()
    assert "init" in listing and "lib/modules/virtio_net.ko" in listing and "lib/modules/order" in listing
    t = time.monotonic()
    again = image_build.build_image(os.path.join(state_dir, "image-cache"))
    assert again == image and time.monotonic() - t < 1.0          # cached by package versions


@needs_runc
def test_runc_runs_the_image_rootfs(image, state_dir):
    r = runc.run_once(state_dir, uid(), image["rootfs"], ["/bin/sh", "-c", "echo ok"])
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


@needs_runc
def test_container_in_netns_on_bridge(image, state_dir, host_ns):
    br = names.bridge(uid())
    net.ensure_bridge(br, ns=host_ns)
    iid = uid()
    port = {"id": uid(), "mac_address": "fa:16:3e:00:05:11"}
    ins = names.instance_netns(iid)
    net.plug_port_into_netns(port, br, ins, ns=host_ns, cidrs=["10.9.5.11/24"])
    _, other = None, names.instance_netns(uid())
    net.plug_port_into_netns({"id": uid(), "mac_address": "fa:16:3e:00:05:12"}, br, other, ns=host_ns,
                             cidrs=["10.9.5.12/24"])
    runc.prepare_bundle(state_dir, iid, image["rootfs"], netns=ins, hostname="vm-one", memory_mb=128, vcpus=1)
    t = time.monotonic()
    pid = runc.start(state_dir, iid)
    started_ms = (time.monotonic() - t) * 1000
    assert pid and runc.start(state_dir, iid) == pid                # idempotent
    assert runc.state(state_dir, iid)["status"] == "running"
    assert wait_for(lambda: "onestack-init: start" in runc.console_output(state_dir, iid), 10)
    assert ping(other, "10.9.5.11")
    # the container sees the pre-made namespace's interface and address
    assert "10.9.5.11" in sh(None, "nsenter", "-t", str(pid), "-n", "ip", "-4", "addr").stdout
    if runc.cgroup_support()["memory"]:
        lim = Path(f"/sys/fs/cgroup/memory{names.cgroup(iid)}/memory.limit_in_bytes")
        assert not lim.exists() or int(lim.read_text()) == 128 << 20
    runc.pause(state_dir, iid)
    assert runc.state(state_dir, iid)["status"] == "paused"
    runc.resume(state_dir, iid)
    assert runc.state(state_dir, iid)["status"] == "running"
    runc.stop(state_dir, iid, timeout=3)
    assert runc.state(state_dir, iid) is None
    runc.start(state_dir, iid)                                       # power on again from the same bundle
    assert runc.state(state_dir, iid)["status"] == "running" and ping(other, "10.9.5.11")
    runc.destroy(state_dir, iid)
    runc.destroy(state_dir, iid)
    assert runc.state(state_dir, iid) is None and not runc.bundle_dir(state_dir, iid).exists()
    print(f"runc create+start: {started_ms:.0f} ms")


@needs_runc
def test_loop_volume_hot_attached_into_container(image, state_dir):
    from onestack.dataplane import loop
    iid = uid()
    vol = os.path.join(state_dir, "volumes", f"volume-{uid()}")
    loop.create_file(vol, 0.0625)
    dev = loop.attach(vol)
    assert loop.attach(vol) == dev and loop.find(vol) == [dev]
    ins = names.instance_netns(iid)
    net.ensure_netns(ins)
    runc.prepare_bundle(state_dir, iid, image["rootfs"], netns=ins, args=["/bin/sh", "-c", "sleep 600"])
    pid = runc.start(state_dir, iid)
    loop.expose_in_container(pid, iid, dev, "/dev/vdb")
    loop.expose_in_container(pid, iid, dev, "/dev/vdb")             # idempotent
    r = runc.exec_(state_dir, iid, ["/bin/sh", "-c", "echo from-the-guest | dd of=/dev/vdb bs=512 count=1 conv=sync,fsync"])
    assert r.returncode == 0, r.stderr
    assert open(vol, "rb").read(15) == b"from-the-guest\n"
    loop.hide_from_container(pid, iid, dev, "/dev/vdb")
    assert runc.exec_(state_dir, iid, ["/bin/sh", "-c", "test -e /dev/vdb"]).returncode != 0
    runc.destroy(state_dir, iid)
    loop.detach(vol)
    assert loop.find(vol) == []
