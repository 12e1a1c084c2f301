"""Identity: Keystone v3."""
from onestack.api.routing import ServiceSpec
from onestack.identity import conf as _conf  # noqa: F401  (registers [identity])
from onestack.identity import models as _models  # noqa: F401
from onestack.identity.api.routes import ROUTES
from onestack.identity.bootstrap import run as _bootstrap
from onestack.identity import policies_directory, policies_extra
from onestack.identity.policies import RULES

SERVICE = ServiceSpec(
    name="identity", service_type="identity", prefix="/identity", aliases=("",),
    routes=ROUTES, error_style="keystone", catalog_path="/v3", catalog_name="keystone",
    policies=RULES + policies_directory.RULES + policies_extra.RULES, on_start=_bootstrap)
