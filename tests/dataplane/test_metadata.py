"""The metadata service as a guest sees it: 169.254.169.254 from inside an instance's
namespace (linux network driver, fake compute driver; the test plugs the "instance").

OpenStack format (version listings, meta_data.json with keys and metadata, user_data,
vendor data, network_data.json, the password the guest posts once) and EC2 format
(latest/meta-data/... and latest/user-data).
"""
from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path

from tests.dataplane.conftest import sh
from tests.dataplane.test_network_driver import Cloud, _cidr, cloud  # noqa: F401  (module-scoped fixture)


def test_openstack_and_ec2_metadata_for_one_instance(cloud: Cloud, tmp_path: Path) -> None:
    u = uuid.uuid4().hex[:6]
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    pub = key.with_suffix(".pub").read_text().strip()
    cloud.cli("keypair", "create", "--public-key", str(key.with_suffix(".pub")), f"k-{u}")
    cloud.cli("network", "create", f"md-{u}")
    cloud.cli("subnet", "create", "--network", f"md-{u}", "--subnet-range", _cidr(cloud), f"md-s-{u}")
    ud = tmp_path / "ud"
    ud.write_text("#!/bin/sh\necho hello\n")
    srv = cloud.cli("server", "create", "--flavor", "m1.tiny", "--image", "onestack-tiny", "--network", f"md-{u}",
                    "--key-name", f"k-{u}", "--user-data", str(ud), "--property", "role=web", "--wait",
                    f"md-vm-{u}")
    ports = cloud.cli("port", "list", "--server", srv["id"])
    port = cloud.cli("port", "show", ports[0]["ID"], cloud="onestack-admin")
    ns = cloud.plug(port)
    fixed = cloud.dhcp(ns)
    assert fixed == port["fixed_ips"][0]["ip_address"]

    def get(path: str) -> tuple[int, str]:
        return cloud.metadata(ns, path)

    code, body = get("")
    assert code == 200 and "latest" in body.split("\n") and "2009-04-04" in body.split("\n")
    code, body = get("openstack")
    assert code == 200 and {"2012-08-10", "2018-08-27", "latest"} <= set(body.split("\n"))
    code, body = get("openstack/latest/")
    assert code == 200 and {"meta_data.json", "network_data.json", "user_data", "vendor_data.json",
                            "vendor_data2.json", "password"} <= set(body.split("\n"))
    code, body = get("openstack/2012-08-10/")
    assert code == 200 and "network_data.json" not in body.split("\n")

    md = json.loads(get("openstack/latest/meta_data.json")[1])
    assert md["uuid"] == srv["id"] and md["name"] == f"md-vm-{u}"
    assert md["public_keys"] == {f"k-{u}": pub} or md["public_keys"][f"k-{u}"].strip() == pub
    assert md["keys"][0]["name"] == f"k-{u}" and md["keys"][0]["type"] == "ssh"
    assert md["meta"] == {"role": "web"}
    assert md["launch_index"] == 0 and md["availability_zone"] and md["project_id"]
    assert md["hostname"].startswith(f"md-vm-{u}")
    assert get("openstack/latest/user_data") == (200, "#!/bin/sh\necho hello\n")
    assert json.loads(get("openstack/latest/vendor_data.json")[1]) == {}
    nd = json.loads(get("openstack/latest/network_data.json")[1])
    assert nd["links"][0]["ethernet_mac_address"] == port["mac_address"]
    assert nd["networks"][0]["network_id"] == port["network_id"]
    assert get("openstack/latest/nothing-here")[0] == 404

    # EC2 format
    assert get("latest/meta-data/instance-id")[1].startswith("i-")
    assert get("latest/meta-data/local-ipv4") == (200, fixed)
    assert get("latest/meta-data/public-keys/") == (200, f"0=k-{u}")
    assert get("latest/meta-data/public-keys/0/openssh-key")[1].strip() == pub
    assert get("latest/user-data") == (200, "#!/bin/sh\necho hello\n")
    assert "hostname" in get("latest/meta-data/")[1].split("\n")

    # the guest posts its password once; the owner reads it through the compute API
    assert get("openstack/latest/password") == (200, "")
    post = ["curl", "-s", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary",
            "c2VjcmV0", "http://169.254.169.254/openstack/latest/password"]
    assert sh(ns, *post, timeout=20).stdout == "200"
    assert sh(ns, *post, timeout=20).stdout == "409"
    token = cloud.rc.token("onestack")
    r = cloud.rc.request("GET", f"/compute/v2.1/servers/{srv['id']}/os-server-password", token=token)
    assert r.json() == {"password": "c2VjcmV0"}
    assert base64.b64decode(r.json()["password"]) == b"secret"

    cloud.cli("server", "delete", "--wait", srv["id"], json_out=False)
    cloud.unplug(ns)
    cloud.cli("network", "delete", f"md-{u}", json_out=False)
