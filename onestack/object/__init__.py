"""Object storage: the Swift v1 API (and S3 on the same data) over files on local devices."""
from typing import Any

from onestack.api.routing import ServiceSpec
from onestack.object import conf as _conf  # noqa: F401  (registers [object])
from onestack.object.api.routes import ROUTES
from onestack.object.policies import RULES


def _start(cloud: Any) -> None:
    from onestack.object import service
    from onestack.tasks import ENGINE
    service.setup(cloud.settings)
    ENGINE.every("object-expirer", cloud.settings.object.expirer_interval, service.run_expirer)
    ENGINE.every("object-container-sync", cloud.settings.object.container_sync_interval,
                 service.run_container_sync)


def _stop() -> None:
    from onestack.object import listing
    listing.close_all()


SERVICE = ServiceSpec(
    name="object", service_type="object-store", prefix="/object", catalog_path="/v1",
    endpoint_suffix="/AUTH_%(project_id)s", catalog_name="swift", error_style="swift",
    aliases=("/info", "/healthcheck", "/crossdomain.xml"),
    routes=ROUTES, policies=RULES, on_start=_start, on_stop=_stop)
