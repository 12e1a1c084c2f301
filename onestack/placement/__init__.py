"""Placement: resource providers, inventories, allocations and allocation candidates."""
from onestack import db
from onestack.api.routing import MicroversionSpec, ServiceSpec
from onestack.placement import models as _models  # noqa: F401
from onestack.placement.api.allocations import MAX_VERSION
from onestack.placement.api.routes import ROUTES
from onestack.placement.policies import RULES


def _start(cloud) -> None:
    from onestack.placement import service
    with db.write() as s:
        service.ensure_standard_traits(s)


SERVICE = ServiceSpec(
    name="placement", service_type="placement", prefix="/placement", routes=ROUTES,
    error_style="placement", catalog_name="placement", policies=RULES,
    microversion=MicroversionSpec("placement", "1.0", MAX_VERSION), on_start=_start)
