"""Networks, subnets and ports through the unchanged CLI, the SDK and raw HTTP."""
from __future__ import annotations

import pytest

from tests.harness import CLIError


def _err(r):
    body = r.json()
    assert set(body["NeutronError"]) == {"type", "message", "detail"}, body
    return body["NeutronError"]


def test_devstack_layout(cloud):
    nets = {n["Name"]: n for n in cloud.cli("network", "list")}
    assert {"public", "private"} <= set(nets)
    public = cloud.cli("network", "show", "public")
    assert public["router:external"] is True and public["shared"] is False
    sub = cloud.cli("subnet", "show", public["subnets"][0])
    assert sub["cidr"] == "172.24.4.0/24" and sub["gateway_ip"] == "172.24.4.1"
    router = cloud.cli("router", "show", "router1")
    assert router["external_gateway_info"]["network_id"] == public["id"]
    demo_nets = {n["Name"] for n in cloud.cli("network", "list", cloud="onestack")}
    assert "private" in demo_nets


def test_network_crud_cli(cloud, uniq):
    net = cloud.cli("network", "create", f"net-{uniq}", "--mtu", "1400", "--description", "d")
    assert net["mtu"] == 1400 and net["status"] == "ACTIVE" and net["admin_state_up"] is True
    assert net["provider:network_type"] == "vxlan"
    cloud.cli("network", "set", net["id"], "--name", f"renamed-{uniq}", "--disable", json_out=False)
    shown = cloud.cli("network", "show", net["id"])
    assert shown["name"] == f"renamed-{uniq}" and shown["admin_state_up"] is False
    assert shown["revision_number"] > net["revision_number"]
    cloud.cli("network", "set", net["id"], "--tag", "red", "--tag", "blue", json_out=False)
    assert sorted(cloud.cli("network", "show", net["id"])["tags"]) == ["blue", "red"]
    listed = cloud.cli("network", "list", "--tags", "red")
    assert [n["ID"] for n in listed] == [net["id"]]
    cloud.cli("network", "unset", net["id"], "--tag", "red", json_out=False)
    assert cloud.cli("network", "show", net["id"])["tags"] == ["blue"]
    cloud.cli("network", "delete", net["id"], json_out=False)
    with pytest.raises(CLIError):
        cloud.cli("network", "show", net["id"])


def test_subnet_validation_and_defaults(cloud, uniq):
    net = cloud.cli("network", "create", f"sn-{uniq}")
    sub = cloud.cli("subnet", "create", f"s-{uniq}", "--network", net["id"], "--subnet-range", "10.20.0.0/24",
                    "--dns-nameserver", "8.8.8.8", "--host-route", "destination=10.30.0.0/24,gateway=10.20.0.5")
    assert sub["gateway_ip"] == "10.20.0.1"
    assert sub["allocation_pools"] == [{"start": "10.20.0.2", "end": "10.20.0.254"}]
    assert sub["dns_nameservers"] == ["8.8.8.8"] and sub["enable_dhcp"] is True
    tok = cloud.token()
    base = {"network_id": net["id"], "ip_version": 4}
    bad = [
        {**base, "cidr": "10.20.0.0/24"},                          # overlaps
        {**base, "cidr": "300.1.0.0/24"},                          # not a CIDR
        {**base, "cidr": "10.21.0.0/24", "gateway_ip": "10.21.0.0"},
        {**base, "cidr": "10.22.0.0/24", "allocation_pools": [{"start": "10.22.0.10", "end": "10.22.0.5"}]},
        {**base, "cidr": "10.23.0.0/24", "allocation_pools": [{"start": "10.23.0.2", "end": "10.24.0.5"}]},
        {**base, "cidr": "10.25.0.0/24", "gateway_ip": "10.25.0.5",
         "allocation_pools": [{"start": "10.25.0.2", "end": "10.25.0.9"}]},
        {**base, "cidr": "10.26.0.0/24", "ipv6_ra_mode": "slaac"},
        {**base, "ip_version": 6, "cidr": "2001:db8::/64", "ipv6_ra_mode": "slaac",
         "ipv6_address_mode": "dhcpv6-stateful"},
        {**base, "cidr": "10.27.0.0/24", "dns_nameservers": ["8.8.8.8", "8.8.8.8"]},
    ]
    for body in bad:
        r = cloud.request("POST", "/networking/v2.0/subnets", token=tok, body={"subnet": body})
        assert r.status == 400, (body, r)
        _err(r)
    # nothing half-created
    subs = cloud.cli("subnet", "list", "--network", net["id"])
    assert [s["ID"] for s in subs] == [sub["id"]]
    # gateway null, IPv6 SLAAC
    r = cloud.request("POST", "/networking/v2.0/subnets", token=tok,
                      body={"subnet": {**base, "cidr": "10.28.0.0/28", "gateway_ip": None}})
    assert r.status == 201 and r.json()["subnet"]["gateway_ip"] is None
    assert r.json()["subnet"]["allocation_pools"] == [{"start": "10.28.0.1", "end": "10.28.0.14"}]
    v6 = cloud.cli("subnet", "create", f"v6-{uniq}", "--network", net["id"], "--ip-version", "6",
                   "--subnet-range", "2001:db8:1::/64", "--ipv6-ra-mode", "slaac",
                   "--ipv6-address-mode", "slaac")
    assert v6["ipv6_address_mode"] == "slaac" and v6["gateway_ip"] == "2001:db8:1::1"
    port = cloud.cli("port", "create", f"p-{uniq}", "--network", net["id"])
    v6ip = [f["ip_address"] for f in port["fixed_ips"] if f["subnet_id"] == v6["id"]]
    assert v6ip and v6ip[0].startswith("2001:db8:1:")
    cloud.cli("port", "delete", port["id"], json_out=False)
    cloud.cli("network", "delete", net["id"], json_out=False)


def test_port_lifecycle_and_ipam(cloud, uniq):
    net = cloud.cli("network", "create", f"pn-{uniq}")
    sub = cloud.cli("subnet", "create", f"ps-{uniq}", "--network", net["id"], "--subnet-range",
                    "10.40.0.0/29")
    # pool: .2-.6 (gateway .1, broadcast .7)
    p1 = cloud.cli("port", "create", f"a-{uniq}", "--network", net["id"],
                   "--fixed-ip", f"subnet={sub['id']},ip-address=10.40.0.5", "--mac-address", "fa:16:3e:11:22:33")
    assert p1["fixed_ips"][0]["ip_address"] == "10.40.0.5" and p1["mac_address"] == "fa:16:3e:11:22:33"
    assert p1["status"] == "DOWN"
    tok = cloud.token()
    dup_ip = cloud.request("POST", "/networking/v2.0/ports", token=tok, body={"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.40.0.5"}]}})
    assert dup_ip.status == 409 and _err(dup_ip)["type"] == "IpAddressInUse"
    dup_mac = cloud.request("POST", "/networking/v2.0/ports", token=tok, body={"port": {
        "network_id": net["id"], "mac_address": "fa:16:3e:11:22:33"}})
    assert dup_mac.status == 409 and _err(dup_mac)["type"] == "MacAddressInUse"
    gw = cloud.request("POST", "/networking/v2.0/ports", token=tok, body={"port": {
        "network_id": net["id"], "fixed_ips": [{"ip_address": "10.40.0.7"}]}})
    assert gw.status == 400
    got = [cloud.request("POST", "/networking/v2.0/ports", token=tok, body={"port": {
        "network_id": net["id"], "name": f"x{i}-{uniq}"}}).json()["port"] for i in range(4)]
    ips = sorted(p["fixed_ips"][0]["ip_address"] for p in got)
    assert ips == ["10.40.0.2", "10.40.0.3", "10.40.0.4", "10.40.0.6"]
    full = cloud.request("POST", "/networking/v2.0/ports", token=tok, body={"port": {"network_id": net["id"]}})
    assert full.status == 409 and _err(full)["type"] == "IpAddressGenerationFailure"
    # release on delete, then re-used
    assert cloud.request("DELETE", f"/networking/v2.0/ports/{got[0]['id']}", token=tok).status == 204
    again = cloud.request("POST", "/networking/v2.0/ports", token=tok,
                          body={"port": {"network_id": net["id"]}}).json()["port"]
    assert again["fixed_ips"][0]["ip_address"] == got[0]["fixed_ips"][0]["ip_address"]
    # filters and fields
    r = cloud.request("GET", f"/networking/v2.0/ports?fixed_ips=ip_address%3D10.40.0.5&fields=id&fields=name",
                      token=tok)
    assert r.json()["ports"] == [{"id": p1["id"], "name": f"a-{uniq}"}]
    # binding by admin -> ACTIVE through the driver
    cloud.cli("port", "set", p1["id"], "--host", "compute-1", "--device-owner", "compute:nova",
              "--device", "server-1", json_out=False)
    bound = cloud.cli("port", "show", p1["id"])
    assert bound["status"] == "ACTIVE" and bound["binding_vif_type"] == "ovs"
    assert bound["binding_host_id"] == "compute-1"
    # network with ports can't go; subnet with allocations can't go
    r = cloud.request("DELETE", f"/networking/v2.0/subnets/{sub['id']}", token=tok)
    assert r.status == 409 and _err(r)["type"] == "SubnetInUse"
    r = cloud.request("DELETE", f"/networking/v2.0/networks/{net['id']}", token=tok)
    assert r.status == 409 and _err(r)["type"] == "NetworkInUse"
    for p in [p1, again, *got[1:]]:
        assert cloud.request("DELETE", f"/networking/v2.0/ports/{p['id']}", token=tok).status == 204
    assert cloud.request("DELETE", f"/networking/v2.0/networks/{net['id']}", token=tok).status == 204


def test_port_attributes(cloud, uniq):
    conn = cloud.sdk()
    net = conn.network.create_network(name=f"attr-{uniq}")
    conn.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.50.0.0/24")
    sg = conn.network.create_security_group(name=f"sg-{uniq}")
    port = conn.network.create_port(
        network_id=net.id, allowed_address_pairs=[{"ip_address": "10.50.0.100"}],
        extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}],
        security_group_ids=[sg.id], dns_name="web", binding_vnic_type="normal",
        binding_profile={"foo": "bar"})
    assert port.allowed_address_pairs == [{"ip_address": "10.50.0.100"}]
    assert port.extra_dhcp_opts[0]["opt_value"] == "pxelinux.0"
    assert port.security_group_ids == [sg.id] and port.dns_name == "web"
    assert port.binding_profile == {"foo": "bar"}
    # port security off with SGs -> refused; drop SGs first
    tok = cloud.token()
    r = cloud.request("PUT", f"/networking/v2.0/ports/{port.id}", token=tok,
                      body={"port": {"port_security_enabled": False}})
    assert r.status == 409
    r = cloud.request("PUT", f"/networking/v2.0/ports/{port.id}", token=tok,
                      body={"port": {"port_security_enabled": False, "security_groups": [],
                                     "allowed_address_pairs": []}})
    assert r.status == 200 and r.json()["port"]["port_security_enabled"] is False
    conn.network.delete_port(port)
    conn.network.delete_security_group(sg)
    conn.network.delete_network(net)


def test_pagination_sorting_and_extensions(cloud, uniq):
    conn = cloud.sdk()
    nets = [conn.network.create_network(name=f"pg-{uniq}-{i}") for i in range(5)]
    tok = cloud.token()
    seen, url = [], f"/networking/v2.0/networks?limit=2&sort_key=name&sort_dir=desc&name=pg-{uniq}-0"
    r = cloud.request("GET", url, token=tok)
    assert [n["name"] for n in r.json()["networks"]] == [f"pg-{uniq}-0"]
    url = "/networking/v2.0/networks?limit=2&sort_key=name&sort_dir=asc"
    while url:
        body = cloud.request("GET", url, token=tok).json()
        seen += [n["name"] for n in body["networks"]]
        nxt = [link["href"] for link in body.get("networks_links", []) if link["rel"] == "next"]
        url = nxt[0].split(str(cloud.port), 1)[1] if nxt else None
    mine = [n for n in seen if n.startswith(f"pg-{uniq}")]
    assert mine == sorted(mine) and len(mine) == 5
    assert len(seen) == len(set(seen))
    assert {n.name for n in conn.network.networks(name=f"pg-{uniq}-3")} == {f"pg-{uniq}-3"}
    r = cloud.request("GET", "/networking/v2.0/networks?sort_key=bogus", token=tok)
    assert r.status == 400
    exts = {e["alias"] for e in cloud.request("GET", "/networking/v2.0/extensions", token=tok).json()["extensions"]}
    assert {"router", "security-group", "external-net", "quotas", "standard-attr-tag"} <= exts
    for n in nets:
        conn.network.delete_network(n)


def test_bad_input_is_400_not_500(cloud):
    tok = cloud.token()
    cases = [("POST", "/networking/v2.0/networks", {"network": {"admin_state_up": "maybe"}}),
             ("POST", "/networking/v2.0/networks", {"network": {"bogus": 1}}),
             ("POST", "/networking/v2.0/networks", {"nothing": {}}),
             ("POST", "/networking/v2.0/networks", {"network": {"mtu": 10}}),
             ("POST", "/networking/v2.0/ports", {"port": {"network_id": 5}}),
             ("POST", "/networking/v2.0/subnets", {"subnet": {"ip_version": 4}}),
             ("GET", "/networking/v2.0/networks?admin_state_up=perhaps", None),
             ("GET", "/networking/v2.0/networks?limit=x", None)]
    for method, path, body in cases:
        r = cloud.request(method, path, token=tok, body=body)
        assert 400 <= r.status < 500, (path, body, r)
        _err(r)
