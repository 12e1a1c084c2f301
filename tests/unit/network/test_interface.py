"""network/interface.py as compute calls it, over a real (SQLite) database and the fake driver."""
from __future__ import annotations

import pytest

from onestack import db, errors
from onestack.context import RequestContext


@pytest.fixture(scope="module")
def net_db(tmp_path_factory):
    from onestack.db import migrate
    import onestack.network  # noqa: F401  (models, config section)
    db.init(f"sqlite:///{tmp_path_factory.mktemp('netdb') / 'x.db'}")
    migrate.upgrade()
    from onestack.network import agent, service as svc
    from onestack.network.drivers.fake import FakeDriver
    agent.set_driver(FakeDriver())   # "auto" would pick the linux driver when run as root
    agent.start(host="hv1")
    admin = RequestContext.internal(project_id="admin-p")
    with db.write() as s:
        pub = svc.create_network(s, admin, {"name": "public", "external": True, "project_id": "admin-p"})
        svc.create_subnet(s, admin, {"ip_version": 4, "cidr": "172.30.0.0/24", "project_id": "admin-p"}, pub)
    return True


def _ctx(project: str) -> RequestContext:
    return RequestContext(user_id="u-" + project, project_id=project, roles=["member", "reader"])


def test_auto_allocates_a_topology_once_then_reuses_it(net_db):
    from onestack.network import interface
    ctx = _ctx("p-auto")
    ports = interface.allocate_for_server(ctx, "srv-1", "auto", host="hv1")
    assert len(ports) == 1 and ports[0]["preexisting"] is False
    assert ports[0]["fixed_ips"][0]["ip_address"].startswith("10.1.0.")
    port = interface.get_port(ctx, ports[0]["id"])
    assert port["status"] == "ACTIVE" and port["device_owner"] == "compute:nova" and port["device_id"] == "srv-1"
    again = interface.allocate_for_server(ctx, "srv-2", "auto")
    assert again[0]["network_id"] == ports[0]["network_id"]
    addrs = interface.server_addresses("srv-1")
    assert list(addrs) == ["auto_allocated_network"]
    entry = addrs["auto_allocated_network"][0]
    assert entry["OS-EXT-IPS:type"] == "fixed" and entry["version"] == 4
    assert entry["OS-EXT-IPS-MAC:mac_addr"] == ports[0]["mac_address"]
    interface.deallocate_for_server(ctx, "srv-1")
    interface.deallocate_for_server(ctx, "srv-2")
    assert interface.list_ports(ctx, device_id="srv-1") == []


def test_requested_networks_ports_and_errors(net_db):
    from onestack.network import interface, service as svc
    ctx = _ctx("p-req")
    with db.write() as s:
        net = svc.create_network(s, ctx, {"name": "mine"})
        svc.create_subnet(s, ctx, {"ip_version": 4, "cidr": "192.168.9.0/29"}, net)
        net_id = net.id
    pre = interface.create_port(ctx, net_id, created_by="user")
    got = interface.allocate_for_server(ctx, "srv-3", [{"uuid": net_id, "fixed_ip": "192.168.9.5"},
                                                       {"port": pre["id"]}], security_groups=["default"])
    assert [p["preexisting"] for p in got] == [False, True]
    assert got[0]["fixed_ips"][0]["ip_address"] == "192.168.9.5"
    with pytest.raises(errors.Conflict):
        interface.allocate_for_server(ctx, "srv-4", [{"port": pre["id"]}])      # in use
    with pytest.raises(errors.Conflict):
        interface.allocate_for_server(ctx, "srv-4", [{"uuid": net_id, "fixed_ip": "192.168.9.5"}])
    with pytest.raises(errors.NotFound):
        interface.allocate_for_server(ctx, "srv-4", [{"uuid": "no-such-net"}])
    with pytest.raises(errors.NotFound):
        interface.allocate_for_server(_ctx("p-other"), "srv-4", [{"uuid": net_id}])
    with pytest.raises(errors.BadRequest):
        interface.allocate_for_server(ctx, "srv-4", [{"uuid": net_id, "fixed_ip": "not-an-ip"}])
    # all or nothing: the failed requests left no ports behind
    assert interface.list_ports(ctx, device_id="srv-4") == []
    assert interface.allocate_for_server(ctx, "srv-5", "none") == []
    interface.deallocate_for_server(ctx, "srv-3")
    left = interface.get_port(ctx, pre["id"])          # pre-created port survives, unbound
    assert left["device_id"] == "" and left["binding:host_id"] == "" and left["status"] == "DOWN"
    with pytest.raises(errors.NotFound):
        interface.get_port(ctx, got[0]["id"])
    bound = interface.bind_port(pre["id"], "hv1")
    assert bound["status"] == "ACTIVE" and bound["binding:vif_type"] == "ovs"
    interface.delete_port(ctx, pre["id"])
    assert interface.get_network(ctx, net_id)["name"] == "mine"
