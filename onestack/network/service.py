"""Network business rules: networks, subnets, ports with IPAM, security groups.

Functions take an open session (``with db.write() as s``) and a RequestContext; they
raise onestack errors and return model rows. No HTTP, no driver calls (the agent is
told after commit through ``agent.notify``).
"""
from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any, Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onestack import conf, errors
from onestack.db.base import utcnow
from onestack.network import errors as ne
from onestack.network import ipam
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import segments

ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                           "network:ha_router_replicated_interface")
ROUTER_GW = "network:router_gateway"
FIP_OWNER = "network:floatingip"
DHCP_OWNER = "network:dhcp"
MAC_RE = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


def settings() -> Any:
    return conf.get().network


def new_id() -> str:
    return str(uuid.uuid4())


def touch(row: Any) -> None:
    row.revision_number = (row.revision_number or 0) + 1
    row.updated_at = utcnow()


def bad(msg: str) -> ne.InvalidInput:
    return ne.InvalidInput(error_message=msg)


def owner_project(ctx: Any, values: dict[str, Any]) -> str:
    pid = values.pop("project_id", None)
    tid = values.pop("tenant_id", None)
    if pid and tid and pid != tid:
        raise bad("'project_id' and 'tenant_id' do not match")
    return pid or tid or ctx.project_id or ""


# ------------------------------------------------------------------ tags
def tags_of(s: Session, ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(ids)
    out: dict[str, list[str]] = {i: [] for i in ids}
    for chunk in range(0, len(ids), 500):
        for rid, tag in s.execute(select(m.Tag.resource_id, m.Tag.tag)
                                  .where(m.Tag.resource_id.in_(ids[chunk:chunk + 500]))):
            out[rid].append(tag)
    for v in out.values():
        v.sort()
    return out


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag or len(tag) > 255 or "," in tag or "/" in tag:
        raise bad(f"'{tag}' is not a valid tag")
    return tag


def set_tags(s: Session, kind: q.Kind, rid: str, tags: list[str]) -> list[str]:
    s.execute(delete(m.Tag).where(m.Tag.resource_id == rid))
    for t in sorted(set(tags)):
        s.add(m.Tag(resource_id=rid, tag=t, resource_type=kind.name))
    return sorted(set(tags))


def add_tag(s: Session, kind: q.Kind, rid: str, tag: str) -> None:
    if s.get(m.Tag, (rid, tag)) is None:
        s.add(m.Tag(resource_id=rid, tag=tag, resource_type=kind.name))


def remove_tag(s: Session, rid: str, tag: str) -> None:
    row = s.get(m.Tag, (rid, tag))
    if row is None:
        raise ne.TagNotFound(tag=tag)
    s.delete(row)


def drop_tags(s: Session, rid: str) -> None:
    s.execute(delete(m.Tag).where(m.Tag.resource_id == rid))


# ------------------------------------------------------------------ quotas
QUOTA_MODELS = {"network": m.Network, "subnet": m.Subnet, "port": m.Port, "router": m.Router,
                "floatingip": m.FloatingIP, "security_group": m.SecurityGroup,
                "security_group_rule": m.SecurityGroupRule, "rbac_policy": m.RBACPolicy,
                "subnetpool": m.SubnetPool, "trunk": m.Trunk}


def default_quota(resource: str) -> int:
    return getattr(settings(), f"quota_{resource}")


def quota_limits(s: Session, project_id: str) -> dict[str, int]:
    out = {r: default_quota(r) for r in QUOTA_MODELS}
    for row in s.scalars(select(m.Quota).where(m.Quota.project_id == project_id)):
        if row.resource in out:
            out[row.resource] = row.limit
    return out


def quota_usage(s: Session, project_id: str, resource: str) -> int:
    model = QUOTA_MODELS[resource]
    return s.scalar(select(func.count()).select_from(model).where(model.project_id == project_id)) or 0


def check_quota(s: Session, project_id: str, resource: str, adding: int = 1) -> None:
    if not project_id:
        return
    row = s.get(m.Quota, (project_id, resource))
    limit = row.limit if row is not None else default_quota(resource)
    if limit < 0:
        return
    if quota_usage(s, project_id, resource) + adding > limit:
        raise ne.OverQuota(overs=resource)


# ------------------------------------------------------------------ networks
def _segmentation(s: Session, v: dict[str, Any], external: bool) -> None:
    ntype = v.get("network_type")
    if ntype is None:
        if external:
            v["network_type"], v["physical_network"] = "flat", v.get("physical_network") or "public"
            return
        ntype = v["network_type"] = settings().tenant_network_type
    if ntype not in ("flat", "vlan", "vxlan", "geneve", "gre", "local"):
        raise bad(f"network_type value '{ntype}' not supported")
    seg = v.get("segmentation_id")
    if ntype in ("flat", "local"):
        if seg is not None:
            raise bad(f"segmentation_id specified for {ntype} network")
        if ntype == "flat" and not v.get("physical_network"):
            raise bad("physical_network required for flat provider network")
        return
    if ntype == "vlan":
        if not v.get("physical_network"):
            raise bad("physical_network required for VLAN provider network")
        if seg is None:
            raise bad("segmentation_id required for VLAN provider network")
        if not 1 <= seg <= 4094:
            raise bad(f"segmentation_id out of range (1 through 4094)")
    else:
        if v.get("physical_network"):
            raise bad(f"physical_network specified for {ntype} network")
        if seg is None:
            used = set(s.scalars(select(m.Segment.segmentation_id).where(m.Segment.network_type == ntype)))
            seg = next(i for i in range(settings().vni_min, settings().vni_max + 1) if i not in used)
            v["segmentation_id"] = seg
    clash = s.scalar(select(m.Segment.id).where(
        m.Segment.network_type == ntype, m.Segment.segmentation_id == seg,
        m.Segment.physical_network.is_(None) if v.get("physical_network") is None
        else m.Segment.physical_network == v.get("physical_network")))
    if clash:
        raise errors.Conflict(f"Unable to create the network. The {ntype} {seg} on physical network "
                              f"{v.get('physical_network')} is in use.", type_name="SegmentationIdInUse")


def create_network(s: Session, ctx: Any, v: dict[str, Any]) -> m.Network:
    project_id = owner_project(ctx, v)
    check_quota(s, project_id, "network")
    external = bool(v.get("external", False))
    extra_segments = segments.split_multi_provider(v)
    _segmentation(s, v, external)
    mtu = v.pop("mtu", None)
    base_mtu = settings().global_physnet_mtu
    overhead = {"vxlan": 50, "geneve": 58, "gre": 42}.get(v["network_type"], 0)
    if mtu is None:
        mtu = base_mtu - overhead
    elif mtu < 68 or mtu > base_mtu - overhead:
        raise bad(f"Requested MTU is too big, maximum is {base_mtu - overhead}" if mtu > 68
                  else "MTU must be at least 68")
    net = m.Network(id=new_id(), project_id=project_id, mtu=mtu, **v)
    s.add(net)
    s.flush()
    segments.add(s, net, {"network_type": net.network_type, "physical_network": net.physical_network,
                          "segmentation_id": net.segmentation_id})
    for extra in extra_segments:
        _segmentation(s, extra, external)
        segments.add(s, net, extra)
    if net.shared:
        s.add(m.RBACPolicy(id=new_id(), project_id=project_id, object_type="network", object_id=net.id,
                           action="access_as_shared", target_tenant="*"))
    if net.external:
        s.add(m.RBACPolicy(id=new_id(), project_id=project_id, object_type="network", object_id=net.id,
                           action="access_as_external", target_tenant="*"))
    return net


def _foreign_ports(s: Session, net: m.Network) -> int:
    return s.scalar(select(func.count()).select_from(m.Port).where(
        m.Port.network_id == net.id, m.Port.project_id != net.project_id,
        m.Port.device_owner.not_in((DHCP_OWNER, ROUTER_GW, FIP_OWNER)))) or 0


def update_network(s: Session, ctx: Any, net: m.Network, v: dict[str, Any]) -> m.Network:
    if "mtu" in v and v["mtu"] is not None:
        overhead = {"vxlan": 50, "geneve": 58, "gre": 42}.get(net.network_type or "", 0)
        if v["mtu"] < 68 or v["mtu"] > settings().global_physnet_mtu - overhead:
            raise bad(f"Requested MTU is too big, maximum is {settings().global_physnet_mtu - overhead}")
    for key in ("network_type", "physical_network", "segmentation_id"):
        if key in v and v[key] != getattr(net, key):
            raise bad("Plugin does not support updating provider attributes")
    if "shared" in v and v["shared"] != net.shared:
        rb = s.scalars(select(m.RBACPolicy).where(
            m.RBACPolicy.object_type == "network", m.RBACPolicy.object_id == net.id,
            m.RBACPolicy.action == "access_as_shared", m.RBACPolicy.target_tenant == "*")).first()
        if v["shared"]:
            if rb is None:
                s.add(m.RBACPolicy(id=new_id(), project_id=net.project_id, object_type="network",
                                   object_id=net.id, action="access_as_shared", target_tenant="*"))
        else:
            if _foreign_ports(s, net):
                raise ne.InUse(f"Unable to reconfigure sharing settings for network {net.id}. "
                               "Multiple tenants are using it.", type_name="InvalidSharedSetting")
            if rb is not None:
                s.delete(rb)
    if "external" in v and v["external"] != net.external:
        rb = s.scalars(select(m.RBACPolicy).where(
            m.RBACPolicy.object_type == "network", m.RBACPolicy.object_id == net.id,
            m.RBACPolicy.action == "access_as_external", m.RBACPolicy.target_tenant == "*")).first()
        if v["external"] and rb is None:
            s.add(m.RBACPolicy(id=new_id(), project_id=net.project_id, object_type="network",
                               object_id=net.id, action="access_as_external", target_tenant="*"))
        if not v["external"]:
            if s.scalar(select(m.Router.id).where(m.Router.gw_network_id == net.id)) or \
                    s.scalar(select(m.FloatingIP.id).where(m.FloatingIP.floating_network_id == net.id)):
                raise ne.InUse(f"External network {net.id} cannot be updated to be made non-external, "
                               "since it has existing gateway ports.", type_name="ExternalNetworkInUse")
            if rb is not None:
                s.delete(rb)
    for key, value in v.items():
        setattr(net, key, value)
    touch(net)
    return net


def delete_network(s: Session, ctx: Any, net: m.Network) -> list[str]:
    ports = list(s.scalars(select(m.Port).where(m.Port.network_id == net.id)))
    blocking = [p for p in ports if p.device_owner not in (DHCP_OWNER, FIP_OWNER)]
    if blocking:
        raise ne.NetworkInUse(net_id=net.id)
    for fip in s.scalars(select(m.FloatingIP).where(m.FloatingIP.floating_network_id == net.id)):
        s.execute(delete(m.PortForwarding).where(m.PortForwarding.floatingip_id == fip.id))
        drop_tags(s, fip.id)
        s.delete(fip)
    s.flush()
    for p in ports:
        s.delete(p)
    s.flush()
    for sub in s.scalars(select(m.Subnet).where(m.Subnet.network_id == net.id)):
        drop_tags(s, sub.id)
        s.delete(sub)
    s.execute(delete(m.RBACPolicy).where(m.RBACPolicy.object_type == "network",
                                         m.RBACPolicy.object_id == net.id))
    drop_tags(s, net.id)
    s.execute(delete(m.Segment).where(m.Segment.network_id == net.id))
    s.delete(net)
    return [p.id for p in ports]


# ------------------------------------------------------------------ subnets
IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")


def _check_dns(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise bad(f"Invalid data format for nameserver: '{v}'")
    seen = []
    for ns in v:
        ipam.parse_ip(ns, "nameserver")
        if ns in seen:
            raise bad(f"Duplicate nameserver '{ns}'")
        seen.append(ns)
    if len(seen) > 5:
        raise bad("Number of DNS nameservers exceeds the limit 5")
    return seen


def _check_routes(v: Any, version: int) -> list[dict[str, str]]:
    if not isinstance(v, list):
        raise bad(f"Invalid data format for hostroute: '{v}'")
    out: list[dict[str, str]] = []
    for r in v:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise bad(f"Invalid data format for hostroute: '{r}'")
        dest = ipam.parse_cidr(str(r["destination"])) if "/" in str(r["destination"]) else None
        if dest is None:
            raise bad(f"'{r['destination']}' is not a valid IP subnet")
        hop = ipam.parse_ip(r["nexthop"], "IP address")
        if dest.version != version or hop.version != version:
            raise bad(f"Invalid route {r}: IP version mismatch")
        item = {"destination": str(dest), "nexthop": str(hop)}
        if item in out:
            raise bad(f"Duplicate hostroute '{r}'")
        out.append(item)
    if len(out) > 20:
        raise bad("Number of host routes exceeds the limit 20")
    return out


def _check_gateway(net: ipaddress._BaseNetwork, gw: str) -> str:
    addr = ipam.parse_ip(gw, "IP address")
    if addr.version != net.version:
        raise bad(f"Gateway IP version inconsistent with allocation pool version")
    if net.version == 4 and net.prefixlen < 31 and addr in net and \
            addr in (net.network_address, net.broadcast_address):
        raise bad(f"Gateway is not valid on subnet")
    if net.version == 6 and addr == net.network_address and net.prefixlen < 127:
        raise bad(f"Gateway is not valid on subnet")
    return str(addr)


def _pool_cidr(s: Session, pool: m.SubnetPool, v: dict[str, Any], prefixlen: int | None) -> str:
    prefixes = [ipaddress.ip_network(p) for p in pool.prefixes]
    used = [ipaddress.ip_network(c) for c in s.scalars(
        select(m.Subnet.cidr).where(m.Subnet.subnetpool_id == pool.id))]
    if v.get("cidr"):
        want = ipam.parse_cidr(v["cidr"])
        if not any(want.subnet_of(p) for p in prefixes if p.version == want.version):
            raise bad(f"Cidr {want} is not within the prefixes of subnet pool {pool.id}")
        if any(want.overlaps(u) for u in used):
            raise errors.Conflict(f"Failed to allocate subnet: Cidr {want} overlaps with another subnet "
                                  "of the pool.", type_name="SubnetAllocationError")
        return str(want)
    plen = prefixlen if prefixlen is not None else pool.default_prefixlen
    if not pool.min_prefixlen <= plen <= pool.max_prefixlen:
        raise bad(f"Illegal prefix bounds: prefixlen={plen}, min_prefixlen={pool.min_prefixlen}, "
                  f"max_prefixlen={pool.max_prefixlen}")
    for p in prefixes:
        if p.prefixlen > plen:
            continue
        for cand in p.subnets(new_prefix=plen):
            if not any(cand.overlaps(u) for u in used):
                return str(cand)
    raise errors.Conflict(f"Failed to allocate subnet: Insufficient prefix space to allocate subnet "
                          f"size /{plen}.", type_name="SubnetAllocationError")


def create_subnet(s: Session, ctx: Any, v: dict[str, Any], net: m.Network) -> m.Subnet:
    project_id = owner_project(ctx, v)
    if not q.is_admin(ctx) and net.project_id != project_id and not net.shared:
        raise errors.Forbidden(f"Tenant {project_id} not allowed to create subnet on this network",
                               type_name="AdminRequired")
    check_quota(s, project_id, "subnet")
    version = v.get("ip_version")
    use_default = v.pop("use_default_subnetpool", False)
    prefixlen = v.pop("prefixlen", None)
    pool = None
    if v.get("subnetpool_id"):
        pool = s.get(m.SubnetPool, v["subnetpool_id"])
        if pool is None or (not q.is_admin(ctx) and pool.project_id != ctx.project_id and not pool.shared):
            raise errors.NotFound(f"SubnetPool {v['subnetpool_id']} could not be found.",
                                  type_name="SubnetPoolNotFound")
    elif use_default:
        pool = s.scalars(select(m.SubnetPool).where(m.SubnetPool.is_default.is_(True),
                                                    m.SubnetPool.ip_version == version)).first()
        if pool is None:
            raise bad(f"No default subnetpool found for IPv{version}")
        v["subnetpool_id"] = pool.id
    if pool is not None:
        if version != pool.ip_version:
            raise bad("Cannot allocate IPv%s subnet from IPv%s subnet pool" % (version, pool.ip_version))
        v["cidr"] = _pool_cidr(s, pool, v, prefixlen)
    elif not v.get("cidr"):
        raise bad("A cidr must be specified in the absence of a subnet pool")
    elif prefixlen is not None:
        raise bad("Cannot specify both cidr and prefixlen")
    net_addr = ipam.parse_cidr(v["cidr"])
    if net_addr.version != version:
        raise bad("Cidr and ip_version do not match" if False else
                  f"Invalid input for ip_version. Reason: cidr {v['cidr']} is not IPv{version}.")
    if str(net_addr) != v["cidr"]:
        if str(net_addr.network_address) != v["cidr"].split("/")[0]:
            raise bad(f"'{v['cidr']}' isn't a recognized IP subnet cidr, '{net_addr}' is recommended")
    if version == 4 and net_addr.prefixlen > 30 and False:
        pass
    if version == 6 and net_addr.prefixlen == 128:
        raise bad("Invalid CIDR for IPv6 subnet: /128")
    v["cidr"] = str(net_addr)
    for other in s.scalars(select(m.Subnet.cidr).where(m.Subnet.network_id == net.id)):
        if ipaddress.ip_network(other).overlaps(net_addr):
            raise bad(f"Requested subnet with cidr: {net_addr} for network: {net.id} overlaps with "
                      "another subnet")
    # IPv6 modes
    ra, am = v.get("ipv6_ra_mode"), v.get("ipv6_address_mode")
    if version == 4 and (ra or am):
        raise bad("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False."
                  if False else "ipv6_ra_mode or ipv6_address_mode cannot be set for an IPv4 subnet")
    if ra and am and ra != am:
        raise bad(f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{am}' is not valid. If "
                  "both attributes are set, they must be the same value")
    if (ra or am) and v.get("enable_dhcp") is False and (am or ra) != "slaac":
        raise bad("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False.")
    if am == "slaac" or am == "dhcpv6-stateless":
        if net_addr.prefixlen != 64:
            raise bad(f"Invalid CIDR {net_addr} for IPv6 address mode. OpenStack uses the EUI-64 address "
                      "format, which requires the prefix to be /64")
    # gateway
    if "gateway_ip" not in v:
        gw = ipam.default_gateway(net_addr)
    elif v["gateway_ip"] is None:
        gw = None
    else:
        gw = _check_gateway(net_addr, v["gateway_ip"])
    v["gateway_ip"] = gw
    if v.get("allocation_pools") is not None:
        v["allocation_pools"] = ipam.validate_pools(net_addr, v["allocation_pools"], gw)
    else:
        v["allocation_pools"] = ipam.default_pools(net_addr, gw)
    v["dns_nameservers"] = _check_dns(v.get("dns_nameservers") or [])
    v["host_routes"] = _check_routes(v.get("host_routes") or [], version)
    if v.get("segment_id") is None:
        v.pop("segment_id", None)
    else:
        segments.check_subnet_segment(s, net.id, v["segment_id"])
    sub = m.Subnet(id=new_id(), project_id=project_id, network_id=net.id, **v)
    s.add(sub)
    s.flush()
    # router ports on the network get nothing; SLAAC subnets give every port an address
    if version == 6 and am in ("slaac", "dhcpv6-stateless"):
        for p in s.scalars(select(m.Port).where(m.Port.network_id == net.id,
                                                m.Port.device_owner.not_in(ROUTER_INTERFACE_OWNERS))):
            ip = ipam.eui64(net_addr, p.mac_address)
            s.add(m.IPAllocation(network_id=net.id, ip_address=ip, subnet_id=sub.id, port_id=p.id))
            p.fixed_ips = [*p.fixed_ips, {"subnet_id": sub.id, "ip_address": ip}]
    return sub


def update_subnet(s: Session, ctx: Any, sub: m.Subnet, v: dict[str, Any]) -> m.Subnet:
    net_addr = ipaddress.ip_network(sub.cidr)
    gw = sub.gateway_ip
    if "gateway_ip" in v:
        gw = None if v["gateway_ip"] is None else _check_gateway(net_addr, v["gateway_ip"])
        if gw and gw != sub.gateway_ip:
            holder = s.get(m.IPAllocation, (sub.network_id, gw))
            if holder is not None:
                port = s.get(m.Port, holder.port_id)
                if port is None or port.device_owner not in ROUTER_INTERFACE_OWNERS:
                    raise ne.IpAddressInUse(net_id=sub.network_id, ip_address=gw)
        v["gateway_ip"] = gw
    if "allocation_pools" in v:
        v["allocation_pools"] = ipam.validate_pools(net_addr, v["allocation_pools"] or [], gw)
    elif "gateway_ip" in v and gw and ipam.in_pools(gw, sub.allocation_pools):
        raise bad(f"Gateway ip {gw} conflicts with allocation pool")
    if "dns_nameservers" in v:
        v["dns_nameservers"] = _check_dns(v["dns_nameservers"] or [])
    if "host_routes" in v:
        v["host_routes"] = _check_routes(v["host_routes"] or [], sub.ip_version)
    if v.get("segment_id") is not None:
        segments.check_subnet_segment(s, sub.network_id, v["segment_id"])
    for key, value in v.items():
        setattr(sub, key, value)
    touch(sub)
    return sub


def delete_subnet(s: Session, ctx: Any, sub: m.Subnet) -> None:
    allocs = list(s.scalars(select(m.IPAllocation).where(m.IPAllocation.subnet_id == sub.id)))
    for a in allocs:
        port = s.get(m.Port, a.port_id)
        if port is not None and port.device_owner != DHCP_OWNER:
            # SLAAC addresses go away with their subnet (upstream does the same)
            if sub.ipv6_address_mode in ("slaac", "dhcpv6-stateless") and \
                    port.device_owner not in ROUTER_INTERFACE_OWNERS:
                continue
            raise ne.SubnetInUse(subnet_id=sub.id)
    for a in allocs:
        port = s.get(m.Port, a.port_id)
        if port is not None:
            port.fixed_ips = [f for f in port.fixed_ips if f["subnet_id"] != sub.id]
        s.delete(a)
    s.flush()
    drop_tags(s, sub.id)
    s.delete(sub)


# ------------------------------------------------------------------ IPAM
def _taken(s: Session, network_id: str) -> set[str]:
    return set(s.scalars(select(m.IPAllocation.ip_address).where(m.IPAllocation.network_id == network_id)))


def _insert_alloc(s: Session, net_id: str, ip: str, subnet_id: str, port_id: str) -> bool:
    """Insert one allocation in a savepoint; False when the address is already taken."""
    try:
        with s.begin_nested():
            s.add(m.IPAllocation(network_id=net_id, ip_address=ip, subnet_id=subnet_id, port_id=port_id))
            s.flush()
        return True
    except IntegrityError:
        return False


def allocate_ip(s: Session, sub: m.Subnet, port_id: str, ip: str | None = None,
                mac: str | None = None) -> str:
    """Reserve ``ip`` (or the next free address of ``sub``) for ``port_id``."""
    net_addr = ipaddress.ip_network(sub.cidr)
    if ip is not None:
        addr = ipam.parse_ip(ip)
        if addr not in net_addr:
            raise bad(f"IP address {ip} is not a valid IP for the specified subnet.")
        ip = str(addr)
        if ip == sub.gateway_ip or (net_addr.version == 4 and net_addr.prefixlen < 31 and
                                    addr in (net_addr.network_address, net_addr.broadcast_address)):
            # the gateway is handed out only to router interfaces (caller passes it explicitly)
            if ip != sub.gateway_ip:
                raise bad(f"IP address {ip} is not a valid IP for the specified subnet.")
        if not _insert_alloc(s, sub.network_id, ip, sub.id, port_id):
            raise ne.IpAddressInUse(net_id=sub.network_id, ip_address=ip)
        return ip
    if sub.ip_version == 6 and sub.ipv6_address_mode in ("slaac", "dhcpv6-stateless") and mac:
        ip = ipam.eui64(net_addr, mac)
        if not _insert_alloc(s, sub.network_id, ip, sub.id, port_id):
            raise ne.IpAddressInUse(net_id=sub.network_id, ip_address=ip)
        return ip
    pools = sub.allocation_pools
    size = ipam.pool_size(pools)
    if size > 4096:
        for cand in ipam.candidates(pools, None):
            if cand != sub.gateway_ip and _insert_alloc(s, sub.network_id, cand, sub.id, port_id):
                return cand
    taken = _taken(s, sub.network_id)
    if sub.gateway_ip:
        taken.add(sub.gateway_ip)
    for cand in ipam.candidates(pools, taken):
        if _insert_alloc(s, sub.network_id, cand, sub.id, port_id):
            return cand
    raise ne.IpAddressGenerationFailure(net_id=sub.network_id)


def _subnets(s: Session, network_id: str) -> list[m.Subnet]:
    return list(s.scalars(select(m.Subnet).where(m.Subnet.network_id == network_id)
                          .order_by(m.Subnet.created_at, m.Subnet.id)))


def assign_fixed_ips(s: Session, port: m.Port, requested: list[dict[str, Any]] | None,
                     subnets: list[m.Subnet] | None = None) -> list[dict[str, str]]:
    """Allocate the port's addresses: the requested ones, or one per subnet kind by default."""
    subnets = subnets if subnets is not None else _subnets(s, port.network_id)
    by_id = {sb.id: sb for sb in subnets}
    out: list[dict[str, str]] = []
    if requested is None:
        v4 = [sb for sb in subnets if sb.ip_version == 4]
        for sb in v4:
            try:
                out.append({"subnet_id": sb.id, "ip_address": allocate_ip(s, sb, port.id)})
                break
            except ne.IpAddressGenerationFailure:
                if sb is v4[-1]:
                    raise
        stateful_done = False
        for sb in subnets:
            if sb.ip_version != 6:
                continue
            if sb.ipv6_address_mode in ("slaac", "dhcpv6-stateless"):
                if port.device_owner in ROUTER_INTERFACE_OWNERS:
                    continue
                out.append({"subnet_id": sb.id, "ip_address": allocate_ip(s, sb, port.id, mac=port.mac_address)})
            elif not stateful_done:
                out.append({"subnet_id": sb.id, "ip_address": allocate_ip(s, sb, port.id)})
                stateful_done = True
        return out
    if not isinstance(requested, list):
        raise bad("Invalid data format for fixed IP: fixed_ips must be a list")
    for item in requested:
        if not isinstance(item, dict) or not item or set(item) - {"subnet_id", "ip_address"}:
            raise bad(f"Invalid data format for fixed IP: '{item}'")
        sid, ip = item.get("subnet_id"), item.get("ip_address")
        if ip is not None:
            ipam.parse_ip(ip)
        if sid is not None:
            sb = by_id.get(sid)
            if sb is None:
                if s.get(m.Subnet, sid) is None:
                    raise ne.SubnetNotFound(id=sid)
                raise bad(f"Failed to create port on network {port.network_id}, because fixed_ips "
                          f"included invalid subnet {sid}")
        else:
            addr = ipaddress.ip_address(ip)
            sb = next((x for x in subnets if addr in ipaddress.ip_network(x.cidr)), None)
            if sb is None:
                raise bad(f"IP address {ip} is not a valid IP for any of the subnets on the specified network.")
        if ip is not None and ip == sb.gateway_ip and port.device_owner not in ROUTER_INTERFACE_OWNERS \
                and port.device_owner != ROUTER_GW:
            holder = s.get(m.IPAllocation, (port.network_id, ip))
            if holder is not None:
                raise ne.IpAddressInUse(net_id=port.network_id, ip_address=ip)
        if any(o["ip_address"] == ip for o in out if ip):
            raise bad(f"Duplicate IP address '{ip}'")
        got = allocate_ip(s, sb, port.id, ip, mac=port.mac_address)
        out.append({"subnet_id": sb.id, "ip_address": got})
    return out


def release_ips(s: Session, port: m.Port) -> None:
    s.execute(delete(m.IPAllocation).where(m.IPAllocation.port_id == port.id))
    port.fixed_ips = []


# ------------------------------------------------------------------ security groups
def ensure_default_sg(s: Session, project_id: str | None) -> str | None:
    if not project_id:
        return None
    row = s.get(m.DefaultSecurityGroup, project_id)
    if row is not None:
        return row.security_group_id
    sg = m.SecurityGroup(id=new_id(), project_id=project_id, name="default",
                         description="Default security group", stateful=True)
    try:
        with s.begin_nested():
            s.add(sg)
            s.flush()
            s.add(m.DefaultSecurityGroup(project_id=project_id, security_group_id=sg.id))
            s.flush()
    except IntegrityError:
        row = s.get(m.DefaultSecurityGroup, project_id)
        return row.security_group_id if row else None
    for eth in ("IPv4", "IPv6"):
        s.add(m.SecurityGroupRule(id=new_id(), project_id=project_id, security_group_id=sg.id,
                                  direction="egress", ethertype=eth))
        s.add(m.SecurityGroupRule(id=new_id(), project_id=project_id, security_group_id=sg.id,
                                  direction="ingress", ethertype=eth, remote_group_id=sg.id))
    return sg.id


def create_security_group(s: Session, ctx: Any, v: dict[str, Any]) -> m.SecurityGroup:
    project_id = owner_project(ctx, v)
    ensure_default_sg(s, project_id)
    if v.get("name") == "default":
        raise errors.Conflict("Default security group already exists.",
                              type_name="SecurityGroupDefaultAlreadyExists")
    check_quota(s, project_id, "security_group")
    sg = m.SecurityGroup(id=new_id(), project_id=project_id, **v)
    s.add(sg)
    s.flush()
    for eth in ("IPv4", "IPv6"):
        s.add(m.SecurityGroupRule(id=new_id(), project_id=project_id, security_group_id=sg.id,
                                  direction="egress", ethertype=eth))
    return sg


def _sg_in_use(s: Session, sg_id: str) -> bool:
    for groups in s.scalars(select(m.Port.security_groups).where(
            m.Port.security_groups.isnot(None))):
        if groups and sg_id in groups:
            return True
    return False


def update_security_group(s: Session, ctx: Any, sg: m.SecurityGroup, v: dict[str, Any]) -> m.SecurityGroup:
    is_default = s.scalar(select(m.DefaultSecurityGroup.project_id).where(
        m.DefaultSecurityGroup.security_group_id == sg.id)) is not None
    if is_default and "name" in v and v["name"] != "default":
        raise errors.Conflict("Updating default security group not allowed.",
                              type_name="SecurityGroupCannotUpdateDefault")
    if not is_default and v.get("name") == "default":
        raise errors.Conflict("Default security group already exists.",
                              type_name="SecurityGroupDefaultAlreadyExists")
    if "stateful" in v and v["stateful"] != sg.stateful and _sg_in_use(s, sg.id):
        raise ne.SecurityGroupInUse(id=sg.id)
    for key, value in v.items():
        setattr(sg, key, value)
    touch(sg)
    return sg


def delete_security_group(s: Session, ctx: Any, sg: m.SecurityGroup) -> None:
    is_default = s.scalar(select(m.DefaultSecurityGroup.project_id).where(
        m.DefaultSecurityGroup.security_group_id == sg.id)) is not None
    if is_default and not q.is_admin(ctx):
        raise ne.SecurityGroupCannotRemoveDefault()
    if _sg_in_use(s, sg.id):
        raise ne.SecurityGroupInUse(id=sg.id)
    # as Neutron's remote_group_id foreign key (ON DELETE CASCADE): other groups' rules that
    # point at this group go with it
    s.execute(delete(m.SecurityGroupRule).where(m.SecurityGroupRule.remote_group_id == sg.id))
    s.execute(delete(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id == sg.id))
    s.execute(delete(m.DefaultSecurityGroup).where(m.DefaultSecurityGroup.security_group_id == sg.id))
    drop_tags(s, sg.id)
    s.delete(sg)


PROTOCOLS = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
             "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
             "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
             "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112}
PORT_PROTOCOLS = {"tcp", "udp", "dccp", "sctp", "udplite", "6", "17", "33", "132", "136"}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}


def _normalize_protocol(p: Any) -> str | None:
    if p is None or p == "" or p == "any":
        return None
    if isinstance(p, bool):
        raise bad(f"Security group rule protocol {p} not supported")
    if isinstance(p, int):
        p = str(p)
    if not isinstance(p, str):
        raise bad(f"Security group rule protocol {p} not supported")
    low = p.lower()
    if low in PROTOCOLS:
        return low
    if low.isdigit() and 0 <= int(low) <= 255:
        return low
    raise errors.BadRequest(f"Security group rule protocol {p} not supported. Only protocol values "
                            f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported.",
                            type_name="SecurityGroupRuleInvalidProtocol")


def _check_ports(proto: str | None, lo: Any, hi: Any) -> None:
    for val in (lo, hi):
        if val is not None and (isinstance(val, bool) or not isinstance(val, int)):
            raise bad(f"Invalid value for port {val}")
    if lo is None and hi is None:
        return
    if proto in ICMP_PROTOCOLS:
        for name, val in (("type", lo), ("code", hi)):
            if val is not None and not 0 <= val <= 255:
                raise errors.BadRequest(f"Invalid value for ICMP {name}: {val}",
                                        type_name="SecurityGroupInvalidIcmpValue")
        if lo is None and hi is not None:
            raise errors.BadRequest(f"ICMP code (port-range-max) {hi} is provided but ICMP type "
                                    "(port-range-min) is missing.", type_name="SecurityGroupMissingIcmpType")
        return
    if proto in PORT_PROTOCOLS:
        if lo is None or hi is None:
            if lo is None and hi is not None or (lo is not None and hi is None and False):
                raise errors.BadRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max",
                                        type_name="SecurityGroupInvalidPortRange")
        for val in (lo, hi):
            if val is not None and not 1 <= val <= 65535:
                raise errors.BadRequest(f"Invalid value for port {val}", type_name="SecurityGroupInvalidPortValue")
        if lo is not None and hi is not None and lo > hi:
            raise errors.BadRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max",
                                    type_name="SecurityGroupInvalidPortRange")
        return
    raise errors.BadRequest(f"Invalid protocol {proto} for port range, only supported for TCP, UDP, "
                            "UDPLITE, SCTP and DCCP", type_name="SecurityGroupInvalidProtocolForPort")


def create_sg_rule(s: Session, ctx: Any, v: dict[str, Any], sg: m.SecurityGroup) -> m.SecurityGroupRule:
    project_id = owner_project(ctx, v)
    if v.get("direction") not in ("ingress", "egress"):
        raise bad(f"{v.get('direction')} is not in valid_values ['ingress', 'egress']")
    eth = v.get("ethertype") or "IPv4"
    if eth.lower() == "ipv4":
        eth = "IPv4"
    elif eth.lower() == "ipv6":
        eth = "IPv6"
    else:
        raise errors.BadRequest(f"Security group rule for ethertype '{eth}' not supported. "
                                "Allowed values are ['IPv4', 'IPv6'].",
                                type_name="SecurityGroupRuleInvalidEtherType")
    v["ethertype"] = eth
    proto = _normalize_protocol(v.get("protocol"))
    if proto in ("icmpv6", "ipv6-icmp", "58") and eth == "IPv4":
        raise errors.BadRequest(f"Security group rule for ethertype 'IPv4' not supported with protocol {proto}.",
                                type_name="SecurityGroupEthertypeConflictWithProtocol")
    v["protocol"] = proto
    _check_ports(proto, v.get("port_range_min"), v.get("port_range_max"))
    if proto in PORT_PROTOCOLS and v.get("port_range_min") is not None and v.get("port_range_max") is None:
        v["port_range_max"] = v["port_range_min"]
    remotes = [k for k in ("remote_ip_prefix", "remote_group_id", "remote_address_group_id") if v.get(k)]
    if len(remotes) > 1:
        raise errors.BadRequest("Only one of remote_ip_prefix, remote_group_id and remote_address_group_id "
                                "may be provided.", type_name="SecurityGroupRemoteGroupAndRemoteIpPrefix")
    if v.get("remote_ip_prefix"):
        raw = v["remote_ip_prefix"]
        try:
            net = ipaddress.ip_network(raw, strict=False)
        except (ValueError, TypeError):
            raise bad(f"'{raw}' is not a valid IP subnet") from None
        if (net.version == 4) != (eth == "IPv4"):
            raise errors.BadRequest(f"Conflicting value ethertype {eth} for CIDR {raw}",
                                    type_name="SecurityGroupRuleParameterConflict")
        v["remote_ip_prefix"] = None if net.prefixlen == 0 else str(net)
        if net.prefixlen == 0:
            v["remote_ip_prefix"] = str(net)
    if v.get("remote_group_id"):
        rg = s.get(m.SecurityGroup, v["remote_group_id"])
        if rg is None or (not q.is_admin(ctx) and rg.project_id != ctx.project_id):
            raise ne.SecurityGroupNotFound(id=v["remote_group_id"])
    if v.get("remote_address_group_id"):
        ag = s.get(m.AddressGroup, v["remote_address_group_id"])
        if ag is None:
            raise errors.NotFound(f"Address group {v['remote_address_group_id']} could not be found.",
                                  type_name="AddressGroupNotFound")
    # duplicate?
    key = (v["direction"], eth, proto, v.get("port_range_min"), v.get("port_range_max"),
           v.get("remote_ip_prefix"), v.get("remote_group_id"), v.get("remote_address_group_id"))
    for r in s.scalars(select(m.SecurityGroupRule).where(m.SecurityGroupRule.security_group_id == sg.id)):
        other = (r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max,
                 r.remote_ip_prefix, r.remote_group_id, r.remote_address_group_id)
        if _same_rule(other, key):
            raise ne.SecurityGroupRuleExists(rule_id=r.id)
    check_quota(s, project_id, "security_group_rule")
    v.pop("security_group_id", None)
    rule = m.SecurityGroupRule(id=new_id(), project_id=project_id, security_group_id=sg.id, **v)
    s.add(rule)
    touch(sg)
    return rule


def _same_rule(a: tuple, b: tuple) -> bool:
    def norm(t: tuple) -> tuple:
        proto = t[2]
        if proto is not None and proto in PROTOCOLS:
            proto = str(PROTOCOLS[proto])
        prefix = t[5]
        if prefix in ("0.0.0.0/0", "::/0"):
            prefix = None
        return (t[0], t[1], proto, t[3], t[4], prefix, t[6], t[7])
    return norm(a) == norm(b)


def delete_sg_rule(s: Session, ctx: Any, rule: m.SecurityGroupRule) -> None:
    sg = s.get(m.SecurityGroup, rule.security_group_id)
    if sg is not None:
        touch(sg)
    s.delete(rule)


# ------------------------------------------------------------------ ports
def _check_mac(mac: Any) -> str:
    if not isinstance(mac, str) or not MAC_RE.match(mac):
        raise bad(f"'{mac}' is not a valid MAC address")
    mac = mac.lower()
    if mac == "00:00:00:00:00:00" or int(mac.split(":")[0], 16) & 1:
        raise bad(f"'{mac}' is not a valid MAC address")
    return mac


def _check_pairs(pairs: Any) -> list[dict[str, str]]:
    if not isinstance(pairs, list):
        raise bad("Allowed address pairs must be a list.")
    out: list[dict[str, str]] = []
    for p in pairs:
        if not isinstance(p, dict) or "ip_address" not in p or set(p) - {"ip_address", "mac_address"}:
            raise bad(f"Unrecognized attribute(s) '{p}'" if isinstance(p, dict) and "ip_address" in p
                      else "AllowedAddressPair must contain ip_address")
        ip = p["ip_address"]
        try:
            addr = str(ipaddress.ip_network(ip, strict=False)) if "/" in str(ip) else str(ipaddress.ip_address(ip))
        except (ValueError, TypeError):
            raise bad(f"'{ip}' is not a valid IP address") from None
        item = {"ip_address": addr if "/" in str(ip) else str(ip)}
        if p.get("mac_address") is not None:
            item["mac_address"] = _check_mac(p["mac_address"])
        if item in out:
            raise bad("Request contains duplicate address pair")
        out.append(item)
    if len(out) > 10:
        raise errors.BadRequest("Exceeded maximum amount of allowed address pairs (10)",
                                type_name="AllowedAddressPairExhausted")
    return out


def _check_dhcp_opts(opts: Any) -> list[dict[str, Any]]:
    if not isinstance(opts, list):
        raise bad("extra_dhcp_opts must be a list")
    out = []
    for o in opts:
        if not isinstance(o, dict) or "opt_name" not in o or set(o) - {"opt_name", "opt_value", "ip_version"}:
            raise bad(f"Invalid data format for extra-dhcp-opt: {o}")
        if o.get("ip_version", 4) not in (4, 6):
            raise bad(f"Invalid ip_version {o.get('ip_version')} for extra-dhcp-opt")
        out.append({"opt_name": str(o["opt_name"]), "opt_value": o.get("opt_value"),
                    "ip_version": o.get("ip_version", 4)})
    return out


def _check_sgs(s: Session, ctx: Any, project_id: str, ids: Any) -> list[str]:
    if not isinstance(ids, list):
        raise bad("security_groups must be a list")
    out = []
    for sid in ids:
        sg = s.get(m.SecurityGroup, sid) if isinstance(sid, str) else None
        if sg is None or (not q.is_admin(ctx) and sg.project_id != project_id):
            raise ne.SecurityGroupNotFound(id=sid)
        if sid not in out:
            out.append(sid)
    return out


def _binding(port: m.Port, host: str | None) -> None:
    port.binding_host_id = host or ""
    if not host:
        port.binding_vif_type = "unbound"
        port.binding_vif_details = {}
        port.status = "DOWN"


def create_port(s: Session, ctx: Any, v: dict[str, Any], net: m.Network) -> m.Port:
    project_id = owner_project(ctx, v)
    if not q.is_admin(ctx) and net.project_id != project_id and not net.shared and \
            not s.scalar(select(m.RBACPolicy.id).where(
                m.RBACPolicy.object_type == "network", m.RBACPolicy.object_id == net.id,
                m.RBACPolicy.action == "access_as_shared",
                m.RBACPolicy.target_tenant.in_([project_id, "*"]))):
        raise ne.NetworkNotFound(id=net.id)
    check_quota(s, project_id, "port")
    requested = v.pop("fixed_ips", None)
    mac = v.pop("mac_address", None)
    port_security = v.pop("port_security_enabled", None)
    if port_security is None:
        port_security = net.port_security_enabled
    sgs = v.pop("security_groups", None)
    pairs = _check_pairs(v.pop("allowed_address_pairs", None) or [])
    if not port_security and pairs:
        raise errors.Conflict("Port Security must be enabled in order to have allowed address pairs on a port.",
                              type_name="AddressPairAndPortSecurityRequired")
    device_owner = v.get("device_owner") or ""
    if sgs is None:
        sgs = [] if (not port_security or device_owner.startswith("network:")) else \
            [ensure_default_sg(s, project_id)] if project_id else []
    else:
        sgs = _check_sgs(s, ctx, project_id, sgs)
        if sgs and not port_security:
            raise errors.BadRequest("Port has security group associated. Cannot disable port security or ip "
                                    "address until security group is removed",
                                    type_name="PortSecurityAndIPRequiredForSecurityGroups")
    host = v.pop("binding_host_id", None)
    v["extra_dhcp_opts"] = _check_dhcp_opts(v.get("extra_dhcp_opts") or [])
    port = m.Port(id=new_id(), project_id=project_id, network_id=net.id,
                  port_security_enabled=port_security, security_groups=[x for x in sgs if x],
                  allowed_address_pairs=pairs, **{k: val for k, val in v.items() if val is not None})
    if mac is not None:
        port.mac_address = _check_mac(mac)
        if s.scalar(select(m.Port.id).where(m.Port.network_id == net.id, m.Port.mac_address == port.mac_address)):
            raise ne.MacAddressInUse(net_id=net.id, mac=port.mac_address)
        s.add(port)
        s.flush()
    else:
        for _ in range(16):
            port.mac_address = ipam.random_mac(settings().base_mac)
            try:
                with s.begin_nested():
                    s.add(port)
                    s.flush()
                break
            except IntegrityError:
                s.expunge(port) if port in s else None
        else:
            raise errors.Conflict("Unable to generate unique mac", type_name="MacAddressGenerationFailure")
    port.fixed_ips = assign_fixed_ips(s, port, requested)
    if host:
        _binding(port, host)
    return port


def port_in_use_by_router(port: m.Port) -> bool:
    return port.device_owner in ROUTER_INTERFACE_OWNERS or port.device_owner == ROUTER_GW


def update_port(s: Session, ctx: Any, port: m.Port, v: dict[str, Any]) -> m.Port:
    if "fixed_ips" in v:
        requested = v.pop("fixed_ips")
        if requested is None:
            requested = []
        # keep addresses that stay, allocate the new ones
        keep, new = [], []
        current = {(f["subnet_id"], f["ip_address"]) for f in port.fixed_ips}
        for item in requested if isinstance(requested, list) else [None]:
            if isinstance(item, dict) and item.get("ip_address") and \
                    any(c[1] == item["ip_address"] and (item.get("subnet_id") in (None, c[0])) for c in current):
                keep.append(next(c for c in current if c[1] == item["ip_address"]))
            else:
                new.append(item)
        for sid, ip in current - set(keep):
            s.execute(delete(m.IPAllocation).where(m.IPAllocation.network_id == port.network_id,
                                                   m.IPAllocation.ip_address == ip))
        s.flush()
        added = assign_fixed_ips(s, port, new) if new else []
        port.fixed_ips = [{"subnet_id": a, "ip_address": b} for a, b in keep] + added
    if "mac_address" in v:
        mac = _check_mac(v.pop("mac_address"))
        if mac != port.mac_address:
            if port.binding_host_id and port.binding_vif_type not in ("unbound", "binding_failed"):
                raise errors.Conflict(f"Port {port.id} is in use; its MAC address cannot be changed.",
                                      type_name="PortBound")
            if s.scalar(select(m.Port.id).where(m.Port.network_id == port.network_id, m.Port.mac_address == mac)):
                raise ne.MacAddressInUse(net_id=port.network_id, mac=mac)
            port.mac_address = mac
    ps = v.pop("port_security_enabled", port.port_security_enabled)
    sgs = port.security_groups
    if "security_groups" in v:
        sgs = _check_sgs(s, ctx, port.project_id, v.pop("security_groups") or [])
    pairs = port.allowed_address_pairs
    if "allowed_address_pairs" in v:
        pairs = _check_pairs(v.pop("allowed_address_pairs") or [])
    if not ps and sgs:
        raise errors.Conflict("Port has security group associated. Cannot disable port security or ip address "
                              "until security group is removed", type_name="PortSecurityPortHasSecurityGroup")
    if not ps and pairs:
        raise errors.Conflict("Port Security must be enabled in order to have allowed address pairs on a port.",
                              type_name="AddressPairAndPortSecurityRequired")
    port.port_security_enabled, port.security_groups, port.allowed_address_pairs = ps, sgs, pairs
    if "extra_dhcp_opts" in v:
        opts = {o["opt_name"]: o for o in port.extra_dhcp_opts}
        for o in _check_dhcp_opts(v.pop("extra_dhcp_opts") or []):
            if o["opt_value"] is None:
                opts.pop(o["opt_name"], None)
            else:
                opts[o["opt_name"]] = o
        port.extra_dhcp_opts = list(opts.values())
    if "binding_host_id" in v:
        _binding(port, v.pop("binding_host_id"))
    for key, value in v.items():
        if key in ("device_id", "device_owner", "dns_name", "name", "description") and value is None:
            value = ""
        setattr(port, key, value)
    touch(port)
    return port


def delete_port(s: Session, ctx: Any, port: m.Port, internal: bool = False) -> None:
    if not internal and port.device_owner in ROUTER_INTERFACE_OWNERS + (ROUTER_GW, FIP_OWNER):
        raise errors.Conflict(f"Port {port.id} cannot be deleted directly via the port API: has device owner "
                              f"{port.device_owner}.", type_name="ServicePortInUse")
    if s.scalar(select(m.Trunk.id).where(m.Trunk.port_id == port.id)):
        raise errors.Conflict(f"Port {port.id} is currently a parent port for trunk.", type_name="PortInUseAsTrunkParent")
    for fip in s.scalars(select(m.FloatingIP).where(m.FloatingIP.port_id == port.id)):
        fip.port_id = fip.fixed_ip_address = fip.router_id = None
        fip.status = "DOWN"
        touch(fip)
    s.execute(delete(m.IPAllocation).where(m.IPAllocation.port_id == port.id))
    drop_tags(s, port.id)
    s.delete(port)


def set_port_status(s: Session, port_id: str, status: str, vif_type: str | None = None,
                    vif_details: dict[str, Any] | None = None) -> None:
    port = s.get(m.Port, port_id)
    if port is None:
        return
    port.status = status
    if vif_type is not None:
        port.binding_vif_type = vif_type
        port.binding_vif_details = vif_details or {}
    touch(port)
