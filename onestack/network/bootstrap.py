"""`onestack up` lays out what DevStack does (idempotent, quick): public + private networks,
demo's router1 between them; starts the local network agent."""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from onestack import db
from onestack.context import RequestContext
from onestack.network import agent
from onestack.network import models as m
from onestack.network import service as svc

log = logging.getLogger(__name__)


def _net(s: Any, name: str, project_id: str) -> m.Network | None:
    return s.scalars(select(m.Network).where(m.Network.name == name, m.Network.project_id == project_id)).first()


def start_agent(cloud: Any) -> None:
    """The local network agent: its driver, then one convergence of everything in the DB."""
    agent.start()


def run(cloud: Any) -> None:
    conf = cloud.settings.network
    if not conf.create_default_topology:
        return
    from onestack.identity import interface as identity
    admin_pid = identity.project_id_by_name("admin")
    demo_pid = identity.project_id_by_name("demo")
    if not admin_pid:
        return
    admin = RequestContext.internal(project_id=admin_pid)
    with db.read() as s:
        have_public = _net(s, conf.public_network, admin_pid) is not None
        have_private = demo_pid is None or _net(s, conf.private_network, demo_pid) is not None
    if have_public and have_private:
        return
    from onestack.network import routers
    with db.write() as s:
        public = _net(s, conf.public_network, admin_pid)
        if public is None:
            public = svc.create_network(s, admin, {"name": conf.public_network, "external": True,
                                                   "shared": False, "project_id": admin_pid,
                                                   "network_type": "flat", "physical_network": "public"})
            svc.create_subnet(s, admin, {"name": "public-subnet", "ip_version": 4, "cidr": conf.public_cidr,
                                         "gateway_ip": conf.public_gateway, "enable_dhcp": False,
                                         "project_id": admin_pid}, public)
        if demo_pid and _net(s, conf.private_network, demo_pid) is None:
            demo = RequestContext.internal(project_id=demo_pid)
            private = svc.create_network(s, demo, {"name": conf.private_network, "project_id": demo_pid})
            sub = svc.create_subnet(s, demo, {"name": "private-subnet", "ip_version": 4,
                                              "cidr": conf.private_cidr, "project_id": demo_pid}, private)
            router = routers.create_router(s, demo, {"name": conf.demo_router, "project_id": demo_pid,
                                                     "external_gateway_info": {"network_id": public.id}})
            routers.add_interface(s, demo, router, {"subnet_id": sub.id})
            svc.ensure_default_sg(s, demo_pid)
        svc.ensure_default_sg(s, admin_pid)
