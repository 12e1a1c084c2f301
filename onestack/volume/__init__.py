"""Block storage: Cinder v3 (volumes, snapshots, backups, types, attachments, transfers)."""
from onestack.api.routing import MicroversionSpec, ServiceSpec
from onestack.volume import conf as _conf  # noqa: F401  (registers [volume])
from onestack.volume import models as _models  # noqa: F401
from onestack.volume.api import MAX_VERSION, MIN_VERSION
from onestack.volume.api.routes import ROUTES
from onestack.volume.bootstrap import run as _start
from onestack.volume.policies import RULES
from onestack.volume.tasks import TASKS

SERVICE = ServiceSpec(
    name="volume", service_type="block-storage", catalog_names=("volumev3",), prefix="/volume",
    catalog_path="/v3", endpoint_suffix="/%(project_id)s", catalog_name="cinderv3",
    routes=ROUTES, error_style="nova", policies=RULES, tasks=TASKS, on_start=_start,
    microversion=MicroversionSpec("volume", MIN_VERSION, MAX_VERSION))
