"""Bridges, veths, security groups and a router namespace carrying real packets."""
from __future__ import annotations

from onestack.dataplane import inventory, names, net
from tests.dataplane.conftest import TOKEN, connect, ping, sh, uid


def _instance(host_ns: str, bridge: str, ip: str, mac: str, prefix: int = 24, gw: str | None = None) -> tuple[dict, str]:
    port = {"id": uid(), "mac_address": mac, "fixed_ips": [{"ip_address": ip}]}
    ins = names.instance_netns(uid())
    net.plug_port_into_netns(port, bridge, ins, ns=host_ns, cidrs=[f"{ip}/{prefix}"],
                             routes=[{"destination": "0.0.0.0/0", "nexthop": gw}] if gw else ())
    return port, ins


def test_two_namespaces_on_a_bridge_ping(state_dir, host_ns):
    br = names.bridge(uid())
    net.ensure_bridge(br, mtu=1450, ns=host_ns)
    net.ensure_bridge(br, mtu=1450, ns=host_ns)          # idempotent
    p1, a = _instance(host_ns, br, "10.9.0.11", "fa:16:3e:00:01:11")
    p2, b = _instance(host_ns, br, "10.9.0.12", "fa:16:3e:00:01:12")
    # ensure twice converges, does not duplicate or fail
    net.plug_port_into_netns(p1, br, a, ns=host_ns, cidrs=["10.9.0.11/24"])
    info = net.link_info(names.port_device(p1["id"]), host_ns)
    assert info["master"] == br and info["kind"] == "veth"
    assert net.link_info("eth0", a)["address"] == "fa:16:3e:00:01:11"
    assert net.link_info(br, host_ns)["mtu"] == 1450
    assert ping(a, "10.9.0.12") and ping(b, "10.9.0.11")
    # inventory sees the namespaces and the bridge; cleanup keeps what is asked to be kept
    inv = {(o.kind, o.name) for o in inventory.inventory(state_dir)}
    assert ("netns", a) in inv and ("netns", b) in inv
    removed = inventory.cleanup(state_dir, keep={a, host_ns}, only=[TOKEN])
    assert b in {o.name for o in removed} and a not in {o.name for o in removed}
    assert net.netns_exists(a) and not net.netns_exists(b)
    net.unplug_port(p2["id"], ns=host_ns)                # already gone with b: still fine


def test_security_groups_block_and_allow(state_dir, host_ns, servers):
    br = names.bridge(uid())
    net.ensure_bridge(br, ns=host_ns)
    p1, a = _instance(host_ns, br, "10.9.1.11", "fa:16:3e:00:02:11")
    p2, b = _instance(host_ns, br, "10.9.1.12", "fa:16:3e:00:02:12")
    servers.start(a, "10.9.1.11", 22)
    servers.start(a, "10.9.1.11", 8080)
    default = [{"direction": "egress", "ethertype": "IPv4"},
               {"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
               {"direction": "ingress", "protocol": "icmp"}]
    net.apply_security_groups(p1, default, ns=host_ns)
    net.apply_security_groups(p2, [{"direction": "egress", "ethertype": "IPv4"}], ns=host_ns)
    assert connect(b, "10.9.1.11", 22) == "10.9.1.12"
    assert connect(b, "10.9.1.11", 8080) is None          # blocked by p1's ingress
    assert ping(b, "10.9.1.11")
    assert not ping(a, "10.9.1.12")                        # p2 allows no ingress at all
    # incremental update of one port: 8080 opens, icmp closes; p2 untouched
    before = net.filtered_ports(host_ns)
    net.apply_security_groups(p1, default[:2] + [{"direction": "ingress", "protocol": "tcp",
                                                  "port_range_min": 8080, "port_range_max": 8080,
                                                  "remote_ip_prefix": "10.9.1.0/24"}], ns=host_ns)
    assert net.filtered_ports(host_ns) == before
    assert connect(b, "10.9.1.11", 8080) == "10.9.1.12"
    assert not ping(b, "10.9.1.11")
    # remote group expanded to IPs that do not include b: closed again
    net.apply_security_groups(p1, [{"direction": "ingress", "protocol": "tcp", "port_range_min": 22,
                                    "port_range_max": 22, "remote_ips": ["10.9.1.99"]}], ns=host_ns)
    assert connect(b, "10.9.1.11", 22) is None
    net.apply_security_groups(p1, default, ns=host_ns)
    # anti-spoofing: b sending from an address that is not its own is dropped
    sh(b, "ip", "addr", "add", "10.9.1.99/24", "dev", "eth0", check=True)
    assert not ping_from(b, "10.9.1.99", "10.9.1.11")
    assert ping(b, "10.9.1.11")
    # port security off: no filtering at all
    net.apply_security_groups(p1, [], port_security=False, ns=host_ns)
    assert connect(b, "10.9.1.11", 8080) == "10.9.1.12"
    assert names.port_device(p1["id"]) not in net.filtered_ports(host_ns)


def ping_from(ns: str, src: str, dst: str) -> bool:
    return sh(ns, "busybox", "ping", "-c1", "-W1", "-I", src, dst).returncode == 0


def test_router_snat_and_floating_ip(state_dir, host_ns, servers):
    tenant, ext = names.bridge(uid()), names.bridge(uid())
    net.ensure_bridge(tenant, ns=host_ns)
    net.ensure_bridge(ext, ns=host_ns)
    p1, i1 = _instance(host_ns, tenant, "10.9.2.11", "fa:16:3e:00:03:11", gw="10.9.2.1")
    p2, i2 = _instance(host_ns, tenant, "10.9.2.12", "fa:16:3e:00:03:12", gw="10.9.2.1")
    pe, outside = _instance(host_ns, ext, "172.30.4.100", "fa:16:3e:00:03:99")   # "the internet"
    rid, qr_port, qg_port = uid(), uid(), uid()
    itf = [{"port_id": qr_port, "bridge": tenant, "mac_address": "fa:16:3e:00:03:01", "cidrs": ["10.9.2.1/24"]}]
    gw = {"port_id": qg_port, "bridge": ext, "mac_address": "fa:16:3e:00:03:02", "cidrs": ["172.30.4.2/24"],
          "gateway_ip": "172.30.4.100"}
    rns = net.ensure_router(rid, itf, gw, host_ns=host_ns)
    net.ensure_router(rid, itf, gw, host_ns=host_ns)       # idempotent
    net.ensure_floating_ip(rid, qg_port, "172.30.4.50", "10.9.2.11")
    net.ensure_floating_ip(rid, qg_port, "172.30.4.50", "10.9.2.11")
    assert net.floating_ips(rid) == {"172.30.4.50": "10.9.2.11"}
    servers.start(outside, "172.30.4.100", 9000)
    servers.start(i1, "10.9.2.11", 22)
    assert connect(i2, "172.30.4.100", 9000) == "172.30.4.2"      # SNAT behind the gateway
    assert connect(i1, "172.30.4.100", 9000) == "172.30.4.50"     # FIP SNAT
    assert connect(outside, "172.30.4.50", 22) == "172.30.4.100"  # FIP DNAT
    assert ping(outside, "172.30.4.50")
    assert not ping(outside, "10.9.2.11")                          # tenant net not routed from outside
    # re-running ensure_router keeps floating IPs; moving the FIP to i2 re-targets it
    net.ensure_router(rid, itf, gw, host_ns=host_ns)
    net.ensure_floating_ip(rid, qg_port, "172.30.4.50", "10.9.2.12")
    assert connect(i2, "172.30.4.100", 9000) == "172.30.4.50"
    assert connect(i1, "172.30.4.100", 9000) == "172.30.4.2"
    net.ensure_floating_ip(rid, qg_port, "172.30.4.50", None)
    assert net.floating_ips(rid) == {} and not ping(outside, "172.30.4.50")
    # router without gateway: SNAT gone, interface set converges
    net.ensure_router(rid, itf, None, host_ns=host_ns)
    assert [lk["ifname"] for lk in net.list_links(rns)] == [names.router_internal(qr_port)]
    assert connect(i2, "172.30.4.100", 9000) is None
    net.remove_router(rid)
    assert not net.netns_exists(rns)
