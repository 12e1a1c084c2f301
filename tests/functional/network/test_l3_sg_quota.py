"""Security groups, routers, floating IPs, quotas, RBAC, subnet pools, QoS, trunks, agents."""
from __future__ import annotations

import pytest

from tests.harness import CLIError

N = "/networking/v2.0"


def _err(r):
    body = r.json()
    assert set(body["NeutronError"]) == {"type", "message", "detail"}, body
    return body["NeutronError"]


def test_security_groups_cli_and_rules(cloud, uniq):
    sg = cloud.cli("security", "group", "create", f"web-{uniq}", "--description", "w")
    assert {(r["direction"], r["ethertype"]) for r in sg["rules"]} == {("egress", "IPv4"), ("egress", "IPv6")}
    rule = cloud.cli("security", "group", "rule", "create", sg["id"], "--protocol", "tcp",
                     "--dst-port", "80:81", "--remote-ip", "10.0.0.0/8")
    assert rule["port_range_min"] == 80 and rule["port_range_max"] == 81 and rule["protocol"] == "tcp"
    tok = cloud.token()
    body = {"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
                                    "port_range_min": 80, "port_range_max": 81, "remote_ip_prefix": "10.0.0.0/8"}}
    r = cloud.request("POST", f"{N}/security-group-rules", token=tok, body=body)
    assert r.status == 409 and _err(r)["type"] == "SecurityGroupRuleExists"
    r = cloud.request("POST", f"{N}/security-group-rules", token=tok, body={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "6", "port_range_min": 443,
        "port_range_max": 443, "remote_group_id": sg["id"]}})
    assert r.status == 201 and r.json()["security_group_rule"]["protocol"] == "6"
    bad = [{"direction": "sideways"}, {"direction": "ingress", "protocol": "tcp", "port_range_min": 90,
                                       "port_range_max": 80},
           {"direction": "ingress", "protocol": "tcp", "port_range_min": 0, "port_range_max": 70000},
           {"direction": "ingress", "protocol": "bogus"},
           {"direction": "ingress", "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
           {"direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_group_id": sg["id"]},
           {"direction": "ingress", "protocol": "icmp", "port_range_max": 3},
           {"direction": "ingress", "protocol": "gre", "port_range_min": 1, "port_range_max": 2}]
    for b in bad:
        r = cloud.request("POST", f"{N}/security-group-rules", token=tok,
                          body={"security_group_rule": {"security_group_id": sg["id"], **b}})
        assert r.status == 400, (b, r)
    rules = cloud.request("GET", f"{N}/security-group-rules?security_group_id={sg['id']}", token=tok).json()
    assert len(rules["security_group_rules"]) == 4
    # the demo project's default group exists with upstream's rules
    demo = cloud.sdk("onestack")
    groups = list(demo.network.security_groups(name="default"))
    assert len(groups) == 1
    kinds = {(r["direction"], r["ethertype"], r["remote_group_id"] == groups[0].id)
             for r in groups[0].security_group_rules}
    assert kinds == {("egress", "IPv4", False), ("egress", "IPv6", False),
                     ("ingress", "IPv4", True), ("ingress", "IPv6", True)}
    r = cloud.request("DELETE", f"{N}/security-groups/{groups[0].id}", token=cloud.token("onestack"))
    assert r.status == 409
    cloud.cli("security", "group", "rule", "delete", rule["id"], json_out=False)
    cloud.cli("security", "group", "delete", sg["id"], json_out=False)


def test_router_and_floating_ip_flow(cloud, uniq):
    net = cloud.cli("network", "create", f"rt-{uniq}")
    sub = cloud.cli("subnet", "create", f"rts-{uniq}", "--network", net["id"], "--subnet-range", "10.60.0.0/24")
    router = cloud.cli("router", "create", f"r-{uniq}")
    assert router["external_gateway_info"] is None
    cloud.cli("router", "set", router["id"], "--external-gateway", "public", json_out=False)
    cloud.cli("router", "add", "subnet", router["id"], sub["id"], json_out=False)
    shown = cloud.cli("router", "show", router["id"])
    gw = shown["external_gateway_info"]
    assert gw["enable_snat"] is True and gw["external_fixed_ips"][0]["ip_address"].startswith("172.24.4.")
    iface = [p for p in cloud.sdk().network.ports(device_id=router["id"], device_owner="network:router_interface")]
    assert iface and iface[0].fixed_ips[0]["ip_address"] == "10.60.0.1"
    port = cloud.cli("port", "create", f"vm-{uniq}", "--network", net["id"])
    fip = cloud.cli("floating", "ip", "create", "public")
    assert fip["status"] == "DOWN" and fip["port_id"] is None
    cloud.cli("floating", "ip", "set", fip["id"], "--port", port["id"], json_out=False)
    fip2 = cloud.cli("floating", "ip", "show", fip["id"])
    assert fip2["port_id"] == port["id"] and fip2["router_id"] == router["id"]
    assert fip2["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"] and fip2["status"] == "ACTIVE"
    tok = cloud.token()
    # extra routes: nexthop must be on a connected subnet
    r = cloud.request("PUT", f"{N}/routers/{router['id']}/add_extraroutes", token=tok,
                      body={"router": {"routes": [{"destination": "192.168.100.0/24", "nexthop": "10.60.0.50"}]}})
    assert r.status == 200 and r.json()["router"]["routes"] == [
        {"destination": "192.168.100.0/24", "nexthop": "10.60.0.50"}]
    r = cloud.request("PUT", f"{N}/routers/{router['id']}", token=tok,
                      body={"router": {"routes": [{"destination": "1.2.3.0/24", "nexthop": "99.9.9.9"}]}})
    assert r.status == 400
    r = cloud.request("PUT", f"{N}/routers/{router['id']}/remove_extraroutes", token=tok,
                      body={"router": {"routes": [{"destination": "192.168.100.0/24", "nexthop": "10.60.0.50"}]}})
    assert r.json()["router"]["routes"] == []
    # interface in use by a floating IP; router in use by interfaces
    r = cloud.request("PUT", f"{N}/routers/{router['id']}/remove_router_interface", token=tok,
                      body={"subnet_id": sub["id"]})
    assert r.status == 409
    r = cloud.request("DELETE", f"{N}/routers/{router['id']}", token=tok)
    assert r.status == 409
    # the floating IP follows its port
    cloud.cli("port", "delete", port["id"], json_out=False)
    fip3 = cloud.sdk().network.get_ip(fip["id"])
    assert fip3.port_id is None and fip3.status == "DOWN"
    cloud.cli("floating", "ip", "delete", fip["id"], json_out=False)
    cloud.cli("router", "remove", "subnet", router["id"], sub["id"], json_out=False)
    cloud.cli("router", "unset", router["id"], "--external-gateway", json_out=False)
    cloud.cli("router", "delete", router["id"], json_out=False)
    cloud.cli("network", "delete", net["id"], json_out=False)


def test_floating_ip_needs_a_router(cloud, uniq):
    conn = cloud.sdk()
    net = conn.network.create_network(name=f"nr-{uniq}")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.61.0.0/24")
    port = conn.network.create_port(network_id=net.id)
    public = conn.network.find_network("public")
    fip = conn.network.create_ip(floating_network_id=public.id)
    r = cloud.request("PUT", f"{N}/floatingips/{fip.id}", token=cloud.token(),
                      body={"floatingip": {"port_id": port.id}})
    assert r.status == 404 and _err(r)["type"] == "ExternalGatewayForFloatingIPNotFound"
    # a non-external network can't give floating IPs
    r = cloud.request("POST", f"{N}/floatingips", token=cloud.token(),
                      body={"floatingip": {"floating_network_id": net.id}})
    assert r.status == 400
    conn.network.delete_ip(fip)
    conn.network.delete_port(port)
    conn.network.delete_network(net)


def test_port_forwarding(cloud, uniq):
    conn = cloud.sdk()
    net = conn.network.create_network(name=f"pf-{uniq}")
    sub = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.62.0.0/24")
    router = conn.network.create_router(name=f"pfr-{uniq}", external_gateway_info={
        "network_id": conn.network.find_network("public").id})
    conn.network.add_interface_to_router(router, subnet_id=sub.id)
    port = conn.network.create_port(network_id=net.id)
    fip = conn.network.create_ip(floating_network_id=router.external_gateway_info["network_id"])
    tok = cloud.token()
    body = {"port_forwarding": {"internal_port_id": port.id, "internal_ip_address": port.fixed_ips[0]["ip_address"],
                                "internal_port": 22, "external_port": 2222, "protocol": "tcp"}}
    r = cloud.request("POST", f"{N}/floatingips/{fip.id}/port_forwardings", token=tok, body=body)
    assert r.status == 201, r
    pf = r.json()["port_forwarding"]
    r = cloud.request("POST", f"{N}/floatingips/{fip.id}/port_forwardings", token=tok, body=body)
    assert r.status == 400
    r = cloud.request("GET", f"{N}/floatingips/{fip.id}/port_forwardings", token=tok)
    assert [p["id"] for p in r.json()["port_forwardings"]] == [pf["id"]]
    r = cloud.request("DELETE", f"{N}/floatingips/{fip.id}/port_forwardings/{pf['id']}", token=tok)
    assert r.status == 204
    conn.network.delete_ip(fip)
    conn.network.delete_port(port)
    conn.network.remove_interface_from_router(router, subnet_id=sub.id)
    conn.network.delete_router(router)
    conn.network.delete_network(net)


def test_quotas_enforced_and_shown(cloud, uniq):
    demo = cloud.sdk("onestack")
    pid = demo.current_project_id
    q = cloud.cli("quota", "show", "--network", pid)
    if isinstance(q, list):
        q = {row["Resource"]: row["Limit"] for row in q}
    assert q["networks"] == 100 and q["ports"] == 500
    tok = cloud.token()
    r = cloud.request("PUT", f"{N}/quotas/{pid}", token=tok, body={"quota": {"security_group": 2}})
    assert r.status == 200 and r.json()["quota"]["security_group"] == 2
    d = cloud.request("GET", f"{N}/quotas/{pid}/details", token=tok).json()["quota"]["security_group"]
    assert d["limit"] == 2 and d["used"] >= 1 and d["reserved"] == 0
    made = []
    for i in range(3):
        r = cloud.request("POST", f"{N}/security-groups", token=cloud.token("onestack"),
                          body={"security_group": {"name": f"q{i}-{uniq}"}})
        if r.status == 201:
            made.append(r.json()["security_group"]["id"])
        else:
            assert r.status == 409 and _err(r)["type"] == "OverQuota"
    assert len(made) == 2 - d["used"]
    # the demo member can't change quotas
    r = cloud.request("PUT", f"{N}/quotas/{pid}", token=cloud.token("onestack"),
                      body={"quota": {"security_group": 50}})
    assert r.status == 403
    assert cloud.request("DELETE", f"{N}/quotas/{pid}", token=tok).status == 204
    assert cloud.request("GET", f"{N}/quotas/{pid}", token=tok).json()["quota"]["security_group"] == 10
    for sid in made:
        demo.network.delete_security_group(sid)


def test_rbac_shares_network_between_projects(cloud, uniq):
    demo = cloud.sdk("onestack")
    net = cloud.cli("network", "create", f"rb-{uniq}")
    cloud.cli("subnet", "create", f"rbs-{uniq}", "--network", net["id"], "--subnet-range", "10.63.0.0/24")
    assert demo.network.find_network(net["id"]) is None
    pol = cloud.cli("network", "rbac", "create", "--target-project", demo.current_project_id,
                    "--action", "access_as_shared", "--type", "network", net["id"])
    assert pol["object_id"] == net["id"]
    assert demo.network.get_network(net["id"]).id == net["id"]
    port = demo.network.create_port(network_id=net["id"])
    r = cloud.request("DELETE", f"{N}/rbac-policies/{pol['id']}", token=cloud.token())
    assert r.status == 409
    demo.network.delete_port(port)
    cloud.cli("network", "rbac", "delete", pol["id"], json_out=False)
    assert demo.network.find_network(net["id"]) is None
    ext = cloud.cli("network", "rbac", "create", "--target-project", demo.current_project_id,
                    "--action", "access_as_external", "--type", "network", net["id"])
    assert demo.network.get_network(net["id"]).id == net["id"]
    cloud.cli("network", "rbac", "delete", ext["id"], json_out=False)
    cloud.cli("network", "delete", net["id"], json_out=False)


def test_subnet_pools_and_address_scopes(cloud, uniq):
    scope = cloud.sdk().network.create_address_scope(name=f"as-{uniq}", ip_version=4)
    pool = cloud.cli("subnet", "pool", "create", f"pool-{uniq}", "--pool-prefix", "10.128.0.0/16",
                     "--default-prefix-length", "26", "--address-scope", scope.id)
    assert pool["prefixes"] == ["10.128.0.0/16"] and pool["default_prefixlen"] == 26
    net = cloud.cli("network", "create", f"pn-{uniq}")
    s1 = cloud.cli("subnet", "create", f"p1-{uniq}", "--network", net["id"], "--subnet-pool", pool["id"])
    s2 = cloud.cli("subnet", "create", f"p2-{uniq}", "--network", net["id"], "--subnet-pool", pool["id"],
                   "--prefix-length", "24")
    assert s1["cidr"] == "10.128.0.0/26" and s2["cidr"] == "10.128.1.0/24"
    tok = cloud.token()
    r = cloud.request("DELETE", f"{N}/subnetpools/{pool['id']}", token=tok)
    assert r.status == 409
    r = cloud.request("PUT", f"{N}/subnetpools/{pool['id']}/add_prefixes", token=tok,
                      body={"prefixes": ["10.129.0.0/16"]})
    assert r.status == 200 and r.json()["prefixes"] == ["10.128.0.0/15"]
    cloud.cli("network", "delete", net["id"], json_out=False)
    cloud.cli("subnet", "pool", "delete", pool["id"], json_out=False)
    cloud.sdk().network.delete_address_scope(scope)


def test_qos_trunks_agents_azs(cloud, uniq):
    conn = cloud.sdk()
    pol = conn.network.create_qos_policy(name=f"qos-{uniq}")
    rule = conn.network.create_qos_bandwidth_limit_rule(pol, max_kbps=1000, max_burst_kbps=100)
    conn.network.create_qos_dscp_marking_rule(pol, dscp_mark=26)
    conn.network.create_qos_minimum_bandwidth_rule(pol, min_kbps=500)
    got = conn.network.get_qos_policy(pol.id)
    assert {r["type"] for r in got.rules} == {"bandwidth_limit", "dscp_marking", "minimum_bandwidth"}
    r = cloud.request("POST", f"{N}/qos/policies/{pol.id}/dscp_marking_rules", token=cloud.token(),
                      body={"dscp_marking_rule": {"dscp_mark": 7}})
    assert r.status == 400
    conn.network.delete_qos_bandwidth_limit_rule(rule, pol)
    conn.network.delete_qos_policy(pol)
    net = conn.network.create_network(name=f"tr-{uniq}")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.64.0.0/24")
    parent = conn.network.create_port(network_id=net.id)
    child = conn.network.create_port(network_id=net.id)
    trunk = conn.network.create_trunk(port_id=parent.id, name=f"t-{uniq}")
    conn.network.add_trunk_subports(trunk, [{"port_id": child.id, "segmentation_type": "vlan",
                                             "segmentation_id": 100}])
    assert conn.network.get_trunk_subports(trunk)["sub_ports"][0]["segmentation_id"] == 100
    r = cloud.request("DELETE", f"{N}/ports/{parent.id}", token=cloud.token())
    assert r.status == 409
    conn.network.delete_trunk(trunk)
    conn.network.delete_port(child)
    conn.network.delete_port(parent)
    conn.network.delete_network(net)
    agents = list(conn.network.agents())
    assert agents and all(a.is_alive for a in agents)
    zones = list(conn.network.availability_zones())
    assert {z.resource for z in zones} == {"network", "router"}
