"""The instance metadata content (Nova's metadata API): OpenStack and EC2 formats.

:func:`documents` builds every file a config drive holds (``openstack/<version>/...``,
``ec2/<version>/...``); :func:`handle` answers the metadata service's HTTP requests (the
network's metadata proxy has already identified the instance from where the request came
from, never from what it says). Content per upstream: meta_data.json (uuid, name,
hostname, public_keys, keys, availability_zone, project_id, launch_index, meta, devices,
random_seed), network_data.json (links, networks, services), user_data, vendor_data.json,
vendor_data2.json, password (the guest may POST it once) and the EC2 tree
(latest/meta-data/..., latest/user-data).
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
from typing import Any

from onestack import db
from onestack.compute import models as m

# OpenStack-format versions, oldest first (each adds files or keys).
FOLSOM, GRIZZLY, HAVANA, LIBERTY = "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15"
NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY, VICTORIA = "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14"
OPENSTACK_VERSIONS = [FOLSOM, GRIZZLY, HAVANA, LIBERTY, NEWTON_ONE, NEWTON_TWO, OCATA, ROCKY, VICTORIA]
EC2_VERSIONS = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
                "2008-09-01", "2009-04-04"]
DOMAIN = "novalocal"
MAX_PASSWORD = 256
JSON_TYPE = "application/json"
TEXT = "text/plain"


class _Instance:
    """Everything the documents need, read once."""

    def __init__(self, srv: m.Server, key_type: str, ports: list[dict[str, Any]]):
        self.srv, self.key_type, self.ports = srv, key_type, ports


def _load(instance_uuid: str) -> _Instance | None:
    from sqlalchemy import select

    from onestack.network import interface as network
    with db.read() as s:
        srv = s.get(m.Server, instance_uuid)
        if srv is None or srv.deleted:
            return None
        key_type = "ssh"
        if srv.key_name:
            kp = s.scalars(select(m.KeyPair).where(m.KeyPair.user_id == srv.user_id,
                                                   m.KeyPair.name == srv.key_name)).first()
            key_type = kp.type if kp is not None else "ssh"
        s.expunge(srv)
    return _Instance(srv, key_type, network.instance_network_info(instance_uuid))


def _at_least(version: str, since: str) -> bool:
    return version == "latest" or version >= since


def _hostname(inst: _Instance) -> str:
    h = inst.srv.hostname or inst.srv.name or inst.srv.uuid
    return h if "." in h else f"{h}.{DOMAIN}"


def user_data(inst: _Instance) -> bytes | None:
    raw = inst.srv.user_data
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


def meta_data(inst: _Instance, version: str = "latest") -> dict[str, Any]:
    srv = inst.srv
    out: dict[str, Any] = {"uuid": srv.uuid, "meta": dict(srv.metadata_ or {})}
    keys = []
    if srv.key_name and srv.key_data:
        out["public_keys"] = {srv.key_name: srv.key_data}
        keys = [{"name": srv.key_name, "type": inst.key_type, "data": srv.key_data}]
    else:
        out["public_keys"] = {}
    out["keys"] = keys
    out.update({"hostname": _hostname(inst), "name": srv.name, "launch_index": srv.launch_index,
                "availability_zone": srv.availability_zone or "nova"})
    if _at_least(version, HAVANA):
        out["random_seed"] = base64.b64encode(os.urandom(512)).decode()
    if _at_least(version, LIBERTY):
        out["project_id"] = srv.project_id
    if _at_least(version, NEWTON_ONE):
        out["devices"] = [{"type": "disk", "bus": "virtio", "serial": bd.get("volume_id") or bd.get("uuid", ""),
                           "tags": [bd["tag"]]} for bd in srv.block_devices or [] if bd.get("tag")]
    if _at_least(version, VICTORIA):
        out["dedicated_cpus"] = []
    return out


def network_data(inst: _Instance) -> dict[str, Any]:
    """Links (one per port), networks (dhcp or static per subnet), DNS services."""
    links, networks, services = [], [], []
    for i, p in enumerate(inst.ports):
        link = "tap" + p["id"][:11]
        links.append({"id": link, "vif_id": p["id"], "type": p.get("binding:vif_type") or "bridge",
                      "mtu": p["network"]["mtu"], "ethernet_mac_address": p["mac_address"]})
        for j, f in enumerate(p["fixed_ips"]):
            sub = p["subnets"].get(f["subnet_id"])
            if sub is None:
                continue
            net = ipaddress.ip_network(sub["cidr"])
            entry: dict[str, Any] = {"id": f"network{len(networks)}", "link": link,
                                     "network_id": p["network_id"]}
            if sub["ip_version"] == 4 and sub["enable_dhcp"]:
                entry["type"] = "ipv4_dhcp"
            else:
                entry["type"] = "ipv6" if sub["ip_version"] == 6 else "ipv4"
                entry["ip_address"] = f["ip_address"]
                entry["netmask"] = str(net.netmask) if net.version == 4 else str(net.prefixlen)
                routes = [{"network": str(ipaddress.ip_network(r["destination"]).network_address),
                           "netmask": str(ipaddress.ip_network(r["destination"]).netmask),
                           "gateway": r["nexthop"]} for r in sub["host_routes"]]
                if sub["gateway_ip"]:
                    routes.append({"network": "0.0.0.0" if net.version == 4 else "::",
                                   "netmask": "0.0.0.0" if net.version == 4 else "::",
                                   "gateway": sub["gateway_ip"]})
                entry["routes"] = routes
                entry["services"] = [{"type": "dns", "address": a} for a in sub["dns_nameservers"]]
            networks.append(entry)
            for a in sub["dns_nameservers"]:
                svc = {"type": "dns", "address": a}
                if svc not in services:
                    services.append(svc)
    return {"links": links, "networks": networks, "services": services}


def _password(inst: _Instance) -> str:
    return (inst.srv.system_metadata or {}).get("password", "")


def _openstack_files(inst: _Instance, version: str) -> dict[str, bytes]:
    files = {"meta_data.json": json.dumps(meta_data(inst, version)).encode()}
    ud = user_data(inst)
    if ud is not None:
        files["user_data"] = ud
    if _at_least(version, GRIZZLY):
        files["password"] = _password(inst).encode()
    if _at_least(version, HAVANA):
        files["vendor_data.json"] = b"{}"
    if _at_least(version, LIBERTY):
        files["network_data.json"] = json.dumps(network_data(inst)).encode()
    if _at_least(version, NEWTON_TWO):
        files["vendor_data2.json"] = b"{}"
    return files


def _ec2_ip(inst: _Instance, floating: bool) -> str:
    for p in inst.ports:
        if floating and p["floating_ips"]:
            return p["floating_ips"][0]
        if not floating:
            for f in p["fixed_ips"]:
                if ":" not in f["ip_address"]:
                    return f["ip_address"]
    return ""


def ec2_meta_data(inst: _Instance) -> dict[str, Any]:
    srv = inst.srv
    hexid = srv.uuid.replace("-", "")[:8]
    hostname = _hostname(inst)
    out: dict[str, Any] = {
        "ami-id": f"ami-{(srv.image_ref or '0').replace('-', '')[:8]}", "ami-launch-index": srv.launch_index,
        "ami-manifest-path": "FIXME", "block-device-mapping": {"ami": "vda", "root": srv.root_device_name or "/dev/vda"},
        "hostname": hostname, "instance-action": "none", "instance-id": f"i-{hexid}",
        "instance-type": (srv.flavor or {}).get("name", ""), "local-hostname": hostname,
        "local-ipv4": _ec2_ip(inst, False), "placement": {"availability-zone": srv.availability_zone or "nova"},
        "public-hostname": hostname, "public-ipv4": _ec2_ip(inst, True),
        "reservation-id": srv.reservation_id, "security-groups": list(srv.security_groups or [])}
    if srv.key_name and srv.key_data:
        out["public-keys"] = {"0": {"_name": f"0={srv.key_name}", "openssh-key": srv.key_data}}
    return out


def documents(instance_uuid: str) -> dict[str, bytes]:
    """Every config-drive file of the instance: {relative path: content}."""
    inst = _load(instance_uuid)
    if inst is None:
        return {}
    out: dict[str, bytes] = {}
    for version in [*OPENSTACK_VERSIONS, "latest"]:
        for name, data in _openstack_files(inst, version).items():
            if name != "password":
                out[f"openstack/{version}/{name}"] = data
    ec2 = json.dumps(_ec2_flat(ec2_meta_data(inst))).encode()
    ud = user_data(inst)
    for version in [*EC2_VERSIONS, "latest"]:
        out[f"ec2/{version}/meta-data.json"] = ec2
        if ud is not None:
            out[f"ec2/{version}/user-data"] = ud
    return out


def _ec2_flat(tree: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in tree.items():
        if k == "public-keys":
            out[k] = {"0": {"openssh-key": v["0"]["openssh-key"]}}
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------ HTTP
def _listing(names: list[str]) -> tuple[int, str, bytes]:
    return 200, TEXT, "\n".join(names).encode()


def _ec2_walk(node: Any, parts: list[str]) -> tuple[int, str, bytes]:
    for part in parts:
        if isinstance(node, dict) and part in node and part != "_name":
            node = node[part]
        else:
            return 404, TEXT, b"Not Found\n"
    if isinstance(node, dict):
        names = []
        for k, v in node.items():
            if k == "_name":
                continue
            if isinstance(v, dict):
                names.append(v.get("_name", k + "/") if "_name" in v else k + "/")
            else:
                names.append(k)
        return _listing(names)
    if isinstance(node, list):
        return 200, TEXT, "\n".join(str(x) for x in node).encode()
    return 200, TEXT, str(node).encode()


def handle(instance_uuid: str, method: str, path: str, body: bytes = b"") -> tuple[int, str, bytes]:
    """(status, content type, body) for a request of ``instance_uuid`` to ``path``."""
    inst = _load(instance_uuid)
    if inst is None:
        return 404, TEXT, b"Not Found\n"
    parts = [x for x in path.split("?", 1)[0].split("/") if x]
    if method not in ("GET", "POST"):
        return 405, TEXT, b"Method Not Allowed\n"
    if not parts:
        return _listing([*EC2_VERSIONS, "latest"])
    if parts[0] == "openstack":
        return _openstack(inst, parts[1:], method, body)
    if method != "GET":
        return 405, TEXT, b"Method Not Allowed\n"
    if parts[0] not in EC2_VERSIONS and parts[0] != "latest":
        return 404, TEXT, b"Not Found\n"
    if len(parts) == 1:
        return _listing(["meta-data/", "user-data"] if inst.srv.user_data else ["meta-data/"])
    if parts[1] == "user-data" and len(parts) == 2:
        ud = user_data(inst)
        return (200, TEXT, ud) if ud is not None else (404, TEXT, b"Not Found\n")
    if parts[1] == "meta-data":
        return _ec2_walk(ec2_meta_data(inst), parts[2:])
    return 404, TEXT, b"Not Found\n"


def _openstack(inst: _Instance, parts: list[str], method: str, body: bytes) -> tuple[int, str, bytes]:
    if not parts:
        return _listing([*OPENSTACK_VERSIONS, "latest"])
    version = parts[0]
    if version not in OPENSTACK_VERSIONS and version != "latest":
        return 404, TEXT, b"Not Found\n"
    files = _openstack_files(inst, version)
    if len(parts) == 1:
        return _listing(list(files))
    if len(parts) != 2 or parts[1] not in files:
        return 404, TEXT, b"Not Found\n"
    name = parts[1]
    if method == "POST":
        if name != "password":
            return 405, TEXT, b"Method Not Allowed\n"
        return _set_password(inst.srv.uuid, body)
    ctype = JSON_TYPE if name.endswith(".json") else TEXT
    return 200, ctype, files[name]


def _set_password(instance_uuid: str, body: bytes) -> tuple[int, str, bytes]:
    """The guest posts its (encrypted) password once; a second post is a conflict."""
    if len(body) > MAX_PASSWORD:
        return 400, TEXT, b"Request is too large.\n"
    with db.write() as s:
        srv = s.get(m.Server, instance_uuid)
        if srv is None or srv.deleted:
            return 404, TEXT, b"Not Found\n"
        sysmeta = dict(srv.system_metadata or {})
        if sysmeta.get("password"):
            return 409, TEXT, b"Password already set.\n"
        sysmeta["password"] = body.decode(errors="replace")
        srv.system_metadata = sysmeta
    return 200, TEXT, b""
