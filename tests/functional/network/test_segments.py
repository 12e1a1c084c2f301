"""Network segments (segment + multi-provider extensions) through the CLI and raw HTTP."""
from __future__ import annotations

import random

import pytest

from tests.harness import CLIError


def _vlan() -> int:
    return random.randint(100, 4000)


def test_segment_lifecycle_cli(cloud, uniq):
    net = cloud.cli("network", "create", f"segnet-{uniq}")
    first = cloud.cli("network", "segment", "list", "--network", net["id"])
    assert len(first) == 1                           # every network has its first segment
    assert first[0]["Network Type"] == "vxlan"
    vlan = _vlan()
    seg = cloud.cli("network", "segment", "create", f"seg-{uniq}", "--network", net["id"],
                    "--network-type", "vlan", "--physical-network", "physnet1", "--segment", str(vlan))
    assert (seg["network_type"], seg["physical_network"], seg["segmentation_id"]) == ("vlan", "physnet1", vlan)
    assert seg["network_id"] == net["id"] and seg["name"] == f"seg-{uniq}"

    # two segments now: the network lists them under `segments` (multi-provider)
    shown = cloud.cli("network", "show", net["id"])
    assert [s["provider:network_type"] for s in shown["segments"]] == ["vxlan", "vlan"]

    cloud.cli("network", "segment", "set", seg["id"], "--name", f"renamed-{uniq}",
              "--description", "rack 2", json_out=False)
    again = cloud.cli("network", "segment", "show", seg["id"])
    assert again["name"] == f"renamed-{uniq}" and again["description"] == "rack 2"

    # a subnet on the segment pins it: deleting the segment is a 409 until the subnet goes
    sub = cloud.cli("subnet", "create", f"segsub-{uniq}", "--network", net["id"], "--network-segment",
                    seg["id"], "--subnet-range", "10.77.0.0/24")
    assert sub["segment_id"] == seg["id"]
    with pytest.raises(CLIError) as e:
        cloud.cli("network", "segment", "delete", seg["id"], json_out=False)
    assert "subnet" in str(e.value)
    cloud.cli("subnet", "delete", sub["id"], json_out=False)
    cloud.cli("network", "segment", "delete", seg["id"], json_out=False)
    assert not cloud.cli("network", "show", net["id"]).get("segments")   # one segment: provider attrs only
    cloud.cli("network", "delete", net["id"], json_out=False)
    left = cloud.request("GET", f"/networking/v2.0/segments?network_id={net['id']}", token=cloud.token())
    assert left.json() == {"segments": []}            # the network's segments went with it


def test_segment_errors_and_policy(cloud, uniq):
    tok = cloud.token()
    net = cloud.cli("network", "create", f"segerr-{uniq}")
    other = cloud.cli("network", "create", f"segerr2-{uniq}")
    vlan = _vlan()
    ok = cloud.request("POST", "/networking/v2.0/segments", token=tok, body={"segment": {
        "network_id": net["id"], "network_type": "vlan", "physical_network": "physnet9", "segmentation_id": vlan}})
    assert ok.status == 201, ok.body
    cases = [
        ({"network_id": net["id"], "network_type": "vlan", "physical_network": "physnet9",
          "segmentation_id": vlan}, 409),                                   # same VLAN again
        ({"network_id": net["id"], "network_type": "vlan", "physical_network": "physnet9"}, 400),
        ({"network_id": net["id"], "network_type": "vlan", "physical_network": "physnet9",
          "segmentation_id": 5000}, 400),                                   # out of range
        ({"network_id": net["id"], "network_type": "token-ring"}, 400),
        ({"network_id": net["id"]}, 400),                                   # no network_type
        ({"network_id": "no-such-network", "network_type": "vxlan"}, 404),
        ({"network_id": net["id"], "network_type": "vxlan", "bogus": 1}, 400),
        ({"network_id": net["id"], "network_type": "vxlan", "segmentation_id": "x"}, 400),
    ]
    for body, status in cases:
        r = cloud.request("POST", "/networking/v2.0/segments", token=tok, body={"segment": body})
        assert r.status == status, (body, r.status, r.body)
        assert set(r.json()["NeutronError"]) == {"type", "message", "detail"}
    # a subnet cannot use another network's segment
    r = cloud.request("POST", "/networking/v2.0/subnets", token=tok, body={"subnet": {
        "network_id": other["id"], "ip_version": 4, "cidr": "10.78.0.0/24", "segment_id": ok.json()["segment"]["id"]}})
    assert r.status == 400, r.body
    # the first segment goes with its network only
    first = [s for s in cloud.cli("network", "segment", "list", "--network", net["id"])
             if s["ID"] != ok.json()["segment"]["id"]][0]
    r = cloud.request("DELETE", f"/networking/v2.0/segments/{first['ID']}", token=tok)
    assert r.status == 409, r.body
    # segments are admin-only, as upstream: a member sees none and cannot create
    demo = cloud.token("onestack")
    assert cloud.request("GET", "/networking/v2.0/segments", token=demo).json() == {"segments": []}
    r = cloud.request("POST", "/networking/v2.0/segments", token=demo, body={"segment": {
        "network_id": net["id"], "network_type": "vxlan"}})
    assert r.status == 403, r.body
    r = cloud.request("GET", f"/networking/v2.0/segments/{first['ID']}", token=demo)
    assert r.status == 404, r.body


def test_multi_provider_network_create(cloud, uniq):
    tok = cloud.token()
    a, b = _vlan(), _vlan()
    while b == a:
        b = _vlan()
    r = cloud.request("POST", "/networking/v2.0/networks", token=tok, body={"network": {
        "name": f"multi-{uniq}", "segments": [
            {"provider:network_type": "vlan", "provider:physical_network": "physnet3", "provider:segmentation_id": a},
            {"provider:network_type": "vlan", "provider:physical_network": "physnet3", "provider:segmentation_id": b},
        ]}})
    assert r.status == 201, r.body
    net = r.json()["network"]
    assert [s["provider:segmentation_id"] for s in net["segments"]] == [a, b]
    segs = cloud.request("GET", f"/networking/v2.0/segments?network_id={net['id']}", token=tok).json()["segments"]
    assert sorted(s["segmentation_id"] for s in segs) == sorted([a, b])
    for body in ({"segments": []}, {"segments": "vlan"}, {"segments": [{"provider:network_type": "vlan",
                                                                        "provider:physical_network": "physnet3",
                                                                        "provider:segmentation_id": a}]},
                 {"segments": [{"network_type": "vxlan"}]},
                 {"provider:network_type": "vxlan", "segments": [{"provider:network_type": "vxlan"}]}):
        bad = cloud.request("POST", "/networking/v2.0/networks", token=tok,
                            body={"network": {"name": f"bad-{uniq}", **body}})
        assert bad.status in (400, 409), (body, bad.status, bad.body)
    # a rejected create leaves nothing behind
    names = [n["name"] for n in cloud.request("GET", f"/networking/v2.0/networks?name=bad-{uniq}",
                                              token=tok).json()["networks"]]
    assert names == []
    cloud.cli("network", "delete", net["id"], json_out=False)
