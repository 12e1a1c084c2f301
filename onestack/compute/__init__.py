"""Compute: the Nova v2.1 API, scheduler, agents and virt drivers."""
from onestack import db
from onestack.api.routing import MicroversionSpec, ServiceSpec
from onestack.compute import conf as _conf  # noqa: F401  (registers [compute])
from onestack.compute import models as _models  # noqa: F401
from onestack.compute.api.misc import MAX_VERSION
from onestack.compute.api.routes import ROUTES
from onestack.compute.policies import RULES
from onestack.compute.tasks import SPECS


def _start(cloud) -> None:
    from onestack.compute import agent, flavors, hosts
    from onestack.tasks import ENGINE
    with db.write() as s:
        flavors.seed(s)
        for binary in ("nova-scheduler", "nova-conductor"):
            hosts.ensure_service(s, "controller", binary)

    def beat() -> None:
        agent.heartbeat()
        with db.write() as s:
            hosts.heartbeat(s, ["controller"])
    ENGINE.every("compute-heartbeat", 10.0, beat)
    from onestack.compute import conf as cconf, service
    interval = cconf.get().reclaim_instance_interval
    if interval > 0:
        ENGINE.every("compute-reclaim", min(60.0, max(1.0, interval / 2)), service.reclaim_soft_deleted)


def _agents(cloud) -> None:
    from onestack.compute import agent
    agent.start_all(cloud.settings)


SERVICE = ServiceSpec(
    name="compute", service_type="compute", prefix="/compute", routes=ROUTES, error_style="nova",
    catalog_path="/v2.1", catalog_name="nova", policies=RULES, tasks=SPECS, on_start=_start,
    agents=_agents,
    microversion=MicroversionSpec("compute", "2.1", MAX_VERSION, ("X-OpenStack-Nova-API-Version",)))
