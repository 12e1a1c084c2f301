"""Image: Glance v2 (images, data, members, tags, schemas, import, stores)."""
from onestack.api.routing import ServiceSpec
from onestack.image import conf as _conf  # noqa: F401  (registers [image])
from onestack.image import models as _models  # noqa: F401
from onestack.image.api.routes import ROUTES
from onestack.image.bootstrap import run as _start
from onestack.image.imports import SPEC as _IMPORT
from onestack.image.policies import RULES

SERVICE = ServiceSpec(
    name="image", service_type="image", prefix="/image", routes=ROUTES, error_style="glance",
    catalog_name="glance", policies=RULES, on_start=_start, tasks=[_IMPORT])
