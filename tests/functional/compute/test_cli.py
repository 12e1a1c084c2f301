"""The unchanged `openstack` CLI against compute: the workflows users run."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def keypair(cloud, tmp_path_factory):
    name = "cli-key"
    cloud.cli("keypair", "create", name, json_out=False)
    yield name
    cloud.cli("keypair", "delete", name, json_out=False, check=False)


def test_server_lifecycle_through_cli(cloud, image_id, keypair, uniq):
    name = f"cli-{uniq}"
    srv = cloud.cli("server", "create", "--image", image_id, "--flavor", "m1.tiny", "--network", "private",
                    "--key-name", keypair, "--wait", name)
    assert srv["status"] == "ACTIVE" and srv["key_name"] == keypair
    assert "private" in str(srv["addresses"])
    rows = cloud.cli("server", "list")
    assert name in [r["Name"] for r in rows]
    shown = cloud.cli("server", "show", name)
    assert shown["id"] == srv["id"] and shown["OS-EXT-STS:power_state"] in (1, "Running")

    cloud.cli("server", "reboot", name, json_out=False)
    _wait_cli(cloud, name, "ACTIVE")
    cloud.cli("server", "stop", name, json_out=False)
    _wait_cli(cloud, name, "SHUTOFF")
    cloud.cli("server", "start", name, json_out=False)
    _wait_cli(cloud, name, "ACTIVE")

    cloud.cli("server", "resize", "--flavor", "m1.small", "--wait", name, json_out=False)
    assert cloud.cli("server", "show", name)["status"] == "VERIFY_RESIZE"
    cloud.cli("server", "resize", "confirm", name, json_out=False)
    after = _wait_cli(cloud, name, "ACTIVE")
    assert after["flavor"]["original_name"] == "m1.small"

    cloud.cli("server", "rebuild", "--image", image_id, name, json_out=False)
    rebuilt = _wait_cli(cloud, name, "ACTIVE")
    assert rebuilt["image"].endswith(f"({image_id})") or image_id in str(rebuilt["image"])

    snap = cloud.cli("server", "image", "create", "--name", f"snap-{uniq}", "--wait", name)
    assert snap["status"] == "active"
    cloud.cli("image", "delete", snap["id"], json_out=False)

    log = cloud.cli("console", "log", "show", name, json_out=False).stdout
    assert "Rebuilt from image" in log  # the console restarts with the rebuilt guest

    cloud.cli("server", "delete", "--wait", name, json_out=False)
    assert name not in [r["Name"] for r in cloud.cli("server", "list")]


def _wait_cli(cloud, name, status, tries=100):
    import time
    for _ in range(tries):
        s = cloud.cli("server", "show", name)
        if s["status"] == status and not s.get("OS-EXT-STS:task_state"):
            return s
        time.sleep(0.3)
    raise AssertionError(f"{name} not {status}: {s['status']}")


def test_server_group_aggregate_quota_hypervisor_cli(cloud, uniq):
    g = cloud.cli("server", "group", "create", "--policy", "anti-affinity", f"grp-{uniq}")
    assert g["policy"] == "anti-affinity" and g["members"] == []
    agg = cloud.cli("aggregate", "create", f"agg-{uniq}")
    cloud.cli("aggregate", "add", "host", agg["name"], "fake-2", json_out=False)
    cloud.cli("aggregate", "set", "--property", "ssd=true", agg["name"], json_out=False)
    shown = cloud.cli("aggregate", "show", agg["name"])
    assert shown["hosts"] == ["fake-2"] and shown["properties"] == {"ssd": "true"}
    cloud.cli("aggregate", "remove", "host", agg["name"], "fake-2", json_out=False)
    cloud.cli("aggregate", "delete", agg["name"], json_out=False)
    cloud.cli("server", "group", "delete", g["id"], json_out=False)

    hyps = cloud.cli("hypervisor", "list")
    assert {"fake-1", "fake-2"} <= {h["Hypervisor Hostname"] for h in hyps}
    rps = cloud.cli("resource", "provider", "list")
    assert {"fake-1", "fake-2"} <= {r["name"] for r in rps}
    cands = cloud.cli("allocation", "candidate", "list", "--resource", "VCPU=1")
    assert len(cands) >= 2

    project = f"q-{uniq}"
    cloud.cli("project", "create", project)
    cloud.cli("quota", "set", "--instances", "7", "--cores", "9", project, json_out=False, check=False)
    q = cloud.cli("quota", "show", "--compute", project)
    limits = {r["Resource"]: r["Limit"] for r in q} if isinstance(q, list) else q
    assert limits["instances"] == 7 and limits["cores"] == 9
    cloud.cli("project", "delete", project, json_out=False)
