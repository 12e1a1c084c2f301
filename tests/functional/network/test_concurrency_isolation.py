"""IPAM under concurrency, tenant isolation on every verb, and bounded fuzzing (no 5xx)."""
from __future__ import annotations

import concurrent.futures as cf
import ipaddress
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

N = "/networking/v2.0"


def test_200_parallel_port_creates_never_duplicate(cloud, uniq):
    tok = cloud.token()
    net = cloud.request("POST", f"{N}/networks", token=tok, body={"network": {"name": f"cc-{uniq}"}}).json()["network"]
    pool = [{"start": "10.70.0.10", "end": "10.70.0.159"}]          # 150 addresses
    sub = cloud.request("POST", f"{N}/subnets", token=tok, body={"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.70.0.0/24", "allocation_pools": pool}})
    assert sub.status == 201, sub

    def create(i: int):
        return cloud.request("POST", f"{N}/ports", token=tok, body={"port": {"network_id": net["id"],
                                                                                  "name": f"c{i}"}})
    with cf.ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(create, range(200)))
    ok = [r.json()["port"] for r in results if r.status == 201]
    failed = [r for r in results if r.status != 201]
    assert len(ok) == 150, [r for r in failed if r.status != 409][:3]
    assert all(r.status == 409 and r.json()["NeutronError"]["type"] == "IpAddressGenerationFailure" for r in failed)
    ips = [p["fixed_ips"][0]["ip_address"] for p in ok]
    macs = [p["mac_address"] for p in ok]
    assert len(set(ips)) == 150 and len(set(macs)) == 150
    lo, hi = ipaddress.ip_address("10.70.0.10"), ipaddress.ip_address("10.70.0.159")
    assert all(lo <= ipaddress.ip_address(ip) <= hi for ip in ips)
    listed = cloud.request("GET", f"{N}/ports?network_id={net['id']}&fields=id", token=tok).json()["ports"]
    assert len(listed) == 150       # no half-created port survived a failure
    avail = cloud.request("GET", f"{N}/network-ip-availabilities/{net['id']}", token=tok).json()
    assert avail["network_ip_availability"]["used_ips"] == 150
    with cf.ThreadPoolExecutor(max_workers=16) as ex:
        list(ex.map(lambda p: cloud.request("DELETE", f"{N}/ports/{p['id']}", token=tok), ok))
    assert cloud.request("DELETE", f"{N}/networks/{net['id']}", token=tok).status == 204


def test_other_project_resources_are_404_for_every_verb(cloud, uniq):
    admin = cloud.token()
    demo = cloud.token("onestack")
    net = cloud.request("POST", f"{N}/networks", token=admin, body={"network": {"name": f"iso-{uniq}"}}).json()["network"]
    sub = cloud.request("POST", f"{N}/subnets", token=admin, body={"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.71.0.0/24"}}).json()["subnet"]
    port = cloud.request("POST", f"{N}/ports", token=admin, body={"port": {"network_id": net["id"]}}).json()["port"]
    router = cloud.request("POST", f"{N}/routers", token=admin, body={"router": {"name": f"iso-{uniq}"}}).json()["router"]
    sg = cloud.request("POST", f"{N}/security-groups", token=admin,
                       body={"security_group": {"name": f"iso-{uniq}"}}).json()["security_group"]
    rule = sg["security_group_rules"][0]
    targets = {"networks": net["id"], "subnets": sub["id"], "ports": port["id"], "routers": router["id"],
               "security-groups": sg["id"], "security-group-rules": rule["id"]}
    key = {"networks": "network", "subnets": "subnet", "ports": "port", "routers": "router",
           "security-groups": "security_group", "security-group-rules": "security_group_rule"}
    for coll, rid in targets.items():
        for method, body in (("GET", None), ("PUT", {key[coll]: {"name": "stolen"}}), ("DELETE", None)):
            if coll == "security-group-rules" and method == "PUT":
                continue            # rules are immutable upstream too (405 for everyone)
            r = cloud.request(method, f"{N}/{coll}/{rid}", token=demo, body=body)
            assert r.status == 404, (method, coll, r)
            assert "NeutronError" in r.json()
        listed = cloud.request("GET", f"{N}/{coll}?id={rid}", token=demo).json()
        assert listed[list(listed)[0]] == []
        if coll != "security-group-rules":
            assert cloud.request("PUT", f"{N}/{coll}/{rid}/tags/x", token=demo).status == 404
            assert cloud.request("GET", f"{N}/{coll}/{rid}/tags", token=demo).status == 404
    for action in ("add_router_interface", "remove_router_interface"):
        r = cloud.request("PUT", f"{N}/routers/{router['id']}/{action}", token=demo, body={"subnet_id": sub["id"]})
        assert r.status == 404
    # the demo project cannot create on the admin network or use its security group
    r = cloud.request("POST", f"{N}/ports", token=demo, body={"port": {"network_id": net["id"]}})
    assert r.status == 404
    r = cloud.request("POST", f"{N}/security-group-rules", token=demo, body={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress"}})
    assert r.status == 404
    # still intact
    assert cloud.request("GET", f"{N}/networks/{net['id']}", token=admin).json()["network"]["name"] == f"iso-{uniq}"
    for coll in ("ports", "routers", "security-groups"):
        cloud.request("DELETE", f"{N}/{coll}/{targets[coll]}", token=admin)
    assert cloud.request("DELETE", f"{N}/networks/{net['id']}", token=admin).status == 204


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=12)
                     | st.sampled_from(["10.0.0.0/24", "::/0", "fa:16:3e:00:00:01", "10.0.0.300", "tcp", "*"]),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                     max_leaves=8)
_fields = {
    "network": ["name", "admin_state_up", "mtu", "shared", "router:external", "provider:network_type",
                "provider:segmentation_id", "port_security_enabled", "dns_domain", "availability_zone_hints"],
    "subnet": ["network_id", "ip_version", "cidr", "gateway_ip", "allocation_pools", "dns_nameservers",
               "host_routes", "enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id", "prefixlen"],
    "port": ["network_id", "fixed_ips", "mac_address", "allowed_address_pairs", "security_groups",
             "extra_dhcp_opts", "binding:host_id", "binding:profile", "device_owner", "port_security_enabled"],
    "security_group_rule": ["security_group_id", "direction", "ethertype", "protocol", "port_range_min",
                            "port_range_max", "remote_ip_prefix", "remote_group_id"],
    "router": ["name", "external_gateway_info", "routes", "admin_state_up", "ha"],
    "floatingip": ["floating_network_id", "floating_ip_address", "port_id", "subnet_id"],
}
_colls = {"network": "networks", "subnet": "subnets", "port": "ports", "security_group_rule": "security-group-rules",
          "router": "routers", "floatingip": "floatingips"}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz_create_never_5xx(cloud, data):
    tok = _fuzz_token(cloud)
    kind = data.draw(st.sampled_from(sorted(_fields)))
    keys = data.draw(st.lists(st.sampled_from(_fields[kind]), max_size=5, unique=True))
    body = {k: data.draw(_json) for k in keys}
    if kind in ("subnet", "port") and data.draw(st.booleans()):
        body["network_id"] = _fuzz_net(cloud, tok)
    r = cloud.request("POST", f"{N}/{_colls[kind]}", token=tok, body={kind: body})
    assert r.status < 500, (kind, json.dumps(body), r)
    if r.status == 201:
        rid = r.json()[kind]["id"]
        u = cloud.request("PUT", f"{N}/{_colls[kind]}/{rid}", token=tok, body={kind: {
            k: data.draw(_json) for k in data.draw(st.lists(st.sampled_from(_fields[kind]), max_size=3, unique=True))}})
        assert u.status < 500, u
        cloud.request("DELETE", f"{N}/{_colls[kind]}/{rid}", token=tok)
    q = data.draw(st.sampled_from(["limit=-1", "limit=abc", "marker=nope", "sort_key=id&sort_dir=up",
                                   "fields=%00", "admin_state_up=x", "mtu=big", "tags=,,,", "id=%ff"]))
    r = cloud.request("GET", f"{N}/{_colls[kind]}?{q}", token=tok)
    assert r.status < 500, (q, r)


_cache: dict = {}


def _fuzz_token(cloud):
    if "tok" not in _cache:
        _cache["tok"] = cloud.token()
    return _cache["tok"]


def _fuzz_net(cloud, tok):
    if "net" not in _cache:
        net = cloud.request("POST", f"{N}/networks", token=tok, body={"network": {"name": "fuzz"}}).json()["network"]
        cloud.request("POST", f"{N}/subnets", token=tok, body={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": "10.72.0.0/24"}})
        _cache["net"] = net["id"]
    return _cache["net"]
