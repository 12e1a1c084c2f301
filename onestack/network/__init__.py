"""Network: Neutron v2.0 control plane with IPAM (data plane through drivers/)."""
from onestack.api.routing import ServiceSpec
from onestack.network import conf as _conf  # noqa: F401  (registers [network])
from onestack.network import models as _models  # noqa: F401
from onestack.network.api.routes import ROUTES
from onestack.network.bootstrap import run as _bootstrap
from onestack.network.bootstrap import start_agent as _agent
from onestack.network.policies import RULES

SERVICE = ServiceSpec(
    name="network", service_type="network", prefix="/networking", routes=ROUTES,
    error_style="neutron", catalog_name="neutron", policies=RULES, on_start=_bootstrap,
    agents=_agent)
