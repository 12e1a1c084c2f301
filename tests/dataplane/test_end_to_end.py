"""The whole path a `server create` will take, with a container: tenant network + DHCP,
router with SNAT/floating IP and a metadata redirect, security group allowing SSH; the
guest's init takes its lease, reads meta_data.json/user_data, installs the key and starts
dropbear; the test SSHes in through the floating IP from an "external" namespace."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from onestack.dataplane import dhcp, names, net, runc
from tests.dataplane.conftest import sh, uid, wait_for

pytestmark = pytest.mark.skipif(not (shutil.which("runc", path="/usr/sbin:/usr/bin") and shutil.which("ssh")),
                                reason="needs runc and openssh-client (make apt-test installs them)")

METADATA = """
import http.server, sys
md, ud = open(sys.argv[2]).read().encode(), open(sys.argv[3]).read().encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = md if self.path.endswith("meta_data.json") else ud if self.path.endswith("user_data") else None
        if body is None:
            self.send_response(404); self.end_headers(); return
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer((sys.argv[1], 8775), H).serve_forever()
"""


def test_container_dhcp_metadata_ssh_through_floating_ip(image, state_dir, host_ns, servers, tmp_path):
    tenant, ext = names.bridge(uid()), names.bridge(uid())
    net.ensure_bridge(tenant, ns=host_ns)
    net.ensure_bridge(ext, ns=host_ns)
    netid, subid, iid = uid(), uid(), uid()
    # outside world
    outside = names.instance_netns(uid())
    net.plug_port_into_netns({"id": uid(), "mac_address": "fa:16:3e:00:07:99"}, ext, outside, ns=host_ns,
                             cidrs=["172.30.7.100/24"])
    # router with metadata redirect
    rid, qr, qg = uid(), uid(), uid()
    rns = net.ensure_router(rid, [{"port_id": qr, "bridge": tenant, "mac_address": "fa:16:3e:00:07:01",
                                   "cidrs": ["10.9.7.1/24"]}],
                            {"port_id": qg, "bridge": ext, "mac_address": "fa:16:3e:00:07:02",
                             "cidrs": ["172.30.7.2/24"], "gateway_ip": "172.30.7.100"},
                            host_ns=host_ns, metadata=("10.9.7.1", 8775))
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    md = tmp_path / "meta_data.json"
    md.write_text(json.dumps({"uuid": iid, "hostname": "tiny-one.novalocal", "name": "tiny-one",
                              "public_keys": {"k": key.with_suffix(".pub").read_text()}}))
    ud = tmp_path / "user_data"
    ud.write_text("#!/bin/sh\necho user-data-ran > /tmp/ud\necho hello from user data\n")
    meta = subprocess.Popen(["ip", "netns", "exec", rns, "python3", "-c", METADATA, "10.9.7.1", str(md), str(ud)])
    servers.procs.append(meta)
    # The guest asks for metadata ~10 times in its first seconds: have the server listening
    # first (starting python3 can take seconds on a loaded machine).
    assert wait_for(lambda: ":8775" in subprocess.run(["ip", "netns", "exec", rns, "ss", "-ltn"],
                                                     capture_output=True, text=True).stdout, 60, 0.2), \
        "the stub metadata server did not start listening"
    # DHCP + port with SG
    dport = {"id": uid(), "mac_address": "fa:16:3e:00:07:03", "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.7.2"}]}
    vport = {"id": uid(), "mac_address": "fa:16:3e:00:07:21", "fixed_ips": [{"subnet_id": subid, "ip_address": "10.9.7.21"}]}
    subnet = {"id": subid, "cidr": "10.9.7.0/24", "gateway_ip": "10.9.7.1"}
    dhcp.ensure_dhcp(state_dir, {"id": netid}, [subnet], [vport, dport], dport, tenant, host_ns=host_ns)
    ins = names.instance_netns(iid)
    net.plug_port_into_netns(vport, tenant, ins, ns=host_ns)
    net.apply_security_groups(vport, [{"direction": "egress"},
                                      {"direction": "ingress", "protocol": "tcp", "port_range_min": 22,
                                       "port_range_max": 22}], ns=host_ns)
    net.ensure_floating_ip(rid, qg, "172.30.7.50", "10.9.7.21")
    # boot
    runc.prepare_bundle(state_dir, iid, image["rootfs"], netns=ins, hostname="tiny-one")
    runc.start(state_dir, iid)
    ok = wait_for(lambda: image["ready_marker"] in runc.console_output(state_dir, iid), 60, 0.2)
    log = runc.console_output(state_dir, iid)
    assert ok, log
    assert "network eth0 10.9.7.21" in log and "keys=1" in log and "user-data: hello from user data" in log, log
    ssh = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "cirros@172.30.7.50", "id -un; cat /tmp/ud"]
    r = sh(outside, *ssh, timeout=60)
    assert r.returncode == 0 and "cirros" in r.stdout and "user-data-ran" in r.stdout, r.stdout + r.stderr
    runc.destroy(state_dir, iid)
