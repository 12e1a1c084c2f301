"""Routers (+ interfaces, extra routes) and floating IPs (+ port forwardings)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onestack import db
from onestack.api.resource import Field as F
from onestack.api.resource import Resource
from onestack.api.routing import Reply, Req, route
from onestack.network import errors as ne
from onestack.network import models as m
from onestack.network import query as q
from onestack.network import routers as rsvc
from onestack.network.api import common
from onestack.network.api.common import API, cached, standard

ROUTER = Resource("router", "routers", standard() + [
    F("admin_state_up", type=bool, create=True, update=True, filter=True, sort=True),
    F("status", filter=True, sort=True),
    F("external_gateway_info", type=dict, create=True, update=True, nullable=True,
      render=cached("_gw", None)),
    F("routes", type=list, create=True, update=True, nullable=True),
    F("ha", type=bool, create=True, update=True, filter=True),
    F("distributed", type=bool, create=True, update=True, filter=True),
    F("availability_zone_hints", type=list, create=True),
    F("availability_zones", render=lambda o, v: ["nova"]),
    F("flavor_id", create=True, nullable=True, filter=True),
    F("enable_ndp_proxy", render=lambda o, v: False),
])


def _router_preload(s: Any, ctx: Any, rows: list[m.Router]) -> None:
    gw_ids = [r.gw_port_id for r in rows if r.gw_port_id]
    ports = {p.id: p for p in s.scalars(select(m.Port).where(m.Port.id.in_(gw_ids)))} if gw_ids else {}
    for r in rows:
        r._gw = rsvc.gateway_info(s, r, ports.get(r.gw_port_id)) if r.gw_network_id else None


def _router_create_target(s: Any, ctx: Any, v: dict) -> dict:
    gw = v.get("external_gateway_info") or {}
    return {"external_gateway_info": gw} if isinstance(gw, dict) else {}


ROUTER_KIND = q.Kind("router", "routers", m.Router, ne.RouterNotFound, tag_type="router")
ROUTERS = API(ROUTER_KIND, ROUTER,
              create=lambda s, ctx, v, req: rsvc.create_router(s, ctx, v),
              update=lambda s, ctx, row, v, req: rsvc.update_router(s, ctx, row, v),
              delete=lambda s, ctx, row: rsvc.delete_router(s, ctx, row),
              preload=_router_preload, create_target=_router_create_target,
              defaults={"ha": False, "distributed": False})


def _router_action(rule: str, fn: Any) -> Any:
    def handler(req: Req) -> dict:
        body = req.json()
        with db.write() as s:
            router = q.get(s, ROUTER_KIND, req.ctx, req.params["id"])
            target = common.row_target(ROUTERS, s, router)
            req.ctx.can(f"network:{rule}", target)
            out = fn(s, req.ctx, router, body)
            if isinstance(out, m.Router):
                s.flush()
                common.preload(s, ROUTERS, req.ctx, [out])
                return {"router": common.render(req, ROUTERS, out)}
            return out
    return handler


# ------------------------------------------------------------------ floating IPs
def _port_details(fip: m.FloatingIP, _v: Any) -> Any:
    p = getattr(fip, "_port", None)
    if p is None:
        return None
    return {"name": p.name, "network_id": p.network_id, "mac_address": p.mac_address,
            "admin_state_up": p.admin_state_up, "status": p.status, "device_id": p.device_id,
            "device_owner": p.device_owner}


FIP = Resource("floatingip", "floatingips", standard(with_name=False) + [
    F("floating_network_id", create=True, required=True, filter=True, sort=True),
    F("floating_ip_address", create=True, filter=True, sort=True),
    F("subnet_id", create=True, shown=False),
    F("port_id", create=True, update=True, nullable=True, filter=True, sort=True),
    F("fixed_ip_address", create=True, update=True, nullable=True, filter=True, sort=True),
    F("router_id", filter=True, sort=True),
    F("status", filter=True, sort=True),
    F("dns_name", create=True, filter=True),
    F("dns_domain", create=True, filter=True),
    F("qos_policy_id", create=True, update=True, nullable=True, filter=True),
    F("port_details", render=_port_details),
    F("port_forwardings", render=cached("_pfs", list)),
])


def _fip_preload(s: Any, ctx: Any, rows: list[m.FloatingIP]) -> None:
    ids = [r.port_id for r in rows if r.port_id]
    ports = {p.id: p for p in s.scalars(select(m.Port).where(m.Port.id.in_(ids)))} if ids else {}
    pfs: dict[str, list] = {r.id: [] for r in rows}
    for pf in s.scalars(select(m.PortForwarding).where(m.PortForwarding.floatingip_id.in_(list(pfs)))):
        pfs[pf.floatingip_id].append({"id": pf.id, "internal_port_id": pf.internal_port_id,
                                      "internal_ip_address": pf.internal_ip_address,
                                      "internal_port": pf.internal_port, "external_port": pf.external_port,
                                      "protocol": pf.protocol})
    for r in rows:
        r._port = ports.get(r.port_id)
        r._pfs = pfs[r.id]


FIP_KIND = q.Kind("floatingip", "floatingips", m.FloatingIP, ne.FloatingIPNotFound, tag_type="floatingip")
FIPS = API(FIP_KIND, FIP,
           create=lambda s, ctx, v, req: rsvc.create_floatingip(s, ctx, v),
           update=lambda s, ctx, row, v, req: rsvc.update_floatingip(s, ctx, row, v),
           delete=lambda s, ctx, row: rsvc.delete_floatingip(s, ctx, row),
           preload=_fip_preload)

PF = Resource("port_forwarding", "port_forwardings", [
    F("id", filter=True, sort=True),
    F("internal_port_id", create=True, update=True, required=True, filter=True, sort=True),
    F("internal_ip_address", create=True, update=True, required=True, filter=True, sort=True),
    F("internal_port", type=int, create=True, update=True, required=True, filter=True, sort=True),
    F("external_port", type=int, create=True, update=True, required=True, filter=True, sort=True),
    F("protocol", create=True, update=True, required=True, filter=True, sort=True),
    F("description", create=True, update=True, max_length=255),
])


class _PFNotFound(ne.errors.NotFound):
    message = "Port Forwarding {id} could not be found."


PF_KIND = q.Kind("floatingip_port_forwarding", "port_forwardings", m.PortForwarding, _PFNotFound)


def _fip_parent(s: Any, req: Req, rule: str) -> m.FloatingIP:
    fip = q.get(s, FIP_KIND, req.ctx, req.params["fip_id"])
    target = {"project_id": fip.project_id, "tenant_id": fip.project_id,
              "ext_parent:tenant_id": fip.project_id, "ext_parent:project_id": fip.project_id}
    if not req.ctx.can("network:get_floatingip_port_forwarding", target, fatal=False):
        raise ne.FloatingIPNotFound(id=fip.id)
    req.ctx.can(f"network:{rule}_floatingip_port_forwarding", target)
    return fip


def _pf_load(s: Any, fip: m.FloatingIP, pf_id: str) -> m.PortForwarding:
    pf = s.get(m.PortForwarding, pf_id)
    if pf is None or pf.floatingip_id != fip.id:
        raise _PFNotFound(id=pf_id)
    return pf


def pf_list(req: Req) -> dict:
    with db.read() as s:
        fip = _fip_parent(s, req, "get")
        rows = list(s.scalars(select(m.PortForwarding).where(m.PortForwarding.floatingip_id == fip.id)))
        for key in ("internal_port_id", "protocol", "external_port"):
            if key in req.query:
                rows = [r for r in rows if str(getattr(r, key)) == req.query[key]]
        return {"port_forwardings": [PF.render(r, only=req.query_all("fields") or None) for r in rows]}


def pf_show(req: Req) -> dict:
    with db.read() as s:
        fip = _fip_parent(s, req, "get")
        return {"port_forwarding": PF.render(_pf_load(s, fip, req.params["id"]))}


def pf_create(req: Req) -> Reply:
    values = common.parse(API(PF_KIND, PF), common.body_of(req, "port_forwarding"), "create")
    with db.write() as s:
        fip = _fip_parent(s, req, "create")
        pf = rsvc.create_pf(s, req.ctx, fip, values)
        return Reply(201, {"port_forwarding": PF.render(pf)})


def pf_update(req: Req) -> dict:
    values = common.parse(API(PF_KIND, PF), common.body_of(req, "port_forwarding"), "update")
    with db.write() as s:
        fip = _fip_parent(s, req, "update")
        pf = rsvc.update_pf(s, req.ctx, fip, _pf_load(s, fip, req.params["id"]), values)
        return {"port_forwarding": PF.render(pf)}


def pf_delete(req: Req) -> None:
    with db.write() as s:
        fip = _fip_parent(s, req, "delete")
        s.delete(_pf_load(s, fip, req.params["id"]))


ROUTES = common.crud_routes(ROUTERS) + [
    route("PUT", "/v2.0/routers/{id}/add_router_interface",
          _router_action("add_router_interface", rsvc.add_interface)),
    route("PUT", "/v2.0/routers/{id}/remove_router_interface",
          _router_action("remove_router_interface", rsvc.remove_interface)),
    route("PUT", "/v2.0/routers/{id}/add_extraroutes",
          _router_action("add_extraroutes", lambda s, ctx, r, b: rsvc.extraroutes(s, ctx, r, b, True))),
    route("PUT", "/v2.0/routers/{id}/remove_extraroutes",
          _router_action("remove_extraroutes", lambda s, ctx, r, b: rsvc.extraroutes(s, ctx, r, b, False))),
] + common.crud_routes(FIPS) + [
    route("GET", "/v2.0/floatingips/{fip_id}/port_forwardings", pf_list),
    route("POST", "/v2.0/floatingips/{fip_id}/port_forwardings", pf_create),
    route("GET", "/v2.0/floatingips/{fip_id}/port_forwardings/{id}", pf_show),
    route("PUT", "/v2.0/floatingips/{fip_id}/port_forwardings/{id}", pf_update),
    route("DELETE", "/v2.0/floatingips/{fip_id}/port_forwardings/{id}", pf_delete),
]
