"""Routes for regions/services/endpoints, application credentials, access rules,
credentials (and OS-EC2), trusts, limits and registered limits."""
from onestack.api.routing import route
from onestack.identity.api import app_creds as ac
from onestack.identity.api import catalog as cat
from onestack.identity.api import credentials as cr
from onestack.identity.api import ec2
from onestack.identity.api import limits as lim
from onestack.identity.api import trusts as tr

_AC = "/v3/users/{user_id}/application_credentials"
_AR = "/v3/users/{user_id}/access_rules"
_EC2 = "/v3/users/{user_id}/credentials/OS-EC2"
_EG = "/v3/OS-EP-FILTER/endpoint_groups"

ROUTES = [
    route("GET", "/v3/regions", cat.list_regions),
    route("POST", "/v3/regions", cat.create_region),
    route("GET", "/v3/regions/{region_id}", cat.show_region),
    route("PUT", "/v3/regions/{region_id}", cat.put_region),
    route("PATCH", "/v3/regions/{region_id}", cat.update_region),
    route("DELETE", "/v3/regions/{region_id}", cat.delete_region),
    route("GET", "/v3/services", cat.list_services),
    route("POST", "/v3/services", cat.create_service),
    route("GET", "/v3/services/{service_id}", cat.show_service),
    route("PATCH", "/v3/services/{service_id}", cat.update_service),
    route("DELETE", "/v3/services/{service_id}", cat.delete_service),
    route("GET", "/v3/endpoints", cat.list_endpoints),
    route("POST", "/v3/endpoints", cat.create_endpoint),
    route("GET", "/v3/endpoints/{endpoint_id}", cat.show_endpoint),
    route("PATCH", "/v3/endpoints/{endpoint_id}", cat.update_endpoint),
    route("DELETE", "/v3/endpoints/{endpoint_id}", cat.delete_endpoint),

    route("GET", _AC, ac.list_),
    route("POST", _AC, ac.create),
    route("GET", _AC + "/{application_credential_id}", ac.show),
    route("DELETE", _AC + "/{application_credential_id}", ac.delete),
    route("GET", _AR, ac.list_rules),
    route("GET", _AR + "/{access_rule_id}", ac.show_rule),
    route("DELETE", _AR + "/{access_rule_id}", ac.delete_rule),

    route("GET", "/v3/credentials", cr.list_),
    route("POST", "/v3/credentials", cr.create),
    route("GET", "/v3/credentials/{credential_id}", cr.show),
    route("PATCH", "/v3/credentials/{credential_id}", cr.update),
    route("DELETE", "/v3/credentials/{credential_id}", cr.delete),
    route("GET", _EC2, ec2.list_),
    route("POST", _EC2, ec2.create),
    route("GET", _EC2 + "/{credential_id}", ec2.show),
    route("DELETE", _EC2 + "/{credential_id}", ec2.delete),
    route("POST", "/v3/ec2tokens", ec2.ec2tokens, auth=False),

    route("GET", "/v3/registered_limits", lim.list_registered),
    route("POST", "/v3/registered_limits", lim.create_registered),
    route("GET", "/v3/registered_limits/{registered_limit_id}", lim.show_registered),
    route("PATCH", "/v3/registered_limits/{registered_limit_id}", lim.update_registered),
    route("DELETE", "/v3/registered_limits/{registered_limit_id}", lim.delete_registered),
    route("GET", "/v3/limits/model", lim.model),
    route("GET", "/v3/limits", lim.list_limits),
    route("POST", "/v3/limits", lim.create_limits),
    route("GET", "/v3/limits/{limit_id}", lim.show_limit),
    route("PATCH", "/v3/limits/{limit_id}", lim.update_limit),
    route("DELETE", "/v3/limits/{limit_id}", lim.delete_limit),

    route("GET", "/v3/OS-TRUST/trusts", tr.list_),
    route("POST", "/v3/OS-TRUST/trusts", tr.create),
    route("GET", "/v3/OS-TRUST/trusts/{trust_id}", tr.show),
    route("DELETE", "/v3/OS-TRUST/trusts/{trust_id}", tr.delete),
    route("GET", "/v3/OS-TRUST/trusts/{trust_id}/roles", tr.list_roles),
    route("GET", "/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}", tr.get_role),

    route("GET", "/v3/policies", cat.list_policies),
    route("POST", "/v3/policies", cat.create_policy),
    route("GET", "/v3/policies/{policy_id}", cat.show_policy),
    route("PATCH", "/v3/policies/{policy_id}", cat.update_policy),
    route("DELETE", "/v3/policies/{policy_id}", cat.delete_policy),
    route("GET", _EG, cat.list_groups),
    route("POST", _EG, cat.create_group),
    route("GET", _EG + "/{endpoint_group_id}", cat.show_group),
    route("PATCH", _EG + "/{endpoint_group_id}", cat.update_group),
    route("DELETE", _EG + "/{endpoint_group_id}", cat.delete_group),
    route("GET", _EG + "/{endpoint_group_id}/endpoints", cat.group_endpoints),
    route("GET", _EG + "/{endpoint_group_id}/projects", cat.group_projects),
    route("PUT", _EG + "/{endpoint_group_id}/projects/{project_id}", cat.associate_group),
    route("GET", _EG + "/{endpoint_group_id}/projects/{project_id}", cat.check_group_association),
    route("DELETE", _EG + "/{endpoint_group_id}/projects/{project_id}", cat.dissociate_group),
    route("GET", "/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups", cat.groups_for_project),
    route("GET", "/v3/OS-OAUTH1/consumers", cr.list_consumers),
    route("POST", "/v3/OS-OAUTH1/consumers", cr.create_consumer),
    route("GET", "/v3/OS-OAUTH1/consumers/{consumer_id}", cr.show_consumer),
    route("PATCH", "/v3/OS-OAUTH1/consumers/{consumer_id}", cr.update_consumer),
    route("DELETE", "/v3/OS-OAUTH1/consumers/{consumer_id}", cr.delete_consumer),
]
